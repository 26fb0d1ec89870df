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
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from ..errors import ConfigError
from .admin import (
    MessageQuery,
    PruneResult,
    SessionExport,
    SessionInfo,
    StoredMessage,
    match_query,
    msg_type_of,
)
from .base import SessionKey, StoreState
from .errors import (
    PermanentStoreError,
    StoreClosedError,
    StoreError,
    check_outbound,
    check_range,
    check_seq,
)

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
    times: dict[int, int] = dataclasses.field(default_factory=dict)  # seq -> sent time ns
    updated_ns: int = 0

    def put(self, seq: int, data: bytes, now: int | None = None) -> None:
        if seq not in self.messages:
            if not self.seqs or seq > self.seqs[-1]:
                self.seqs.append(seq)
            else:
                bisect.insort(self.seqs, seq)
        self.messages[seq] = data
        self.times[seq] = time.time_ns() if now is None else now

    def remove(self, seqs: Iterable[int]) -> int:
        gone = set(seqs)
        for s in gone:
            del self.messages[s]
            del self.times[s]
        self.seqs = [s for s in self.seqs if s not in gone]
        return len(gone)

    def drop_from(self, seq: int) -> None:
        """Forget messages with a sequence number >= ``seq``."""
        idx = bisect.bisect_left(self.seqs, seq)
        for s in self.seqs[idx:]:
            del self.messages[s]
            del self.times[s]
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
            now = time.time_ns()
            self._sessions[key] = _SessionData(1, 1, now, updated_ns=now)
        await asyncio.sleep(0)
        return MemorySessionStore(self, key)

    # --- administration (StoreAdmin, engine/store/admin.py) --------------------

    def _check(self) -> None:
        if self._closed:
            raise StoreClosedError("memory store is closed")

    async def sessions(self) -> list[SessionInfo]:
        self._check()
        await asyncio.sleep(0)
        return [SessionInfo(k, StoreState(d.next_sender_seq, d.next_target_seq,
                                          d.creation_time_ns), d.updated_ns, len(d.seqs))
                for k, d in sorted(self._sessions.items(), key=lambda kv: kv[0].value)]

    async def query(self, key: SessionKey, q: MessageQuery) -> list[StoredMessage]:
        self._check()
        await asyncio.sleep(0)
        d = self._sessions.get(key)
        out: list[StoredMessage] = []
        if d is None:
            return out
        for seq in d.seqs:
            data = d.messages[seq]
            m = StoredMessage(seq, d.times[seq], msg_type_of(data), data)
            if match_query(m, q):
                out.append(m)
                if q.limit is not None and len(out) >= q.limit:
                    break
        return out

    async def prune(
        self,
        *,
        messages_before_ns: int | None = None,
        sessions_idle_before_ns: int | None = None,
        keep: Iterable[SessionKey] = (),
    ) -> PruneResult:
        self._check()
        kept = set(keep)
        messages = sessions = 0
        for k, d in list(self._sessions.items()):
            if (sessions_idle_before_ns is not None and k not in kept
                    and d.updated_ns < sessions_idle_before_ns):
                messages += len(d.seqs)
                sessions += 1
                del self._sessions[k]
            elif messages_before_ns is not None:
                messages += d.remove(s for s in d.seqs if d.times[s] < messages_before_ns)
        await asyncio.sleep(0)
        return PruneResult(messages=messages, sessions=sessions)

    async def export_session(self, key: SessionKey) -> SessionExport | None:
        self._check()
        if key not in self._sessions:
            return None
        d = self._sessions[key]
        state = StoreState(d.next_sender_seq, d.next_target_seq, d.creation_time_ns)
        return SessionExport(key, state, await self.query(key, MessageQuery()))

    async def import_session(self, data: SessionExport, *, replace: bool = False) -> None:
        self._check()
        d = self._sessions.get(data.key)
        if d is not None and not replace and (
                d.seqs or d.next_sender_seq != 1 or d.next_target_seq != 1):
            raise PermanentStoreError(
                f"session {data.key} already has state in the memory store; pass replace")
        st = data.state
        new = _SessionData(st.next_sender_seq, st.next_target_seq, st.creation_time_ns,
                           updated_ns=time.time_ns())
        for m in data.messages:
            new.put(m.seq, m.data, m.sent_time_ns)
        self._sessions[data.key] = new
        await asyncio.sleep(0)

    async def close(self) -> None:
        self._closed = True
        self._sessions.clear()


class MemorySessionStore:
    """One session's state inside a :class:`MemoryStore`."""

    #: Its coroutines never wait for I/O: the engine may run them inline.
    synchronous = True

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
        d.updated_ns = time.time_ns()

    async def save_batch(
        self, messages: Sequence[tuple[int, bytes]], next_target: int | None
    ) -> None:
        """Messages and the next target seq together (no I/O: no yield either)."""
        self.save_batch_now(messages, next_target)

    def save_batch_now(
        self, messages: Sequence[tuple[int, bytes]], next_target: int | None
    ) -> None:
        """:meth:`save_batch` as a plain call (the engine's per-message path
        uses it for a store without I/O)."""
        if next_target is not None:
            check_seq(next_target, "next target seq")
        d = self._data()
        now = time.time_ns()
        if messages:
            new_next = check_outbound(messages, d.next_sender_seq)
            for seq, data in messages:
                d.put(seq, bytes(data), now)
            d.next_sender_seq = new_next
        if next_target is not None:
            d.next_target_seq = next_target
        d.updated_ns = now

    def submit_batch(
        self, messages: Sequence[tuple[int, bytes]], next_target: int | None
    ) -> asyncio.Future[None]:
        """A pipelined ``save_batch`` (``base.submit_batch``): done at once."""
        check_outbound(messages, None)
        if next_target is not None:
            check_seq(next_target, "next target seq")
        self._data()  # closed: raise now, like the other stores
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        try:
            self.save_batch_now(messages, next_target)
        except StoreError as e:
            future.set_exception(e)
        else:
            future.set_result(None)
        return future

    async def set_next_sender(self, seq: int) -> None:
        check_seq(seq, "next sender seq")
        d = self._data()
        d.next_sender_seq = seq
        d.drop_from(seq)
        await asyncio.sleep(0)

    async def set_next_target(self, seq: int) -> None:
        check_seq(seq, "next target seq")
        d = self._data()
        d.next_target_seq = seq
        d.updated_ns = time.time_ns()

    async def get_range(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        check_range(begin, end)
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
        d.times.clear()
        d.updated_ns = time.time_ns()
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
