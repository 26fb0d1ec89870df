"""Retention: deleting old messages and idle sessions from a message store.

Used by ``fixplus store prune`` and, with the ``retention`` setting, by the
running engine (:class:`RetentionTask`, one prune at start then one every
``retention.interval`` seconds).  Pruning messages keeps sequence numbers;
a ResendRequest for a pruned message is answered with a gap fill.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable

from ..config import RetentionSettings
from ..errors import FixError
from .admin import PruneResult, admin_of
from .base import MessageStore, SessionKey

log = logging.getLogger("pyfixmsg_plus.store")

_DAY_NS = 86_400 * 10**9


def cutoffs(
    max_age_days: float | None, session_idle_days: float | None, now_ns: int | None = None
) -> tuple[int | None, int | None]:
    """The (messages_before_ns, sessions_idle_before_ns) for day counts."""
    now = time.time_ns() if now_ns is None else now_ns
    return (
        None if max_age_days is None else now - int(max_age_days * _DAY_NS),
        None if session_idle_days is None else now - int(session_idle_days * _DAY_NS),
    )


async def prune(
    store: MessageStore,
    max_age_days: float | None,
    session_idle_days: float | None,
    keep: Iterable[SessionKey] = (),
    now_ns: int | None = None,
) -> PruneResult:
    before, idle = cutoffs(max_age_days, session_idle_days, now_ns)
    if before is None and idle is None:
        return PruneResult()
    return await admin_of(store).prune(
        messages_before_ns=before, sessions_idle_before_ns=idle, keep=keep)


class RetentionTask:
    """Prunes ``store`` periodically while the engine runs."""

    def __init__(self, store: MessageStore, settings: RetentionSettings,
                 keep: Callable[[], Iterable[SessionKey]]) -> None:
        self.store = store
        self.settings = settings
        self.keep = keep
        self.runs = 0
        self._task: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        s = self.settings
        return s.max_age_days is not None or s.session_idle_days is not None

    def start(self) -> None:
        if self.enabled and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="retention")

    async def run_once(self) -> PruneResult:
        s = self.settings
        result = await prune(self.store, s.max_age_days, s.session_idle_days, list(self.keep()))
        self.runs += 1
        if result.messages or result.sessions:
            log.info("retention: deleted %d message(s) and %d idle session(s)",
                     result.messages, result.sessions)
        return result

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except FixError as exc:  # the store is down: try again next time
                log.warning("retention: prune failed: %s", exc)
            await asyncio.sleep(self.settings.interval)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
