"""The write path of the PostgreSQL store: batches of jobs, one commit each.

Theory of operation
-------------------

Each writer (:class:`PgWriter`, one per partition of the sessions) holds one
connection of the pool for good and runs the jobs its
:class:`~.groupcommit.Writer` hands it, a whole batch per commit:

* **Fast path** (the engine's flushes): when every job of the batch is a
  batch of messages and/or a next target (:class:`BatchOp`) and the writer
  knows each session's row from its last commit, the new rows are computed
  in Python and the batch is **one statement, one round trip**, committed
  on its own (autocommit): an ``UPDATE … FROM unnest(…)`` of the session
  rows that matches only rows still in the state the writer expects (so a
  row changed by another process is never overwritten), and an ``INSERT …
  SELECT FROM unnest(…)`` of the messages of the sessions it updated, both
  in one statement.  A session whose row had changed is not written; its
  jobs run again through the slow path.
* **Slow path** (everything else, or a session the writer does not know):
  ``BEGIN``, ``SELECT … FOR UPDATE`` of the batch's rows in key order
  (inserting missing ones), the jobs against that state, one ``INSERT`` of
  the messages, one ``UPDATE`` of the changed rows, ``COMMIT``.

Either way every caller is answered after the commit that holds its rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

import asyncpg  # type: ignore[import-untyped]  # ships no type information

from .admin import msg_type_of
from .base import SessionKey, StoreState
from .errors import (
    PermanentStoreError,
    RetryableStoreError,
    StoreClosedError,
    StoreError,
    chain_error,
    check_outbound,
    check_range,
    check_seq,
    copy_error,
)
from .groupcommit import (
    BatchOp,
    Chains,
    Job,
    QueuedSessionStore,
    Writer,
    execute_isolating,
    run_jobs,
)

if TYPE_CHECKING:
    from .postgres import PostgresStore

__all__ = [
    "PgBatchOp", "PgWriter", "PostgresSessionStore", "Tx", "is_connection_problem", "load_op",
    "translate",
]

_MAX_SEQ = (1 << 63) - 1
_RETRY_IN_STORE = ("40001", "40P01", "55P03")  # serialization, deadlock, lock timeout


def is_connection_problem(exc: BaseException) -> bool:
    if isinstance(exc, OSError | TimeoutError | asyncio.TimeoutError):
        return True
    if isinstance(
        exc,
        asyncpg.exceptions.ConnectionDoesNotExistError
        | asyncpg.exceptions.InterfaceError
        | asyncpg.exceptions.PostgresConnectionError
        | asyncpg.exceptions.ConnectionFailureError
        | asyncpg.exceptions.InternalClientError,  # protocol state after a lost connection
    ):
        return True
    state = getattr(exc, "sqlstate", None)
    # 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now,
    # 08xxx connection exceptions, 53300 too many connections.
    return isinstance(state, str) and (state.startswith(("08", "57P")) or state == "53300")


def translate(exc: BaseException, where: str, committing: bool = False) -> StoreError:
    if isinstance(exc, StoreError):
        return exc
    text = f"postgres store {where}: {type(exc).__name__}: {exc}"
    if is_connection_problem(exc):
        if committing:
            text += " (lost during COMMIT: the outcome is unknown; reload the state)"
        return RetryableStoreError(text)
    state = getattr(exc, "sqlstate", None)
    if state in _RETRY_IN_STORE:
        return RetryableStoreError(text)
    return PermanentStoreError(text)


def _retry_in_store(err: StoreError) -> bool:
    return getattr(err.__cause__, "sqlstate", None) in _RETRY_IN_STORE


class Tx:
    """The state of one slow-path transaction, shared by its jobs."""

    def __init__(self, conn: Any, schema: str) -> None:
        self.conn = conn
        self.s = schema
        self.now = time.time_ns()
        self.rows: dict[str, list[int]] = {}  # key -> [sender, target, created]
        self.dirty: set[str] = set()
        self.inserts: list[tuple[str, int, int, str | None, bytes]] = []

    async def lock(self, keys: Iterable[str]) -> None:
        wanted = sorted(set(keys) - set(self.rows))
        if not wanted:
            return
        q = (
            f"SELECT key, next_sender_seq, next_target_seq, creation_time_ns FROM {self.s}.sessions"
            " WHERE key = ANY($1::text[]) ORDER BY key FOR UPDATE"
        )
        for r in await self.conn.fetch(q, wanted):
            self.rows[r[0]] = [int(r[1]), int(r[2]), int(r[3])]
        missing = [k for k in wanted if k not in self.rows]
        if missing:
            await self.conn.execute(
                f"INSERT INTO {self.s}.sessions (key, next_sender_seq, next_target_seq, "
                "creation_time_ns, updated_ns) SELECT k, 1, 1, $2, $2 FROM unnest($1::text[]) k "
                "ORDER BY k ON CONFLICT (key) DO NOTHING",
                missing,
                self.now,
            )
            for r in await self.conn.fetch(q, missing):
                self.rows[r[0]] = [int(r[1]), int(r[2]), int(r[3])]

    async def flush(self) -> None:
        if self.inserts:
            rows, self.inserts = self.inserts, []
            await self.conn.execute(
                f"INSERT INTO {self.s}.messages (session_key, seq, sent_time_ns, msg_type, data) "
                "SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], "
                "$5::bytea[]) ON CONFLICT (session_key, seq) DO UPDATE SET "
                "sent_time_ns = EXCLUDED.sent_time_ns, msg_type = EXCLUDED.msg_type, "
                "data = EXCLUDED.data",
                [r[0] for r in rows],
                [r[1] for r in rows],
                [r[2] for r in rows],
                [r[3] for r in rows],
                [r[4] for r in rows],
            )

    async def finish(self) -> None:
        await self.flush()
        if self.dirty:
            keys = sorted(self.dirty)
            await self.conn.execute(
                f"UPDATE {self.s}.sessions AS t SET next_sender_seq = u.s, "
                "next_target_seq = u.t, creation_time_ns = u.c, updated_ns = $5 "
                "FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[]) "
                "AS u(k, s, t, c) WHERE t.key = u.k",
                keys,
                [self.rows[k][0] for k in keys],
                [self.rows[k][1] for k in keys],
                [self.rows[k][2] for k in keys],
                self.now,
            )


_Op = Callable[[Tx], Awaitable[Any]]


class PgBatchOp(BatchOp):
    """A flush batch: what the fast path can run."""

    __slots__ = ()

    def apply(self, row: list[int], now: int,
              inserts: list[tuple[str, int, int, str | None, bytes]]) -> bool:
        """Check against ``row`` (raises before changing anything), then
        advance it and queue the messages; True if the row changed."""
        new_next = check_outbound(self.messages, row[0])
        k = self.key
        inserts.extend((k, seq, now, msg_type_of(data), data) for seq, data in self.messages)
        changed = bool(self.messages) or self.next_target is not None
        row[0] = new_next
        if self.next_target is not None:
            row[1] = self.next_target
        return changed

    async def __call__(self, tx: Tx) -> None:  # the slow path
        if self.apply(tx.rows[self.key], tx.now, tx.inserts):
            tx.dirty.add(self.key)


class PgWriter:
    """Runs one writer's batches on its own connection (module docstring)."""

    def __init__(self, store: PostgresStore, index: int) -> None:
        self.store = store
        self.cache: dict[str, tuple[int, int, int]] = {}  # rows as of the last commit
        self.fast = 0  # batches committed by the fast path, for tests and metrics
        self._conn: Any = None
        self._conn_pool: Any = None  # the pool it came from (credentials swap pools)
        self.writer = Writer(f"postgres-store writer {index}", store.settings.max_batch,
                             self.execute, lambda e: translate(e, store.where),
                             f"postgres store {store.where}")

    async def stop(self) -> None:
        await self.writer.stop()
        await self._drop(terminate=False)

    async def _connection(self) -> Any:
        if self._conn is not None and self._conn_pool is not self.store.pool:
            await self._drop(terminate=False)  # new credentials: a new pool, between jobs
        if self._conn is None:
            self._conn_pool = self.store.pool
            self._conn = await self._conn_pool.acquire()
        return self._conn

    async def _drop(self, terminate: bool) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if terminate:
            conn.terminate()  # never hand a broken connection out again
        with contextlib.suppress(Exception):
            await self._conn_pool.release(conn)

    async def execute(self, batch: list[Job]) -> None:
        chains = self.writer.chains
        if all(type(j.op) is PgBatchOp and j.key in self.cache for j in batch):
            stale = await self._fast(batch, chains)
            if not stale:
                return
            batch = stale
        await execute_isolating(batch, self._transaction, chains, _retry_in_store)

    async def _fast(self, batch: list[Job], chains: Chains) -> list[Job]:
        """The one-statement commit; returns the jobs of sessions whose row
        was not as expected (to run through the slow path)."""
        now = time.time_ns()
        rows = {j.key: list(self.cache[j.key]) for j in batch}
        inserts: list[tuple[str, int, int, str | None, bytes]] = []
        failed: dict[str, tuple[int | None, StoreError]] = {}
        for job in batch:
            job.result = None
            job.error = chains.blocked(job)
            f = failed.get(job.key)
            if job.error is None and f is not None and f[0] is not None and f[0] == job.chain:
                job.error = chain_error(f[1])
            if job.error is not None:
                continue
            try:
                job.op.apply(rows[job.key], now, inserts)
            except StoreError as e:
                job.error = e
                failed.setdefault(job.key, (job.chain, e))
        keys = sorted(rows)
        s = self.store.schema_sql
        committing = False
        try:
            conn = await self._connection()
            committing = True
            done = await conn.fetch(
                f"WITH u AS (UPDATE {s}.sessions AS t SET next_sender_seq = u.s, "
                "next_target_seq = u.t, updated_ns = $7 "
                "FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], "
                "$5::bigint[], $6::bigint[]) AS u(k, es, et, c, s, t) "
                "WHERE t.key = u.k AND t.next_sender_seq = u.es AND t.next_target_seq = u.et "
                "AND t.creation_time_ns = u.c RETURNING t.key), "
                f"m AS (INSERT INTO {s}.messages (session_key, seq, sent_time_ns, msg_type, data) "
                "SELECT v.k, v.q, $7, v.y, v.d FROM unnest($8::text[], $9::bigint[], "
                "$10::text[], $11::bytea[]) AS v(k, q, y, d) WHERE v.k IN (SELECT key FROM u) "
                "ON CONFLICT (session_key, seq) DO UPDATE SET "
                "sent_time_ns = EXCLUDED.sent_time_ns, msg_type = EXCLUDED.msg_type, "
                "data = EXCLUDED.data) SELECT key FROM u",
                keys,
                [self.cache[k][0] for k in keys],
                [self.cache[k][1] for k in keys],
                [self.cache[k][2] for k in keys],
                [rows[k][0] for k in keys],
                [rows[k][1] for k in keys],
                now,
                [r[0] for r in inserts],
                [r[1] for r in inserts],
                [r[3] for r in inserts],
                [r[4] for r in inserts],
            )
        except Exception as e:
            for k in keys:
                self.cache.pop(k, None)
            if not is_connection_problem(e):
                for job in batch:  # rolled back: the slow path runs it again
                    job.error = None
                return batch
            await self._drop(terminate=True)
            err = translate(e, self.store.where, committing)
            for job in batch:
                job.error = copy_error(err)
                job.result = None
            return []
        self.store.transactions += 1
        self.fast += 1
        written = {r[0] for r in done}
        stale: list[Job] = []
        for job in batch:
            if job.key not in written:
                self.cache.pop(job.key, None)
                job.error = None
                stale.append(job)
            elif job.error is not None and job.chain is not None:
                chains.failed(job)
        for k in written:
            r = rows[k]
            self.cache[k] = (r[0], r[1], r[2])
        return stale

    async def _transaction(self, batch: list[Job]) -> StoreError | None:
        store = self.store
        committing = False
        try:
            conn = await self._connection()
            tx = Tx(conn, store.schema_sql)
            transaction = conn.transaction()
            await transaction.start()
            try:
                await tx.lock(job.key for job in batch)
                await run_jobs(batch, tx, self.writer.chains)
                await tx.finish()
            except BaseException as e:
                if is_connection_problem(e):
                    await self._drop(terminate=True)
                else:
                    with contextlib.suppress(Exception):
                        await transaction.rollback()
                raise
            committing = True
            try:
                await transaction.commit()
            except BaseException:
                await self._drop(terminate=True)
                raise
            store.transactions += 1
            for k, r in tx.rows.items():
                self.cache[k] = (r[0], r[1], r[2])
            return None
        except Exception as e:
            for job in batch:
                self.cache.pop(job.key, None)
            err = translate(e, store.where, committing)
            err.__cause__ = e
            return err


