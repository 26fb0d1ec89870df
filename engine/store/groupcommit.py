"""Group commit for the stores: a queue of jobs run by one writer in batches.

A store turns each call into a :class:`Job` (the session key and the store's
description of the work, ``op``) and :meth:`Writer.submit`\\ s it before its
first suspension point, so one session's calls run in call order.  The
writer task takes everything queued (up to ``max_batch`` jobs) and hands the
list to the store's ``execute`` coroutine, which runs it as one transaction
(or one round trip of writes) and sets each job's ``result`` or ``error``;
then every caller is answered, in queue order.  While one batch commits, new
calls pile up and form the next.  Used by the PostgreSQL, Redis, MySQL and
MongoDB stores; the SQLite store runs the same kind of batches in a thread
of its own and shares the chaining rules below.

Pipelined batches (``submit_batch``) are *chained*: a batch submitted while
an earlier pipelined batch of the same session is still unanswered joins
that batch's chain (:class:`ChainCounter`, on the submitting side).  When a
job of a chain fails, every later job of that chain fails as well, without
writing anything (:class:`Chains`, on the executing side): a caller that
numbers and sends batch N+1 before batch N is durable must never see N+1
stored after N was refused.  A batch submitted once every earlier one has
been answered starts a new chain.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from .errors import (
    PermanentStoreError,
    StoreClosedError,
    StoreError,
    chain_error,
    check_outbound,
    check_seq,
    copy_error,
)

if TYPE_CHECKING:
    from .base import SessionKey

__all__ = [
    "BatchOp", "ChainCounter", "Chains", "Job", "QueuedSessionStore", "Writer", "copy_error",
    "execute_isolating", "run_jobs",
]


class Job:
    """One call: ``op`` is what the store's ``execute`` runs for it;
    ``chain`` is the chain number of a pipelined batch (None otherwise)."""

    __slots__ = ("chain", "error", "future", "key", "op", "result")

    def __init__(self, key: str, op: Any, future: asyncio.Future[Any],
                 chain: int | None = None) -> None:
        self.key = key
        self.op = op
        self.future = future
        self.chain = chain
        self.result: Any = None
        self.error: StoreError | None = None


class BatchOp:
    """Messages (consecutive, from the next sender seq) and/or the next
    target seq of one session, checked and copied when submitted: the
    engine's flush, which stores may run on a path of its own."""

    __slots__ = ("key", "messages", "next_target")

    def __init__(self, key: str, messages: tuple[tuple[int, bytes], ...],
                 next_target: int | None) -> None:
        self.key = key
        self.messages = messages
        self.next_target = next_target


class ChainCounter:
    """The submitting side of chaining: which chain a new pipelined batch
    of a session joins.  ``settled`` must be called once per ``join`` when
    the batch's caller is answered."""

    def __init__(self) -> None:
        self._open: dict[str, list[int]] = {}  # key -> [chain, unanswered batches]
        self._next = 0

    def join(self, key: str) -> int:
        entry = self._open.get(key)
        if entry is None:
            self._next += 1
            entry = self._open[key] = [self._next, 0]
        entry[1] += 1
        return entry[0]

    def settled(self, key: str) -> None:
        entry = self._open.get(key)
        if entry is not None:
            entry[1] -= 1
            if entry[1] <= 0:
                del self._open[key]


class Chains:
    """The executing side of chaining: the failed chain of each session.

    ``blocked(job)`` before running a job (the error it must fail with, or
    None), ``failed(job)`` once a job has failed for good.  A transaction
    that is rolled back and run again restores a :meth:`snapshot`."""

    def __init__(self) -> None:
        self._failed: dict[str, tuple[int, StoreError]] = {}

    def blocked(self, job: Job) -> StoreError | None:
        entry = self._failed.get(job.key)
        if entry is None or job.chain is None:
            return None
        if entry[0] == job.chain:
            return chain_error(entry[1])
        del self._failed[job.key]  # a newer chain: the old failure is answered
        return None

    def failed(self, job: Job) -> None:
        if job.chain is None or job.error is None:
            return
        entry = self._failed.get(job.key)
        if entry is None or entry[0] != job.chain:  # the first failure of the chain
            self._failed[job.key] = (job.chain, job.error)

    def snapshot(self) -> dict[str, tuple[int, StoreError]]:
        return dict(self._failed)

    def restore(self, snap: dict[str, tuple[int, StoreError]]) -> None:
        self._failed = snap


