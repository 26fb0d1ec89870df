"""A message store wrapper that writes resets and sequence changes to the
audit trail (:mod:`.audit`); everything else passes through."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .admin import MessageQuery, PruneResult, SessionExport, SessionInfo, StoredMessage, admin_of
from .audit import AuditSink
from .base import MessageStore, SessionKey, SessionStore, StoreState, save_batch


class AuditedSessionStore:
    def __init__(self, inner: SessionStore, audit: AuditSink) -> None:
        self._inner = inner
        self._audit = audit

    @property
    def key(self) -> SessionKey:
        return self._inner.key

    async def load(self) -> StoreState:
        return await self._inner.load()

    async def save_outbound(self, messages: Sequence[tuple[int, bytes]]) -> None:
        await self._inner.save_outbound(messages)

    async def save_batch(
        self, messages: Sequence[tuple[int, bytes]], next_target: int | None
    ) -> None:
        await save_batch(self._inner, messages, next_target)

    async def set_next_sender(self, seq: int) -> None:
        await self._inner.set_next_sender(seq)
        self._audit("sequence.set_sender", session=self.key.value, next_sender=seq)

    async def set_next_target(self, seq: int) -> None:
        await self._inner.set_next_target(seq)

    async def get_range(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        return await self._inner.get_range(begin, end)

    async def reset(self, creation_time_ns: int) -> None:
        await self._inner.reset(creation_time_ns)
        self._audit("store.reset", session=self.key.value, creation_time_ns=creation_time_ns)

    async def close(self) -> None:
        await self._inner.close()


class AuditedMessageStore:
    def __init__(self, inner: MessageStore, audit: AuditSink) -> None:
        self.inner = inner
        self.audit = audit

    async def open(self, key: SessionKey) -> AuditedSessionStore:
        return AuditedSessionStore(await self.inner.open(key), self.audit)

    async def close(self) -> None:
        await self.inner.close()

    async def sessions(self) -> list[SessionInfo]:
        return await admin_of(self.inner).sessions()

    async def query(self, key: SessionKey, q: MessageQuery) -> list[StoredMessage]:
        return await admin_of(self.inner).query(key, q)

    async def prune(
        self,
        *,
        messages_before_ns: int | None = None,
        sessions_idle_before_ns: int | None = None,
        keep: Iterable[SessionKey] = (),
    ) -> PruneResult:
        result = await admin_of(self.inner).prune(
            messages_before_ns=messages_before_ns,
            sessions_idle_before_ns=sessions_idle_before_ns, keep=keep)
        if result.messages or result.sessions:
            self.audit("store.prune", messages=result.messages, sessions=result.sessions)
        return result

    async def export_session(self, key: SessionKey) -> SessionExport | None:
        return await admin_of(self.inner).export_session(key)

    async def import_session(self, data: SessionExport, *, replace: bool = False) -> None:
        await admin_of(self.inner).import_session(data, replace=replace)
        self.audit("store.import", session=data.key.value, replace=replace)
