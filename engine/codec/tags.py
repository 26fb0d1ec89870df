"""Tag numbers the codec itself needs, and the standard header/trailer sets.

Only facts of the FIX standard live here; anything message-specific comes
from a data dictionary.
"""

from __future__ import annotations

from typing import Final

BEGIN_STRING: Final = 8
BODY_LENGTH: Final = 9
MSG_TYPE: Final = 35
CHECKSUM: Final = 10
MSG_SEQ_NUM: Final = 34
SENDER_COMP_ID: Final = 49
TARGET_COMP_ID: Final = 56
SENDING_TIME: Final = 52
ORIG_SENDING_TIME: Final = 122
POSS_DUP_FLAG: Final = 43
POSS_RESEND: Final = 97
SENDER_SUB_ID: Final = 50
SENDER_LOCATION_ID: Final = 142
TARGET_SUB_ID: Final = 57
TARGET_LOCATION_ID: Final = 143
ON_BEHALF_OF_COMP_ID: Final = 115
DELIVER_TO_COMP_ID: Final = 128
APPL_VER_ID: Final = 1128
CSTM_APPL_VER_ID: Final = 1129
TEXT: Final = 58
SIGNATURE_LENGTH: Final = 93
SIGNATURE: Final = 89

# Session-level body tags.
BEGIN_SEQ_NO: Final = 7
END_SEQ_NO: Final = 16
NEW_SEQ_NO: Final = 36
GAP_FILL_FLAG: Final = 123
REF_SEQ_NUM: Final = 45
TEST_REQ_ID: Final = 112
HEART_BT_INT: Final = 108
ENCRYPT_METHOD: Final = 98
RESET_SEQ_NUM_FLAG: Final = 141
NEXT_EXPECTED_MSG_SEQ_NUM: Final = 789
USERNAME: Final = 553
PASSWORD: Final = 554
NEW_PASSWORD: Final = 925
DEFAULT_APPL_VER_ID: Final = 1137
REF_TAG_ID: Final = 371
REF_MSG_TYPE: Final = 372
SESSION_REJECT_REASON: Final = 373
BUSINESS_REJECT_REASON: Final = 380
BUSINESS_REJECT_REF_ID: Final = 379

#: Standard header tags across FIX.4.0 - FIXT.1.1 (the union; a dictionary
#: narrows it per version).
HEADER_TAGS: Final[frozenset[int]] = frozenset(
    {
        8, 9, 35, 49, 56, 115, 128, 90, 91, 34, 50, 142, 57, 143, 116, 144, 129,
        145, 43, 97, 52, 122, 212, 213, 347, 369, 370, 627, 628, 629, 630, 1128, 1129,
        1156,
    }
)

#: Standard trailer tags.
TRAILER_TAGS: Final[frozenset[int]] = frozenset({93, 89, 10})

#: Length field -> the raw-data field whose byte length it gives.  A data
#: field's value may contain SOH, so it is read by length, never by search.
DATA_LENGTH_TAGS: Final[dict[int, int]] = {
    90: 91,  # SecureDataLen -> SecureData
    93: 89,  # SignatureLength -> Signature
    95: 96,  # RawDataLength -> RawData
    212: 213,  # XmlDataLen -> XmlData
    348: 349,  # EncodedIssuerLen
    350: 351,  # EncodedSecurityDescLen
    352: 353,  # EncodedListExecInstLen
    354: 355,  # EncodedTextLen
    356: 357,  # EncodedSubjectLen
    358: 359,  # EncodedHeadlineLen
    360: 361,  # EncodedAllocTextLen
    362: 363,  # EncodedUnderlyingIssuerLen
    364: 365,  # EncodedUnderlyingSecurityDescLen
    445: 446,  # EncodedListStatusTextLen
    618: 619,  # EncodedLegIssuerLen
    621: 622,  # EncodedLegSecurityDescLen
    1277: 1278,  # DerivativeEncodedIssuerLen
    1397: 1398,  # EncodedMktSegmDescLen
    1401: 1402,  # EncryptedPasswordLen -> EncryptedPassword (FIX.5.0SP1)
    1403: 1404,  # EncryptedNewPasswordLen -> EncryptedNewPassword
    1468: 1469,  # EncodedSecurityListDescLen
    1525: 1526,  # EncodedEventTextLen (FIX.5.0SP2)
}

#: Session-level (administrative) message types.
ADMIN_MSG_TYPES: Final[frozenset[bytes]] = frozenset({b"0", b"1", b"2", b"3", b"4", b"5", b"A"})

SOH: Final = b"\x01"
