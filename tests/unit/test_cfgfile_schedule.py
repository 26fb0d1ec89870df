"""Schedule keys of QuickFIX ``.cfg`` files: StartTime/EndTime (24-hour
sessions included), Weekdays, UseLocalTime, StartDay/EndDay, and the
schedules refused at load with the keys named."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from pyfixmsg_plus.engine.config import ScheduleSettings, Weekday
from pyfixmsg_plus.engine.config.cfgfile import parse_cfg
from pyfixmsg_plus.engine.errors import ConfigError
from pyfixmsg_plus.engine.session import Schedule

NS = 1_000_000_000
HEAD = """\
[SESSION]
ConnectionType=acceptor
BeginString=FIX.4.2
SenderCompID=A
TargetCompID=B
SocketAcceptPort=7000
AuthenticationMode=none
"""


def schedule_of(extra: str, *, strict: bool = True) -> ScheduleSettings:
    config = parse_cfg(HEAD + extra, source="app.cfg", environ={}, strict=strict).config
    return config.sessions[0].schedule


def test_weekdays_and_use_local_time_are_read_even_in_strict_mode() -> None:
    result = parse_cfg(HEAD + "StartTime=08:00:00\nEndTime=17:00:00\nWeekdays=Mon, tu,Wednesday,6\n"
                       "UseLocalTime=Y\n", source="app.cfg", environ={}, strict=True)
    schedule = result.config.sessions[0].schedule
    assert schedule.weekdays == [Weekday.MON, Weekday.TUE, Weekday.WED, Weekday.FRI]
    assert schedule.use_local_time
    assert result.warnings == []


def test_start_equal_to_end_is_a_24_hour_session_without_warnings() -> None:
    result = parse_cfg(HEAD + "StartTime=00:00:00\nEndTime=00:00:00\n", source="app.cfg",
                       environ={}, strict=True)
    assert result.warnings == []
    schedule = Schedule(result.config.sessions[0].schedule)
    day = int(dt.datetime(2026, 3, 2, tzinfo=dt.UTC).timestamp()) * NS
    assert all(schedule.is_session_time(day + s * NS) for s in range(0, 86400, 60))


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("StartTime=08:00:00\nEndTime=17:00:00\nWeekdays=\n",
         "app.cfg:10 (Weekdays): sessions[0].schedule: weekdays is empty: the session would "
         "never open"),
        ("StartTime=08:00:00\nEndTime=17:00:00\nWeekdays=Mon,Fri\nStartDay=Mon\nEndDay=Fri\n",
         "app.cfg:10 (Weekdays), app.cfg:11 (StartDay), app.cfg:12 (EndDay): sessions[0].schedule:"
         " weekdays (a daily session on some days) and startDay/endDay (a weekly session) "
         "exclude each other"),
        ("StartTime=08:00:00\nEndTime=17:00:00\nUseLocalTime=Y\nTimeZone=Europe/Paris\n",
         "app.cfg:10 (UseLocalTime), app.cfg:11 (TimeZone): sessions[0].schedule: useLocalTime "
         "and timeZone 'Europe/Paris' exclude each other"),
        ("StartTime=08:00:00\nEndTime=17:00:00\nWeekdays=Mon,Xyz\n",
         "app.cfg:10: Weekdays: expected days of the week, got 'Xyz'"),
        ("Weekdays=Mon\n", "app.cfg:8: Weekdays: needs StartTime and EndTime"),
    ],
)
def test_impossible_schedules_are_load_errors_naming_the_keys(extra: str, expected: str) -> None:
    with pytest.raises(ConfigError) as exc:
        schedule_of(extra)
    assert str(exc.value) == expected


def test_non_stop_session_ignores_weekdays() -> None:
    assert schedule_of("NonStopSession=Y\nWeekdays=\n").non_stop


def test_migration_guide_worked_example_opens_all_day() -> None:
    """The guide's example (StartTime = EndTime = 00:00:00) is a 24-hour
    session whose periods change at midnight."""
    guide = (Path(__file__).resolve().parents[2] / "docs" / "migrating-from-quickfix.md")
    example = guide.read_text()
    example = example[example.index("## Worked example"):]
    ini = re.search(r"```ini\n(.*?)```", example, re.DOTALL)
    assert ini
    config = parse_cfg(ini[1], source="example.cfg", environ={}).config
    schedule = Schedule(config.sessions[0].schedule)
    midnight = int(dt.datetime(2026, 7, 1, tzinfo=dt.UTC).timestamp()) * NS
    assert all(schedule.is_session_time(midnight + s * NS) for s in range(-3600, 90000, 30))
    assert not schedule.same_period(midnight - 1, midnight)
    assert schedule.same_period(midnight, midnight + 86399 * NS)
