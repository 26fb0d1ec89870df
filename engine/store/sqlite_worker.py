"""The thread of the SQLite store: one connection, batches of jobs, one commit each.

Theory of operation
-------------------

Only the worker thread touches the connection, so the event loop never
blocks on disk I/O.  Coroutines turn each call into a *job* and put it,
together with an asyncio future, on a thread-safe queue before their first
suspension point, so the jobs of one session run in the order the calls were
made.  The worker takes a job, then drains whatever else is already queued
(up to ``max_batch`` jobs, from every session) and runs them all in one
``BEGIN IMMEDIATE`` ... ``COMMIT`` transaction: *group commit*.  While one
transaction is being fsynced, new calls pile up in the queue and form the
next batch.  Every future is resolved only after the ``COMMIT`` that
contains its rows returned.

A job is either a function of the connection (the general case) or a
:class:`BatchOp`: messages and/or a next target sequence number, the
engine's flush.  Batch ops are applied in Python to the session rows, and
the transaction writes all their messages with a few multi-row ``INSERT``\\ s
and all changed session rows with one multi-row upsert: a handful of
statements per commit whatever the number of sessions and messages.  Each
statement releases and takes back the interpreter lock, and while the event
loop thread is busy taking it back can wait for the interpreter's switch
interval, so the number of statements per commit matters more than their
size.  The worker remembers the session rows it committed and reads them
again only when another connection has written to the file since
(``PRAGMA data_version``).

A job that is rejected (a sequence gap: :class:`StoreSequenceError`) checks
before it writes anything, so it fails alone and the batch carries on; a
pipelined batch's failure also fails the later batches of its chain
(:mod:`.groupcommit`).  If SQLite itself fails (an I/O error, a message too
big) the batch is rolled back and, unless the database was merely busy,
each job is re-run in its own transaction so that one bad job cannot fail
the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from .admin import msg_type_of
from .errors import (
    PermanentStoreError,
    RetryableStoreError,
    StoreClosedError,
    StoreError,
    check_outbound,
    copy_error,
)
from .groupcommit import BatchOp, ChainCounter, Chains, Job

__all__ = ["BatchOp", "Worker", "ensure_row", "is_busy", "retry_busy", "translate"]

_T = TypeVar("_T")

# SQLite primary result codes (sqlite3.h).
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
#: rows per multi-row INSERT: powers of two up to this, 5 parameters each
_CHUNKS = (256, 128, 64, 32, 16, 8, 4, 2, 1)


def is_busy(exc: BaseException) -> bool:
    """SQLITE_BUSY or SQLITE_LOCKED: another connection holds the file."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED)
    return "locked" in str(exc) or "busy" in str(exc)


def translate(exc: BaseException, path: str) -> StoreError:
    """Map a failure to a retryable or permanent ``StoreError``."""
    if isinstance(exc, StoreError):
        return exc
    name = getattr(exc, "sqlite_errorname", None) or type(exc).__name__
    text = f"sqlite store {path}: {exc} ({name})"
    if is_busy(exc):
        return RetryableStoreError(text)
    return PermanentStoreError(text)


def retry_busy(step: Callable[[], Any], timeout: float) -> Any:
    """Run a set-up step, again while another process opening the same file
    holds it.  Switching a new file to WAL and the first read of a WAL file
    can answer SQLITE_BUSY at once, without SQLite's busy handler, so
    ``busy_timeout`` alone does not cover two processes starting together."""
    deadline = time.monotonic() + timeout
    pause = 0.005
    while True:
        try:
            return step()
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


def ensure_row(conn: sqlite3.Connection, key: str) -> tuple[int, int, int]:
    row = conn.execute(
        "SELECT next_sender_seq, next_target_seq, creation_time_ns FROM sessions WHERE key = ?",
        (key,),
    ).fetchone()
    if row is None:
        now = time.time_ns()
        conn.execute(
            "INSERT INTO sessions (key, next_sender_seq, next_target_seq, creation_time_ns, "
            "updated_ns) VALUES (?, 1, 1, ?, ?)",
            (key, now, now),
        )
        return (1, 1, now)
    return (int(row[0]), int(row[1]), int(row[2]))


