"""PostgreSQL message store (``postgresql://user@host:port/db``) on asyncpg.

Theory of operation
-------------------

Calls are turned into *jobs* and queued, before their first suspension
point, on a *writer*: one task per partition of the sessions (option
``writers``, a session always maps to the same writer), so the jobs of one
session run in call order.  A writer takes everything queued (up to
``max_batch`` jobs) and runs it in **one transaction** on a pooled
connection: *group commit*.  While one transaction commits, new calls pile
up and form the next batch.  Every caller is answered only after the
``COMMIT`` that contains its rows returned, so ``save_outbound`` still
returns only when its messages and the new sequence number are durable
(persist before send).

One transaction costs a handful of round trips whatever its size:

1. ``SELECT … FOR UPDATE`` the ``sessions`` rows of the batch (in key order,
   so that two processes never deadlock), inserting missing ones;
2. the jobs run against that state *in Python*: a ``save_outbound`` that does
   not start at the next sender sequence number fails alone
   (:class:`StoreSequenceError`) before it writes anything; accepted messages
   are collected;
3. one ``INSERT … SELECT FROM unnest(…)`` for every message of the batch,
   one ``UPDATE … FROM unnest(…)`` for every changed session row, ``COMMIT``.

The session state therefore changes in the same transaction as the messages
it belongs to, and the row locks keep several processes (pods) that share a
database consistent.  Reads of a session with no queued job go straight to
the pool and do not wait for the writer.

Errors: a lost connection, a server that is shutting down or starting, a
refused connection or a timeout are :class:`RetryableStoreError`; the pool
opens new connections on the next call, so the store reconnects by itself
once the server is back.  If the connection is lost *during* ``COMMIT`` the
outcome is unknown (the error says so); the engine reloads its state from
the store before it carries on.  Deadlocks and serialization failures are
retried inside the store.  Any other database error fails the batch, which
is then re-run one job per transaction so that one bad job cannot fail the
others.

Schema changes are versioned :data:`MIGRATIONS`, applied in order in one
transaction at open under an advisory lock (several pods may start at once);
``schema_version`` records which ones ran.  Tables live in the schema given
by the ``schema`` option (default ``public``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
import ssl as ssl_module
import time
import zlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import asyncpg  # type: ignore[import-untyped]  # ships no type information

from ..errors import ConfigError
from .admin import (
    MessageQuery,
    PruneResult,
    SessionExport,
    SessionInfo,
    StoredMessage,
    msg_type_of,
)
from .base import SessionKey, StoreState
from .errors import (
    PermanentStoreError,
    RetryableStoreError,
    StoreClosedError,
    StoreError,
    check_outbound,
    check_range,
    check_seq,
)
from .migrations import SCHEMA_VERSION_COLUMNS, Migration, check_plan, pending

if TYPE_CHECKING:
    from .url import StoreURL

__all__ = [
    "MIGRATIONS",
    "Migration",
    "PostgresSessionStore",
    "PostgresSettings",
    "PostgresStore",
    "open_from_url",
]

_IDENT = re.compile(r"[a-z_][a-z0-9_]{0,62}\Z")
_MAX_SEQ = (1 << 63) - 1
_DEADLOCK_RETRIES = 5


@dataclasses.dataclass(frozen=True, slots=True)
class PostgresSettings:
    """Tuning of a :class:`PostgresStore` (all from URL options)."""

    schema: str = "public"
    max_batch: int = 1000
    writers: int = 1
    pool_min: int = 1
    pool_max: int = 8
    connect_timeout: float = 5.0
    command_timeout: float = 30.0

    def __post_init__(self) -> None:
        if not _IDENT.match(self.schema):
            raise ConfigError(
                f"postgres schema={self.schema!r}: use lower-case letters, digits and _"
            )
        if self.max_batch < 1 or self.writers < 1 or self.pool_min < 0:
            raise ConfigError("postgres max_batch and writers must be >= 1, pool_min >= 0")
        if self.pool_max < max(1, self.pool_min, self.writers):
            raise ConfigError(
                f"postgres pool_max={self.pool_max} must be >= pool_min and >= writers"
            )


#: Ordered schema migrations; append, never edit one that has shipped.
#: ``{s}`` is the quoted schema name.
MIGRATIONS: tuple[Migration, ...] = check_plan((
    Migration(
        1,
        "sessions and messages",
        (
            """CREATE TABLE {s}.sessions (
                key TEXT PRIMARY KEY,
                next_sender_seq BIGINT NOT NULL,
                next_target_seq BIGINT NOT NULL,
                creation_time_ns BIGINT NOT NULL,
                updated_ns BIGINT NOT NULL
            )""",
            """CREATE TABLE {s}.messages (
                session_key TEXT NOT NULL,
                seq BIGINT NOT NULL,
                sent_time_ns BIGINT NOT NULL,
                msg_type TEXT,
                data BYTEA NOT NULL,
                PRIMARY KEY (session_key, seq)
            )""",
            "CREATE INDEX messages_sent_time ON {s}.messages (sent_time_ns)",
        ),
    ),
))

# --- error mapping -----------------------------------------------------------

_RETRY_IN_STORE = ("40001", "40P01", "55P03")  # serialization, deadlock, lock timeout


def _is_connection_problem(exc: BaseException) -> bool:
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


def _translate(exc: BaseException, where: str, committing: bool = False) -> StoreError:
    if isinstance(exc, StoreError):
        return exc
    text = f"postgres store {where}: {type(exc).__name__}: {exc}"
    if _is_connection_problem(exc):
        if committing:
            text += " (lost during COMMIT: the outcome is unknown; reload the state)"
        return RetryableStoreError(text)
    state = getattr(exc, "sqlstate", None)
    if state in _RETRY_IN_STORE:
        return RetryableStoreError(text)
    return PermanentStoreError(text)


def _copy_error(err: StoreError) -> StoreError:
    try:
        return type(err)(*err.args)
    except Exception:
        return err


# --- jobs ----------------------------------------------------------------------


class _Tx:
    """The state of one batch transaction, shared by its jobs."""

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


_Op = Callable[[_Tx], Awaitable[Any]]


class _Job:
    __slots__ = ("error", "future", "key", "op", "result")

    def __init__(self, key: str, op: _Op, future: asyncio.Future[Any]) -> None:
        self.key = key
        self.op = op
        self.future = future
        self.result: Any = None
        self.error: StoreError | None = None


class _Writer:
    """One task running the queued jobs of its sessions in group commits."""

    def __init__(self, store: PostgresStore, index: int) -> None:
        self.store = store
        self.queue: asyncio.Queue[_Job | None] = asyncio.Queue()
        self.pending: dict[str, int] = {}
        self.task = asyncio.get_running_loop().create_task(
            self._run(), name=f"postgres-store writer {index}"
        )

    def submit(self, key: str, op: _Op) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending[key] = self.pending.get(key, 0) + 1
        self.queue.put_nowait(_Job(key, op, future))
        return future

    async def _run(self) -> None:
        stop = False
        while not stop:
            job = await self.queue.get()
            if job is None:
                break
            batch = [job]
            while len(batch) < self.store.settings.max_batch:
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
                    j.error = _translate(e, self.store.where)
                if not isinstance(e, Exception):
                    raise
            finally:
                self._settle(batch)
        while not self.queue.empty():  # after close: refuse what is left
            left = self.queue.get_nowait()
            if left is not None:
                left.error = StoreClosedError(f"postgres store {self.store.where} is closed")
                self._settle([left])

    def _settle(self, batch: list[_Job]) -> None:
        for job in batch:
            n = self.pending.get(job.key, 1) - 1
            if n:
                self.pending[job.key] = n
            else:
                self.pending.pop(job.key, None)
            if job.future.done():
                continue
            if job.error is not None:
                job.future.set_exception(job.error)
            else:
                job.future.set_result(job.result)

    async def _execute(self, batch: list[_Job]) -> None:
        for attempt in range(_DEADLOCK_RETRIES + 1):
            err = await self._transaction(batch)
            if err is None:
                return
            state = getattr(err.__cause__, "sqlstate", None)
            if state in _RETRY_IN_STORE and attempt < _DEADLOCK_RETRIES:
                await asyncio.sleep(0.001 * (attempt + 1))
                continue
            if len(batch) > 1 and isinstance(err, PermanentStoreError):
                for job in batch:  # isolate the job that broke the batch
                    await self._execute([job])
                return
            for job in batch:
                job.error = _copy_error(err)
                job.result = None
            return

    async def _transaction(self, batch: list[_Job]) -> StoreError | None:
        store = self.store
        committing = False
        try:
            async with store.pool.acquire() as conn:
                tx = _Tx(conn, store.schema_sql)
                transaction = conn.transaction()
                await transaction.start()
                try:
                    await tx.lock(job.key for job in batch)
                    for job in batch:
                        job.error = None
                        job.result = None
                        try:
                            job.result = await job.op(tx)
                        except StoreError as e:  # rejected before writing anything
                            job.error = e
                    await tx.finish()
                except BaseException as e:
                    if _is_connection_problem(e):
                        conn.terminate()  # never hand a broken connection out again
                    else:
                        with contextlib.suppress(Exception):
                            await transaction.rollback()
                    raise
                committing = True
                try:
                    await transaction.commit()
                except BaseException:
                    conn.terminate()
                    raise
            store.transactions += 1
            return None
        except Exception as e:
            err = _translate(e, store.where, committing)
            err.__cause__ = e
            return err


# --- the backend -----------------------------------------------------------------


class PostgresStore:
    """Backend storing every session in PostgreSQL tables.

    ``await PostgresStore.connect(connect_kwargs, settings)`` or
    ``open_store("postgresql://user@host/db")``; ``await store.open(key)``
    gives a session's :class:`PostgresSessionStore`.
    """

    def __init__(self, pool: Any, settings: PostgresSettings, where: str) -> None:
        self.pool = pool
        self.settings = settings
        self.where = where
        self.schema_sql = f'"{settings.schema}"'
        self.transactions = 0
        self.schema_version = 0
        self._closed = False
        self._writers: list[_Writer] = []
        self._connect_kwargs: dict[str, Any] = {}

    @classmethod
    async def connect(
        cls, connect_kwargs: dict[str, Any], settings: PostgresSettings, where: str
    ) -> PostgresStore:
        pool = await _create_pool(connect_kwargs, settings, where)
        store = cls(pool, settings, where)
        store._connect_kwargs = dict(connect_kwargs)
        try:
            store.schema_version = await store._migrate()
        except BaseException:
            await pool.close()
            raise
        store._writers = [_Writer(store, i) for i in range(settings.writers)]
        return store

    async def _migrate(self) -> int:
        s = self.schema_sql
        lock_id = zlib.crc32(f"fixplus-migrate:{self.settings.schema}".encode())
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", lock_id)
                await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {s}")
                await conn.execute(f"CREATE TABLE IF NOT EXISTS {s}.schema_version "
                                   f"({SCHEMA_VERSION_COLUMNS.format(int='BIGINT')})")
                current = int(
                    await conn.fetchval(f"SELECT COALESCE(MAX(version), 0) FROM {s}.schema_version")
                )
                for m in pending(MIGRATIONS, current, f"postgres store {self.where}"):
                    for statement in m.statements:
                        await conn.execute(statement.format(s=s))
                    await conn.execute(
                        f"INSERT INTO {s}.schema_version (version, description, applied_ns) "
                        "VALUES ($1, $2, $3)",
                        m.version,
                        m.description,
                        time.time_ns(),
                    )
                    current = m.version
                return current
        except Exception as e:
            raise _translate(e, self.where) from None

    @property
    def closed(self) -> bool:
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError(f"postgres store {self.where} is closed")

    def submit(self, key: str, op: _Op) -> asyncio.Future[Any]:
        self._check_open()
        w = self._writers[zlib.crc32(key.encode()) % len(self._writers)]
        return w.submit(key, op)

    def idle(self, key: str) -> bool:
        """No queued job for ``key``: a read may bypass the writer."""
        w = self._writers[zlib.crc32(key.encode()) % len(self._writers)]
        return key not in w.pending

    async def open(self, key: SessionKey) -> PostgresSessionStore:
        await self.submit(key.value, _load_op(key.value))
        return PostgresSessionStore(self, key)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for w in self._writers:
            w.queue.put_nowait(None)
        for w in self._writers:
            with contextlib.suppress(Exception):
                await w.task
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.pool.close(), 10)

    # --- credentials that change while running ------------------------------

    async def swap_credentials(self, user: str, password: str) -> None:
        """Log in as ``user`` from now on (dynamic credentials, a rotated password).

        A new pool is opened first (a :class:`StoreError` if it cannot log in:
        the old pool stays); new transactions and reads take it at once, those
        running on the old pool finish there, then the old pool closes."""
        self._check_open()
        kwargs = {**self._connect_kwargs, "user": user, "password": password}
        new = await _create_pool(kwargs, self.settings, self.where)
        old, self.pool = self.pool, new
        self._connect_kwargs = kwargs
        try:  # a transaction still running on the old pool after that is cut
            await asyncio.wait_for(old.close(), self.settings.command_timeout)
        except Exception:
            old.terminate()

    # --- reads through the pool ------------------------------------------------

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        self._check_open()
        try:
            return list(await self.pool.fetch(query, *args))
        except Exception as e:
            raise _translate(e, self.where) from None

    # --- administration (StoreAdmin) --------------------------------------------

    async def sessions(self) -> list[SessionInfo]:
        s = self.schema_sql
        rows = await self.fetch(
            f"SELECT s.key, s.next_sender_seq, s.next_target_seq, s.creation_time_ns, "
            f"s.updated_ns, (SELECT count(*) FROM {s}.messages m WHERE m.session_key = s.key) "
            f"FROM {s}.sessions s ORDER BY s.key"
        )
        return [
            SessionInfo(SessionKey(r[0]), StoreState(int(r[1]), int(r[2]), int(r[3])), int(r[4]),
                        int(r[5]))
            for r in rows
        ]

    async def query(self, key: SessionKey, q: MessageQuery) -> list[StoredMessage]:
        conds = ["session_key = $1", "seq >= $2", "seq <= $3"]
        args: list[Any] = [key.value, q.begin, q.end or _MAX_SEQ]
        if q.since_ns is not None:
            args.append(q.since_ns)
            conds.append(f"sent_time_ns >= ${len(args)}")
        if q.until_ns is not None:
            args.append(q.until_ns)
            conds.append(f"sent_time_ns < ${len(args)}")
        if q.msg_types is not None:
            args.append(sorted(q.msg_types))
            conds.append(f"msg_type = ANY(${len(args)}::text[])")
        limit = f" LIMIT {int(q.limit)}" if q.limit is not None else ""
        rows = await self.fetch(
            f"SELECT seq, sent_time_ns, msg_type, data FROM {self.schema_sql}.messages "
            f"WHERE {' AND '.join(conds)} ORDER BY seq{limit}",
            *args,
        )
        return [StoredMessage(int(r[0]), int(r[1]), r[2], bytes(r[3])) for r in rows]

    async def prune(
        self,
        *,
        messages_before_ns: int | None = None,
        sessions_idle_before_ns: int | None = None,
        keep: Iterable[SessionKey] = (),
    ) -> PruneResult:
        self._check_open()
        s = self.schema_sql
        kept = [k.value for k in keep]
        messages = sessions = 0
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                if sessions_idle_before_ns is not None:
                    dropped = await conn.fetch(
                        f"DELETE FROM {s}.sessions WHERE updated_ns < $1 "
                        "AND NOT (key = ANY($2::text[])) RETURNING key",
                        sessions_idle_before_ns,
                        kept,
                    )
                    sessions = len(dropped)
                    if dropped:
                        status = await conn.execute(
                            f"DELETE FROM {s}.messages WHERE session_key = ANY($1::text[])",
                            [r[0] for r in dropped],
                        )
                        messages += int(status.split()[-1])
                if messages_before_ns is not None:
                    status = await conn.execute(
                        f"DELETE FROM {s}.messages WHERE sent_time_ns < $1", messages_before_ns
                    )
                    messages += int(status.split()[-1])
        except Exception as e:
            raise _translate(e, self.where) from None
        return PruneResult(messages=messages, sessions=sessions)

    async def export_session(self, key: SessionKey) -> SessionExport | None:
        s = self.schema_sql
        rows = await self.fetch(
            f"SELECT next_sender_seq, next_target_seq, creation_time_ns FROM {s}.sessions "
            "WHERE key = $1",
            key.value,
        )
        if not rows:
            return None
        state = StoreState(int(rows[0][0]), int(rows[0][1]), int(rows[0][2]))
        return SessionExport(key, state, await self.query(key, MessageQuery()))

    async def import_session(self, data: SessionExport, *, replace: bool = False) -> None:
        k = data.key.value
        msgs = list(data.messages)
        st = data.state

        async def op(tx: _Tx) -> None:
            row = tx.rows[k]
            count = await tx.conn.fetchval(
                f"SELECT count(*) FROM {tx.s}.messages WHERE session_key = $1", k
            )
            if not replace and (count or row[0] != 1 or row[1] != 1):
                raise PermanentStoreError(
                    f"session {k} already has state in {self.where} (sender {row[0]}, target "
                    f"{row[1]}, {count} messages); pass replace to overwrite it"
                )
            await tx.conn.execute(f"DELETE FROM {tx.s}.messages WHERE session_key = $1", k)
            for i in range(0, len(msgs), 5000):
                tx.inserts.extend(
                    (k, m.seq, m.sent_time_ns, m.msg_type, m.data) for m in msgs[i : i + 5000]
                )
                await tx.flush()
            tx.rows[k] = [st.next_sender_seq, st.next_target_seq, st.creation_time_ns]
            tx.dirty.add(k)

        await self.submit(k, op)


def _load_op(k: str) -> _Op:
    async def op(tx: _Tx) -> StoreState:
        r = tx.rows[k]
        return StoreState(r[0], r[1], r[2])

    return op


class PostgresSessionStore:
    """One session's rows in a :class:`PostgresStore`."""

    def __init__(self, backend: PostgresStore, key: SessionKey) -> None:
        self._backend = backend
        self._key = key
        self._closed = False

    @property
    def key(self) -> SessionKey:
        return self._key

    def _submit(self, op: _Op) -> asyncio.Future[Any]:
        if self._closed:
            raise StoreClosedError(f"session store {self._key} is closed")
        return self._backend.submit(self._key.value, op)

    async def load(self) -> StoreState:
        result: StoreState = await self._submit(_load_op(self._key.value))
        return result

    async def save_outbound(self, messages: Sequence[tuple[int, bytes]]) -> None:
        check_outbound(messages, None)
        frozen = tuple((seq, bytes(data)) for seq, data in messages)
        k = self._key.value

        async def op(tx: _Tx) -> None:
            row = tx.rows[k]
            new_next = check_outbound(frozen, row[0])  # raises before writing
            if not frozen:
                return
            now = tx.now
            tx.inserts.extend((k, seq, now, msg_type_of(data), data) for seq, data in frozen)
            row[0] = new_next
            tx.dirty.add(k)

        await self._submit(op)

    async def save_batch(
        self, messages: Sequence[tuple[int, bytes]], next_target: int | None
    ) -> None:
        """``save_outbound`` and ``set_next_target`` as one operation of the
        group-commit transaction (the engine's flush)."""
        check_outbound(messages, None)
        if next_target is not None:
            check_seq(next_target, "next target seq")
        frozen = tuple((seq, bytes(data)) for seq, data in messages)
        k = self._key.value

        async def op(tx: _Tx) -> None:
            row = tx.rows[k]
            new_next = check_outbound(frozen, row[0])  # raises before writing
            if frozen:
                now = tx.now
                tx.inserts.extend((k, seq, now, msg_type_of(data), data) for seq, data in frozen)
                row[0] = new_next
            if next_target is not None:
                row[1] = next_target
            tx.dirty.add(k)

        await self._submit(op)

    async def set_next_sender(self, seq: int) -> None:
        check_seq(seq, "next sender seq")
        k = self._key.value

        async def op(tx: _Tx) -> None:
            await tx.flush()
            await tx.conn.execute(
                f"DELETE FROM {tx.s}.messages WHERE session_key = $1 AND seq >= $2", k, seq
            )
            tx.rows[k][0] = seq
            tx.dirty.add(k)

        await self._submit(op)

    async def set_next_target(self, seq: int) -> None:
        check_seq(seq, "next target seq")
        k = self._key.value

        async def op(tx: _Tx) -> None:
            tx.rows[k][1] = seq
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

        async def op(tx: _Tx) -> list[tuple[int, bytes]]:
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

        async def op(tx: _Tx) -> None:
            await tx.flush()
            await tx.conn.execute(f"DELETE FROM {tx.s}.messages WHERE session_key = $1", k)
            tx.rows[k] = [1, 1, creation_time_ns]
            tx.dirty.add(k)

        await self._submit(op)

    async def close(self) -> None:
        self._closed = True


