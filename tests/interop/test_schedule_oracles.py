"""Our session schedules against QuickFIX's own schedule logic.

QuickFIX C++ (the ``quickfix`` binding, tests/interop/qfcpp_schedule.py) is
asked ``isSessionTime`` and whether two instants are in one range (the check
behind its daily/weekly reset) for daily, across-midnight, 24-hour (start =
end, midnight and other times) and weekly schedules (start day = end day
included), in UTC and with ``UseLocalTime`` in zones with DST changes (the
binding's process runs with ``TZ`` set, and so do we for the comparison).
QuickFIX C++ has no ``Weekdays`` and no ``TimeZone``: QuickFIX/J
(tests/interop/qfj_schedule/ScheduleOracle.java, ``DefaultSessionSchedule``)
answers for those, and for weekly schedules in IANA zones.

Instants are random over 2024-2026 and, as often, on a start or an end (to
the nanosecond, a millisecond and a second either side) and on DST change
days.  Every disagreement must belong to a difference we keep on purpose
(docs/migrating-from-quickfix.md lists them):

* ``24h-period``: StartTime = EndTime other than midnight: QuickFIX C++
  starts a new range at midnight, we (and QuickFIX/J) at StartTime;
* ``end-instant``: across midnight, QuickFIX C++ puts the exact EndTime
  instant in session but in no range; we count it in the period it ends;
* ``local-second``: with UseLocalTime, QuickFIX C++ reads the clock to the
  second (17:00:00.5 is still 17:00:00); we to the nanosecond;
* ``week-start-instant``: a weekly session with StartDay = EndDay (a week
  long): QuickFIX C++ counts the exact start instant in both the week ending
  and the week beginning; we count it in the one beginning;
* ``dst-bound``: QuickFIX/J moves a bound the clock skips or shows twice by
  the DST change; we (and QuickFIX C++ with UseLocalTime) follow the wall
  clock.
"""

from __future__ import annotations

import collections
import datetime as dt
import importlib.util
import json
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pyfixmsg_plus.engine.config import ScheduleSettings
from pyfixmsg_plus.engine.session import Schedule

from tests.realparts import env_value, missing

NS = 1_000_000_000
MS = 1_000_000
HERE = Path(__file__).resolve().parent
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
LOW = int(dt.datetime(2024, 1, 1, tzinfo=dt.UTC).timestamp())
HIGH = int(dt.datetime(2027, 1, 1, tzinfo=dt.UTC).timestamp())
#: Days around which clocks change (US, EU, Australia), 2024 and 2025.
DST_DAYS = [dt.date(2024, 3, 10), dt.date(2024, 11, 3), dt.date(2024, 3, 31),
            dt.date(2024, 10, 27), dt.date(2024, 4, 7), dt.date(2024, 10, 6),
            dt.date(2025, 3, 9), dt.date(2025, 11, 2), dt.date(2025, 3, 30),
            dt.date(2025, 10, 26), dt.date(2025, 4, 6), dt.date(2025, 10, 5)]

Case = dict[str, Any]  # kind, keys (QuickFIX), model (ours), zone
Query = list[Any]  # [case index, "in", t] or [case index, "same", then, now]


def clock(second: int) -> str:
    return f"{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}"


def seconds_of(text: str) -> int:
    h, m, s = map(int, text.split(":"))
    return h * 3600 + m * 60 + s


def a_time(rng: random.Random) -> int:
    # Half the times fall in the small hours, where clocks change.
    return rng.randrange(86400) if rng.random() < 0.5 else rng.randrange(3600, 4 * 3600)


def cpp_cases(rng: random.Random, local: bool) -> list[Case]:
    cases = []
    for _ in range(40):
        kind = rng.choice(["daily", "daily", "equal", "midnight", "weekly", "weekly-one-day"])
        start, end = a_time(rng), a_time(rng)
        if kind == "equal":
            end = start
        if kind == "midnight":
            start = end = 0
        keys = {"StartTime": clock(start), "EndTime": clock(end)}
        model: dict[str, Any] = {"non_stop": False, "start_time": clock(start),
                                 "end_time": clock(end)}
        if kind.startswith("weekly"):
            first = rng.randrange(7)
            last = first if kind == "weekly-one-day" else rng.randrange(7)
            keys.update(StartDay=DAYS[first].title(), EndDay=DAYS[last].title())
            model.update(start_day=DAYS[first], end_day=DAYS[last])
        if local:
            keys["UseLocalTime"] = "Y"
            model["use_local_time"] = True
        cases.append({"kind": kind, "keys": keys, "model": model})
    return cases


