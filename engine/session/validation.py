"""The validation interface the session uses, and the checks it always makes.

The session does not know data dictionaries.  It takes a ``Validator``: a
callable that looks at a received message and returns the session reject to
send (a :class:`Problem`), or None.  ``runtime`` builds one from the
configured dictionaries; without a dictionary :func:`basic_problems` still
catches what no session can work without.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Protocol

from ..codec import DecodedMessage, Message
from ..codec import tags as t
from ..codec.values import MAX_SEQ_NUM, parse_seq_num


@dataclasses.dataclass(frozen=True, slots=True)
class Problem:
    """A session-level reject: SessionRejectReason(373), RefTagID(371), Text(58)."""

    reason: int
    ref_tag: int | None = None
    text: str | None = None


class ProblemLike(Protocol):
    """Anything with a reason, an optional tag and an optional text (the
    dictionary's ``Reject`` is one)."""

    @property
    def reason(self) -> int: ...

    @property
    def ref_tag(self) -> int | None: ...

    @property
    def text(self) -> str | None: ...


Validator = Callable[[Message], ProblemLike | None]

_REQUIRED_HEADER = (t.SENDER_COMP_ID, t.TARGET_COMP_ID, t.MSG_SEQ_NUM, t.SENDING_TIME)


def basic_problems(msg: Message, fields_have_values: bool = True) -> Problem | None:
    """Checks made even without a dictionary: tag numbers, empty values and
    the header fields every session message needs."""
    # The decoder already knows whether a received message (not changed
    # since) has a tag <= 0 or an empty value: the common clean case skips
    # the loop over every field.
    if type(msg) is not DecodedMessage or not msg.clean:
        for section in (msg.header, msg.body, msg.trailer):
            for tag, value in section:
                if tag <= 0:
                    return Problem(0, tag)
                if not value and fields_have_values:
                    return Problem(4, tag)
    get = msg.index().get
    for tag in _REQUIRED_HEADER:
        if get(tag) is None:
            return Problem(1, tag)
    seq = get(t.MSG_SEQ_NUM)
    if seq is not None and not seq.isdigit():
        return Problem(6, t.MSG_SEQ_NUM)
    return seq_num_problem(msg)


def seq_num_problem(msg: Message) -> Problem | None:
    """Reason 5 (value out of range) for a MsgSeqNum(34) of digits above
    :data:`~..codec.values.MAX_SEQ_NUM`; checked after any validator, since a
    dictionary only knows that a SeqNum is digits."""
    seq = msg.get(t.MSG_SEQ_NUM)
    if seq is not None and seq.isdigit() and parse_seq_num(seq) is None:
        return Problem(5, t.MSG_SEQ_NUM, f"MsgSeqNum above {MAX_SEQ_NUM}")
    return None
