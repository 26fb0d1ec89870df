"""The ledger of a PostgreSQL store: table ``<schema>.fixplus_ledger``."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # ships no type information

from ..errors import ConfigError
from .base import MessageStore
from .errors import PermanentStoreError, RetryableStoreError, StoreClosedError
from .postgres import _ssl_option  # the store's own TLS options, read one way
from .url import StoreURL

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}\Z")


class PostgresLedger:
    def __init__(self, conn: Any, schema: str, where: str) -> None:
        self._conn: Any = conn
        self._t = f'"{schema}".fixplus_ledger'
        self._where = where
        self._lock = asyncio.Lock()  # one connection: one statement at a time

    def _c(self) -> Any:
        if self._conn is None:
            raise StoreClosedError(f"ledger of {self._where} is closed")
        return self._conn

    async def _call(self, method: str, query: str, *args: Any) -> Any:
        try:
            async with self._lock:
                return await getattr(self._c(), method)(query, *args)
        except (OSError, asyncpg.exceptions.InterfaceError,
                asyncpg.exceptions.PostgresConnectionError) as exc:
            raise RetryableStoreError(f"ledger of {self._where}: {type(exc).__name__}") from None
        except asyncpg.PostgresError as exc:
            raise PermanentStoreError(f"ledger of {self._where}: {exc}") from None

    async def append(self, log: str, entry_id: int, payload: bytes) -> bool:
        status = await self._call(
            "execute", f"INSERT INTO {self._t} (log, id, payload) VALUES ($1, $2, $3) "
            "ON CONFLICT DO NOTHING", log, entry_id, bytes(payload))
        return bool(status == "INSERT 0 1")

    async def read(self, log: str, after: int = 0, limit: int = 0) -> list[tuple[int, bytes]]:
        rows = await self._call(
            "fetch", f"SELECT id, payload FROM {self._t} WHERE log = $1 AND id > $2 "
            "ORDER BY id LIMIT $3", log, after, limit or None)
        return [(int(r[0]), bytes(r[1])) for r in rows]

    async def last_id(self, log: str) -> int:
        n = await self._call("fetchval",
                             f"SELECT COALESCE(MAX(id), 0) FROM {self._t} WHERE log = $1", log)
        return int(n)

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()


async def open_ledger(url: StoreURL, store: MessageStore | None) -> PostgresLedger:
    schema = url.query.get("schema", "public")
    if not _IDENT.match(schema):
        raise ConfigError(f"store URL {url.redacted()}: schema must be a plain identifier")
    kwargs: dict[str, Any] = {
        "host": url.host or "localhost", "port": url.port or 5432, "user": url.username,
        "password": url.password, "database": url.path.lstrip("/") or None,
    }
    if any(n.startswith("ssl") for n in url.query):
        kwargs["ssl"] = _ssl_option(url)
    where = f"postgres store {url.redacted()}"
    try:
        conn = await asyncpg.connect(**kwargs)
        await conn.execute(
            f'CREATE TABLE IF NOT EXISTS "{schema}".fixplus_ledger (log TEXT NOT NULL, '
            "id BIGINT NOT NULL, payload BYTEA NOT NULL, PRIMARY KEY (log, id))")
    except (OSError, asyncpg.exceptions.PostgresConnectionError) as exc:
        raise RetryableStoreError(f"ledger of {where}: {type(exc).__name__}") from None
    except asyncpg.PostgresError as exc:
        raise PermanentStoreError(f"ledger of {where}: {exc}") from None
    return PostgresLedger(conn, schema, where)