_OPTIONS = (
    "schema", "max_batch", "writers", "pool_min", "pool_max", "connect_timeout",
    "command_timeout", "sslmode", "sslrootcert", "sslcert", "sslkey", "application_name",
)
_SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


async def _create_pool(connect_kwargs: dict[str, Any], settings: PostgresSettings,
                       where: str) -> Any:
    try:
        return await asyncpg.create_pool(
            min_size=settings.pool_min,
            max_size=settings.pool_max,
            timeout=settings.connect_timeout,
            command_timeout=settings.command_timeout,
            **connect_kwargs,
        )
    except Exception as e:
        raise _translate(e, where) from None


def _ssl_option(url: StoreURL) -> Any:
    mode = url.query.get("sslmode")
    root = url.query.get("sslrootcert")
    cert, key = url.query.get("sslcert"), url.query.get("sslkey")
    if mode is None and root is None and cert is None:
        return None
    if mode is not None and mode not in _SSLMODES:
        raise ConfigError(f"store URL {url.redacted()}: sslmode must be one of {_SSLMODES}")
    if root is None and cert is None:
        return mode
    if mode in ("disable", "allow", "prefer"):
        raise ConfigError(f"store URL {url.redacted()}: sslrootcert needs sslmode=require or "
                          "verify-*")
    ctx = ssl_module.create_default_context(cafile=root)
    if mode in {"require", "verify-ca"}:
        ctx.check_hostname = False
    if mode == "require" and root is None:
        ctx.verify_mode = ssl_module.CERT_NONE
    if cert is not None:
        ctx.load_cert_chain(cert, key)
    return ctx


