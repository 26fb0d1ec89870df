"""PostgreSQL message store (``postgresql://user@host:port/db``) on asyncpg.

Theory of operation
-------------------

Calls are turned into *jobs* and queued, before their first suspension
point, on a *writer*: one per partition of the sessions (option
``writers``, a session always maps to the same writer), so the jobs of one
session run in call order.  A writer takes everything queued (up to
``max_batch`` jobs, from every session of the partition) and commits it at
once: *group commit*.  While one batch commits, new calls pile up and form
the next.  Every caller is answered only after the commit that contains its
rows, so ``save_outbound`` still returns only when its messages and the new
sequence number are durable (persist before send).  The engine's flushes
(messages + next target seq) take one statement and one round trip per
batch; anything else a transaction with ``SELECT … FOR UPDATE`` of the
session rows (postgres_batch.py).  The row checks keep several processes
(pods) that share a database consistent.  Reads of a session with no queued
job go straight to the pool and do not wait for the writer.

Errors: a lost connection, a server that is shutting down or starting, a
refused connection or a timeout are :class:`RetryableStoreError`; the pool
opens new connections on the next call, so the store reconnects by itself
once the server is back.  If the connection is lost *during* a commit the
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
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import asyncpg  # type: ignore[import-untyped]  # ships no type information

from ..errors import ConfigError
from .admin import (
    MessageQuery,
    PruneResult,
    SessionExport,
    SessionInfo,
    StoredMessage,
)
from .base import SessionKey, StoreState
from .errors import (
    PermanentStoreError,
    StoreClosedError,
)
from .migrations import SCHEMA_VERSION_COLUMNS, Migration, check_plan, pending
from .postgres_batch import (
    PgWriter,
    PostgresSessionStore,
    Tx,
    load_op,
    translate,
)

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
        self._writers: list[PgWriter] = []
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
        store._writers = [PgWriter(store, i) for i in range(settings.writers)]
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
            raise translate(e, self.where) from None

    @property
    def closed(self) -> bool:
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError(f"postgres store {self.where} is closed")

    def _writer(self, key: str) -> PgWriter:
        return self._writers[zlib.crc32(key.encode()) % len(self._writers)]

    def submit(self, key: str, op: Any, chained: bool = False) -> asyncio.Future[Any]:
        self._check_open()
        return self._writer(key).writer.submit(key, op, chained=chained)

    def idle(self, key: str) -> bool:
        """No queued job for ``key``: a read may bypass the writer."""
        return self._writer(key).writer.idle(key)

    @property
    def fast_commits(self) -> int:
        """Batches committed in one statement (postgres_batch.py), for tests."""
        return sum(w.fast for w in self._writers)

    async def open(self, key: SessionKey) -> PostgresSessionStore:
        await self.submit(key.value, load_op(key.value))
        return PostgresSessionStore(self, key)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await asyncio.gather(*(w.stop() for w in self._writers))
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
            raise translate(e, self.where) from None

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
            raise translate(e, self.where) from None
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

        async def op(tx: Tx) -> None:
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
        raise translate(e, where) from None


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
