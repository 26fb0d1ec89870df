"""Errors raised by message stores.

Every store error is a :class:`StoreError`; each one is also either a
:class:`~pyfixmsg_plus.engine.errors.RetryableError` (the database is busy,
locked by another process, restarting: try again later) or a
:class:`~pyfixmsg_plus.engine.errors.PermanentError` (corrupt or unwritable
file, schema from a newer engine, a caller bug such as a sequence gap).
Callers decide whether to retry with ``isinstance(err, RetryableError)``.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..codec.values import MAX_SEQ_NUM
from ..errors import FixError, PermanentError, RetryableError


class StoreError(FixError):
    """Root of every message store error."""


class RetryableStoreError(StoreError, RetryableError):
    """The operation failed but may succeed later (busy or locked database,
    lost connection).  Nothing of the failed operation was written."""


class PermanentStoreError(StoreError, PermanentError):
    """The operation failed and retrying will not help (corrupt or
    unwritable database, incompatible schema)."""


class StoreSequenceError(PermanentStoreError):
    """``save_outbound`` was given messages that do not start at the current
    next sender sequence number or are not consecutive.  Nothing was written:
    this is what guarantees that no sequence number is reused or skipped."""


class StoreClosedError(PermanentStoreError):
    """The store (or the backend it belongs to) has been closed."""


def copy_error(err: StoreError) -> StoreError:
    """A fresh instance per waiting caller, so tracebacks do not pile up."""
    try:
        return type(err)(*err.args)
    except Exception:
        return err


def chain_error(err: StoreError) -> StoreError:
    """The error of a pipelined batch refused because an earlier batch of
    its chain failed: the same class (retryable stays retryable)."""
    text = f"not written: an earlier batch of this session failed: {err}"
    try:
        return type(err)(text)
    except Exception:
        return err


def _short(seq: object) -> str:
    """A value for an error message (str() of a huge int raises ValueError)."""
    if isinstance(seq, int) and seq.bit_length() > 64:
        return f"(a {seq.bit_length()}-bit number)"
    return f"{seq!r:.40}"


def check_seq(seq: int, what: str) -> None:
    """Reject a next sender/target sequence number below 1 or above
    ``MAX_SEQ_NUM + 1`` (the number after the last one a message may carry);
    ``what`` names it in the message.  Checked before any database is touched."""
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        raise StoreSequenceError(f"{what} must be an integer >= 1, got {_short(seq)}")
    if seq > MAX_SEQ_NUM + 1:
        raise StoreSequenceError(
            f"{what} {_short(seq)} is above the maximum sequence number {MAX_SEQ_NUM} + 1")


def check_range(begin: int, end: int) -> None:
    """Reject a ``get_range`` bound outside ``0..MAX_SEQ_NUM`` (``end`` 0
    means no limit; a ``begin`` below 1 reads from the first message)."""
    for what, seq in (("get_range begin", begin), ("get_range end", end)):
        if isinstance(seq, bool) or not isinstance(seq, int):
            raise StoreSequenceError(f"{what} must be an integer, got {_short(seq)}")
        if seq > MAX_SEQ_NUM:
            raise StoreSequenceError(
                f"{what} {_short(seq)} is above the maximum sequence number {MAX_SEQ_NUM}")


def check_outbound(messages: object, next_sender_seq: int | None) -> int:
    """Validate a ``save_outbound`` batch; return the next sender sequence
    number after it.

    ``messages`` must be ``(seq, bytes)`` pairs with consecutive ``seq``
    starting at ``next_sender_seq`` (``None``: check the shape only, starting
    wherever the first message does).  Shared by every backend so they all
    reject exactly the same inputs.
    """
    if type(messages) is list or type(messages) is tuple:
        # The engine's own batches (and the stores' copies of them): (int,
        # bytes) pairs in order.  A batch this loop does not accept goes to
        # the general checks below, which say what is wrong.
        following = next_sender_seq
        for item in messages:
            if (type(item) is not tuple or len(item) != 2 or type(item[0]) is not int
                    or type(item[1]) is not bytes):
                break
            if following is None:
                following = item[0]
                if following < 1:
                    break
            elif item[0] != following:
                break
            following += 1
        else:
            if following is None:
                return 0
            if following <= MAX_SEQ_NUM + 1:
                return following
    if not isinstance(messages, Sequence) or isinstance(messages, str | bytes | bytearray):
        raise StoreSequenceError("save_outbound expects a sequence of (seq, bytes) pairs")
    expected = next_sender_seq
    for item in messages:
        if not isinstance(item, tuple) or len(item) != 2:
            raise StoreSequenceError(f"save_outbound expects (seq, bytes) pairs, got {item!r:.60}")
        seq, data = item
        if not isinstance(data, bytes | bytearray | memoryview):
            raise StoreSequenceError(f"message {seq!r}: wire data must be bytes")
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
            raise StoreSequenceError(
                f"save_outbound: MsgSeqNum {_short(seq)} is not an integer >= 1")
        if seq > MAX_SEQ_NUM:
            raise StoreSequenceError(
                f"save_outbound: MsgSeqNum {_short(seq)} is above the maximum {MAX_SEQ_NUM}")
        if expected is None:
            expected = seq
        if seq != expected:
            raise StoreSequenceError(
                f"save_outbound: expected MsgSeqNum {expected}, got {seq} "
                f"(next sender seq is {next_sender_seq}; messages must start there "
                "and be consecutive)"
                if next_sender_seq is not None
                else f"save_outbound: MsgSeqNum {seq} follows {expected - 1}; not consecutive"
            )
        expected += 1
    return expected if expected is not None else 0


class StoreUnavailableError(RetryableStoreError):
    """Raised to the application by ``send()`` when the message store has been
    unreachable too long (``storeFailure.mode: wait``) or at all (``fail``).
    The message was not sent and will not be: its sequence number is given
    back, and the engine resumes by itself when the store is back."""