def _float_option(url: StoreURL, name: str, default: float) -> float:
    raw = url.query.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1
    if value <= 0:
        raise ConfigError(f"store URL {url.redacted()}: option {name} must be a number > 0")
    return value


async def open_from_url(url: StoreURL) -> PostgresStore:
    """``postgresql://user:password@host:port/database?options``.

    Options: ``schema`` (default ``public``), ``max_batch`` (1000),
    ``writers`` (1), ``pool_min`` (1), ``pool_max`` (8),
    ``connect_timeout`` (5 s), ``command_timeout`` (30 s), ``sslmode``,
    ``sslrootcert``, ``sslcert``, ``sslkey``, ``application_name``,
    ``password_file`` (see :mod:`.url`).
    """
    url.check_options(_OPTIONS)
    database = url.path.lstrip("/")
    if "/" in database:
        raise ConfigError(f"store URL {url.redacted()}: the path must be one database name")
    settings = PostgresSettings(
        schema=url.query.get("schema", "public"),
        max_batch=url.int_option("max_batch", 1000, minimum=1),
        writers=url.int_option("writers", 1, minimum=1),
        pool_min=url.int_option("pool_min", 1),
        pool_max=url.int_option("pool_max", 8, minimum=1),
        connect_timeout=_float_option(url, "connect_timeout", 5.0),
        command_timeout=_float_option(url, "command_timeout", 30.0),
    )
    kwargs: dict[str, Any] = {
        "host": url.host or "localhost",
        "port": url.port or 5432,
        "user": url.username,
        "password": url.password,
        "database": database or None,
    }
    ssl = _ssl_option(url)
    if ssl is not None:
        kwargs["ssl"] = ssl
    if "application_name" in url.query:
        kwargs["server_settings"] = {"application_name": url.query["application_name"]}
    return await PostgresStore.connect(kwargs, settings, url.redacted())
