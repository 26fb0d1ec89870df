"""Credentials in FIX messages, and their masking for storage and display.

A Logon may carry Password(554) and NewPassword(925) in clear, or their
FIX.5.0SP1 encrypted forms EncryptedPassword(1402) and
EncryptedNewPassword(1404) (data fields with the lengths 1401 and 1403);
UserRequest(BE) carries the same fields.  In a Logon, RawData(96) and
SecureData(91) are authentication material as well (venues put tokens and
signatures there).  Username(553) is not a secret and is kept.

:func:`mask_credentials` rewrites the wire form of a message with every such
value replaced by ``***`` (and BodyLength, CheckSum and the data lengths
fixed), so that the copy an engine stores stays a valid FIX message.  The
copy written to the counterparty is never masked.
"""

from __future__ import annotations

import re
from typing import Final

from ..errors import GarbledMessageError
from .framer import checksum
from .parser import split_fields

MASK: Final = b"***"

#: Secret in every message that has them.
SECRET_TAGS: Final[frozenset[int]] = frozenset({554, 925, 1402, 1404})
#: Secret in a Logon(A) only: RawData(96), SecureData(91).
LOGON_SECRET_TAGS: Final[frozenset[int]] = frozenset({96, 91})
#: Data field -> the length field that announces it.
_LENGTH_OF: Final[dict[int, int]] = {1402: 1401, 1404: 1403, 96: 95, 91: 90}

# A tag may be written with leading zeros ("0554="): the parser reads it as 554.
_ANY_SECRET: Final = re.compile(rb"(?:^|\x01)0*(?:554|925|1402|1404)=")
_LOGON: Final = re.compile(rb"\x010*35=A\x01")
_LOGON_SECRET: Final = re.compile(rb"\x010*(?:96|91)=")
# Fallback for bytes that do not split into fields: mask up to the next SOH.
_CRUDE: Final = re.compile(rb"((?:^|\x01)0*(?:554|925|1402|1404|96|91)=)[^\x01]*")


def has_credentials(data: bytes) -> bool:
    """True when ``data`` (a message's wire form) holds a value to mask."""
    if _ANY_SECRET.search(data) is not None:
        return True
    return _LOGON.search(data) is not None and _LOGON_SECRET.search(data) is not None


def mask_credentials(data: bytes) -> bytes:
    """``data`` with its credentials replaced by ``***`` (see the module notes).

    Returns ``data`` itself when there is nothing to mask.  BodyLength(9),
    CheckSum(10) and the length of a masked data field are recomputed, so a
    valid message stays valid.  Bytes that are not a message are masked field
    by field up to the next SOH and otherwise left as they are.
    """
    if not has_credentials(data):
        return data
    try:
        fields = split_fields(data)
    except (GarbledMessageError, ValueError):
        return _CRUDE.sub(rb"\1***", data)
    if len(fields) < 3 or fields[0][0] != 8 or fields[1][0] != 9:
        return _CRUDE.sub(rb"\1***", data)
    logon = any(tag == 35 and value == b"A" for tag, value in fields[:4])
    secret = SECRET_TAGS | LOGON_SECRET_TAGS if logon else SECRET_TAGS
    masked_lengths = {_LENGTH_OF[tag] for tag, _ in fields if tag in secret and tag in _LENGTH_OF}
    body: list[bytes] = []
    trailer_cs = False
    for tag, value in fields[2:]:
        if tag == 10:
            trailer_cs = True
            continue
        if tag in secret:
            value = MASK
        elif tag in masked_lengths:
            value = b"%d" % len(MASK)
        body.append(b"%d=%s\x01" % (tag, value))
    joined = b"".join(body)
    out = b"8=%s\x019=%d\x01%s" % (fields[0][1], len(joined), joined)
    if trailer_cs:
        out += b"10=%03d\x01" % checksum(out)
    return out
