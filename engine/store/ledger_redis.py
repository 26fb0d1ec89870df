"""The ledger of a Redis store: one hash per log, ``<prefix>:ledger:<log>``."""

from __future__ import annotations

from typing import Any

from redis import asyncio as aioredis

from .base import MessageStore
from .errors import RetryableStoreError, StoreClosedError
from .url import StoreURL


class RedisLedger:
    def __init__(self, client: Any, prefix: str, where: str) -> None:
        self._client: Any = client
        self._prefix = prefix
        self._where = where

    def _key(self, log: str) -> str:
        return f"{self._prefix}:ledger:{log}"

    async def _call(self, method: str, *args: Any) -> Any:
        if self._client is None:
            raise StoreClosedError(f"ledger of {self._where} is closed")
        try:
            return await getattr(self._client, method)(*args)
        except (OSError, ConnectionError, TimeoutError) as exc:
            raise RetryableStoreError(f"ledger of {self._where}: {type(exc).__name__}") from None
        except Exception as exc:  # redis.exceptions.RedisError and its kin
            raise RetryableStoreError(f"ledger of {self._where}: {type(exc).__name__}") from None

    async def append(self, log: str, entry_id: int, payload: bytes) -> bool:
        return bool(await self._call("hsetnx", self._key(log), str(entry_id), bytes(payload)))

    async def read(self, log: str, after: int = 0, limit: int = 0) -> list[tuple[int, bytes]]:
        raw: dict[bytes, bytes] = await self._call("hgetall", self._key(log))
        rows = sorted((int(k), bytes(v)) for k, v in raw.items() if int(k) > after)
        return rows[:limit] if limit else rows

    async def last_id(self, log: str) -> int:
        keys: list[bytes] = await self._call("hkeys", self._key(log))
        return max((int(k) for k in keys), default=0)

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()


async def open_ledger(url: StoreURL, store: MessageStore | None) -> RedisLedger:
    kwargs: dict[str, Any] = {
        "host": url.host or "localhost", "port": url.port or 6379,
        "db": int(url.path.strip("/") or "0"), "username": url.username,
        "password": url.password,
        "socket_timeout": float(url.query.get("socket_timeout", "10")),
        "socket_connect_timeout": float(url.query.get("connect_timeout", "5")),
    }
    if url.scheme == "rediss":
        kwargs["ssl"] = True
        for name in ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_cert_reqs"):
            if name in url.query:
                kwargs[name] = url.query[name]
        if "ssl_check_hostname" in url.query:
            kwargs["ssl_check_hostname"] = url.query["ssl_check_hostname"].lower() == "true"
    prefix = url.query.get("prefix", "fixplus")
    return RedisLedger(aioredis.Redis(**kwargs), prefix, f"redis store {url.redacted()}")
