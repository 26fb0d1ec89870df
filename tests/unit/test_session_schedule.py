"""Session schedules: daily, across midnight, weekly, time zones with DST,
non-stop, periods and boundaries (no clock: times are passed in)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyfixmsg_plus.engine.config import ScheduleSettings
from pyfixmsg_plus.engine.session import Schedule

NS = 1_000_000_000


def sched(**kw: Any) -> Schedule:
    data: dict[str, Any] = {"non_stop": False}
    data.update(kw)
    return Schedule(ScheduleSettings.model_validate(data))


def at(text: str, tz: str = "UTC") -> int:
    """Epoch ns of a local wall-clock time ``YYYY-MM-DD HH:MM:SS`` in ``tz``."""
    local = dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz))
    return int(local.timestamp()) * NS


def test_non_stop() -> None:
    s = Schedule(ScheduleSettings())
    assert s.non_stop and s.is_session_time(0) and s.is_session_time(at("2030-01-01 00:00:00"))
    assert s.same_period(0, at("2030-01-01 00:00:00"))
    assert s.next_boundary(0) is None and s.next_check(0) is None


def test_daily_window() -> None:
    s = sched(start_time="08:00:00", end_time="17:00:00")
    assert not s.is_session_time(at("2026-03-02 07:59:59"))
    assert s.is_session_time(at("2026-03-02 08:00:00"))
    assert s.is_session_time(at("2026-03-02 17:00:00"))
    assert not s.is_session_time(at("2026-03-02 17:00:01"))
    assert s.same_period(at("2026-03-02 08:00:00"), at("2026-03-02 16:00:00"))
    assert not s.same_period(at("2026-03-01 09:00:00"), at("2026-03-02 09:00:00"))
    assert not s.same_period(at("2026-03-02 07:00:00"), at("2026-03-02 09:00:00"))


def test_daily_window_across_midnight() -> None:
    s = sched(start_time="22:00:00", end_time="06:00:00")
    assert s.is_session_time(at("2026-03-02 23:00:00"))
    assert s.is_session_time(at("2026-03-03 05:59:59"))
    assert not s.is_session_time(at("2026-03-03 12:00:00"))
    # 23:00 and 05:00 the next morning are one period; 05:00 the same morning is not.
    assert s.same_period(at("2026-03-02 23:00:00"), at("2026-03-03 05:00:00"))
    assert not s.same_period(at("2026-03-02 05:00:00"), at("2026-03-02 23:00:00"))


def test_weekly_window() -> None:
    s = sched(start_day="sun", start_time="18:00:00", end_day="fri", end_time="17:00:00")
    # 2026-03-01 is a Sunday.
    assert not s.is_session_time(at("2026-03-01 17:59:59"))
    assert s.is_session_time(at("2026-03-01 18:00:00"))
    assert s.is_session_time(at("2026-03-04 03:00:00"))  # Wednesday night
    assert s.is_session_time(at("2026-03-06 17:00:00"))
    assert not s.is_session_time(at("2026-03-06 17:00:01"))
    assert not s.is_session_time(at("2026-03-07 12:00:00"))  # Saturday
    assert s.same_period(at("2026-03-01 18:00:00"), at("2026-03-06 16:00:00"))
    assert not s.same_period(at("2026-03-06 16:00:00"), at("2026-03-08 19:00:00"))


def test_weekly_window_within_week() -> None:
    s = sched(start_day="mon", start_time="09:00:00", end_day="wed", end_time="10:00:00")
    assert s.is_session_time(at("2026-03-03 12:00:00"))  # Tuesday
    assert not s.is_session_time(at("2026-03-05 12:00:00"))  # Thursday
    assert not s.is_session_time(at("2026-03-02 08:59:00"))  # Monday early


def test_time_zone_with_dst() -> None:
    tz = "America/New_York"
    s = sched(start_time="08:00:00", end_time="17:00:00", time_zone=tz)
    # Winter (EST, UTC-5) and summer (EDT, UTC-4): the window follows local time.
    assert s.is_session_time(at("2026-01-15 13:30:00"))  # 08:30 EST
    assert not s.is_session_time(at("2026-01-15 12:30:00"))  # 07:30 EST
    assert s.is_session_time(at("2026-07-15 12:30:00"))  # 08:30 EDT
    assert not s.is_session_time(at("2026-07-15 21:30:00"))  # 17:30 EDT
    assert s.is_session_time(at("2026-03-08 08:00:00", tz))  # the day DST starts
    assert s.next_boundary(at("2026-03-08 12:00:00", tz)) == at("2026-03-08 17:00:01", tz)


def test_dst_start_night_across_midnight() -> None:
    tz = "America/New_York"
    s = sched(start_time="01:00:00", end_time="04:00:00", time_zone=tz)
    # 02:00-03:00 does not exist on 2026-03-08; 01:59 EST is followed by 03:00 EDT.
    assert s.is_session_time(at("2026-03-08 01:59:00", tz))
    assert s.is_session_time(at("2026-03-08 03:30:00", tz))
    assert s.same_period(at("2026-03-08 01:30:00", tz), at("2026-03-08 03:30:00", tz))


def test_next_boundary_daily() -> None:
    s = sched(start_time="08:00:00", end_time="17:00:00")
    assert s.next_boundary(at("2026-03-02 12:00:00")) == at("2026-03-02 17:00:01")
    assert s.next_boundary(at("2026-03-02 18:00:00")) == at("2026-03-03 08:00:00")


def test_next_boundary_weekly_over_weekend() -> None:
    s = sched(start_day="mon", start_time="00:00:00", end_day="fri", end_time="23:59:59")
    assert s.next_boundary(at("2026-03-07 12:00:00")) == at("2026-03-09 00:00:00")


def test_next_check_is_cached_until_passed() -> None:
    s = sched(start_time="08:00:00", end_time="17:00:00")
    first = s.next_check(at("2026-03-02 12:00:00"))
    assert first == at("2026-03-02 17:00:01")
    assert s.next_check(at("2026-03-02 13:00:00")) == first
    assert s.next_check(first) == at("2026-03-03 08:00:00")


@pytest.mark.parametrize("start,end", [("00:00:00", "23:59:59")])
def test_whole_day_window_periods_change_at_midnight(start: str, end: str) -> None:
    s = sched(start_time=start, end_time=end)
    assert s.is_session_time(at("2026-03-02 23:59:59"))
    assert not s.same_period(at("2026-03-02 23:59:59"), at("2026-03-03 00:00:00"))


def test_outside_time_has_no_period() -> None:
    s = sched(start_time="08:00:00", end_time="17:00:00")
    assert s.period_start(at("2026-03-02 18:00:00")) is None
    assert not s.same_period(at("2026-03-02 18:00:00"), at("2026-03-02 18:00:01"))


@settings(max_examples=40, deadline=None)
@given(now=st.integers(at("2026-01-01 00:00:00"), at("2027-01-01 00:00:00")),
       start=st.integers(0, 86399), length=st.integers(60, 86000),
       tz=st.sampled_from(["UTC", "America/New_York", "Europe/London", "Asia/Tokyo"]))
def test_next_boundary_is_the_exact_edge(now: int, start: int, length: int, tz: str) -> None:
    """Regression: ``next_boundary`` stopped refining one second short, so it
    returned a time up to a second after the edge."""
    end = (start + length) % 86400

    def clock(sec: int) -> str:
        return f"{sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}"

    s = sched(start_time=clock(start), end_time=clock(end), time_zone=tz)
    edge = s.next_boundary(now)
    assert edge is not None and edge > now and edge % NS == 0
    inside = s.is_session_time(now)
    assert s.is_session_time(edge) != inside
    assert s.is_session_time(edge - NS // 1000) == inside


def test_an_instant_just_before_a_boundary_is_before_it() -> None:
    """Regression (found by the property above): nanoseconds went through a
    float, and 0.9999996 s before midnight counted as midnight."""
    s = sched(start_time="00:00:00", end_time="00:01:00", time_zone="America/New_York")
    midnight_ny = at("2027-01-01 05:00:00")
    assert not s.is_session_time(midnight_ny - 596)
    assert s.is_session_time(midnight_ny)
    assert s.next_boundary(at("2027-01-01 04:59:00") - 596) == midnight_ny