def qfj_cases(rng: random.Random) -> list[Case]:
    zones = ["UTC", "America/New_York", "Europe/London", "Australia/Sydney", "Asia/Tokyo",
             "America/Chicago"]
    cases = []
    for _ in range(40):
        kind = rng.choice(["daily", "equal", "weekdays", "weekdays", "weekly"])
        start, end = a_time(rng), a_time(rng)
        if kind == "equal" or rng.random() < 0.15:
            end = start
        zone = rng.choice(zones)
        keys = {"StartTime": clock(start), "EndTime": clock(end), "TimeZone": zone}
        model: dict[str, Any] = {"non_stop": False, "start_time": clock(start),
                                 "end_time": clock(end), "time_zone": zone}
        if kind == "weekdays":
            days = rng.sample(DAYS, rng.randrange(1, 8))
            keys["Weekdays"] = ",".join(day.title() for day in days)
            model["weekdays"] = days
        if kind == "weekly":
            first, last = rng.randrange(7), rng.randrange(7)
            if first == last and end > start:
                last = (first + 1) % 7  # one day a week: QuickFIX/J and C++ differ (documented)
            keys.update(StartDay=DAYS[first].title(), EndDay=DAYS[last].title())
            model.update(start_day=DAYS[first], end_day=DAYS[last])
        cases.append({"kind": kind, "keys": keys, "model": model, "zone": zone})
    return cases


def queries_for(rng: random.Random, cases: list[Case], count: int, *,
                wall: Callable[[dt.date, int, Case], int], tick: int,
                nudges: list[int]) -> list[Query]:
    """``count`` random queries and ``count`` on bounds; ``tick`` is the
    finest step the oracle sees (instants are multiples of it)."""
    out: list[Query] = []
    for _ in range(count):
        index = rng.randrange(len(cases))
        now = rng.randrange(LOW, HIGH) * NS + rng.randrange(NS // tick) * tick
        if rng.random() < 0.5:
            out.append([index, "in", now])
        else:
            back = rng.choice([3600, 86400, 8 * 86400])
            out.append([index, "same", now - rng.randrange(back) * NS, now])
    for _ in range(count):
        index = rng.randrange(len(cases))
        case = cases[index]
        day = dt.date(2024, 1, 1) + dt.timedelta(days=rng.randrange(3 * 365))
        if rng.random() < 0.5:
            day = rng.choice(DST_DAYS) + dt.timedelta(days=rng.choice([-1, 0, 0, 1]))

        def bound(on: dt.date, case: Case) -> int:
            key = rng.choice(["StartTime", "EndTime"])
            return wall(on, seconds_of(case["keys"][key]), case) + rng.choice(nudges)

        first = bound(day, case)
        if rng.random() < 0.4:
            out.append([index, "in", first])
        else:
            other = bound(day + dt.timedelta(days=rng.choice([-7, -1, 0, 0, 1, 7])), case)
            out.append([index, "same", min(first, other), max(first, other)])
    return out


def ours(cases: list[Case], queries: list[Query]) -> list[bool]:
    schedules = [Schedule(ScheduleSettings.model_validate(case["model"])) for case in cases]
    answers = []
    for query in queries:
        s = schedules[query[0]]
        answers.append(s.is_session_time(query[2]) if query[1] == "in"
                       else s.same_period(query[2], query[3]))
    return answers


@contextmanager
def host_zone(zone: str | None) -> Iterator[None]:
    before = os.environ.get("TZ")
    if zone is not None:
        os.environ["TZ"] = zone
        time.tzset()
    try:
        yield
    finally:
        if zone is not None:
            if before is None:
                del os.environ["TZ"]
            else:
                os.environ["TZ"] = before
            time.tzset()


def local_wall(zone: str | None) -> Callable[[dt.date, int, Case], int]:
    def wall(day: dt.date, second: int, case: Case) -> int:
        naive = dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=second)
        if zone is None:
            return int(naive.replace(tzinfo=dt.UTC).timestamp()) * NS
        return int(naive.replace(tzinfo=ZoneInfo(zone)).timestamp()) * NS
    return wall