class _Tx:
    """One transaction's session rows and pending writes (worker thread)."""

    def __init__(self, conn: sqlite3.Connection, cache: dict[str, tuple[int, int, int]]) -> None:
        self.conn = conn
        self.cache = cache
        self.now = time.time_ns()
        self.rows: dict[str, list[int]] = {}
        self.dirty: set[str] = set()
        self.inserts: list[Any] = []  # flat parameters, 5 per message

    def apply(self, op: BatchOp) -> None:
        row = self.rows.get(op.key)
        if row is None:
            cached = self.cache.get(op.key)
            row = self.rows[op.key] = list(cached if cached is not None
                                           else ensure_row(self.conn, op.key))
        new_next = check_outbound(op.messages, row[0])  # raises before changing anything
        if op.messages:
            k, now, out = op.key, self.now, self.inserts
            for seq, data in op.messages:
                out += (k, seq, now, msg_type_of(data), data)
            row[0] = new_next
            self.dirty.add(op.key)
        if op.next_target is not None:
            row[1] = op.next_target
            self.dirty.add(op.key)

    def flush(self) -> None:
        """Write what the batch ops gathered: messages, then session rows."""
        conn, args = self.conn, self.inserts
        i, n = 0, len(args) // 5
        while i < n:
            m = next(c for c in _CHUNKS if c <= n - i)
            conn.execute(_insert_sql(m), args[i * 5:(i + m) * 5])
            i += m
        self.inserts = []
        if self.dirty:
            params: list[Any] = []
            for k in sorted(self.dirty):
                r = self.rows[k]
                params += (k, r[0], r[1], r[2], self.now)
            conn.execute(_upsert_sql(len(self.dirty)), params)
            self.dirty = set()

    def forget(self) -> None:
        """A general job ran: rows may have changed under us."""
        self.rows.clear()
        self.cache.clear()


_SQL: dict[tuple[str, int], str] = {}


def _insert_sql(n: int) -> str:
    sql = _SQL.get(("i", n))
    if sql is None:
        sql = _SQL[("i", n)] = (
            "INSERT OR REPLACE INTO messages (session_key, seq, sent_time_ns, msg_type, data) "
            "VALUES " + ", ".join(["(?, ?, ?, ?, ?)"] * n))
    return sql


def _upsert_sql(n: int) -> str:
    sql = _SQL.get(("u", n))
    if sql is None:
        sql = (
            "INSERT INTO sessions (key, next_sender_seq, next_target_seq, creation_time_ns, "
            "updated_ns) VALUES " + ", ".join(["(?, ?, ?, ?, ?)"] * n)
            + " ON CONFLICT (key) DO UPDATE SET next_sender_seq = excluded.next_sender_seq, "
            "next_target_seq = excluded.next_target_seq, updated_ns = excluded.updated_ns")
        if n <= 64:
            _SQL[("u", n)] = sql
    return sql


