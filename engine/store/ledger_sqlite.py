"""The ledger of a SQLite store: table ``fixplus_ledger`` in the same file."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import Callable
from typing import TypeVar

from .base import MessageStore
from .errors import PermanentStoreError, RetryableStoreError, StoreClosedError, StoreError
from .files import create_private_dir
from .url import StoreURL

_T = TypeVar("_T")

_SCHEMA = ("CREATE TABLE IF NOT EXISTS fixplus_ledger (log TEXT NOT NULL, id INTEGER NOT NULL, "
           "payload BLOB NOT NULL, PRIMARY KEY (log, id)) WITHOUT ROWID")


class SqliteLedger:
    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _connect(self) -> None:
        conn = sqlite3.connect(self.path, timeout=5.0, isolation_level=None,
                               check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 5000")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute(_SCHEMA)
        self._conn = conn

    async def _run(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        def call() -> _T:
            with self._lock:
                if self._conn is None:
                    raise StoreClosedError(f"ledger of sqlite store {self.path} is closed")
                return fn(self._conn)
        try:
            return await asyncio.to_thread(call)
        except StoreError:
            raise
        except sqlite3.OperationalError as exc:
            raise RetryableStoreError(f"ledger of sqlite store {self.path}: {exc}") from None
        except sqlite3.Error as exc:
            raise PermanentStoreError(f"ledger of sqlite store {self.path}: {exc}") from None

    async def append(self, log: str, entry_id: int, payload: bytes) -> bool:
        def op(conn: sqlite3.Connection) -> bool:
            cur = conn.execute("INSERT OR IGNORE INTO fixplus_ledger (log, id, payload) "
                               "VALUES (?, ?, ?)", (log, entry_id, bytes(payload)))
            return cur.rowcount == 1
        return await self._run(op)

    async def read(self, log: str, after: int = 0, limit: int = 0) -> list[tuple[int, bytes]]:
        def op(conn: sqlite3.Connection) -> list[tuple[int, bytes]]:
            rows = conn.execute("SELECT id, payload FROM fixplus_ledger WHERE log = ? AND id > ? "
                                "ORDER BY id LIMIT ?", (log, after, limit or -1)).fetchall()
            return [(int(i), bytes(p)) for i, p in rows]
        return await self._run(op)

    async def last_id(self, log: str) -> int:
        def op(conn: sqlite3.Connection) -> int:
            (n,) = conn.execute("SELECT COALESCE(MAX(id), 0) FROM fixplus_ledger WHERE log = ?",
                                (log,)).fetchone()
            return int(n)
        return await self._run(op)

    async def close(self) -> None:
        def op() -> None:
            with self._lock:
                if self._conn is not None:
                    self._conn.close()
                    self._conn = None
        await asyncio.to_thread(op)


async def open_ledger(url: StoreURL, store: MessageStore | None) -> SqliteLedger:
    path = url.path[1:] if url.path.startswith("/") else url.path
    ledger = SqliteLedger(path)
    try:
        await asyncio.to_thread(_prepare, ledger, path)
    except sqlite3.Error as exc:
        raise PermanentStoreError(f"ledger of sqlite store {path}: {exc}") from None
    return ledger


def _prepare(ledger: SqliteLedger, path: str) -> None:
    parent = os.path.dirname(path)
    if parent and not os.path.isdir(parent):
        create_private_dir(parent)
    ledger._connect()
