"""Encryption at rest for any message store: a wrapper, not a backend.

:class:`EncryptedMessageStore` wraps the store a URL opened (SQLite,
PostgreSQL, Redis, memory...) and seals every message body before the
backend sees it; bodies read back (resends, ``fixplus store`` queries,
exports) are opened again, and a record that does not open where it is read
raises ``IntegrityError`` (:mod:`.keyring`): it is never handed to the
session, so it is never sent.  Sequence numbers, creation times and the
backend's own columns (sent time) stay in clear; the message type column a
backend derives from the body is empty for sealed records.

The data keys live in the store's ledger (:mod:`.ledger`), wrapped by the
key provider's KEK (:mod:`.keyprovider`).  A background task asks the
provider for its newest KEK version every ``check_interval`` seconds: a
rotation in Vault is picked up without a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import struct
from collections.abc import Iterable, Sequence

from .admin import (
    MessageQuery,
    PruneResult,
    SessionExport,
    SessionInfo,
    StoredMessage,
    admin_of,
    msg_type_of,
)
from .audit import AuditSink
from .base import MessageStore, SessionKey, SessionStore, StoreState, save_batch
from .errors import check_outbound
from .keyring import KeyRing

log = logging.getLogger("pyfixmsg_plus.store.encryption")

__all__ = ["EncryptedMessageStore", "EncryptedSessionStore"]

OUT = "out"


class EncryptedSessionStore:
    """One session's store with sealed message bodies."""

    def __init__(self, inner: SessionStore, ring: KeyRing) -> None:
        self._inner = inner
        self._ring = ring
        self._name = inner.key.value

    @property
    def key(self) -> SessionKey:
        return self._inner.key

    async def _seal(self, messages: Sequence[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
        ring = self._ring
        try:
            count = len(messages)
            if ring.needs_new_key(count):
                # the first key, or a key provider slower than 2**16 records
                await ring.ensure_active(max(1, count))
            else:
                ring.prepare_next()
            name = self._name
            # the backend checks the sealed batch's sequence numbers
            return [(seq, ring.seal(name, OUT, seq, data)) for seq, data in messages]
        except (TypeError, ValueError, OverflowError, struct.error):
            check_outbound(messages, None)  # says what is wrong, as the backend would
            raise

    async def load(self) -> StoreState:
        return await self._inner.load()

    async def save_outbound(self, messages: Sequence[tuple[int, bytes]]) -> None:
        await self._inner.save_outbound(await self._seal(messages))

    async def save_batch(
        self, messages: Sequence[tuple[int, bytes]], next_target: int | None
    ) -> None:
        await save_batch(self._inner, await self._seal(messages), next_target)

    async def set_next_sender(self, seq: int) -> None:
        await self._inner.set_next_sender(seq)

    async def set_next_target(self, seq: int) -> None:
        await self._inner.set_next_target(seq)

    async def get_range(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        rows = await self._inner.get_range(begin, end)
        return [(seq, await self._ring.open(self._name, OUT, seq, data)) for seq, data in rows]

    async def reset(self, creation_time_ns: int) -> None:
        await self._inner.reset(creation_time_ns)

    async def close(self) -> None:
        await self._inner.close()


class EncryptedMessageStore:
    """A message store whose bodies are sealed (see the module's docs).

    Administration (``fixplus store``) passes through, bodies opened on the
    way out and sealed on the way in (``import_session``).
    """

    def __init__(self, inner: MessageStore, ring: KeyRing, check_interval: float = 60.0) -> None:
        self.inner = inner
        self.ring = ring
        self.check_interval = check_interval
        self._task: asyncio.Task[None] | None = None
        #: The audit trail's ``event`` (set when the audit trail is on).
        self.audit: AuditSink | None = None

    async def start(self, *, first_key: bool = True) -> None:
        """The first data key (``first_key``; else made by the first write),
        then the rotation watch."""
        if first_key:
            await self.ring.ensure_active()
        if self._task is None and self.check_interval > 0:
            self._task = asyncio.create_task(self._watch(), name="fixplus-key-rotation")

    async def check_rotation(self) -> bool:
        """A new data key if the provider's newest KEK version changed."""
        latest = await self.ring.provider.latest_version()
        if self.ring.active_version is not None and latest != self.ring.active_version:
            log.info("encryption: KEK %s is at version %d; new data keys use it",
                     self.ring.provider.name, latest)
            dek_id = await self.ring.new_active()
            if self.audit is not None:
                self.audit("keys.rotated", key=self.ring.provider.name, version=latest,
                           data_key=dek_id)
            return True
        return False

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.check_interval)
            try:
                await self.check_rotation()
            except Exception as exc:
                # keep sealing with the current data key; try again later
                log.warning("encryption: cannot check KEK %s for a new version: %s",
                            self.ring.provider.name, type(exc).__name__)

    async def open(self, key: SessionKey) -> EncryptedSessionStore:
        return EncryptedSessionStore(await self.inner.open(key), self.ring)

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        try:
            await self.inner.close()
        finally:
            await self.ring.close()
            await self.ring.ledger.close()
            await self.ring.provider.close()

    # -- administration ---------------------------------------------------

    async def _opened(self, key: SessionKey, m: StoredMessage) -> StoredMessage:
        data = await self.ring.open(key.value, OUT, m.seq, m.data)
        return dataclasses.replace(m, data=data, msg_type=msg_type_of(data))

    async def sessions(self) -> list[SessionInfo]:
        return await admin_of(self.inner).sessions()

    async def query(self, key: SessionKey, q: MessageQuery) -> list[StoredMessage]:
        if q.msg_types is None:
            rows = await admin_of(self.inner).query(key, q)
            return [await self._opened(key, m) for m in rows]
        # the backend cannot see the message types of sealed bodies
        everything = dataclasses.replace(q, msg_types=None, limit=None)
        out = []
        for m in await admin_of(self.inner).query(key, everything):
            opened = await self._opened(key, m)
            if opened.msg_type in q.msg_types:
                out.append(opened)
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
        return await admin_of(self.inner).prune(
            messages_before_ns=messages_before_ns,
            sessions_idle_before_ns=sessions_idle_before_ns, keep=keep)

    async def export_session(self, key: SessionKey) -> SessionExport | None:
        data = await admin_of(self.inner).export_session(key)
        if data is None:
            return None
        return dataclasses.replace(
            data, messages=[await self._opened(key, m) for m in data.messages])

    async def import_session(self, data: SessionExport, *, replace: bool = False) -> None:
        await self.ring.ensure_active(max(1, len(data.messages)))
        name = data.key.value
        sealed = [dataclasses.replace(m, data=self.ring.seal(name, OUT, m.seq, m.data),
                                      msg_type=None) for m in data.messages]
        await admin_of(self.inner).import_session(
            dataclasses.replace(data, messages=sealed), replace=replace)
