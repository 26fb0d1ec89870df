"""Readiness from state the engine already holds: no store call per probe.

Theory of operation: the drivers count every store transaction that
succeeded (``stats.store_write``) and every one that failed
(``stats.store_errors``), and a driver riding out a store outage says so
(``store_available``).  :class:`StoreHealth` compares those counters with
what it saw last time and keeps the time of the last observed success and
of the last observed failure.  The store is *failing* when a failure was
seen after the last success, or while a driver rides out an outage.

The answer names no session and carries no error text (the probes need no
token): only counts and the kind of error.

Once failing, nothing else may ever succeed again (an acceptor that is not
ready gets no logons, so no writes): the health task then checks the store
itself, one read every ``recheck`` seconds, until it answers.  That is the
only store call readiness causes, at a fixed rate, never per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from typing import Protocol

from ..session.stats import SessionStats
from ..store.base import SessionStore

log = logging.getLogger("pyfixmsg_plus.engine")


class Watched(Protocol):
    """What readiness reads of a session driver."""

    @property
    def session_id(self) -> str: ...

    @property
    def stats(self) -> SessionStats: ...

    @property
    def store_available(self) -> bool: ...

    @property
    def store(self) -> SessionStore: ...


class StoreHealth:
    """Last observed store success and failure (see the module notes)."""

    def __init__(self, drivers: Callable[[], Iterable[Watched]],
                 clock: Callable[[], float], *, recheck: float = 5.0) -> None:
        self._drivers = drivers
        self._clock = clock
        self.recheck = recheck
        self._seen: dict[str, tuple[int, int]] = {}
        self.last_ok: float | None = None
        self.last_failure: float | None = None
        self.last_error = ""
        self._outages: list[str] = []
        self._task: asyncio.Task[None] | None = None

    def observe(self) -> None:
        """Read the drivers' counters (no I/O)."""
        now = self._clock()
        outages = []
        for driver in list(self._drivers()):
            stats = driver.stats
            counts = (stats.store_write.n, stats.store_errors)
            before = self._seen.get(driver.session_id, (0, 0))
            if counts != before:
                self._seen[driver.session_id] = counts
                if counts[1] > before[1]:
                    self.last_failure = now
                    self.last_error = "a session's store transaction failed"
                if counts[0] > before[0] and counts[1] == before[1]:
                    self.last_ok = now
            if not driver.store_available:
                outages.append(driver.session_id)
        self._outages = outages

    @property
    def failing(self) -> bool:
        if self._outages:
            return True
        return self.last_failure is not None and (
            self.last_ok is None or self.last_failure >= self.last_ok)

    def problems(self) -> list[str]:
        self.observe()
        if self._outages:
            return [f"message store unavailable ({len(self._outages)} session(s) riding "
                    "out the outage)"]
        if self.failing:
            return [f"message store failing ({self.last_error})"]
        return []

    # -- the re-check task ----------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="store health")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.recheck)
            self.observe()
            if self.failing and not self._outages:
                await self.check_once()

    async def check_once(self) -> None:
        """One read of the store (the first session's), recorded as a success
        or a failure."""
        driver = next(iter(self._drivers()), None)
        if driver is None:
            return
        try:
            await driver.store.load()
        except Exception as exc:
            self.last_failure = self._clock()
            # The probe's answer names the kind of error only: it is unauthenticated.
            self.last_error = f"last check: {type(exc).__name__}"
            log.debug("message store still failing: %s", exc)
        else:
            self.last_ok = self._clock()
