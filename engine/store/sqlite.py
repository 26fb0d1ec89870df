"""SQLite message store (``sqlite:///path.db``), stdlib ``sqlite3`` only.

Theory of operation
-------------------

Each :class:`SqliteStore` owns one connection and one dedicated worker
thread (sqlite_worker.py) that runs every call in *group commits*: what is
queued when a transaction starts, from every session, goes into one
``BEGIN IMMEDIATE`` ... ``COMMIT``, and each caller is answered once the
commit holding its rows returned, so ``save_outbound`` still returns only
when its messages and the new sequence number are durable.

Durability: WAL journal, ``synchronous=FULL`` by default: a committed
transaction survives a process crash *and* an OS crash or power loss.
``synchronous=NORMAL`` skips the fsync at each commit: still safe against a
process crash (the WAL is in the OS page cache), but the last transactions
may be lost on power loss.  Several processes may share a file:
``BEGIN IMMEDIATE`` takes the write lock up front and ``busy_timeout``
waits for it; a lock still held after the timeout is a
:class:`RetryableStoreError`.

Schema changes are versioned :data:`MIGRATIONS`, applied in order inside one
transaction at open; ``schema_version`` records which ones ran.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import ConfigError
from .admin import MessageQuery, PruneResult, SessionExport, SessionInfo, StoredMessage
from .base import SessionKey, StoreState
from .errors import PermanentStoreError, StoreClosedError, check_outbound, check_range, check_seq
from .files import create_private_file
from .migrations import SCHEMA_VERSION_COLUMNS, Migration, check_plan, pending
from .sqlite_worker import BatchOp, Worker, ensure_row, retry_busy

if TYPE_CHECKING:
    from .url import StoreURL

__all__ = [
    "MIGRATIONS",
    "Migration",
    "SqliteSessionStore",
    "SqliteSettings",
    "SqliteStore",
    "open_from_url",
]

_T = TypeVar("_T")

SYNCHRONOUS_MODES = ("FULL", "NORMAL", "EXTRA")


@dataclasses.dataclass(frozen=True, slots=True)
class SqliteSettings:
    """Tuning of a :class:`SqliteStore`.

    ``synchronous``: ``FULL`` (default; durable on power loss), ``EXTRA``, or
    ``NORMAL`` (durable on process crash only).  ``busy_timeout_ms``: how long
    to wait for another process's write lock before a retryable error.
    ``max_batch``: most jobs grouped into one transaction.
    """

    synchronous: str = "FULL"
    busy_timeout_ms: int = 5000
    max_batch: int = 1000

    def __post_init__(self) -> None:
        if self.synchronous.upper() not in SYNCHRONOUS_MODES:
            raise ConfigError(
                f"sqlite synchronous={self.synchronous!r}: use one of "
                f"{', '.join(SYNCHRONOUS_MODES)}"
            )
        object.__setattr__(self, "synchronous", self.synchronous.upper())
        if self.busy_timeout_ms < 0:
            raise ConfigError(f"sqlite busy_timeout_ms={self.busy_timeout_ms} must be >= 0")
        if self.max_batch < 1:
            raise ConfigError(f"sqlite max_batch={self.max_batch} must be >= 1")


#: Ordered schema migrations; append, never edit one that has shipped.
MIGRATIONS: tuple[Migration, ...] = check_plan((
    Migration(
        1,
        "sessions and messages",
        (
            """CREATE TABLE sessions (
                key TEXT PRIMARY KEY,
                next_sender_seq INTEGER NOT NULL,
                next_target_seq INTEGER NOT NULL,
                creation_time_ns INTEGER NOT NULL,
                updated_ns INTEGER NOT NULL
            )""",
            """CREATE TABLE messages (
                session_key TEXT NOT NULL,
                seq INTEGER NOT NULL,
                sent_time_ns INTEGER NOT NULL,
                msg_type TEXT,
                data BLOB NOT NULL,
                PRIMARY KEY (session_key, seq)
            )""",
        ),
    ),
))

def _migrate(conn: sqlite3.Connection, migrations: Sequence[Migration], where: str) -> int:
    """Apply pending migrations in one transaction; return the schema version."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version "
                     f"({SCHEMA_VERSION_COLUMNS.format(int='INTEGER')})")
        (current,) = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
        for m in pending(migrations, int(current), where):
            for statement in m.statements:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, description, applied_ns) VALUES (?, ?, ?)",
                (m.version, m.description, time.time_ns()),
            )
            current = m.version
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return int(current)


