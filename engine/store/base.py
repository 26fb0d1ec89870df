"""The message store protocol every backend implements.

A store keeps, per FIX session:

* the next sender sequence number (MsgSeqNum of the next message we send),
* the next target sequence number (MsgSeqNum we expect to receive next),
* every message we sent, by sequence number, for answering ResendRequests,
* the session's creation time (when its sequence numbers were last reset).

Two rules make a store crash-safe (DESIGN.md, habit 4):

* ``save_outbound`` stores messages *and* advances the sender sequence
  number in one atomic step, and returns only once both are durable; the
  engine writes the bytes to the socket only after it returns;
* the next target sequence number passes a received application message
  only once the application has handled it (the engine calls
  ``set_next_target`` / ``save_batch`` accordingly): a crash makes the
  counterparty send it again.

Further rules every backend follows (the shared contract suite in
``tests/contract/store_contract.py`` checks them):

* calls on one session take effect in the order they are made, even when
  several tasks call without awaiting each other;
* a sequence number is an ``int >= 1``; anything else is a ``StoreError``;
* every error is a ``StoreError`` (``engine.store.errors``), retryable or
  permanent; a failed call has written nothing;
* cancelling a call that writes does not undo it: the write may still
  commit, so after a cancellation reload the state with ``load()``;
* ``close()`` may be called more than once; using a closed store raises
  ``StoreClosedError``.  Closing the backend closes every session store
  opened from it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Protocol

from ..codec.safetext import safe_text


@dataclasses.dataclass(frozen=True, slots=True)
class SessionKey:
    """Identifies a session in a store: its SessionID rendered as text."""

    value: str

    def __str__(self) -> str:
        # For messages and logs: a dynamic session's CompIDs come from the
        # wire, so they are escaped and bounded (``value`` is the key itself).
        return safe_text(self.value, limit=200)


@dataclasses.dataclass(frozen=True, slots=True)
class StoreState:
    next_sender_seq: int
    next_target_seq: int
    creation_time_ns: int


class SessionStore(Protocol):
    """One session's durable state.  All methods are coroutines."""

    @property
    def key(self) -> SessionKey: ...

    async def load(self) -> StoreState:
        """The current state; a new session starts at 1/1 with creation time now."""
        ...

    async def save_outbound(self, messages: Sequence[tuple[int, bytes]]) -> None:
        """Store ``(seq, wire bytes)`` messages and set next sender seq to the
        last seq + 1, atomically.  ``messages`` are consecutive and start at
        the current next sender seq; a gap or overlap is a ``StoreError``."""
        ...

    async def set_next_sender(self, seq: int) -> None: ...

    async def set_next_target(self, seq: int) -> None: ...

    async def get_range(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        """Stored messages with ``begin <= seq <= end`` (``end`` 0 = no limit), ascending."""
        ...

    async def reset(self, creation_time_ns: int) -> None:
        """Sequence numbers back to 1/1, stored messages dropped, new creation time."""
        ...

    async def close(self) -> None: ...


class MessageStore(Protocol):
    """A backend: opens per-session stores."""

    async def open(self, key: SessionKey) -> SessionStore:
        """The store of one session, created at 1/1 (creation time now) if new."""
        ...

    async def close(self) -> None: ...


async def save_batch(
    store: SessionStore, messages: Sequence[tuple[int, bytes]], next_target: int | None
) -> None:
    """Store ``messages`` (as ``save_outbound``) and the next target seq in
    one transaction when the backend offers ``save_batch``; otherwise one
    after the other, the target only once the messages are stored."""
    combined = getattr(store, "save_batch", None)
    if combined is not None:
        await combined(messages, next_target)
        return
    if messages:
        await store.save_outbound(messages)
    if next_target is not None:
        await store.set_next_target(next_target)

