"""Store commits and socket writes, in order, persist before send.

Theory of operation
-------------------
The pump (driver.py) fills one open :class:`Batch` with what the session's
effects ask for: rows to store (every message numbered since the last
commit), bytes to write, send waiters to resolve, and items to hand to the
application.  ``commit(target)`` seals the batch with the durable target
sequence number and queues its store write at once (``submit_batch``: the
messages and the target in one durable step; the store may commit several
queued batches, of this session and others, together).  A batch is *settled* when its
write completed; settling writes its bytes to the socket, resolves its
waiters and releases its items, and batches settle strictly in the order
they were committed.

A store whose calls never wait on I/O (``synchronous``, the memory store)
is written with a plain call and its batch settles at once.  Any other
store is *pipelined*: up to ``depth`` batches are queued in the store while
the engine keeps reading, numbering, encoding and filling the next batch
(``submit_batch`` queues batches in call order, completes them in that
order, and fails every later batch of the chain when one fails, so a later
batch can never be stored ahead of a failed one).  Nothing reaches the
socket before the commit that stored it returned.

Store outages (theory in docs/stores.md, "Failure behaviour"): when a
commit fails with a retryable error, nothing of it or of any later batch is
written to the socket; the flusher waits for the commits still in flight,
then retries the store with backoff (``transport/backoff.py``).  The first
``load()`` that answers tells how far the unsettled batches got (a commit's
outcome is unknown when a connection drops during COMMIT); what is missing
is stored, and every held batch settles in order: senders waited, nothing
lost, nothing reused or skipped.  Meanwhile new batches queue behind the
outage without being started.  Under ``storeFailure.mode: fail``, once
``waitTimeout`` passed, on a permanent error, or when the store's state
does not match what was held, ``on_abort`` drops the connection and fails
the waiting senders (the driver reloads the store before it numbers
anything again).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable
from typing import Any

from ..config import StoreFailureSettings
from ..errors import FixError, RetryableError
from ..session.stats import SessionStats
from ..store.base import SessionStore, submit_batch
from ..store.errors import StoreUnavailableError
from .backoff import ExponentialBackoff

log = logging.getLogger("pyfixmsg_plus.session")

#: Commits a pipelined store may have in flight for one session.
PIPELINE_DEPTH = 4
#: Socket write buffer above which the pump waits for it to drain.
WRITE_HIGH_WATER = 1 << 20


class Batch:
    """What one store commit carries and what it releases once durable."""

    __slots__ = ("releases", "rows", "seqs", "target", "writes")

    def __init__(self) -> None:
        self.rows: list[tuple[int, bytes]] = []  # (MsgSeqNum, stored bytes)
        self.seqs: list[int] = []  # sequence numbers of the rows (send waiters)
        self.writes: list[bytes] = []  # bytes for the socket, in order
        self.releases: list[tuple[str, Any]] = []  # items for the application
        self.target: int | None = None  # durable next target, None: unchanged

    def empty(self) -> bool:
        return not (self.rows or self.writes or self.releases or self.target is not None)


class Flusher:
    """Commits batches to one session's store and settles them in order."""

    def __init__(
        self,
        store: SessionStore,
        stats: SessionStats,
        policy: StoreFailureSettings,
        session_id: str,
        *,
        write: Callable[[list[bytes]], None],
        release: Callable[[list[tuple[str, Any]]], None],
        on_durable_target: Callable[[int], None],
        on_abort: Callable[[str, Exception], None],
    ) -> None:
        self.use_store(store)
        self.stats = stats
        self.policy = policy
        self.session_id = session_id
        self._write = write
        self._release = release
        self._on_durable_target = on_durable_target
        self._on_abort = on_abort
        #: The batch the pump is filling.
        self.open = Batch()
        #: Committed batches not settled yet, oldest first, with their writes.
        self._flight: collections.deque[tuple[Batch, asyncio.Future[None] | None]] = (
            collections.deque())
        self._settled = asyncio.Event()  # set whenever nothing is in flight
        self._settled.set()
        self._waiters: dict[int, asyncio.Future[int]] = {}
        #: Loop time the current outage began, None when the store answers.
        self.outage_since: float | None = None
        self._outage: asyncio.Task[None] | None = None
        self.stopping = False
        self.last_commit = 0.0  # perf_counter() of the last store write

    def use_store(self, store: SessionStore) -> None:
        self.store = store
        #: A store without I/O is written with a plain call (and not pipelined).
        self._save_now: Callable[[list[tuple[int, bytes]], int | None], None] | None = (
            getattr(store, "save_batch_now", None)
            if getattr(store, "synchronous", False) else None)
        self.depth = 1 if self._save_now is not None else PIPELINE_DEPTH

    # -- what the pump calls ------------------------------------------------
    def waiter(self, seq: int) -> asyncio.Future[int]:
        """A future resolved with ``seq`` once the message is durable."""
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiters[seq] = fut
        return fut

    @property
    def busy(self) -> bool:
        """Commits in flight or held by an outage."""
        return bool(self._flight)

    def commit(self, target: int | None) -> None:
        """Seal the open batch with ``target`` and start its store write."""
        batch = self.open
        batch.target = target
        if batch.empty():
            return
        self.open = Batch()
        if self._save_now is not None and not self._flight:
            try:
                if batch.rows or target is not None:
                    started = time.perf_counter()
                    self._save_now(batch.rows, target)
                    self._observe(batch, started)
            except (FixError, OSError) as exc:
                self._flight.append((batch, None))
                self._settled.clear()
                self._failed(exc)
                return
            self._settle(batch)
            return
        self._settled.clear()
        if self._outage is not None or not (batch.rows or target is not None):
            self._flight.append((batch, None))  # written when its turn comes
            if self._outage is None:
                self._settle_ready()
            return
        self._flight.append((batch, self._submit(batch)))

    async def room(self) -> None:
        """Wait until another commit may start (pipeline depth)."""
        while len(self._flight) >= self.depth and self._outage is None:
            head = self._flight[0][1]
            if head is None:
                return
            await asyncio.wait((head,))

    async def settled(self) -> None:
        """Wait until every committed batch settled (or was given up)."""
        await self._settled.wait()

    def fail_waiters(self, err: Exception) -> None:
        for fut in self._waiters.values():
            if not fut.done():
                fut.set_exception(err)
        self._waiters.clear()

    def drop(self) -> list[tuple[str, Any]]:
        """Forget the open batch and everything unsettled (the connection is
        being dropped); returns the items that were to be released."""
        batches = [self.open, *(b for b, _ in self._flight)]
        self.open = Batch()
        self._flight.clear()
        self._settled.set()
        return [item for b in batches for item in b.releases]

    # -- settling ------------------------------------------------------------
    def _submit(self, batch: Batch) -> asyncio.Future[None]:
        """Queue the batch in the store now (``submit_batch``: durable in
        submission order, a failure fails the later batches of the chain)
        and settle it when its future completes."""
        started = time.perf_counter()
        try:
            fut = submit_batch(self.store, batch.rows, batch.target)
        except (FixError, OSError) as exc:  # refused at once: fails like a commit
            fut = asyncio.get_running_loop().create_future()
            fut.set_exception(exc)

        def done(fut: asyncio.Future[None]) -> None:
            if not fut.cancelled() and fut.exception() is None:
                self._observe(batch, started)
            self._on_commit_done(fut)

        fut.add_done_callback(done)
        return fut

    def _observe(self, batch: Batch, started: float) -> None:
        self.last_commit = started
        self.stats.store_write.observe(time.perf_counter() - started)
        if batch.rows:
            self.stats.store_batch.observe(len(batch.rows))

    def _on_commit_done(self, task: asyncio.Future[None]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None and self._outage is None:
            self._failed(exc)
        if self._outage is None:
            self._settle_ready()

    def _settle_ready(self) -> None:
        """Settle the committed batches at the head of the queue, in order."""
        flight = self._flight
        while flight:
            batch, task = flight[0]
            if task is not None and not task.done():
                return
            flight.popleft()
            self._settle(batch)
        self._settled.set()

    def _settle(self, batch: Batch) -> None:
        if batch.target is not None:
            self._on_durable_target(batch.target)
        waiters = self._waiters
        for seq in batch.seqs:
            fut = waiters.pop(seq, None)
            if fut is not None and not fut.done():
                fut.set_result(seq)
        if batch.writes:
            self._write(batch.writes)
        if batch.releases:
            self._release(batch.releases)

    # -- outages ---------------------------------------------------------------
    def _failed(self, exc: BaseException) -> None:
        self.stats.store_errors += 1
        self._outage = asyncio.ensure_future(self._ride_out(exc))

    async def _ride_out(self, exc: BaseException) -> None:
        try:
            await self._wait_for_store(exc)
        except Exception as err:  # never leave the flusher stuck
            log.exception("%s: internal error while recovering from a store outage",
                          self.session_id)
            self._give_up(f"internal error: {err}", err)
        finally:
            self._outage = None
            self.outage_since = None
        # Batches committed during the recovery: their writes start now, in order.
        queued = list(self._flight)
        self._flight.clear()
        for batch, _ in queued:
            self._restart(batch)
        if not self._flight:
            self._settled.set()

    def _restart(self, batch: Batch) -> None:
        if not (batch.rows or batch.target is not None):
            self._flight.append((batch, None))
            self._settle_ready()
            return
        self._flight.append((batch, self._submit(batch)))

    async def _wait_for_store(self, exc: BaseException) -> bool:
        """True once every held batch is durable and settled; False when
        given up (the connection is dropped)."""
        policy = self.policy
        # Commits still in flight finish first (their outcome counts below).
        pending = [t for _, t in self._flight if t is not None and not t.done()]
        if pending:
            await asyncio.wait(pending)
        if policy.mode == "fail" or not isinstance(exc, RetryableError | OSError):
            log.error("%s: store failure, dropping the connection: %s", self.session_id, exc)
            self._give_up(f"store failure: {exc}", StoreUnavailableError(
                f"{self.session_id}: not sent: message store failure: {exc}"))
            return False
        loop = asyncio.get_running_loop()
        self.outage_since = start = loop.time()
        log.error("%s: message store unavailable, holding every outgoing message until it "
                  "is back (storeFailure.mode=%s): %s", self.session_id, policy.mode, exc)
        backoff = ExponentialBackoff.doubling(policy.retry_initial_delay, policy.retry_max_delay)
        while True:
            elapsed = loop.time() - start
            if self.stopping or elapsed >= policy.wait_timeout:
                self._give_up("message store unavailable", StoreUnavailableError(
                    f"{self.session_id}: not sent: the message store has been unavailable "
                    f"for {elapsed:.1f} s (storeFailure.waitTimeout={policy.wait_timeout:g} s)"))
                return False
            await asyncio.sleep(min(backoff.next_delay(),
                                    max(0.0, start + policy.wait_timeout - loop.time())))
            held = len(self._flight)
            try:
                if await self._recover([b for b, _ in list(self._flight)[:held]]):
                    log.warning("%s: message store is back after %.1f s; resuming",
                                self.session_id, loop.time() - start)
                    for _ in range(held):  # durable now: settle them in order
                        self._settle(self._flight.popleft()[0])
                    return True
                return False
            except (RetryableError, OSError) as again:
                log.debug("%s: message store still unavailable: %s", self.session_id, again)
            except FixError as fatal:
                log.error("%s: store failure, dropping the connection: %s",
                          self.session_id, fatal)
                self._give_up(f"store failure: {fatal}", fatal)
                return False

    async def _recover(self, held: list[Batch]) -> bool:
        """The store answers again: store what of the held batches is missing."""
        rows = [row for batch in held for row in batch.rows]
        target = None
        for batch in held:
            target = batch.target if batch.target is not None else target
        state = await self.store.load()  # how far did the failed commits get?
        durable = state.next_sender_seq
        if rows:
            first, last = rows[0][0], rows[-1][0]
            done = durable - first  # rows already stored
            if not 0 <= done <= len(rows) or (
                    done and await self.store.get_range(first, durable - 1) != rows[:done]):
                err = StoreUnavailableError(
                    f"{self.session_id}: store state changed during the outage (next sender "
                    f"{durable}, held {first}..{last}); reloading")
                self._give_up(str(err), err)
                return False
            if done < len(rows):
                await self.store.save_outbound(rows[done:])
        if target is not None:
            await self.store.set_next_target(target)
        return True

    def _give_up(self, reason: str, err: Exception) -> None:
        self.fail_waiters(err)
        self._on_abort(reason, err)
