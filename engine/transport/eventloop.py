"""The event loops the engine can run on, including a busy-polling one.

``eventLoop`` picks the loop ``fixplus run`` uses: the standard library's
selector loop or uvloop.  ``busyPollUs`` makes the standard loop *poll* its
sockets for up to that many microseconds before it sleeps in the kernel.

Why polling helps: on a virtual machine, or any host whose idle CPUs drop
into a power-saving state, waking a sleeping process when a packet arrives
costs tens of microseconds (an interrupt to the idle CPU, the hypervisor
scheduling it, the wake-up itself).  A request/response exchange pays it
once per hop, and it is most of the latency of a FIX round trip on such a
host.  A process that is still polling when the answer arrives skips it.

What it costs: a process that polls uses its CPU for up to ``busyPollUs``
after every event, whether anything comes or not.  Between polls it calls
``sched_yield()``, so another runnable thread on the same CPU gets it at
once (on a crowded host, polling then costs about what sleeping does), but
the CPU time shows in ``top`` and counts against a container's CPU limit.
It pays where the engine has CPUs of its own (Guaranteed QoS pods with the
static CPU manager, a pinned process) and latency matters more than CPU.
See docs/performance.md for measured figures.
"""

from __future__ import annotations

import asyncio
import os
import selectors
import time
from collections.abc import Callable
from typing import Literal

from ..config import BUSY_POLL_NEEDS_ASYNCIO, MAX_BUSY_POLL_US
from ..errors import ConfigError

__all__ = [
    "MAX_BUSY_POLL_US",
    "BusyPollSelector",
    "loop_factory",
    "new_event_loop",
    "polling_totals",
]

_yield: Callable[[], None] = getattr(os, "sched_yield", lambda: None)

#: Waits of every polling selector of this process: [answered while polling,
#: slept in the kernel].  Only grows (``fixplus_event_loop_selects_total``).
_TOTALS = [0, 0]


def polling_totals() -> tuple[int, int]:
    """(waits answered while polling, waits that slept), over this process."""
    return _TOTALS[0], _TOTALS[1]


class BusyPollSelector(selectors.DefaultSelector):
    """The platform's default selector, polling for a while before it blocks.

    ``select(timeout)`` with a timeout above zero (or none) first asks the
    kernel without waiting, again and again, for up to ``budget_s`` seconds
    (never past ``timeout``), yielding the CPU between two asks; only then
    does it wait for the rest of the timeout.  ``select(0)`` is unchanged.
    The events it returns are exactly those the plain selector would have
    returned at that moment.
    """

    def __init__(self, budget_s: float) -> None:
        if not budget_s >= 0:
            raise ValueError(f"busy-poll budget must be >= 0 seconds, not {budget_s!r}")
        super().__init__()
        self.budget_s = budget_s
        #: select() calls answered while polling / after blocking (for tests
        #: and for the curious; plain ints, no locking: one loop thread).
        self.polled_hits = 0
        self.blocking_waits = 0

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if self.budget_s <= 0 or (timeout is not None and timeout <= 0):
            return super().select(timeout)
        start = time.perf_counter()
        budget = self.budget_s if timeout is None else min(self.budget_s, timeout)
        deadline = start + budget
        poll = super().select
        while True:
            ready = poll(0)
            if ready:
                self.polled_hits += 1
                _TOTALS[0] += 1
                return ready
            now = time.perf_counter()
            if now >= deadline:
                break
            _yield()
        self.blocking_waits += 1
        _TOTALS[1] += 1
        if timeout is None:
            return poll(None)
        return poll(max(0.0, timeout - (now - start)))


def _check_budget(busy_poll_us: int) -> None:
    if not 0 <= busy_poll_us <= MAX_BUSY_POLL_US:
        raise ConfigError(
            f"busyPollUs must be between 0 and {MAX_BUSY_POLL_US}, not {busy_poll_us}")


def new_event_loop(busy_poll_us: int = 0) -> asyncio.AbstractEventLoop:
    """A standard-library selector event loop; polling first when ``busy_poll_us`` > 0."""
    _check_budget(busy_poll_us)
    if busy_poll_us == 0:
        return asyncio.SelectorEventLoop()
    return asyncio.SelectorEventLoop(BusyPollSelector(busy_poll_us / 1e6))


def loop_factory(kind: Literal["asyncio", "uvloop"], busy_poll_us: int = 0,
                 ) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The loop factory for ``asyncio.Runner`` of ``eventLoop`` / ``busyPollUs``.

    None means asyncio's default loop.  Raises :class:`ConfigError` when
    uvloop is asked for but not installed, or combined with polling (uvloop
    waits inside libuv, where Python cannot poll).
    """
    if kind == "uvloop":
        if busy_poll_us:
            raise ConfigError(BUSY_POLL_NEEDS_ASYNCIO)
        try:
            import uvloop  # noqa: PLC0415 - an optional dependency
        except ImportError as exc:
            raise ConfigError(
                "eventLoop: uvloop is not installed (pip install 'pyfixmsg-plus[uvloop]', "
                "or set eventLoop: asyncio)") from exc
        factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
        return factory
    if busy_poll_us == 0:
        return None
    _check_budget(busy_poll_us)  # now, not when the loop is made
    return lambda: new_event_loop(busy_poll_us)
