"""In-memory message store: the contract's semantics without durability.

State lives in the :class:`MemoryStore` object: session handles opened from
the same backend share it, and it is gone when the process exits.  Useful for
tests and for sessions where a restart may reset sequence numbers anyway.

Every method does its work before its first (and only) suspension point, so
calls take effect in the order they are made, exactly like the queue of the
SQLite store.
"""

from __future__ import annotations

import asyncio
import bisect
import dataclasses
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import ConfigError
from .base import SessionKey, StoreState
from .errors import StoreClosedError, check_outbound, check_seq

if TYPE_CHECKING:
    from .url import StoreURL

__all__ = ["MemorySessionStore", "MemoryStore", "open_from_url"]


@dataclasses.dataclass(slots=True)
class _SessionData:
    next_sender_seq: int
    next_target_seq: int
    creation_time_ns: int
    seqs: list[int] = dataclasses.field(default_factory=list)  # ascending
    messages: dict[int, bytes] = dataclasses.field(default_factory=dict)

    def put(self, seq: int, data: bytes) -> None:
        if seq not in self.messages:
            if not self.seqs or seq > self.seqs[-1]:
                self.seqs.append(seq)
            else:
                bisect.insort(self.seqs, seq)
        self.messages[seq] = data

    def drop_from(self, seq: int) -> None:
        """Forget messages with a sequence number >= ``seq``."""
        idx = bisect.bisect_left(self.seqs, seq)
        for s in self.seqs[idx:]:
            del self.messages[s]
        del self.seqs[idx:]


class MemoryStore:
    """Backend keeping every session in a dict (``memory://``)."""

    def __init__(self) -> None:
        self._sessions: dict[SessionKey, _SessionData] = {}
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def _data(self, key: SessionKey) -> _SessionData:
        if self._closed:
            raise StoreClosedError("memory store is closed")
        return self._sessions[key]

    async def open(self, key: SessionKey) -> MemorySessionStore:
        if self._closed:
            raise StoreClosedError("memory store is closed")
        if key not in self._sessions:
            self._sessions[key] = _SessionData(1, 1, time.time_ns())
        await asyncio.sleep(0)
        return MemorySessionStore(self, key)

    async def close(self) -> None:
        self._closed = True
        self._sessions.clear()


class MemorySessionStore:
    """One session's state inside a :class:`MemoryStore`."""

    def __init__(self, backend: MemoryStore, key: SessionKey) -> None:
        self._backend = backend
        self._key = key
        self._closed = False

    @property
    def key(self) -> SessionKey:
        return self._key

    def _data(self) -> _SessionData:
        if self._closed:
            raise StoreClosedError(f"session store {self._key} is closed")
        return self._backend._data(self._key)

    async def load(self) -> StoreState:
        d = self._data()
        state = StoreState(d.next_sender_seq, d.next_target_seq, d.creation_time_ns)
        await asyncio.sleep(0)
        return state

    async def save_outbound(self, messages: Sequence[tuple[int, bytes]]) -> None:
        d = self._data()
        new_next = check_outbound(messages, d.next_sender_seq)
        for seq, data in messages:
            d.put(seq, bytes(data))
        d.next_sender_seq = new_next
        await asyncio.sleep(0)

    async def set_next_sender(self, seq: int) -> None:
        check_seq(seq, "next sender seq")
        d = self._data()
        d.next_sender_seq = seq
        d.drop_from(seq)
        await asyncio.sleep(0)

    async def set_next_target(self, seq: int) -> None:
        check_seq(seq, "next target seq")
        self._data().next_target_seq = seq
        await asyncio.sleep(0)

    async def get_range(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        d = self._data()
        lo = bisect.bisect_left(d.seqs, begin)
        hi = len(d.seqs) if end == 0 else bisect.bisect_right(d.seqs, end)
        result = [(seq, d.messages[seq]) for seq in d.seqs[lo:hi]]
        await asyncio.sleep(0)
        return result

    async def reset(self, creation_time_ns: int) -> None:
        d = self._data()
        d.next_sender_seq = 1
        d.next_target_seq = 1
        d.creation_time_ns = creation_time_ns
        d.seqs.clear()
        d.messages.clear()
        await asyncio.sleep(0)

    async def close(self) -> None:
        self._closed = True


async def open_from_url(url: StoreURL) -> MemoryStore:
    """``memory://``: takes no host, path or options."""
    if url.username or url.password or url.host or url.port or url.path not in ("", "/"):
        raise ConfigError(f"store URL {url.redacted()}: memory:// takes no host or path")
    url.check_options(())
    await asyncio.sleep(0)
    return MemoryStore()
