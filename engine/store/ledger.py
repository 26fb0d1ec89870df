"""Ledgers: small append-only logs kept beside a message store.

The encryption keyring (wrapped data keys, :mod:`.encrypted`) and the audit
trail (:mod:`.audit`) live in the same database as the messages they cover,
in one table of their own (``fixplus_ledger``), not in the sessions' rows:
retention, resets and session deletion never touch them.

A ledger holds named logs; an entry is ``(id, payload)`` with ids 1, 2, 3...
per log.  :meth:`Ledger.append` writes an entry at a given id and returns
False when that id is taken: writers that must not fork a log (two engines
appending audit records at once) read the last entry, build the next one
and retry on False.  Entries are never updated: a rewrapped data key is a
new entry superseding the old one.

Backends, each in its own small file: ``memory`` (here), ``sqlite``,
``postgres``, ``redis`` (``ledger_<name>.py``).
"""

from __future__ import annotations

import asyncio
import importlib
import weakref
from collections.abc import Awaitable, Callable
from typing import Protocol, cast

from ..errors import ConfigError
from .base import MessageStore
from .url import StoreURL, parse_store_url

__all__ = ["Ledger", "MemoryLedger", "open_ledger"]

#: store scheme -> "module:coroutine function(StoreURL, MessageStore) -> Ledger"
LEDGERS: dict[str, str] = {
    "memory": ".ledger:_open_memory",
    "sqlite": ".ledger_sqlite:open_ledger",
    "postgresql": ".ledger_postgres:open_ledger",
    "postgres": ".ledger_postgres:open_ledger",
    "redis": ".ledger_redis:open_ledger",
    "rediss": ".ledger_redis:open_ledger",
}


class Ledger(Protocol):
    async def append(self, log: str, entry_id: int, payload: bytes) -> bool:
        """Write entry ``entry_id`` of ``log``; False (nothing written) if taken."""
        ...

    async def read(self, log: str, after: int = 0, limit: int = 0) -> list[tuple[int, bytes]]:
        """Entries with id > ``after``, ascending (``limit`` 0: all)."""
        ...

    async def last_id(self, log: str) -> int:
        """The highest id in ``log`` (0 when empty)."""
        ...

    async def close(self) -> None: ...


class MemoryLedger:
    """Ledger of a ``memory://`` store (and of tests)."""

    def __init__(self) -> None:
        self.logs: dict[str, dict[int, bytes]] = {}

    async def append(self, log: str, entry_id: int, payload: bytes) -> bool:
        await asyncio.sleep(0)
        entries = self.logs.setdefault(log, {})
        if entry_id in entries:
            return False
        entries[entry_id] = bytes(payload)
        return True

    async def read(self, log: str, after: int = 0, limit: int = 0) -> list[tuple[int, bytes]]:
        await asyncio.sleep(0)
        rows = sorted((i, p) for i, p in self.logs.get(log, {}).items() if i > after)
        return rows[:limit] if limit else rows

    async def last_id(self, log: str) -> int:
        await asyncio.sleep(0)
        return max(self.logs.get(log, {0: b""}))

    async def close(self) -> None:
        return None


_MEMORY: weakref.WeakKeyDictionary[MessageStore, MemoryLedger] = weakref.WeakKeyDictionary()


async def _open_memory(url: StoreURL, store: MessageStore | None) -> Ledger:
    # one ledger per memory store object, gone with it
    await asyncio.sleep(0)
    if store is None:
        return MemoryLedger()
    return _MEMORY.setdefault(store, MemoryLedger())


async def open_ledger(url: str, store: MessageStore | None = None) -> Ledger:
    """The ledger beside the store at ``url`` (``store``: that store, if open)."""
    parsed = parse_store_url(url)
    target = LEDGERS.get(parsed.scheme)
    if target is None:
        raise ConfigError(
            f"store URL {parsed.redacted()}: encryption and the audit trail are not available "
            f"for {parsed.scheme} stores (sqlite, postgresql, redis, memory are)")
    module_name, func = target.split(":")
    module = importlib.import_module(module_name, __package__)
    opener = cast(Callable[[StoreURL, MessageStore | None], Awaitable[Ledger]],
                  getattr(module, func))
    return await opener(parsed, store)
