"""Session schedules: daily, across midnight, 24 hours, weekdays, weekly,
time zones with DST, the host's zone, non-stop, periods and boundaries (no
clock: times are passed in).  tests/interop/test_schedule_oracles.py compares
the same answers with QuickFIX C++ and QuickFIX/J."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from pyfixmsg_plus.engine.config import ScheduleSettings
from pyfixmsg_plus.engine.session import Schedule

NS = 1_000_000_000
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


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
    # The end is an instant: a nanosecond later is outside (as in QuickFIX).
    assert not s.is_session_time(at("2026-03-02 17:00:00") + 1)
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
    assert s.same_period(at("2026-03-02 22:00:00"), at("2026-03-03 06:00:00"))  # both ends


def test_midnight_to_midnight_is_a_24_hour_session() -> None:
    """QuickFIX's usual 24-hour session: always open, a new period each day."""
    s = sched(start_time="00:00:00", end_time="00:00:00")
    day = at("2026-03-02 00:00:00")
    for second in range(0, 86400, 97):
        assert s.is_session_time(day + second * NS)
    assert s.is_session_time(day - 1) and s.is_session_time(day)
    assert not s.same_period(day - 1, day)
    assert s.same_period(day, day + 86399 * NS)
    assert s.next_boundary(day + 5 * NS) == day + 86400 * NS


def test_24_hour_session_begins_its_periods_at_the_start_time() -> None:
    s = sched(start_time="17:00:00", end_time="17:00:00", time_zone="America/New_York")
    tz = "America/New_York"
    assert s.is_session_time(at("2026-03-02 16:59:59", tz))
    assert s.same_period(at("2026-03-02 17:00:00", tz), at("2026-03-03 16:59:59", tz))
    assert not s.same_period(at("2026-03-02 16:59:59", tz), at("2026-03-02 17:00:00", tz))
    assert s.next_boundary(at("2026-03-02 12:00:00", tz)) == at("2026-03-02 17:00:00", tz)


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


def test_weekly_window_over_the_week_end() -> None:
    s = sched(start_day="fri", start_time="17:00:00", end_day="tue", end_time="08:00:00")
    assert s.is_session_time(at("2026-03-08 12:00:00"))  # Sunday
    assert s.same_period(at("2026-03-07 12:00:00"), at("2026-03-09 12:00:00"))  # Sat, Mon
    assert not s.is_session_time(at("2026-03-04 12:00:00"))  # Wednesday


def test_weekly_with_one_day_is_a_week_long() -> None:
    """StartDay = EndDay: a week from the start (QuickFIX C++ widens a range
    inside one day to the whole week)."""
    whole = sched(start_day="mon", start_time="08:00:00", end_day="mon", end_time="17:00:00")
    for day in range(2, 9):  # 2026-03-02 is a Monday
        assert whole.is_session_time(at(f"2026-03-{day:02} 12:00:00"))
    assert whole.is_session_time(at("2026-03-02 07:00:00"))
    assert not whole.same_period(at("2026-03-02 07:59:59"), at("2026-03-02 08:00:00"))
    assert whole.same_period(at("2026-03-02 08:00:00"), at("2026-03-09 07:59:59"))
    gap = sched(start_day="mon", start_time="17:00:00", end_day="mon", end_time="08:00:00")
    assert not gap.is_session_time(at("2026-03-02 12:00:00"))
    assert gap.is_session_time(at("2026-03-05 12:00:00"))
    assert gap.same_period(at("2026-03-02 17:00:00"), at("2026-03-09 08:00:00"))


def test_weekdays_daily_window() -> None:
    s = sched(start_time="08:00:00", end_time="17:00:00", weekdays=["mon", "wed"])
    assert s.is_session_time(at("2026-03-02 12:00:00"))  # Monday
    assert not s.is_session_time(at("2026-03-03 12:00:00"))  # Tuesday
    assert s.is_session_time(at("2026-03-04 12:00:00"))  # Wednesday
    assert s.next_boundary(at("2026-03-02 18:00:00")) == at("2026-03-04 08:00:00")