def zone_wall(day: dt.date, second: int, case: Case) -> int:
    naive = dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=second)
    return int(naive.replace(tzinfo=ZoneInfo(case["zone"])).timestamp()) * NS


# -- the differences we keep ----------------------------------------------------------


def _wall_clock(t: int, zone: str) -> dt.datetime:
    return dt.datetime.fromtimestamp(t // NS, ZoneInfo(zone)).replace(tzinfo=None)


def cpp_difference(case: Case, query: Query, their: bool, zone: str) -> str | None:
    """The kept difference explaining QuickFIX C++'s answer ``their``, or None."""
    if case["keys"].get("UseLocalTime") == "Y" and any(t % NS for t in query[2:]):
        # QuickFIX C++ reads local time to the second: its answer is ours
        # for the instants with their fractions dropped.
        floored = [query[0], query[1], *(t - t % NS for t in query[2:])]
        if ours([case], [[0, *floored[1:]]]) == [their]:
            return "local-second"
        reason = cpp_difference(case, floored, their, zone)
        return None if reason is None else f"local-second, {reason}"
    if query[1] != "same":
        return None
    start, end = (seconds_of(case["keys"][k]) for k in ("StartTime", "EndTime"))
    weekly = "StartDay" in case["keys"]
    walls = [_wall_clock(t, zone) for t in query[2:]]
    if start == end and start != 0 and not weekly:
        # QuickFIX C++: one range per calendar day.
        return "24h-period" if their == (walls[0].date() == walls[1].date()) else None
    for t, w in zip(query[2:], walls, strict=True):
        second = w.hour * 3600 + w.minute * 60 + w.second
        if t % NS:
            continue
        if not weekly and start > end and second == end and not their:
            return "end-instant"
        one_day = weekly and case["keys"]["StartDay"] == case["keys"]["EndDay"]
        if (one_day and second == start and their
                and DAYS[w.weekday()].title() == case["keys"]["StartDay"]):
            return "week-start-instant"
    return None


def _unsure(naive: dt.datetime, zone: ZoneInfo) -> bool:
    """A wall time the clock skips or shows twice."""
    return naive.replace(tzinfo=zone, fold=0).utcoffset() != naive.replace(
        tzinfo=zone, fold=1).utcoffset()


def qfj_difference(case: Case, query: Query, their: bool) -> str | None:
    zone = ZoneInfo(case["zone"])
    for t in query[2:]:
        day = _wall_clock(t, case["zone"]).date()
        for back in range(-8, 2):
            on = dt.datetime.combine(day + dt.timedelta(days=back), dt.time())
            for key in ("StartTime", "EndTime"):
                if _unsure(on + dt.timedelta(seconds=seconds_of(case["keys"][key])), zone):
                    return "dst-bound"
    return None


def compare(cases: list[Case], queries: list[Query], theirs: list[bool],
            mine: list[bool], difference: Callable[[Case, Query, bool], str | None]
            ) -> tuple[int, collections.Counter[str], list[str]]:
    assert len(theirs) == len(queries) == len(mine)
    agree = 0
    kept: collections.Counter[str] = collections.Counter()
    unexplained = []
    for query, their, our in zip(queries, theirs, mine, strict=True):
        if their == our:
            agree += 1
            continue
        case = cases[query[0]]
        reason = difference(case, query, their)
        if reason is None:
            unexplained.append(f"{case['keys']} {query[1:]}: ours {our}, QuickFIX {their}")
        else:
            kept[reason] += 1
    return agree, kept, unexplained


# -- QuickFIX C++ -----------------------------------------------------------------------


def need_quickfix() -> None:
    if importlib.util.find_spec("quickfix") is None:
        missing("the quickfix binding (QuickFIX C++) is not installed in this Python: "
                "tests/env/31-quickfix-cpp.sh builds and installs it")


def ask_cpp(cases: list[Case], queries: list[Query], zone: str | None) -> list[bool]:
    env = dict(os.environ)
    if zone is not None:
        env["TZ"] = zone
    done = subprocess.run(
        [sys.executable, str(HERE / "qfcpp_schedule.py")],
        input=json.dumps({"sessions": [c["keys"] for c in cases], "queries": queries}),
        capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    answers = json.loads(done.stdout)
    assert isinstance(answers, list)
    return [bool(a) for a in answers]


@pytest.mark.parametrize("zone", [None, "America/New_York", "Europe/London"])
def test_schedules_agree_with_quickfix_cpp(zone: str | None) -> None:
    need_quickfix()
    rng = random.Random(f"quickfix-cpp-{zone}")
    cases = cpp_cases(rng, local=zone is not None)
    queries = queries_for(rng, cases, 700, wall=local_wall(zone), tick=1,
                          nudges=[-NS, -1, 0, 1, NS])
    theirs = ask_cpp(cases, queries, zone)
    with host_zone(zone):
        agree, kept, unexplained = compare(
            cases, queries, theirs, ours(cases, queries),
            lambda case, query, their: cpp_difference(case, query, their, zone or "UTC"))
    print(f"QuickFIX C++ (TZ={zone or 'UTC'}): {len(queries)} queries, {agree} agree, "
          f"kept differences {dict(kept)}")
    assert not unexplained, "\n".join(unexplained[:20])
    assert agree >= 1000


# -- QuickFIX/J ---------------------------------------------------------------------------


def qfj_oracle(workdir: Path) -> list[str]:
    classpath = env_value("FIXPLUS_QFJ_CLASSPATH")
    if not classpath or not shutil.which("java") or not shutil.which("javac"):
        missing("QuickFIX/J is not built (tests/env/30-quickfixj.sh: a JDK, Maven and Maven "
                "Central are needed; FIXPLUS_QFJ_CLASSPATH unset)")
    assert classpath is not None
    classes = workdir / "classes"
    built = subprocess.run(
        ["javac", "-d", str(classes), "-cp", classpath,
         str(HERE / "qfj_schedule" / "ScheduleOracle.java")],
        capture_output=True, text=True, timeout=300, check=False)
    assert built.returncode == 0, built.stderr[-2000:]
    return ["java", "-XX:+UseSerialGC", "-Xmx256m", "-cp", f"{classes}:{classpath}",
            "ScheduleOracle"]


def ask_qfj(command: list[str], workdir: Path, cases: list[Case],
            queries: list[Query]) -> list[bool]:
    lines = ["[DEFAULT]", "ConnectionType=acceptor", "BeginString=FIX.4.4",
             "SenderCompID=ORACLE"]
    for index, case in enumerate(cases):
        lines += ["[SESSION]", f"TargetCompID=T{index}"]
        lines += [f"{key}={value}" for key, value in case["keys"].items()]
    settings_file = workdir / "schedules.cfg"
    settings_file.write_text("\n".join(lines) + "\n")
    text = "".join(f"in {q[0]} {q[2] // MS}\n" if q[1] == "in"
                   else f"same {q[0]} {q[2] // MS} {q[3] // MS}\n" for q in queries)
    done = subprocess.run([*command, str(settings_file)], input=text, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return [word == "1" for word in done.stdout.split()]


def test_weekdays_and_time_zones_agree_with_quickfixj(tmp_path: Path) -> None:
    command = qfj_oracle(tmp_path)
    rng = random.Random("quickfixj")
    cases = qfj_cases(rng)
    queries = queries_for(rng, cases, 1000, wall=zone_wall, tick=MS, nudges=[-NS, -MS, 0, MS, NS])
    theirs = ask_qfj(command, tmp_path, cases, queries)
    agree, kept, unexplained = compare(cases, queries, theirs, ours(cases, queries),
                                       qfj_difference)
    print(f"QuickFIX/J: {len(queries)} queries, {agree} agree, kept differences {dict(kept)}")
    assert not unexplained, "\n".join(unexplained[:20])
    assert agree >= 1000
    assert sum(1 for c in cases if c["kind"] == "weekdays") >= 10
