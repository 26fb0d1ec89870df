"""Session schedules: when a session may be logged on, and its periods.

Theory of operation
-------------------
Everything is decided on the *wall clock* of the schedule's zone (an IANA
zone, or the host's local zone with ``use_local_time``), as QuickFIX does:
an instant is turned into a local date, weekday and time of day (to the
nanosecond), and the settings are compared with those.

A *period* is one stretch of session time, named by the local date of the
day it starts on.  Sequence numbers are reset when a session logs on in a
period later than the one its store was created in.

* non-stop: always in session, one period forever;
* daily, ``start < end``: ``[start, end]`` each day, both ends included;
* daily, ``start > end``: from ``start`` to ``end`` the next day;
* daily, ``start == end``: a 24-hour session; the instant ``start`` begins a
  new period (QuickFIX's daily reset of a 24-hour session);
* ``weekdays``: a daily schedule whose periods only *start* on the listed
  days (a 22:00-06:00 session on ``mon`` runs Monday night to Tuesday);
* weekly, ``start_day start_time`` to ``end_day end_time``, crossing the
  week end when the end comes first in the week; with ``start_day ==
  end_day`` and ``end_time > start_time`` the session lasts the whole week
  (QuickFIX C++ widens such a range to a week, and so do we).

``next_boundary`` finds the next instant at which being in session, or the
period, changes: it lists every instant at which the wall clock reaches a
start, the instant after an end, a midnight (both readings of a wall time
repeated when clocks go back) or jumps (a change of UTC offset), and takes
the first of them whose state differs.  Between two such instants nothing
can change, which makes the answer exact and lets ``is_session_time`` answer
from a cached stretch ``[since, boundary)`` in two comparisons.

Times are epoch nanoseconds, passed in: nothing here reads the clock.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable

from ..config import ScheduleSettings

_NS = 1_000_000_000
_DAY_S = 86_400
_DAY = _DAY_S * _NS
_WEEK = 7 * _DAY
#: How far ahead boundaries are looked for: a period starts or ends at
#: least once a week, so eight days always contain the next change.
_HORIZON_DAYS = 8
_UTC = dt.UTC
#: Sentinel period for "not in session".
_OUT = -1


def _tod(t: dt.time) -> int:
    """Time of day in nanoseconds."""
    return ((t.hour * 60 + t.minute) * 60 + t.second) * _NS + t.microsecond * 1000


def _zone_functions(
    settings: ScheduleSettings,
) -> tuple[Callable[[int], dt.datetime], Callable[[dt.datetime, int], int]]:
    """(epoch seconds -> naive local wall time, naive wall time and fold -> epoch seconds)."""
    if settings.use_local_time:
        # The host's zone, through the C library as QuickFIX C++ does.
        def wall_local(sec: int) -> dt.datetime:
            return dt.datetime.fromtimestamp(sec)  # local on purpose

        def instant_local(wall: dt.datetime, fold: int) -> int:
            return int(wall.replace(fold=fold).timestamp())

        return wall_local, instant_local
    zone = zoneinfo.ZoneInfo(settings.time_zone)

    def wall_zone(sec: int) -> dt.datetime:
        return dt.datetime.fromtimestamp(sec, zone).replace(tzinfo=None)

    def instant_zone(wall: dt.datetime, fold: int) -> int:
        return int(wall.replace(tzinfo=zone, fold=fold).timestamp())

    return wall_zone, instant_zone


class Schedule:
    __slots__ = (
        "_boundary",
        "_cache",
        "_end",
        "_end_day",
        "_instant",
        "_non_stop",
        "_start",
        "_start_day",
        "_wall",
        "_weekdays",
    )

    def __init__(self, settings: ScheduleSettings) -> None:
        self._non_stop = settings.non_stop
        self._wall, self._instant = _zone_functions(settings)
        self._start = _tod(settings.start_time) if settings.start_time else 0
        self._end = _tod(settings.end_time) if settings.end_time else _DAY - _NS
        self._start_day = settings.start_day.number if settings.start_day else None
        self._end_day = settings.end_day.number if settings.end_day else None
        if (
            self._start_day is not None
            and self._start_day == self._end_day
            and self._end > self._start
        ):
            self._end = self._start  # one day's range widens to the whole week
        self._weekdays = (
            frozenset(day.number for day in settings.weekdays) if settings.weekdays else None
        )
        self._boundary: int | None = None
        # (since, until, period): the period (or _OUT) holds on [since, until).
        self._cache: tuple[int, int, int] = (0, 0, _OUT)

    @property
    def non_stop(self) -> bool:
        return self._non_stop

    # ------------------------------------------------------------------
    # where an instant falls
    # ------------------------------------------------------------------
    def _locate(self, now_ns: int) -> int:
        """The period containing ``now_ns`` (local date ordinal of its first
        day), or ``_OUT``."""
        sec, frac = divmod(now_ns, _NS)
        wall = self._wall(sec)
        day = wall.toordinal()
        tod = ((wall.hour * 60 + wall.minute) * 60 + wall.second) * _NS + frac
        start, end = self._start, self._end
        if self._start_day is None or self._end_day is None:
            # Daily: the newest period first (start == end: the start instant
            # begins a new period although the old one ends there too).
            candidates: tuple[int, ...]
            if start < end:
                candidates = (day,) if start <= tod <= end else ()
            else:
                candidates = ((day,) if tod >= start else ()) + ((day - 1,) if tod <= end else ())
            for first in candidates:
                if self._weekdays is None or (first - 1) % 7 in self._weekdays:
                    return first
            return _OUT
        weekday = wall.weekday()
        position = weekday * _DAY + tod
        low = self._start_day * _DAY + start
        high = self._end_day * _DAY + end
        this_week = day - weekday + self._start_day
        if low < high:
            return this_week if low <= position <= high else _OUT
        if position >= low:
            return this_week
        if position <= high:
            return this_week - 7
        return _OUT

    def _period(self, now_ns: int) -> int:
        since, until, period = self._cache
        if since <= now_ns < until:
            return period
        period = self._locate(now_ns)
        boundary = self._next_change(now_ns, period)
        self._cache = (now_ns, boundary if boundary is not None else now_ns + 1, period)
        return period

    # ------------------------------------------------------------------
    # public queries
    # ------------------------------------------------------------------
    def period_start(self, now_ns: int) -> int | None:
        """An identifier of the period containing ``now_ns`` (the proleptic
        ordinal of the local date it started on; 0 for a non-stop session),
        or None outside session time."""
        if self._non_stop:
            return 0
        period = self._period(now_ns)
        return None if period == _OUT else period

    def is_session_time(self, now_ns: int) -> bool:
        return self._non_stop or self._period(now_ns) != _OUT

    def same_period(self, then_ns: int, now_ns: int) -> bool:
        """True when ``then_ns`` lies in the session period that contains ``now_ns``."""
        if self._non_stop:
            return True
        current = self._period(now_ns)
        return current != _OUT and self._locate(then_ns) == current

    def next_boundary(self, now_ns: int) -> int | None:
        """The first instant after ``now_ns`` at which session time starts or
        ends or a new period begins (exact, to the nanosecond), or None for a
        non-stop session."""
        if self._non_stop:
            return None
        return self._next_change(now_ns, self._locate(now_ns))

    def next_check(self, now_ns: int) -> int | None:
        """Cached next boundary, recomputed once it has passed."""
        if self._non_stop:
            return None
        if self._boundary is None or self._boundary <= now_ns:
            self._boundary = self.next_boundary(now_ns)
        return self._boundary

    # ------------------------------------------------------------------
    # boundaries
    # ------------------------------------------------------------------
    def _offset(self, sec: int) -> int:
        """UTC offset (seconds) of the wall clock at ``sec``."""
        wall = self._wall(sec)
        return int(wall.replace(tzinfo=_UTC).timestamp()) - sec

    def _jumps(self, lo: int, hi: int) -> list[int]:
        """Epoch seconds in ``(lo, hi]`` at which the UTC offset changes (a
        scan every six hours, then a bisection of each change; zones change
        their offset months apart)."""
        found: list[int] = []
        step = 6 * 3600
        prev, prev_offset = lo, self._offset(lo)
        probe = lo
        while probe < hi:
            probe = min(probe + step, hi)
            offset = self._offset(probe)
            if offset != prev_offset:
                a, b = prev, probe  # offset(a) == prev_offset != offset(b)
                while b - a > 1:
                    mid = (a + b) // 2
                    if self._offset(mid) == prev_offset:
                        a = mid
                    else:
                        b = mid
                found.append(b)
            prev, prev_offset = probe, offset
        return found

    def _next_change(self, now_ns: int, period: int) -> int | None:
        sec = now_ns // _NS
        first_day = self._wall(sec).toordinal() - 1
        horizon = sec + (_HORIZON_DAYS + 1) * _DAY_S
        times = {0, self._start, self._end + 1}
        candidates: set[int] = {jump * _NS for jump in self._jumps(sec, horizon)}
        for ordinal in range(first_day, first_day + _HORIZON_DAYS + 2):
            midnight = dt.datetime.fromordinal(ordinal)
            for tod in times:
                whole, frac = divmod(tod, _NS)
                wall = midnight + dt.timedelta(seconds=whole)
                for fold in (0, 1):
                    candidates.add(self._instant(wall, fold) * _NS + frac)
        for instant in sorted(c for c in candidates if c > now_ns):
            if self._locate(instant) != period:
                return instant
        return None
