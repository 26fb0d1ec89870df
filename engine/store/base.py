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

Pipelined writes (:func:`submit_batch`): a caller that keeps working while
its last batch commits submits the next batch at once, without awaiting the
first.  Every batch is queued before ``submit_batch`` returns; its awaitable
completes once the batch is durable, and the awaitables of one session
complete in submission order.  A batch submitted while an earlier one of the
same session is still unanswered is *chained* to it: if the earlier batch
fails, the later one fails too (the same error class, retryable or
permanent) and writes nothing.  Once every batch submitted so far has been
answered, the next one starts a new chain.  Backends merge what is queued
from all their sessions into one commit (group commit) of at most
``max_batch`` calls.
"""

from __future__ import annotations

import asyncio
import dataclasses
import weakref
from collections.abc import Sequence
from typing import Protocol

from ..codec.safetext import safe_text
from .errors import StoreError, chain_error, check_outbound, check_seq


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



class PipelinedStore(Protocol):
    """A session store with native pipelined batches (every backend of this
    package): see :func:`submit_batch` for the contract."""

    def submit_batch(
        self, messages: Sequence[tuple[int, bytes]], next_target: int | None
    ) -> asyncio.Future[None]: ...


def submit_batch(
    store: SessionStore, messages: Sequence[tuple[int, bytes]], next_target: int | None
) -> asyncio.Future[None]:
    """Queue ``messages`` (as ``save_outbound``) and the next target seq as
    one batch, now, and return an awaitable that completes once the batch is
    durable (module docstring: ordering and chaining): an ``asyncio.Future``
    (``done()``, ``add_done_callback``).  Must be called from a running
    event loop.  A malformed batch raises ``StoreError`` here; later
    failures come through the awaitable.  Cancelling the awaitable does not
    withdraw the batch.

    A store without a native ``submit_batch`` gets one built on
    ``save_batch``: the same ordering and chaining among its batches, but a
    call made after it and not awaited may overtake a batch still waiting
    for the one before."""
    native = getattr(store, "submit_batch", None)
    if native is not None:
        result: asyncio.Future[None] = native(messages, next_target)
        return result
    pipe = _fallbacks.get(store)
    if pipe is None:
        pipe = _fallbacks[store] = _Pipeline(store)
    return pipe.submit(messages, next_target)


class _Pipeline:
    """``submit_batch`` for a store that only has the awaited calls: each
    batch is a task that waits for the one before it."""

    def __init__(self, store: SessionStore) -> None:
        self._store = store
        self._tail: asyncio.Future[None] | None = None

    def submit(
        self, messages: Sequence[tuple[int, bytes]], next_target: int | None
    ) -> asyncio.Future[None]:
        check_outbound(messages, None)
        if next_target is not None:
            check_seq(next_target, "next target seq")
        frozen = tuple((seq, bytes(data)) for seq, data in messages)
        before = self._tail if self._tail is not None and not self._tail.done() else None
        task = asyncio.get_running_loop().create_task(self._run(before, frozen, next_target))
        self._tail = task
        return task

    async def _run(self, before: asyncio.Future[None] | None,
                   messages: tuple[tuple[int, bytes], ...], next_target: int | None) -> None:
        if before is not None:
            try:
                await asyncio.shield(before)
            except StoreError as e:
                raise chain_error(e) from None
        await save_batch(self._store, messages, next_target)


_fallbacks: weakref.WeakKeyDictionary[SessionStore, _Pipeline] = weakref.WeakKeyDictionary()