def test_weekdays_count_the_day_a_session_starts_on() -> None:
    s = sched(start_time="22:00:00", end_time="06:00:00", weekdays=["mon"])
    assert s.is_session_time(at("2026-03-02 23:00:00"))  # Monday night
    assert s.is_session_time(at("2026-03-03 05:00:00"))  # ... into Tuesday
    assert s.same_period(at("2026-03-02 23:00:00"), at("2026-03-03 05:00:00"))
    assert not s.is_session_time(at("2026-03-02 05:00:00"))  # Sunday's night
    assert not s.is_session_time(at("2026-03-03 23:00:00"))  # Tuesday night


def test_weekdays_24_hour_sessions() -> None:
    s = sched(start_time="00:00:00", end_time="00:00:00", weekdays=["fri"])
    assert s.is_session_time(at("2026-03-06 00:00:00"))
    assert s.is_session_time(at("2026-03-07 00:00:00"))  # Friday's end, included
    assert s.same_period(at("2026-03-06 00:00:00"), at("2026-03-07 00:00:00"))
    assert not s.is_session_time(at("2026-03-07 00:00:00") + 1)
    assert not s.is_session_time(at("2026-03-05 12:00:00"))


def test_time_zone_with_dst() -> None:
    tz = "America/New_York"
    s = sched(start_time="08:00:00", end_time="17:00:00", time_zone=tz)
    # Winter (EST, UTC-5) and summer (EDT, UTC-4): the window follows local time.
    assert s.is_session_time(at("2026-01-15 13:30:00"))  # 08:30 EST
    assert not s.is_session_time(at("2026-01-15 12:30:00"))  # 07:30 EST
    assert s.is_session_time(at("2026-07-15 12:30:00"))  # 08:30 EDT
    assert not s.is_session_time(at("2026-07-15 21:30:00"))  # 17:30 EDT
    assert s.is_session_time(at("2026-03-08 08:00:00", tz))  # the day DST starts
    assert s.next_boundary(at("2026-03-08 12:00:00", tz)) == at("2026-03-08 17:00:00", tz) + 1


def test_dst_start_night_across_midnight() -> None:
    tz = "America/New_York"
    s = sched(start_time="01:00:00", end_time="04:00:00", time_zone=tz)
    # 02:00-03:00 does not exist on 2026-03-08; 01:59 EST is followed by 03:00 EDT.
    assert s.is_session_time(at("2026-03-08 01:59:00", tz))
    assert s.is_session_time(at("2026-03-08 03:30:00", tz))
    assert s.same_period(at("2026-03-08 01:30:00", tz), at("2026-03-08 03:30:00", tz))


def test_a_start_the_clock_skips_opens_when_the_clock_passes_it() -> None:
    tz = "America/New_York"
    s = sched(start_time="02:30:00", end_time="05:00:00", time_zone=tz)
    jump = at("2026-03-08 07:00:00")  # 02:00 EST becomes 03:00 EDT
    assert not s.is_session_time(jump - 1)
    assert s.is_session_time(jump)
    assert s.next_boundary(jump - 60 * NS) == jump


def test_an_hour_shown_twice_counts_twice() -> None:
    tz = "America/New_York"
    s = sched(start_time="00:00:00", end_time="01:30:00", time_zone=tz)
    back = at("2026-11-01 06:00:00")  # 02:00 EDT becomes 01:00 EST
    first_end = back - 30 * 60 * NS  # 01:30 EDT
    assert s.is_session_time(first_end) and not s.is_session_time(first_end + 1)
    assert s.next_boundary(first_end) == first_end + 1
    assert s.next_boundary(first_end + 1) == back  # the clock shows 01:00 again
    assert s.is_session_time(back) and s.same_period(first_end, back)
    assert s.next_boundary(back) == back + 30 * 60 * NS + 1


