"""What peers that have not logged on may hold: admission to an acceptor.

Theory of operation
-------------------
Every new connection passes :meth:`Guard.admit` before a byte is read:

* a token bucket bounds the accept rate (``acceptRate``, ``acceptBurst``);
* connections not yet logged on are counted in total and per source
  address (``maxUnauthenticated``, ``maxUnauthenticatedPerSource``);
* an address whose Logons were refused ``failedLogonLimit`` times within
  ``failedLogonWindow`` seconds is blocked for ``failedLogonBlock`` seconds.

A refused connection is closed at once.  :meth:`Guard.release` ends a
connection's unauthenticated stretch (logged on, or closed).  Every table
here is bounded: per-source counts exist only for addresses with a live
unauthenticated connection, and the failure table keeps at most
``_MAX_TRACKED`` addresses (the oldest are forgotten first).

Refusals are counted by reason for the metrics (``refusal_totals``), and
logged at WARNING at most once per address and reason every
``_LOG_EVERY`` seconds, so a flood cannot flood the logs.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable
from typing import Final

from ..config import AcceptorLimits

log = logging.getLogger("pyfixmsg_plus.transport")

_MAX_TRACKED: Final = 10_000
_LOG_EVERY: Final = 10.0

#: reason -> connections refused before a Logon was read (process-wide).
_connections_refused: collections.Counter[str] = collections.Counter()
#: reason -> Logons refused (process-wide).
_logons_refused: collections.Counter[str] = collections.Counter()


#: Every reason a connection is refused for (its series exist from the start).
CONNECTION_REASONS: Final = ("rate", "limit", "source_limit", "throttled")
#: Every reason a Logon is refused for.
LOGON_REASONS: Final = ("address", "certificate", "credentials", "not_logon",
                        "unknown_session", "invalid_logon", "limit")


def refusal_totals() -> tuple[dict[str, int], dict[str, int]]:
    """(connections refused, Logons refused), by reason; every known reason
    is there (0 until it happens), so the series exist before the first."""
    return ({**dict.fromkeys(CONNECTION_REASONS, 0), **_connections_refused},
            {**dict.fromkeys(LOGON_REASONS, 0), **_logons_refused})


class Guard:
    """Admission control for one engine's acceptors."""

    def __init__(self, limits: AcceptorLimits, clock: Callable[[], float]) -> None:
        self.limits = limits
        self._clock = clock
        self._tokens = float(limits.accept_burst)
        self._refilled = clock()
        self.unauthenticated = 0
        self._per_source: dict[str, int] = {}
        # address -> (failures in the window, window start, blocked until)
        self._failures: collections.OrderedDict[str, tuple[int, float, float]] = (
            collections.OrderedDict())
        self._logged: collections.OrderedDict[tuple[str, str], float] = collections.OrderedDict()

    def admit(self, source: str) -> str | None:
        """Take a new connection from ``source``: None when admitted (then
        :meth:`release` must follow), else the refusal reason."""
        now = self._clock()
        lim = self.limits
        self._tokens = min(float(lim.accept_burst),
                           self._tokens + (now - self._refilled) * lim.accept_rate)
        self._refilled = now
        reason: str | None = None
        entry = self._failures.get(source)
        if entry is not None and entry[2] > now:
            reason = "throttled"
        elif self._tokens < 1:
            reason = "rate"
        elif self.unauthenticated >= lim.max_unauthenticated:
            reason = "limit"
        elif self._per_source.get(source, 0) >= lim.max_unauthenticated_per_source:
            reason = "source_limit"
        if reason is not None:
            _connections_refused[reason] += 1
            self.warn(source, reason, f"connection refused ({reason.replace('_', ' ')})")
            return reason
        self._tokens -= 1
        self.unauthenticated += 1
        self._per_source[source] = self._per_source.get(source, 0) + 1
        return None

    def release(self, source: str) -> None:
        self.unauthenticated -= 1
        left = self._per_source.get(source, 1) - 1
        if left > 0:
            self._per_source[source] = left
        else:
            self._per_source.pop(source, None)

    def logon_refused(self, source: str, reason: str) -> None:
        """Count a refused Logon against ``source`` (and block it past the limit)."""
        _logons_refused[reason] += 1
        now = self._clock()
        lim = self.limits
        count, since, blocked = self._failures.pop(source, (0, now, 0.0))
        if now - since > lim.failed_logon_window:
            count, since = 0, now
        count += 1
        if count >= lim.failed_logon_limit:
            blocked = now + lim.failed_logon_block
            count, since = 0, now
        self._failures[source] = (count, since, blocked)
        while len(self._failures) > _MAX_TRACKED:
            self._failures.popitem(last=False)

    def warn(self, source: str, reason: str, text: str) -> None:
        """Log ``text`` at WARNING, at most once per source and reason every
        ``_LOG_EVERY`` seconds (``text`` must already be safe to log)."""
        now = self._clock()
        key = (source, reason)
        last = self._logged.pop(key, None)
        if last is not None and now - last < _LOG_EVERY:
            self._logged[key] = last
            return
        self._logged[key] = now
        while len(self._logged) > _MAX_TRACKED:
            self._logged.popitem(last=False)
        log.warning("%s: %s", source, text)
