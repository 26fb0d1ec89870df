"""Session schedules: when a session may be logged on.

A schedule is non-stop, daily (``start_time`` to ``end_time`` every day,
crossing midnight when the end is earlier than the start) or weekly (from
``start_day start_time`` to ``end_day end_time``), in a time zone.  Times are
epoch nanoseconds, passed in: nothing here reads the clock.

A *period* is one stretch of session time.  Sequence numbers are reset when
a session logs on in a period later than the one its store was created in.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from ..config import ScheduleSettings

_NS = 1_000_000_000
_DAY = 86400
_WEEK = 7 * _DAY


def _secs(t: dt.time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


class Schedule:
    __slots__ = ("_boundary", "_end", "_end_day", "_non_stop", "_start", "_start_day", "_tz")

    def __init__(self, settings: ScheduleSettings) -> None:
        self._non_stop = settings.non_stop
        self._tz = zoneinfo.ZoneInfo(settings.time_zone)
        self._start = _secs(settings.start_time) if settings.start_time else 0
        self._end = _secs(settings.end_time) if settings.end_time else _DAY - 1
        self._start_day = settings.start_day.number if settings.start_day else None
        self._end_day = settings.end_day.number if settings.end_day else None
        self._boundary: int | None = None

    @property
    def non_stop(self) -> bool:
        return self._non_stop

    def _local(self, now_ns: int) -> dt.datetime:
        # Whole seconds (what the schedule resolves to), as an int: the float
        # now_ns / 1e9 rounds 23:59:59.9999996 up to the next second, which
        # put an instant just before a boundary after it.
        return dt.datetime.fromtimestamp(now_ns // _NS, tz=self._tz)

    def period_start(self, now_ns: int) -> int | None:
        """Epoch seconds (local wall clock as UTC-less key) of the start of the
        period containing ``now_ns``; None outside session time."""
        if self._non_stop:
            return 0
        local = self._local(now_ns)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        day_key = midnight.toordinal() * _DAY
        pos = local.hour * 3600 + local.minute * 60 + local.second
        if self._start_day is None or self._end_day is None:
            start, end = self._start, self._end
            if start <= end:
                return day_key + start if start <= pos <= end else None
            if pos >= start:
                return day_key + start
            if pos <= end:
                return day_key - _DAY + start
            return None
        week_pos = local.weekday() * _DAY + pos
        week_key = day_key - local.weekday() * _DAY
        start = self._start_day * _DAY + self._start
        end = self._end_day * _DAY + self._end
        if start <= end:
            return week_key + start if start <= week_pos <= end else None
        if week_pos >= start:
            return week_key + start
        if week_pos <= end:
            return week_key - _WEEK + start
        return None

    def is_session_time(self, now_ns: int) -> bool:
        return self._non_stop or self.period_start(now_ns) is not None

    def same_period(self, then_ns: int, now_ns: int) -> bool:
        """True when ``then_ns`` lies in the session period that contains ``now_ns``."""
        if self._non_stop:
            return True
        current = self.period_start(now_ns)
        return current is not None and self.period_start(then_ns) == current

    def next_boundary(self, now_ns: int) -> int | None:
        """The next time after ``now_ns`` at which session time starts or ends
        (to the second), or None for a non-stop session."""
        if self._non_stop:
            return None
        inside = self.is_session_time(now_ns)
        # Step forward a minute at a time for up to 8 days, then refine to the second;
        # cached, so this runs once per boundary, not per timer.
        step = 60 * _NS
        probe = now_ns
        for _ in range(8 * 24 * 60):
            probe += step
            if self.is_session_time(probe) != inside:
                lo = probe - step
                while probe - lo > _NS:
                    mid = (lo + probe) // 2
                    if self.is_session_time(mid) != inside:
                        probe = mid
                    else:
                        lo = mid
                # Boundaries fall on whole seconds: the first one after ``lo``.
                edge = (lo // _NS + 1) * _NS
                if edge <= probe and self.is_session_time(edge) != inside:
                    return edge
                return probe
        return None

    def next_check(self, now_ns: int) -> int | None:
        """Cached next boundary, recomputed once it has passed."""
        if self._non_stop:
            return None
        if self._boundary is None or self._boundary <= now_ns:
            self._boundary = self.next_boundary(now_ns)
        return self._boundary