def _connect(path: str, s: SqliteSettings, migrated: list[int]) -> sqlite3.Connection:
    """Open and prepare the connection (in the worker thread)."""
    conn = sqlite3.connect(
        path, timeout=s.busy_timeout_ms / 1000, isolation_level=None, check_same_thread=True)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(s.busy_timeout_ms)}")
        timeout = s.busy_timeout_ms / 1000
        (mode,) = retry_busy(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone(), timeout)
        if str(mode).lower() != "wal":
            raise PermanentStoreError(
                f"sqlite store {path}: cannot switch to WAL journal (got {mode!r})")
        conn.execute(f"PRAGMA synchronous = {s.synchronous}")
        migrated.append(retry_busy(
            lambda: _migrate(conn, MIGRATIONS, f"sqlite store {path}"), timeout))
    except BaseException:
        conn.close()
        raise
    return conn


class SqliteStore:
    """Backend storing every session in one SQLite file.

    Create it with ``await SqliteStore.connect(path, settings)`` (or
    ``open_store("sqlite:///path.db")``); ``await store.open(key)`` gives a
    session's :class:`SqliteSessionStore`.
    """

    def __init__(self, worker: Worker, settings: SqliteSettings, schema_version: int) -> None:
        self._worker = worker
        self._settings = settings
        self._schema_version = schema_version

    @classmethod
    async def connect(
        cls, path: str | os.PathLike[str], settings: SqliteSettings | None = None
    ) -> SqliteStore:
        settings = settings or SqliteSettings()
        p = Path(path)
        if not p.parent.is_dir():
            raise ConfigError(f"sqlite store {p}: directory {p.parent} does not exist")
        await asyncio.to_thread(create_private_file, p)  # 0600, and so its -wal/-shm
        path_text = os.fspath(p)
        migrated: list[int] = []
        worker = Worker(path_text, settings.max_batch,
                        lambda: _connect(path_text, settings, migrated))
        await worker.start()
        return cls(worker, settings, migrated[0])

    @property
    def path(self) -> str:
        return self._worker.path

    @property
    def settings(self) -> SqliteSettings:
        return self._settings

    @property
    def schema_version(self) -> int:
        return self._schema_version

    @property
    def transactions(self) -> int:
        """Transactions committed so far (group commit makes it < calls)."""
        return self._worker.transactions

    @property
    def closed(self) -> bool:
        return self._worker.closed

    # --- administration (StoreAdmin, engine/store/admin.py) --------------------

    async def sessions(self) -> list[SessionInfo]:
        def op(conn: sqlite3.Connection) -> list[SessionInfo]:
            rows = conn.execute(
                "SELECT s.key, s.next_sender_seq, s.next_target_seq, s.creation_time_ns, "
                "s.updated_ns, (SELECT count(*) FROM messages m WHERE m.session_key = s.key) "
                "FROM sessions s ORDER BY s.key"
            ).fetchall()
            return [
                SessionInfo(SessionKey(r[0]), StoreState(int(r[1]), int(r[2]), int(r[3])),
                            int(r[4]), int(r[5]))
                for r in rows
            ]

        return await self._worker.submit(op)

    async def query(self, key: SessionKey, q: MessageQuery) -> list[StoredMessage]:
        conds = ["session_key = ?", "seq >= ?", "seq <= ?"]
        args: list[Any] = [key.value, q.begin, q.end or (1 << 63) - 1]
        if q.since_ns is not None:
            conds.append("sent_time_ns >= ?")
            args.append(q.since_ns)
        if q.until_ns is not None:
            conds.append("sent_time_ns < ?")
            args.append(q.until_ns)
        if q.msg_types is not None:
            types = sorted(q.msg_types)
            conds.append(f"msg_type IN ({', '.join('?' * len(types))})")
            args.extend(types)
        sql = (f"SELECT seq, sent_time_ns, msg_type, data FROM messages WHERE "
               f"{' AND '.join(conds)} ORDER BY seq")
        if q.limit is not None:
            sql += f" LIMIT {int(q.limit)}"

        def op(conn: sqlite3.Connection) -> list[StoredMessage]:
            return [StoredMessage(int(r[0]), int(r[1]), r[2], bytes(r[3]))
                    for r in conn.execute(sql, args).fetchall()]

        return await self._worker.submit(op)

    async def prune(
        self,
        *,
        messages_before_ns: int | None = None,
        sessions_idle_before_ns: int | None = None,
        keep: Iterable[SessionKey] = (),
    ) -> PruneResult:
        kept = [k.value for k in keep]

        def op(conn: sqlite3.Connection) -> PruneResult:
            messages = sessions = 0
            if sessions_idle_before_ns is not None:
                marks = ", ".join("?" * len(kept))
                dropped = [r[0] for r in conn.execute(
                    f"SELECT key FROM sessions WHERE updated_ns < ? AND key NOT IN ({marks})",
                    [sessions_idle_before_ns, *kept]).fetchall()]
                for k in dropped:
                    messages += conn.execute(
                        "DELETE FROM messages WHERE session_key = ?", (k,)).rowcount
                    conn.execute("DELETE FROM sessions WHERE key = ?", (k,))
                sessions = len(dropped)
            if messages_before_ns is not None:
                messages += conn.execute(
                    "DELETE FROM messages WHERE sent_time_ns < ?", (messages_before_ns,)).rowcount
            return PruneResult(messages=messages, sessions=sessions)

        return await self._worker.submit(op)

    async def export_session(self, key: SessionKey) -> SessionExport | None:
        k = key.value

        def op(conn: sqlite3.Connection) -> SessionExport | None:
            row = conn.execute(
                "SELECT next_sender_seq, next_target_seq, creation_time_ns FROM sessions "
                "WHERE key = ?", (k,)).fetchone()
            if row is None:
                return None
            msgs = [StoredMessage(int(r[0]), int(r[1]), r[2], bytes(r[3])) for r in conn.execute(
                "SELECT seq, sent_time_ns, msg_type, data FROM messages WHERE session_key = ? "
                "ORDER BY seq", (k,)).fetchall()]
            return SessionExport(key, StoreState(int(row[0]), int(row[1]), int(row[2])), msgs)

        return await self._worker.submit(op)

    async def import_session(self, data: SessionExport, *, replace: bool = False) -> None:
        k = data.key.value
        st = data.state
        rows = [(k, m.seq, m.sent_time_ns, m.msg_type, m.data) for m in data.messages]

        def op(conn: sqlite3.Connection) -> None:
            sender, target, _ = ensure_row(conn, k)
            (count,) = conn.execute(
                "SELECT count(*) FROM messages WHERE session_key = ?", (k,)).fetchone()
            if not replace and (count or sender != 1 or target != 1):
                raise PermanentStoreError(
                    f"session {k} already has state in {self.path} (sender {sender}, target "
                    f"{target}, {count} messages); pass replace to overwrite it")
            conn.execute("DELETE FROM messages WHERE session_key = ?", (k,))
            conn.executemany(
                "INSERT INTO messages (session_key, seq, sent_time_ns, msg_type, data) "
                "VALUES (?, ?, ?, ?, ?)", rows)
            conn.execute(
                "UPDATE sessions SET next_sender_seq = ?, next_target_seq = ?, "
                "creation_time_ns = ?, updated_ns = ? WHERE key = ?",
                (st.next_sender_seq, st.next_target_seq, st.creation_time_ns, time.time_ns(), k))

        await self._worker.submit(op)

    async def open(self, key: SessionKey) -> SqliteSessionStore:
        k = key.value

        def op(conn: sqlite3.Connection) -> None:
            ensure_row(conn, k)

        await self._worker.submit(op)
        return SqliteSessionStore(self._worker, key)

    async def close(self) -> None:
        await self._worker.close()