class Worker:
    """The thread that owns the connection and runs jobs in group commits.

    ``connect`` opens and prepares the connection (in the thread)."""

    def __init__(self, path: str, max_batch: int,
                 connect: Callable[[], sqlite3.Connection]) -> None:
        self.path = path
        self.max_batch = max_batch
        self._connect = connect
        self._queue: queue.SimpleQueue[tuple[Job, asyncio.AbstractEventLoop] | None] = (
            queue.SimpleQueue())
        self._lock = threading.Lock()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._counter = ChainCounter()
        self._chains = Chains()
        self._cache: dict[str, tuple[int, int, int]] = {}
        self._data_version = -1
        self.transactions = 0  # committed transactions, for tests and metrics

    @property
    def closed(self) -> bool:
        return self._closed

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        started: asyncio.Future[None] = loop.create_future()
        self._thread = threading.Thread(
            target=self._run, args=(loop, started), name=f"sqlite-store {self.path}", daemon=True
        )
        self._thread.start()
        try:
            await started
        except BaseException:
            self._closed = True
            await asyncio.to_thread(self._thread.join)
            raise

    def submit(self, op: Callable[[sqlite3.Connection], _T], key: str = "") -> asyncio.Future[_T]:
        """Queue ``op`` now (no suspension); its future resolves after commit."""
        return self._put(op, key, False)

    def submit_batch(self, op: BatchOp, chained: bool) -> asyncio.Future[None]:
        """Queue a batch op now; ``chained`` for a pipelined batch."""
        return self._put(op, op.key, chained)

    def _put(self, op: Any, key: str, chained: bool) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        with self._lock:
            if self._closed:
                raise StoreClosedError(f"sqlite store {self.path} is closed")
            chain = self._counter.join(key) if chained else None
            self._queue.put((Job(key, op, future, chain), loop))
        return future

    async def close(self) -> None:
        with self._lock:
            first = not self._closed
            self._closed = True
            if first:
                self._queue.put(None)
        if self._thread is not None and self._thread.is_alive():
            await asyncio.to_thread(self._thread.join)

    def _settle(self, jobs: list[Job]) -> None:  # on the caller's loop
        for job in jobs:
            if job.chain is not None:
                with self._lock:
                    self._counter.settled(job.key)
            if job.future.done():  # cancelled by its caller
                continue
            if job.error is not None:
                job.future.set_exception(job.error)
            else:
                job.future.set_result(job.result)

    # --- worker thread -------------------------------------------------------

    def _run(self, loop: asyncio.AbstractEventLoop, started: asyncio.Future[None]) -> None:
        try:
            conn = self._connect()
        except BaseException as e:
            err = translate(e, self.path)
            loop.call_soon_threadsafe(_set_exception_if_pending, started, err)
            return
        loop.call_soon_threadsafe(_set_result_if_pending, started)
        try:
            stop = False
            while not stop:
                item = self._queue.get()
                if item is None:
                    break
                batch = [item]
                while len(batch) < self.max_batch:
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        stop = True
                        break
                    batch.append(more)
                jobs = [j for j, _ in batch]
                self._execute(conn, jobs)
                for job in jobs:
                    self._chains.failed(job)
                self._deliver(batch)
        finally:
            with self._lock:  # also when a bug killed the loop: refuse new jobs
                self._closed = True
            conn.close()
            self._fail_leftovers()

    def _execute(self, conn: sqlite3.Connection, batch: list[Job]) -> None:
        snap = self._chains.snapshot()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                (version,) = conn.execute("PRAGMA data_version").fetchone()
                if version != self._data_version:  # another connection wrote
                    self._cache.clear()
                    self._data_version = version
                tx = _Tx(conn, self._cache)
                for job in batch:
                    job.result = None
                    job.error = self._chains.blocked(job)
                    if job.error is not None:
                        continue
                    try:
                        if type(job.op) is BatchOp:
                            tx.apply(job.op)
                        else:
                            tx.flush()
                            job.result = job.op(conn)
                            tx.forget()
                    except StoreError as e:  # rejected before writing anything
                        job.error = e
                        self._chains.failed(job)
                tx.flush()
                conn.execute("COMMIT")
            except BaseException:
                self._cache.clear()
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            for k, r in tx.rows.items():
                self._cache[k] = (r[0], r[1], r[2])
            self.transactions += 1
        except Exception as e:
            self._chains.restore(snap)
            err = translate(e, self.path)
            if len(batch) > 1 and not isinstance(err, RetryableStoreError):
                for job in batch:  # isolate the job that broke the batch
                    self._execute(conn, [job])
                return
            for job in batch:
                job.error = copy_error(err)
                job.result = None

    def _deliver(self, batch: Sequence[tuple[Job, asyncio.AbstractEventLoop]]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[Job]] = {}
        for job, loop in batch:
            by_loop.setdefault(loop, []).append(job)
        for loop, jobs in by_loop.items():
            # RuntimeError: the caller's loop is closed, nobody waits any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._settle, jobs)

    def _fail_leftovers(self) -> None:
        leftovers: list[tuple[Job, asyncio.AbstractEventLoop]] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                item[0].error = StoreClosedError(f"sqlite store {self.path} is closed")
                leftovers.append(item)
        self._deliver(leftovers)


def _set_result_if_pending(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _set_exception_if_pending(future: asyncio.Future[None], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