@pytest.fixture
def new_york_host() -> Iterator[None]:
    """The process's local zone is New York (the C library reads TZ)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


def test_use_local_time_follows_the_host_zone(new_york_host: None) -> None:
    s = sched(start_time="08:00:00", end_time="17:00:00", use_local_time=True)
    tz = "America/New_York"
    assert s.is_session_time(at("2026-01-15 08:30:00", tz))
    assert not s.is_session_time(at("2026-01-15 07:30:00", tz))
    assert s.is_session_time(at("2026-07-15 16:30:00", tz))
    assert s.next_boundary(at("2026-03-08 12:00:00", tz)) == at("2026-03-08 17:00:00", tz) + 1
    jump = at("2026-03-08 07:00:00")
    night = sched(start_time="02:30:00", end_time="05:00:00", use_local_time=True)
    assert night.next_boundary(jump - 60 * NS) == jump


def test_next_boundary_daily() -> None:
    s = sched(start_time="08:00:00", end_time="17:00:00")
    assert s.next_boundary(at("2026-03-02 12:00:00")) == at("2026-03-02 17:00:00") + 1
    assert s.next_boundary(at("2026-03-02 18:00:00")) == at("2026-03-03 08:00:00")


def test_next_boundary_weekly_over_weekend() -> None:
    s = sched(start_day="mon", start_time="00:00:00", end_day="fri", end_time="23:59:59")
    assert s.next_boundary(at("2026-03-07 12:00:00")) == at("2026-03-09 00:00:00")


def test_next_check_is_cached_until_passed() -> None:
    s = sched(start_time="08:00:00", end_time="17:00:00")
    first = s.next_check(at("2026-03-02 12:00:00"))
    assert first == at("2026-03-02 17:00:00") + 1
    assert s.next_check(at("2026-03-02 13:00:00")) == first
    assert first is not None and s.next_check(first) == at("2026-03-03 08:00:00")


def test_whole_day_window_periods_change_at_midnight() -> None:
    s = sched(start_time="00:00:00", end_time="23:59:59")
    assert s.is_session_time(at("2026-03-02 23:59:59"))
    assert not s.is_session_time(at("2026-03-02 23:59:59") + NS // 2)
    assert not s.same_period(at("2026-03-02 23:59:59"), at("2026-03-03 00:00:00"))


def test_outside_time_has_no_period() -> None:
    s = sched(start_time="08:00:00", end_time="17:00:00")
    assert s.period_start(at("2026-03-02 18:00:00")) is None
    assert not s.same_period(at("2026-03-02 18:00:00"), at("2026-03-02 18:00:01"))


def test_an_instant_just_before_a_boundary_is_before_it() -> None:
    """Regression: nanoseconds went through a float, and 0.9999996 s before
    midnight counted as midnight."""
    s = sched(start_time="00:00:00", end_time="00:01:00", time_zone="America/New_York")
    midnight_ny = at("2027-01-01 05:00:00")
    assert not s.is_session_time(midnight_ny - 596)
    assert s.is_session_time(midnight_ny)
    assert s.next_boundary(at("2027-01-01 04:59:00") - 596) == midnight_ny


# -- schedules that can never open, or mean two things, are refused at load --


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"start_time": "08:00:00", "end_time": "17:00:00", "weekdays": []},
         "weekdays is empty: the session would never open"),
        ({"start_time": "08:00:00", "end_time": "17:00:00", "weekdays": ["mon"],
          "start_day": "mon", "end_day": "fri"},
         "weekdays (a daily session on some days) and startDay/endDay (a weekly session) "
         "exclude each other"),
        ({"start_time": "08:00:00", "end_time": "17:00:00", "start_day": "mon"},
         "startDay and endDay go together"),
        ({"start_time": "08:00:00", "end_time": "17:00:00", "use_local_time": True,
          "time_zone": "Europe/Paris"},
         "useLocalTime and timeZone 'Europe/Paris' exclude each other"),
        ({"start_time": "08:00:00"}, "a schedule that is not nonStop needs startTime and endTime"),
    ],
)
def test_impossible_schedules_are_refused(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as exc:
        ScheduleSettings.model_validate({"non_stop": False, **data})
    assert message in str(exc.value)


def test_a_24_hour_schedule_is_valid() -> None:
    settings_ = ScheduleSettings.model_validate(
        {"non_stop": False, "start_time": "00:00:00", "end_time": "00:00:00"})
    assert settings_.start_time == settings_.end_time


# -- properties ---------------------------------------------------------------


ZONES = ["UTC", "America/New_York", "Europe/London", "Australia/Sydney", "Asia/Kolkata"]


def _clock(second: int) -> str:
    return f"{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}"


@st.composite
def schedules(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["daily", "equal", "weekdays", "weekly"]))
    start = draw(st.integers(0, 86399))
    end = start if kind == "equal" else draw(st.integers(0, 86399))
    data: dict[str, Any] = {"non_stop": False, "start_time": _clock(start),
                            "end_time": _clock(end), "time_zone": draw(st.sampled_from(ZONES))}
    if kind == "weekdays":
        data["weekdays"] = draw(st.lists(st.sampled_from(DAYS), min_size=1, max_size=7,
                                         unique=True))
    if kind == "weekly":
        data["start_day"] = draw(st.sampled_from(DAYS))
        data["end_day"] = draw(st.sampled_from(DAYS))
    return data


# Instants around the 2026 DST changes (March/April, October/November) and elsewhere.
INSTANTS = st.one_of(
    st.integers(at("2026-03-01 00:00:00"), at("2026-04-10 00:00:00")),
    st.integers(at("2026-09-25 00:00:00"), at("2026-11-10 00:00:00")),
    st.integers(at("2026-01-01 00:00:00"), at("2027-01-01 00:00:00")),
)


def fresh(data: dict[str, Any], now: int) -> int | None:
    """The period at ``now`` from a new Schedule (no cached stretch)."""
    return Schedule(ScheduleSettings.model_validate(data)).period_start(now)


@settings(max_examples=150, deadline=None)
@given(data=schedules(), now=INSTANTS, fractions=st.lists(st.floats(0, 1), max_size=4))
def test_next_boundary_is_the_exact_edge(data: dict[str, Any], now: int,
                                          fractions: list[float]) -> None:
    """The state (in session, period) changes at the boundary and nowhere before."""
    s = Schedule(ScheduleSettings.model_validate(data))
    edge = s.next_boundary(now)
    assert edge is not None and edge > now
    here = fresh(data, now)
    assert fresh(data, edge) != here
    assert fresh(data, edge - 1) == here
    for fraction in fractions:
        assert fresh(data, min(now + int((edge - now) * fraction), edge - 1)) == here


@settings(max_examples=60, deadline=None)
@given(data=schedules(), start=INSTANTS,
       steps=st.lists(st.integers(1, 3 * 86400 * NS), min_size=1, max_size=30))
def test_cached_answers_match_fresh_ones(data: dict[str, Any], start: int,
                                         steps: list[int]) -> None:
    s = Schedule(ScheduleSettings.model_validate(data))
    now = start
    for step in steps:
        now += step
        assert s.period_start(now) == fresh(data, now)
        assert s.is_session_time(now) == (fresh(data, now) is not None)


@settings(max_examples=100, deadline=None)
@given(data=schedules(), a=INSTANTS, gap1=st.integers(0, 4 * 86400 * NS),
       gap2=st.integers(0, 4 * 86400 * NS))
def test_periods_are_unbroken_stretches(data: dict[str, Any], a: int, gap1: int,
                                        gap2: int) -> None:
    """same_period(a, c) with a <= b <= c implies b is in that period too."""
    s = Schedule(ScheduleSettings.model_validate(data))
    b, c = a + gap1, a + gap1 + gap2
    if s.same_period(a, c):
        assert s.same_period(b, c) and s.same_period(a, b)
    assert s.same_period(a, c) == (fresh(data, a) is not None and fresh(data, a) == fresh(data, c))


@settings(max_examples=50, deadline=None)
@given(start=st.integers(0, 86399), tz=st.sampled_from(ZONES), now=INSTANTS)
def test_equal_start_and_end_is_always_open(start: int, tz: str, now: int) -> None:
    s = sched(start_time=_clock(start), end_time=_clock(start), time_zone=tz)
    assert s.is_session_time(now)
    edge = s.next_boundary(now)
    assert edge is not None and edge - now <= 25 * 3600 * NS  # a new period within a day
