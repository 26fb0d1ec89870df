"""MySQL / MariaDB message store (``mysql://user@host:port/db``) on asyncmy.

Theory of operation
-------------------

The same shape as the PostgreSQL store: calls become *jobs* queued, before
their first suspension point, on a *writer* task (one per partition of the
sessions, option ``writers``), so one session's calls run in call order.  A
writer takes everything queued (up to ``max_batch`` jobs) and runs it in
**one InnoDB transaction** on a pooled connection (group commit); every
caller is answered after the ``COMMIT`` that holds its rows, so
``save_outbound`` returns only when its messages and the new sender sequence
number are durable (with ``innodb_flush_log_at_trx_commit=1``, the server's
default).

One transaction:

1. ``SELECT … FOR UPDATE`` the batch's ``sessions`` rows in key order (two
   processes never deadlock on them), ``INSERT IGNORE`` the missing ones;
2. the jobs run against that state in Python: a ``save_outbound`` that does
   not start at the next sender sequence number fails alone before it
   writes anything;
3. one multi-row ``INSERT`` of every message, one multi-row upsert of every
   changed session row, ``COMMIT``.

Tables (prefix option ``table_prefix``, default ``fixplus_``): ``sessions``
(an id per session key), ``messages`` keyed by (session id, seq), and
``schema_version``.  MySQL commits DDL implicitly, so a migration is not one
transaction: :data:`MIGRATIONS` are written to be re-runnable (``IF NOT
EXISTS``) and run under the named lock ``GET_LOCK`` (several pods may start
at once); a database whose schema is newer than this engine is refused.

Errors: lost or refused connections, a server shutting down, timeouts and
"too many connections" are :class:`RetryableStoreError` (the free pooled
connections are dropped, the next call reconnects); a connection lost during
``COMMIT`` leaves the outcome unknown and says so.  Deadlocks and lock wait
timeouts are retried inside the store.  Wrong credentials or an unknown
database are :class:`PermanentStoreError` naming the server.
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

import asyncmy
from asyncmy import errors as myerrors

from ..errors import ConfigError
from .admin import MessageQuery, PruneResult, SessionExport, SessionInfo, StoredMessage, msg_type_of
from .base import SessionKey, StoreState
from .errors import (
    PermanentStoreError,
    RetryableStoreError,
    StoreClosedError,
    StoreError,
    check_outbound,
    check_seq,
)
from .groupcommit import Chains, Job, QueuedSessionStore, Writer, execute_isolating, run_jobs
from .migrations import SCHEMA_VERSION_COLUMNS, Migration, check_plan, pending

if TYPE_CHECKING:
    from .url import StoreURL

__all__ = ["MIGRATIONS", "MySQLSessionStore", "MySQLSettings", "MySQLStore", "open_from_url"]

_PREFIX = re.compile(r"[a-z_][a-z0-9_]{0,31}\Z")
_MAX_SEQ = (1 << 63) - 1
_RETRIES = 5


@dataclasses.dataclass(frozen=True, slots=True)
class MySQLSettings:
    """Tuning of a :class:`MySQLStore` (all from URL options)."""

    table_prefix: str = "fixplus_"
    max_batch: int = 1000
    writers: int = 1
    pool_min: int = 1
    pool_max: int = 8
    connect_timeout: float = 5.0
    command_timeout: float = 30.0

    def __post_init__(self) -> None:
        if not _PREFIX.match(self.table_prefix):
            raise ConfigError(f"mysql table_prefix={self.table_prefix!r}: use lower-case "
                              "letters, digits and _ (at most 32)")
        if self.max_batch < 1 or self.writers < 1 or self.pool_min < 0:
            raise ConfigError("mysql max_batch and writers must be >= 1, pool_min >= 0")
        if self.pool_max < max(1, self.pool_min, self.writers):
            raise ConfigError(f"mysql pool_max={self.pool_max} must be >= pool_min and >= writers")


#: Ordered schema migrations; append, never edit one that has shipped.
#: ``{p}`` is the table prefix.  Each statement must be safe to run twice.
MIGRATIONS: tuple[Migration, ...] = check_plan((
    Migration(1, "sessions and messages", (
        """CREATE TABLE IF NOT EXISTS {p}sessions (
            id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
            skey VARCHAR(700) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
            next_sender_seq BIGINT NOT NULL,
            next_target_seq BIGINT NOT NULL,
            creation_time_ns BIGINT NOT NULL,
            updated_ns BIGINT NOT NULL,
            UNIQUE KEY skey (skey)
        ) ENGINE=InnoDB""",
        """CREATE TABLE IF NOT EXISTS {p}messages (
            sid BIGINT NOT NULL,
            seq BIGINT NOT NULL,
            sent_time_ns BIGINT NOT NULL,
            msg_type TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
            data LONGBLOB NOT NULL,
            PRIMARY KEY (sid, seq),
            KEY sent_time (sent_time_ns)
        ) ENGINE=InnoDB""",
    )),
))

# --- error mapping -------------------------------------------------------------

_RETRY_IN_STORE = (1205, 1213)  # lock wait timeout, deadlock
# can't connect, gone away, lost connection, server shutdown, killed,
# too many connections, out of resources, read-only (failover), not ready
_CONNECTION_CODES = {1040, 1053, 1077, 1152, 1158, 1159, 1160, 1161, 1290, 1836, 1927, 2002,
                     2003, 2005, 2006, 2013, 2014, 2026, 2055}


def _code(exc: BaseException) -> int | None:
    args = getattr(exc, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def _is_connection_problem(exc: BaseException) -> bool:
    if isinstance(exc, OSError | TimeoutError | asyncio.TimeoutError | myerrors.InterfaceError):
        return True
    return isinstance(exc, myerrors.OperationalError) and _code(exc) in _CONNECTION_CODES


def _translate(exc: BaseException, where: str, committing: bool = False) -> StoreError:
    if isinstance(exc, StoreError):
        return exc
    text = f"mysql store {where}: {type(exc).__name__}: {exc}"
    if _is_connection_problem(exc):
        if committing:
            text += " (lost during COMMIT: the outcome is unknown; reload the state)"
        return RetryableStoreError(text)
    if _code(exc) in _RETRY_IN_STORE:
        return RetryableStoreError(text)
    return PermanentStoreError(text)


def _retry_in_store(err: StoreError) -> bool:
    return _code(err.__cause__ or err) in _RETRY_IN_STORE


# --- jobs ------------------------------------------------------------------------


class _Tx:
    """One batch transaction's state, shared by its jobs."""

    def __init__(self, cur: Any, prefix: str) -> None:
        self.cur = cur
        self.p = prefix
        self.now = time.time_ns()
        self.rows: dict[str, list[int]] = {}  # key -> [id, sender, target, created]
        self.dirty: set[str] = set()
        self.inserts: list[tuple[int, int, int, str | None, bytes]] = []

    async def fetch(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        await self.cur.execute(sql, tuple(args))
        return list(await self.cur.fetchall())

    async def lock(self, keys: Iterable[str]) -> None:
        wanted = sorted(set(keys) - set(self.rows))
        if not wanted:
            return
        marks = ",".join(["%s"] * len(wanted))
        q = (f"SELECT skey, id, next_sender_seq, next_target_seq, creation_time_ns "
             f"FROM {self.p}sessions WHERE skey IN ({marks}) ORDER BY skey FOR UPDATE")
        for r in await self.fetch(q, wanted):
            self.rows[r[0]] = [int(r[1]), int(r[2]), int(r[3]), int(r[4])]
        missing = [k for k in wanted if k not in self.rows]
        if missing:
            await self.cur.executemany(
                f"INSERT IGNORE INTO {self.p}sessions (skey, next_sender_seq, next_target_seq, "
                "creation_time_ns, updated_ns) VALUES (%s, 1, 1, %s, %s)",
                [(k, self.now, self.now) for k in missing])
            marks = ",".join(["%s"] * len(missing))
            for r in await self.fetch(
                    f"SELECT skey, id, next_sender_seq, next_target_seq, creation_time_ns "
                    f"FROM {self.p}sessions WHERE skey IN ({marks}) ORDER BY skey FOR UPDATE",
                    missing):
                self.rows[r[0]] = [int(r[1]), int(r[2]), int(r[3]), int(r[4])]

    async def flush(self) -> None:
        if self.inserts:
            rows, self.inserts = self.inserts, []
            await self.cur.executemany(
                f"INSERT INTO {self.p}messages (sid, seq, sent_time_ns, msg_type, data) "
                "VALUES (%s, %s, %s, %s, %s) ON DUPLICATE KEY UPDATE "
                "sent_time_ns = VALUES(sent_time_ns), msg_type = VALUES(msg_type), "
                "data = VALUES(data)", rows)

    async def finish(self) -> None:
        await self.flush()
        if self.dirty:
            await self.cur.executemany(
                f"INSERT INTO {self.p}sessions (id, skey, next_sender_seq, next_target_seq, "
                "creation_time_ns, updated_ns) VALUES (%s, %s, %s, %s, %s, %s) "
                "ON DUPLICATE KEY UPDATE next_sender_seq = VALUES(next_sender_seq), "
                "next_target_seq = VALUES(next_target_seq), "
                "creation_time_ns = VALUES(creation_time_ns), updated_ns = VALUES(updated_ns)",
                [(self.rows[k][0], k, *self.rows[k][1:], self.now) for k in sorted(self.dirty)])


_Op = Callable[[_Tx], Awaitable[Any]]


class _Batches:
    """Runs a writer's batch of jobs in one transaction (see the module docstring)."""

    def __init__(self, store: MySQLStore) -> None:
        self.store = store
        self.chains = Chains()  # shared by the store's writers: a key maps to one

    async def execute(self, batch: list[Job]) -> None:
        await execute_isolating(batch, self._transaction, self.chains, _retry_in_store, _RETRIES)

    async def _transaction(self, batch: list[Job]) -> StoreError | None:
        store = self.store
        committing = False
        try:
            async with store.connection() as conn:
                try:
                    async with asyncio.timeout(store.settings.command_timeout):
                        await conn.begin()
                        async with conn.cursor() as cur:
                            tx = _Tx(cur, store.prefix)
                            await tx.lock(job.key for job in batch)
                            await run_jobs(batch, tx, self.chains)
                            await tx.finish()
                        committing = True
                        await conn.commit()
                except BaseException:
                    if not committing:
                        with contextlib.suppress(BaseException):
                            await asyncio.wait_for(conn.rollback(), 2)
                    raise
            store.transactions += 1
            return None
        except Exception as e:
            err = _translate(e, store.where, committing)
            err.__cause__ = e
            return err


# --- the backend -------------------------------------------------------------------


class MySQLStore:
    """Backend storing every session in MySQL/MariaDB tables (InnoDB)."""

    def __init__(self, pool: Any, settings: MySQLSettings, where: str) -> None:
        self.pool = pool
        self.settings = settings
        self.where = where
        self.prefix = settings.table_prefix
        self.transactions = 0
        self.schema_version = 0
        self._closed = False
        self._writers: list[Writer] = []

    @classmethod
    async def connect(cls, kwargs: dict[str, Any], settings: MySQLSettings,
                      where: str) -> MySQLStore:
        try:
            pool = await asyncio.wait_for(asyncmy.create_pool(
                minsize=settings.pool_min, maxsize=settings.pool_max, autocommit=False,
                max_allowed_packet=1 << 30,
                connect_timeout=settings.connect_timeout, pool_recycle=3600,
                init_command="SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
                **kwargs), settings.connect_timeout * 2 + 1)
        except Exception as e:
            raise _translate(e, where) from None
        store = cls(pool, settings, where)
        try:
            store.schema_version = await store._migrate()
        except BaseException:
            pool.close()
            with contextlib.suppress(Exception):
                await pool.wait_closed()
            raise
        batches = _Batches(store)
        store._writers = [
            Writer(f"mysql-store writer {i}", settings.max_batch, batches.execute,
                   lambda e: _translate(e, where), f"mysql store {where}", batches.chains)
            for i in range(settings.writers)]
        return store

    @contextlib.asynccontextmanager
    async def connection(self) -> Any:
        """A pooled connection; a connection problem drops it and every idle
        one (after a server restart they are all dead)."""
        conn = await asyncio.wait_for(self.pool.acquire(), self.settings.connect_timeout * 2 + 1)
        try:
            yield conn
        except BaseException as e:
            if _is_connection_problem(e) or not isinstance(e, Exception):
                conn.close()
                if isinstance(e, Exception):
                    with contextlib.suppress(Exception):
                        await self.pool.clear()
            raise
        finally:
            self.pool.release(conn)

    async def _migrate(self) -> int:
        lock = f"fixplus-migrate:{self.prefix}"
        try:
            return await self._migrate_locked(lock)
        except Exception as e:
            raise _translate(e, self.where) from None

    async def _migrate_locked(self, lock: str) -> int:
        p = self.prefix
        async with self.connection() as conn, conn.cursor() as cur:
            await cur.execute("SELECT GET_LOCK(%s, 60)", (lock,))
            try:
                await cur.execute("SELECT count(*) FROM information_schema.tables WHERE "
                                  "table_schema = DATABASE() AND table_name = %s",
                                  (f"{p}schema_version",))
                if not int((await cur.fetchone())[0]):  # (the driver logs "already exists")
                    await cur.execute(f"CREATE TABLE IF NOT EXISTS {p}schema_version "
                                      f"({SCHEMA_VERSION_COLUMNS.format(int='BIGINT')}) "
                                      "ENGINE=InnoDB")
                await cur.execute(f"SELECT COALESCE(MAX(version), 0) FROM {p}schema_version")
                current = int((await cur.fetchone())[0])
                for m in pending(MIGRATIONS, current, f"mysql store {self.where}"):
                    for statement in m.statements:
                        await cur.execute(statement.format(p=p))
                    await cur.execute(
                        f"INSERT INTO {p}schema_version (version, description, applied_ns) "
                        "VALUES (%s, %s, %s)", (m.version, m.description, time.time_ns()))
                    await conn.commit()
                    current = m.version
                await conn.commit()
                return current
            finally:
                with contextlib.suppress(Exception):
                    await cur.execute("SELECT RELEASE_LOCK(%s)", (lock,))

    @property
    def closed(self) -> bool:
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError(f"mysql store {self.where} is closed")

    def _writer(self, key: str) -> Writer:
        return self._writers[zlib.crc32(key.encode()) % len(self._writers)]

    def submit(self, key: str, op: _Op, chained: bool = False) -> asyncio.Future[Any]:
        self._check_open()
        return self._writer(key).submit(key, op, chained=chained)

    def idle(self, key: str) -> bool:
        return self._writer(key).idle(key)

    async def open(self, key: SessionKey) -> MySQLSessionStore:
        await self.submit(key.value, _load_op(key.value))
        return MySQLSessionStore(self, key)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await asyncio.gather(*(w.stop() for w in self._writers))
        self.pool.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.pool.wait_closed(), 10)

    async def fetch(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        """A read outside the writer, on its own (autocommitted) snapshot."""
        self._check_open()
        try:
            async with self.connection() as conn:
                async with asyncio.timeout(self.settings.command_timeout):
                    async with conn.cursor() as cur:
                        await cur.execute(sql, tuple(args))
                        rows = list(await cur.fetchall())
                    await conn.commit()
                return rows
        except Exception as e:
            raise _translate(e, self.where) from None

    # --- administration (StoreAdmin) ------------------------------------------------

    async def sessions(self) -> list[SessionInfo]:
        p = self.prefix
        rows = await self.fetch(
            f"SELECT s.skey, s.next_sender_seq, s.next_target_seq, s.creation_time_ns, "
            f"s.updated_ns, (SELECT count(*) FROM {p}messages m WHERE m.sid = s.id) "
            f"FROM {p}sessions s ORDER BY s.skey")
        return [SessionInfo(SessionKey(r[0]), StoreState(int(r[1]), int(r[2]), int(r[3])),
                            int(r[4]), int(r[5])) for r in rows]

    async def query(self, key: SessionKey, q: MessageQuery) -> list[StoredMessage]:
        p = self.prefix
        conds = ["s.skey = %s", "m.seq >= %s", "m.seq <= %s"]
        args: list[Any] = [key.value, q.begin, q.end or _MAX_SEQ]
        if q.since_ns is not None:
            conds.append("m.sent_time_ns >= %s")
            args.append(q.since_ns)
        if q.until_ns is not None:
            conds.append("m.sent_time_ns < %s")
            args.append(q.until_ns)
        if q.msg_types is not None:
            if not q.msg_types:
                return []
            conds.append(f"m.msg_type IN ({','.join(['%s'] * len(q.msg_types))})")
            args.extend(sorted(q.msg_types))
        limit = f" LIMIT {int(q.limit)}" if q.limit is not None else ""
        rows = await self.fetch(
            f"SELECT m.seq, m.sent_time_ns, m.msg_type, m.data FROM {p}messages m "
            f"JOIN {p}sessions s ON s.id = m.sid WHERE {' AND '.join(conds)} "
            f"ORDER BY m.seq{limit}", args)
        return [StoredMessage(int(r[0]), int(r[1]), r[2], bytes(r[3])) for r in rows]

    async def prune(self, *, messages_before_ns: int | None = None,
                    sessions_idle_before_ns: int | None = None,
                    keep: Iterable[SessionKey] = ()) -> PruneResult:
        self._check_open()
        p = self.prefix
        kept = {k.value for k in keep}
        messages = sessions = 0
        try:
            async with self.connection() as conn:
                await conn.begin()
                async with conn.cursor() as cur:
                    if sessions_idle_before_ns is not None:
                        await cur.execute(f"SELECT id, skey FROM {p}sessions WHERE updated_ns < %s "
                                          "ORDER BY skey FOR UPDATE", (sessions_idle_before_ns,))
                        dropped = [r[0] for r in await cur.fetchall() if r[1] not in kept]
                        for i in range(0, len(dropped), 1000):
                            part = dropped[i: i + 1000]
                            marks = ",".join(["%s"] * len(part))
                            messages += await cur.execute(
                                f"DELETE FROM {p}messages WHERE sid IN ({marks})", part)
                            sessions += await cur.execute(
                                f"DELETE FROM {p}sessions WHERE id IN ({marks})", part)
                    if messages_before_ns is not None:
                        messages += await cur.execute(
                            f"DELETE FROM {p}messages WHERE sent_time_ns < %s",
                            (messages_before_ns,))
                await conn.commit()
        except Exception as e:
            raise _translate(e, self.where) from None
        return PruneResult(messages=messages, sessions=sessions)

    async def export_session(self, key: SessionKey) -> SessionExport | None:
        rows = await self.fetch(
            f"SELECT next_sender_seq, next_target_seq, creation_time_ns FROM {self.prefix}sessions "
            "WHERE skey = %s", (key.value,))
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
            count = int((await tx.fetch(f"SELECT count(*) FROM {tx.p}messages WHERE sid = %s",
                                        (row[0],)))[0][0])
            if not replace and (count or row[1] != 1 or row[2] != 1):
                raise PermanentStoreError(
                    f"session {k} already has state in {self.where} (sender {row[1]}, target "
                    f"{row[2]}, {count} messages); pass replace to overwrite it")
            await tx.cur.execute(f"DELETE FROM {tx.p}messages WHERE sid = %s", (row[0],))
            for i in range(0, len(msgs), 2000):
                tx.inserts.extend((row[0], m.seq, m.sent_time_ns, m.msg_type, m.data)
                                  for m in msgs[i: i + 2000])
                await tx.flush()
            tx.rows[k] = [row[0], st.next_sender_seq, st.next_target_seq, st.creation_time_ns]
            tx.dirty.add(k)

        await self.submit(k, op)


def _load_op(k: str) -> _Op:
    async def op(tx: _Tx) -> StoreState:
        r = tx.rows[k]
        return StoreState(r[1], r[2], r[3])

    return op


class MySQLSessionStore(QueuedSessionStore):
    """One session's rows in a :class:`MySQLStore`."""

    _backend: MySQLStore

    def __init__(self, backend: MySQLStore, key: SessionKey) -> None:
        super().__init__(backend, key)

    async def load(self) -> StoreState:
        result: StoreState = await self._submit(_load_op(self._key.value))
        return result

    def _batch_op(self, frozen: tuple[tuple[int, bytes], ...], next_target: int | None) -> _Op:
        """Messages, the sender seq after them and (unless None) the next
        target seq, in one transaction."""
        k = self._key.value

        async def op(tx: _Tx) -> None:
            row = tx.rows[k]
            new_next = check_outbound(frozen, row[1])  # raises before writing
            if frozen:
                tx.inserts.extend((row[0], seq, tx.now, msg_type_of(data), data)
                                  for seq, data in frozen)
                row[1] = new_next
                tx.dirty.add(k)
            if next_target is not None:
                row[2] = next_target
                tx.dirty.add(k)

        return op

    async def set_next_sender(self, seq: int) -> None:
        check_seq(seq, "next sender seq")
        k = self._key.value

        async def op(tx: _Tx) -> None:
            await tx.flush()
            row = tx.rows[k]
            await tx.cur.execute(f"DELETE FROM {tx.p}messages WHERE sid = %s AND seq >= %s",
                                 (row[0], seq))
            row[1] = seq
            tx.dirty.add(k)

        await self._submit(op)

    async def get_range(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        if self._closed:
            raise StoreClosedError(f"session store {self._key} is closed")
        k = self._key.value
        upper = end if end != 0 else _MAX_SEQ
        backend = self._backend
        sql = (f"SELECT m.seq, m.data FROM {backend.prefix}messages m JOIN "
               f"{backend.prefix}sessions s ON s.id = m.sid WHERE s.skey = %s "
               "AND m.seq >= %s AND m.seq <= %s ORDER BY m.seq")
        if backend.idle(k):
            rows = await backend.fetch(sql, (k, begin, upper))
            return [(int(r[0]), bytes(r[1])) for r in rows]

        async def op(tx: _Tx) -> list[tuple[int, bytes]]:
            await tx.flush()
            return [(int(r[0]), bytes(r[1])) for r in await tx.fetch(sql, (k, begin, upper))]

        result: list[tuple[int, bytes]] = await self._submit(op)
        return result

    async def reset(self, creation_time_ns: int) -> None:
        k = self._key.value

        async def op(tx: _Tx) -> None:
            await tx.flush()
            row = tx.rows[k]
            await tx.cur.execute(f"DELETE FROM {tx.p}messages WHERE sid = %s", (row[0],))
            tx.rows[k] = [row[0], 1, 1, creation_time_ns]
            tx.dirty.add(k)

        await self._submit(op)



_OPTIONS = ("table_prefix", "max_batch", "writers", "pool_min", "pool_max", "connect_timeout",
            "command_timeout", "ssl_ca", "ssl_cert", "ssl_key", "ssl_verify")


def _ssl_context(url: StoreURL) -> ssl_module.SSLContext | None:
    ca, cert, verify = url.query.get("ssl_ca"), url.query.get("ssl_cert"), url.query.get(
        "ssl_verify", "true").lower()
    if verify not in ("true", "false"):
        raise ConfigError(f"store URL {url.redacted()}: ssl_verify must be true or false")
    if ca is None and cert is None and "ssl_verify" not in url.query:
        return None
    ctx = ssl_module.create_default_context(cafile=ca)
    if verify == "false":
        ctx.check_hostname = False
        ctx.verify_mode = ssl_module.CERT_NONE
    if cert is not None:
        ctx.load_cert_chain(cert, url.query.get("ssl_key"))
    return ctx


async def open_from_url(url: StoreURL) -> MySQLStore:
    """``mysql://user:password@host:port/database?options`` (MySQL 8 or MariaDB 10.5+).

    Options: ``table_prefix`` (default ``fixplus_``), ``max_batch`` (1000),
    ``writers`` (1), ``pool_min`` (1), ``pool_max`` (8), ``connect_timeout``
    (5 s), ``command_timeout`` (30 s), TLS: ``ssl_ca``, ``ssl_cert``,
    ``ssl_key``, ``ssl_verify`` (``true``/``false``); ``password_file``.
    """
    url.check_options(_OPTIONS)
    database = url.path.strip("/")
    if not database or "/" in database:
        raise ConfigError(f"store URL {url.redacted()}: the path must be one database name")
    settings = MySQLSettings(
        table_prefix=url.query.get("table_prefix", "fixplus_"),
        max_batch=url.int_option("max_batch", 1000, minimum=1),
        writers=url.int_option("writers", 1, minimum=1),
        pool_min=url.int_option("pool_min", 1),
        pool_max=url.int_option("pool_max", 8, minimum=1),
        connect_timeout=url.float_option("connect_timeout", 5.0),
        command_timeout=url.float_option("command_timeout", 30.0),
    )
    kwargs: dict[str, Any] = {
        "host": url.host or "localhost",
        "port": url.port or 3306,
        "user": url.username or "",
        "password": url.password or "",
        "database": database,
        "charset": "utf8mb4",
    }
    ctx = _ssl_context(url)
    if ctx is not None:
        kwargs["ssl"] = ctx
    return await MySQLStore.connect(kwargs, settings, url.redacted())