class Writer:
    """One task running queued jobs in batches through ``execute``.

    ``translate`` turns an exception that escaped ``execute`` (a bug, or a
    cancellation) into the error every job of the batch gets; ``where``
    names the store in the error of jobs refused after :meth:`stop`.
    ``execute`` checks :attr:`chains` before it runs each job.
    """

    def __init__(self, name: str, max_batch: int,
                 execute: Callable[[list[Job]], Awaitable[None]],
                 translate: Callable[[BaseException], StoreError], where: str,
                 chains: Chains | None = None) -> None:
        self.max_batch = max_batch
        self.where = where
        self.chains = chains if chains is not None else Chains()
        self.batches = 0  # batches run, for tests and metrics
        self._execute = execute
        self._translate = translate
        self._counter = ChainCounter()
        self.queue: asyncio.Queue[Job | None] = asyncio.Queue()
        self.pending: dict[str, int] = {}
        self.task = asyncio.get_running_loop().create_task(self._run(), name=name)

    def submit(self, key: str, op: Any, *, chained: bool = False) -> asyncio.Future[Any]:
        """Queue a job now (no suspension); ``chained`` for a pipelined batch."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending[key] = self.pending.get(key, 0) + 1
        chain = self._counter.join(key) if chained else None
        self.queue.put_nowait(Job(key, op, future, chain))
        return future

    def idle(self, key: str) -> bool:
        """No queued job for ``key``: a read may bypass the writer."""
        return key not in self.pending

    async def stop(self) -> None:
        """Run what is queued, then end; later jobs get ``StoreClosedError``."""
        self.queue.put_nowait(None)
        with contextlib.suppress(Exception):  # answered to the callers already
            await self.task

    async def _run(self) -> None:
        stop = False
        while not stop:
            job = await self.queue.get()
            if job is None:
                break
            batch = [job]
            while len(batch) < self.max_batch:
                try:
                    more = self.queue.get_nowait()
                except asyncio.QueueEmpty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            try:
                await self._execute(batch)
            except BaseException as e:  # a bug or cancellation: answer everyone
                for j in batch:
                    j.error = self._translate(e)
                if not isinstance(e, Exception):
                    raise
            finally:
                self.batches += 1
                self._settle(batch)
        while not self.queue.empty():  # after stop: refuse what is left
            left = self.queue.get_nowait()
            if left is not None:
                left.error = StoreClosedError(f"{self.where} is closed")
                self._settle([left])

    def _settle(self, batch: list[Job]) -> None:
        for job in batch:
            n = self.pending.get(job.key, 1) - 1
            if n:
                self.pending[job.key] = n
            else:
                self.pending.pop(job.key, None)
            if job.chain is not None:
                self.chains.failed(job)
                self._counter.settled(job.key)
            if job.future.done():
                continue
            if job.error is not None:
                job.future.set_exception(job.error)
            else:
                job.future.set_result(job.result)


async def run_jobs(batch: list[Job], arg: Any, chains: Chains) -> None:
    """Run each job's ``op(arg)`` in order inside the store's transaction:
    a job of a failed chain is refused, a job refused with a ``StoreError``
    (before it wrote anything) fails alone and fails its chain."""
    for job in batch:
        job.result = None
        job.error = chains.blocked(job)
        if job.error is not None:
            continue
        try:
            job.result = await job.op(arg)
        except StoreError as e:
            job.error = e
            chains.failed(job)


async def execute_isolating(
    batch: list[Job],
    transaction: Callable[[list[Job]], Awaitable[StoreError | None]],
    chains: Chains,
    retry_in_store: Callable[[StoreError], bool],
    retries: int = 5,
) -> None:
    """Run ``batch`` through ``transaction`` (one database transaction that
    returns the error that rolled it back, or None).  Deadlocks and the like
    (``retry_in_store``) are tried again; a permanent failure of a batch of
    several jobs re-runs each job alone so that one bad job cannot fail the
    others; any other failure fails every job of the batch."""
    for attempt in range(retries + 1):
        snap = chains.snapshot()
        err = await transaction(batch)
        if err is None:
            return
        chains.restore(snap)  # the transaction was rolled back
        if retry_in_store(err) and attempt < retries:
            await asyncio.sleep(0.001 * (attempt + 1))
            continue
        if len(batch) > 1 and isinstance(err, PermanentStoreError):
            for job in batch:
                await execute_isolating([job], transaction, chains, retry_in_store, retries)
            return
        for job in batch:
            job.error = copy_error(err)
            job.result = None
            chains.failed(job)
        return


class _Backend(Protocol):
    def submit(self, key: str, op: Any, chained: bool = False) -> asyncio.Future[Any]: ...


class QueuedSessionStore:
    """What the session stores of the group-commit backends share: every
    call becomes a job on the backend's writer.  A subclass turns a batch
    (messages and/or next target, already checked and copied) into its op
    with :meth:`_batch_op`."""

    def __init__(self, backend: _Backend, key: SessionKey) -> None:
        self._backend = backend
        self._key = key
        self._closed = False

    @property
    def key(self) -> SessionKey:
        return self._key

    def _submit(self, op: Any, chained: bool = False) -> asyncio.Future[Any]:
        if self._closed:
            raise StoreClosedError(f"session store {self._key} is closed")
        return self._backend.submit(self._key.value, op, chained)

    def _batch_op(self, messages: tuple[tuple[int, bytes], ...], next_target: int | None) -> Any:
        raise NotImplementedError

    def _batch(self, messages: Sequence[tuple[int, bytes]], next_target: int | None,
               chained: bool) -> asyncio.Future[Any]:
        check_outbound(messages, None)
        if next_target is not None:
            check_seq(next_target, "next target seq")
        # Copy now: the caller may reuse a bytearray once we are suspended.
        frozen = tuple((seq, bytes(data)) for seq, data in messages)
        return self._submit(self._batch_op(frozen, next_target), chained)

    async def save_outbound(self, messages: Sequence[tuple[int, bytes]]) -> None:
        await self._batch(messages, None, False)

    async def save_batch(
        self, messages: Sequence[tuple[int, bytes]], next_target: int | None
    ) -> None:
        """``save_outbound`` and ``set_next_target`` in one commit."""
        await self._batch(messages, next_target, False)

    def submit_batch(
        self, messages: Sequence[tuple[int, bytes]], next_target: int | None
    ) -> asyncio.Future[None]:
        """A pipelined ``save_batch`` (``base.submit_batch``)."""
        return self._batch(messages, next_target, True)

    async def set_next_target(self, seq: int) -> None:
        check_seq(seq, "next target seq")
        await self._batch((), seq, False)

    async def close(self) -> None:
        self._closed = True