class SqliteSessionStore:
    """One session's rows in a :class:`SqliteStore`."""

    def __init__(self, worker: Worker, key: SessionKey) -> None:
        self._worker = worker
        self._key = key
        self._closed = False

    @property
    def key(self) -> SessionKey:
        return self._key

    def _submit(self, op: Callable[[sqlite3.Connection], _T]) -> asyncio.Future[_T]:
        if self._closed:
            raise StoreClosedError(f"session store {self._key} is closed")
        return self._worker.submit(op, self._key.value)

    def _batch(self, messages: Sequence[tuple[int, bytes]], next_target: int | None,
               chained: bool) -> asyncio.Future[None]:
        if self._closed:
            raise StoreClosedError(f"session store {self._key} is closed")
        check_outbound(messages, None)
        if next_target is not None:
            check_seq(next_target, "next target seq")
        # Copy now: the caller may reuse a bytearray once we are suspended.
        frozen = tuple((seq, bytes(data)) for seq, data in messages)
        k = self._key.value
        return self._worker.submit_batch(BatchOp(k, frozen, next_target), chained)

    async def load(self) -> StoreState:
        k = self._key.value

        def op(conn: sqlite3.Connection) -> StoreState:
            return StoreState(*ensure_row(conn, k))

        return await self._submit(op)

    async def save_outbound(self, messages: Sequence[tuple[int, bytes]]) -> None:
        await self._batch(messages, None, False)

    async def save_batch(
        self, messages: Sequence[tuple[int, bytes]], next_target: int | None
    ) -> None:
        """``save_outbound`` and ``set_next_target`` in one transaction: the
        engine's flush, one commit for everything since the last one."""
        await self._batch(messages, next_target, False)

    def submit_batch(
        self, messages: Sequence[tuple[int, bytes]], next_target: int | None
    ) -> asyncio.Future[None]:
        """A pipelined ``save_batch`` (``base.submit_batch``)."""
        return self._batch(messages, next_target, True)

    async def set_next_sender(self, seq: int) -> None:
        check_seq(seq, "next sender seq")
        k = self._key.value

        def op(conn: sqlite3.Connection) -> None:
            ensure_row(conn, k)
            conn.execute(
                "UPDATE sessions SET next_sender_seq = ?, updated_ns = ? WHERE key = ?",
                (seq, time.time_ns(), k),
            )
            conn.execute("DELETE FROM messages WHERE session_key = ? AND seq >= ?", (k, seq))

        await self._submit(op)

    async def set_next_target(self, seq: int) -> None:
        check_seq(seq, "next target seq")
        await self._batch((), seq, False)

    async def get_range(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        check_range(begin, end)
        k = self._key.value
        upper = end if end != 0 else (1 << 63) - 1

        def op(conn: sqlite3.Connection) -> list[tuple[int, bytes]]:
            rows = conn.execute(
                "SELECT seq, data FROM messages WHERE session_key = ? AND seq >= ? AND seq <= ? "
                "ORDER BY seq",
                (k, begin, upper),
            ).fetchall()
            return [(int(seq), bytes(data)) for seq, data in rows]

        return await self._submit(op)

    async def reset(self, creation_time_ns: int) -> None:
        k = self._key.value

        def op(conn: sqlite3.Connection) -> None:
            ensure_row(conn, k)
            conn.execute("DELETE FROM messages WHERE session_key = ?", (k,))
            conn.execute(
                "UPDATE sessions SET next_sender_seq = 1, next_target_seq = 1, "
                "creation_time_ns = ?, updated_ns = ? WHERE key = ?",
                (creation_time_ns, time.time_ns(), k),
            )

        await self._submit(op)

    async def close(self) -> None:
        self._closed = True


async def open_from_url(url: StoreURL) -> SqliteStore:
    """``sqlite:///relative.db`` or ``sqlite:////absolute.db``, options
    ``synchronous``, ``busy_timeout_ms``, ``max_batch``."""
    if url.username or url.password or url.host or url.port:
        raise ConfigError(
            f"store URL {url.redacted()}: sqlite takes no host; write sqlite:///relative/path.db "
            "or sqlite:////absolute/path.db"
        )
    path = url.path[1:] if url.path.startswith("/") else url.path
    if not path or path.endswith("/"):
        raise ConfigError(f"store URL {url.redacted()}: sqlite needs a file path")
    url.check_options(("synchronous", "busy_timeout_ms", "max_batch"))
    settings = SqliteSettings(
        synchronous=url.query.get("synchronous", "FULL"),
        busy_timeout_ms=url.int_option("busy_timeout_ms", 5000),
        max_batch=url.int_option("max_batch", 1000, minimum=1),
    )
    return await SqliteStore.connect(path, settings)