def load_op(k: str) -> _Op:
    async def op(tx: Tx) -> StoreState:
        r = tx.rows[k]
        return StoreState(r[0], r[1], r[2])

    return op


class PostgresSessionStore(QueuedSessionStore):
    """One session's rows in a :class:`~.postgres.PostgresStore`."""

    _backend: PostgresStore

    def __init__(self, backend: PostgresStore, key: SessionKey) -> None:
        super().__init__(backend, key)

    async def load(self) -> StoreState:
        result: StoreState = await self._submit(load_op(self._key.value))
        return result

    def _batch_op(self, messages: tuple[tuple[int, bytes], ...],
                  next_target: int | None) -> PgBatchOp:
        return PgBatchOp(self._key.value, messages, next_target)

    async def set_next_sender(self, seq: int) -> None:
        check_seq(seq, "next sender seq")
        k = self._key.value

        async def op(tx: Tx) -> None:
            await tx.flush()
            await tx.conn.execute(
                f"DELETE FROM {tx.s}.messages WHERE session_key = $1 AND seq >= $2", k, seq
            )
            tx.rows[k][0] = seq
            tx.dirty.add(k)

        await self._submit(op)

    async def get_range(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        check_range(begin, end)
        k = self._key.value
        upper = end if end != 0 else _MAX_SEQ
        if self._closed:
            raise StoreClosedError(f"session store {self._key} is closed")
        backend = self._backend
        if backend.idle(k):
            rows = await backend.fetch(
                f"SELECT seq, data FROM {backend.schema_sql}.messages WHERE session_key = $1 "
                "AND seq >= $2 AND seq <= $3 ORDER BY seq",
                k, begin, upper,
            )
            return [(int(r[0]), bytes(r[1])) for r in rows]

        async def op(tx: Tx) -> list[tuple[int, bytes]]:
            await tx.flush()
            rows = await tx.conn.fetch(
                f"SELECT seq, data FROM {tx.s}.messages WHERE session_key = $1 "
                "AND seq >= $2 AND seq <= $3 ORDER BY seq",
                k, begin, upper,
            )
            return [(int(r[0]), bytes(r[1])) for r in rows]

        result: list[tuple[int, bytes]] = await self._submit(op)
        return result

    async def reset(self, creation_time_ns: int) -> None:
        k = self._key.value

        async def op(tx: Tx) -> None:
            await tx.flush()
            await tx.conn.execute(f"DELETE FROM {tx.s}.messages WHERE session_key = $1", k)
            tx.rows[k] = [1, 1, creation_time_ns]
            tx.dirty.add(k)

        await self._submit(op)
