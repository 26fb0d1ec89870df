"""Session-level reject reasons and the value object validation returns.

The texts are QuickFIX's, word for word, because counterparties and the
acceptance tests compare them.  :meth:`Reject.fields` lays a reject out the
way QuickFIX C++ does for each FIX version (FIX.4.0/4.1 have no RefTagID,
so the tag goes into the text; FIX.4.2 has SessionRejectReason only for
codes up to 11).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ..codec.message import Field
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
TAG_APPEARS_MORE_THAN_ONCE: Final = 13
TAG_SPECIFIED_OUT_OF_REQUIRED_ORDER: Final = 14
REPEATING_GROUP_FIELDS_OUT_OF_ORDER: Final = 15
INCORRECT_NUMINGROUP_COUNT: Final = 16

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
    TAG_APPEARS_MORE_THAN_ONCE: "Tag appears more than once",
    TAG_SPECIFIED_OUT_OF_REQUIRED_ORDER: "Tag specified out of required order",
    REPEATING_GROUP_FIELDS_OUT_OF_ORDER: "Repeating group fields out of order",
    INCORRECT_NUMINGROUP_COUNT: "Incorrect NumInGroup count for repeating group",
}

_REF_SEQ_NUM: Final = 45
_TEXT: Final = 58
_REF_TAG_ID: Final = 371
_REF_MSG_TYPE: Final = 372
_SESSION_REJECT_REASON: Final = 373


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

    def fields(self, begin_string: str | bytes, ref_seq_num: int | None = None) -> list[Field]:
        """The Reject's body fields for this FIX version, in QuickFIX order.

        RefSeqNum(45) first when given, then Text(58), RefTagID(371),
        RefMsgType(372), SessionRejectReason(373), each only where the
        version has it (ascending tag order, as QuickFIX sends them).
        """
        if isinstance(begin_string, bytes):
            begin_string = begin_string.decode("ascii", "replace")
        fix42_or_later = begin_string >= "FIX.4.2"  # "FIXT.1.1" sorts after too
        out: list[Field] = []
        if ref_seq_num is not None:
            out.append((_REF_SEQ_NUM, b"%d" % ref_seq_num))
        text = self.text
        tag = self.ref_tag if text else None
        if tag is not None and not fix42_or_later:
            text = f"{text} ({tag})"
        if text:
            out.append((_TEXT, text.encode()))
        if tag is not None and fix42_or_later:
            out.append((_REF_TAG_ID, b"%d" % tag))
        if fix42_or_later:
            if self.ref_msg_type:
                out.append((_REF_MSG_TYPE, self.ref_msg_type))
            if begin_string != "FIX.4.2" or self.reason <= INVALID_MSGTYPE:
                out.append((_SESSION_REJECT_REASON, b"%d" % self.reason))
        return out

    def to_error(self) -> RemoteProtocolError:
        """The same problem as the engine's remote-protocol exception."""
        return RemoteProtocolError(self.text, self.reason, self.ref_tag)

    def __str__(self) -> str:
        tag = f" (tag {self.ref_tag})" if self.ref_tag is not None else ""
        return f"{self.reason} {self.text}{tag} in MsgType {self.ref_msg_type!r}"
