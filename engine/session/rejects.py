"""Building session-level Reject(3), BusinessMessageReject(j) and Logout(5).

The texts of SessionRejectReason(373) come from the dictionary package's
table (``REJECT_TEXTS``), the only one.  The wording and the version rules
follow what FIX counterparties expect from the QuickFIX family:

* FIX.4.2 and later carry RefTagID(371), RefMsgType(372) and
  SessionRejectReason(373); FIX.4.2 itself only knows reasons 0-11, so a
  higher reason is left out there;
* FIX.4.0/4.1 have none of those fields: the tag goes into the text as
  ``"<text> (<tag>)"``;
* routing fields are reversed (OnBehalfOf* <-> DeliverTo*), so that the reject
  reaches whoever sent the message through a hub.
"""

from __future__ import annotations

from typing import Final

from ..codec import Message
from ..codec import tags as t
from ..codec.values import parse_seq_num
from ..dictionary.reject import (
    COMPID_PROBLEM,
    INVALID_MSGTYPE,
    INVALID_TAG_NUMBER,
    REJECT_TEXTS,
    REQUIRED_TAG_MISSING,
    SENDINGTIME_ACCURACY_PROBLEM,
    VALUE_IS_INCORRECT,
)

__all__ = [
    "BUSINESS_REASON_TEXT",
    "COMPID_PROBLEM",
    "INVALID_MSGTYPE",
    "INVALID_TAG_NUMBER",
    "REASON_TEXT",
    "REQUIRED_TAG_MISSING",
    "SENDING_TIME_ACCURACY",
    "VALUE_IS_INCORRECT",
    "business_reject",
    "reverse_route",
    "session_reject",
    "unsupported_message_type",
]

BUSINESS_REASON_TEXT: Final[dict[int, str]] = {
    0: "Other",
    1: "Unknown ID",
    2: "Unknown Security",
    3: "Unsupported Message Type",
    4: "Application not available",
    5: "Conditionally required field missing",
    6: "Not authorized",
    7: "DeliverTo firm not available at this time",
}

#: SessionRejectReason(373) texts: one table, the dictionary's.
REASON_TEXT: Final = REJECT_TEXTS
SENDING_TIME_ACCURACY: Final = SENDINGTIME_ACCURACY_PROBLEM

_REVERSE_ROUTE: Final = ((115, 128), (128, 115), (116, 129), (129, 116))
#: OnBehalfOfLocationID / DeliverToLocationID exist from FIX.4.1 on.
_REVERSE_LOCATION: Final = ((144, 145), (145, 144))


def reverse_route(reply: Message, received: Message, begin_string: bytes) -> None:
    """Copy the received routing fields into ``reply``, reversed."""
    pairs = _REVERSE_ROUTE + _REVERSE_LOCATION if begin_string >= b"FIX.4.1" else _REVERSE_ROUTE
    for src, dst in pairs:
        value = received.get(src)
        if value:
            reply.set(dst, value)


def session_reject(
    begin_string: bytes,
    received: Message,
    reason: int | None,
    ref_tag: int | None = None,
    text: str | None = None,
) -> Message:
    """A Reject(3) of ``received`` (header fields other than MsgType are left
    for the session to fill)."""
    reply = Message([(t.BEGIN_STRING, begin_string), (t.MSG_TYPE, b"3")])
    reverse_route(reply, received, begin_string)
    body: list[tuple[int, bytes]] = []
    seq = received.get(t.MSG_SEQ_NUM)
    if seq and parse_seq_num(seq) is not None:  # never echo a 10,000-digit number
        body.append((t.REF_SEQ_NUM, seq))
    if text is None and reason is not None:
        text = REASON_TEXT.get(reason)
    modern = begin_string >= b"FIX.4.2"
    with_tag = ref_tag is not None or reason == INVALID_TAG_NUMBER
    if text:
        if with_tag and not modern:
            body.append((t.TEXT, f"{text} ({ref_tag if ref_tag is not None else 0})".encode()))
        else:
            body.append((t.TEXT, text.encode()))
    if modern:
        if with_tag:
            body.append((t.REF_TAG_ID, b"%d" % (ref_tag or 0)))
        msg_type = received.get(t.MSG_TYPE)
        if msg_type:
            body.append((t.REF_MSG_TYPE, msg_type))
        if reason is not None and (begin_string != b"FIX.4.2" or reason <= INVALID_MSGTYPE):
            body.append((t.SESSION_REJECT_REASON, b"%d" % reason))
    reply.body = body
    return reply


def business_reject(
    begin_string: bytes,
    received: Message,
    reason: int,
    ref_tag: int | None = None,
    text: str | None = None,
    default_appl_ver_id: bytes | None = None,
    appl_ver_in_body: bool = False,
) -> Message:
    """A BusinessMessageReject(j) of ``received`` (FIX.4.2 and later).

    On FIXT.1.1 the application version goes into the header as
    ApplVerID(1128): DefaultApplVerID(1137) is a Logon field, which a
    validating peer (QuickFIX/J, this engine) refuses in a
    BusinessMessageReject.  ``appl_ver_in_body`` writes it there anyway, as
    QuickFIX C++ does (its acceptance definitions expect it).
    """
    reply = Message([(t.BEGIN_STRING, begin_string), (t.MSG_TYPE, b"j")])
    if default_appl_ver_id is not None and not appl_ver_in_body:
        reply.set(t.APPL_VER_ID, default_appl_ver_id)
    reverse_route(reply, received, begin_string)
    if text is None:
        text = BUSINESS_REASON_TEXT.get(reason, "Other")
        if ref_tag is not None:
            text = f"{text} ({ref_tag})"
    body: list[tuple[int, bytes]] = []
    seq = received.get(t.MSG_SEQ_NUM)
    if seq and parse_seq_num(seq) is not None:  # never echo a 10,000-digit number
        body.append((t.REF_SEQ_NUM, seq))
    body.append((t.TEXT, text.encode()))
    body.append((t.REF_MSG_TYPE, received.msg_type))
    body.append((t.BUSINESS_REJECT_REASON, b"%d" % reason))
    if default_appl_ver_id is not None and appl_ver_in_body:
        body.append((t.DEFAULT_APPL_VER_ID, default_appl_ver_id))
    reply.body = body
    return reply


def unsupported_message_type(
    begin_string: bytes, received: Message, default_appl_ver_id: bytes | None,
    appl_ver_in_body: bool = False,
) -> Message:
    """What to answer an application message nobody handles: a
    BusinessMessageReject from FIX.4.2 on, a session Reject before."""
    if begin_string >= b"FIX.4.2":
        return business_reject(begin_string, received, 3, default_appl_ver_id=default_appl_ver_id,
                               appl_ver_in_body=appl_ver_in_body)
    return session_reject(begin_string, received, None, text="Unsupported message type")
