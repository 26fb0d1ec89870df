"""Session-level reject reasons and the value object validation returns.

The one table of SessionRejectReason(373) texts: validation and the session
layer (``engine/session/rejects.py``, which lays a Reject out per FIX
version) both read it.  The texts of reasons 0-16 are QuickFIX's, word for
word, because counterparties and the acceptance tests compare them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ..errors import RemoteProtocolError

INVALID_TAG_NUMBER: Final = 0
REQUIRED_TAG_MISSING: Final = 1
TAG_NOT_DEFINED_FOR_MESSAGE_TYPE: Final = 2
UNDEFINED_TAG: Final = 3
TAG_SPECIFIED_WITHOUT_A_VALUE: Final = 4
VALUE_IS_INCORRECT: Final = 5
INCORRECT_DATA_FORMAT_FOR_VALUE: Final = 6
DECRYPTION_PROBLEM: Final = 7
SIGNATURE_PROBLEM: Final = 8
COMPID_PROBLEM: Final = 9
SENDINGTIME_ACCURACY_PROBLEM: Final = 10
INVALID_MSGTYPE: Final = 11
XML_VALIDATION_ERROR: Final = 12
TAG_APPEARS_MORE_THAN_ONCE: Final = 13
TAG_SPECIFIED_OUT_OF_REQUIRED_ORDER: Final = 14
REPEATING_GROUP_FIELDS_OUT_OF_ORDER: Final = 15
INCORRECT_NUMINGROUP_COUNT: Final = 16
NON_DATA_VALUE_INCLUDES_FIELD_DELIMITER: Final = 17
OTHER: Final = 99

#: SessionRejectReason(373) -> Text(58), as QuickFIX words them.
REJECT_TEXTS: Final[dict[int, str]] = {
    INVALID_TAG_NUMBER: "Invalid tag number",
    REQUIRED_TAG_MISSING: "Required tag missing",
    TAG_NOT_DEFINED_FOR_MESSAGE_TYPE: "Tag not defined for this message type",
    UNDEFINED_TAG: "Undefined Tag",
    TAG_SPECIFIED_WITHOUT_A_VALUE: "Tag specified without a value",
    VALUE_IS_INCORRECT: "Value is incorrect (out of range) for this tag",
    INCORRECT_DATA_FORMAT_FOR_VALUE: "Incorrect data format for value",
    DECRYPTION_PROBLEM: "Decryption problem",
    SIGNATURE_PROBLEM: "Signature problem",
    COMPID_PROBLEM: "CompID problem",
    SENDINGTIME_ACCURACY_PROBLEM: "SendingTime accuracy problem",
    INVALID_MSGTYPE: "Invalid MsgType",
    XML_VALIDATION_ERROR: "XML Validation error",
    TAG_APPEARS_MORE_THAN_ONCE: "Tag appears more than once",
    TAG_SPECIFIED_OUT_OF_REQUIRED_ORDER: "Tag specified out of required order",
    REPEATING_GROUP_FIELDS_OUT_OF_ORDER: "Repeating group fields out of order",
    INCORRECT_NUMINGROUP_COUNT: "Incorrect NumInGroup count for repeating group",
    NON_DATA_VALUE_INCLUDES_FIELD_DELIMITER: "Non-data value includes field delimiter",
    OTHER: "Other",
}


@dataclass(frozen=True, slots=True)
class Reject:
    """A session-level Reject(35=3) to send for a received message."""

    #: SessionRejectReason(373).
    reason: int
    #: RefMsgType(372): the MsgType of the rejected message (may be empty).
    ref_msg_type: bytes
    #: RefTagID(371): the tag the problem is about, when there is one.
    ref_tag: int | None = None

    @classmethod
    def of(cls, reason: int, ref_msg_type: bytes | str, ref_tag: int | None = None) -> Reject:
        """Build a reject (the session uses this for CompID and SendingTime problems)."""
        if isinstance(ref_msg_type, str):
            ref_msg_type = ref_msg_type.encode()
        return cls(reason, ref_msg_type, ref_tag)

    @property
    def text(self) -> str:
        """Text(58) exactly as QuickFIX writes it."""
        return REJECT_TEXTS.get(self.reason, "")

    def to_error(self) -> RemoteProtocolError:
        """The same problem as the engine's remote-protocol exception."""
        return RemoteProtocolError(self.text, self.reason, self.ref_tag)

    def __str__(self) -> str:
        tag = f" (tag {self.ref_tag})" if self.ref_tag is not None else ""
        return f"{self.reason} {self.text}{tag} in MsgType {self.ref_msg_type!r}"
