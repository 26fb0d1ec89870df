"""A session and its schedule's periods: QuickFIX's 24-hour session
(StartTime = EndTime) is open all day, logs out at the daily boundary and
starts the next period with sequence numbers reset (sans-IO, fake time)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pyfixmsg_plus.engine.session import State
from pyfixmsg_plus.engine.session import effects as fx

from .session_harness import NS, T0, Solo, only, settings


def clock(offset_s: int) -> str:
    return dt.datetime.fromtimestamp(T0 // NS + offset_s, tz=dt.UTC).strftime("%H:%M:%S")


def acceptor(**schedule: Any) -> Solo:
    return Solo(settings("acceptor", "BROKER", "CLIENT", heartbeat_interval=30,
                         schedule={"non_stop": False, **schedule}))


def test_24_hour_session_accepts_a_logon_at_any_time() -> None:
    for offset in (-43200, -1, 0, 1, 3600, 43199):
        a = acceptor(start_time="00:00:00", end_time="00:00:00")
        a.now = T0 + offset * NS
        a.logon()
        assert a.state is State.ACTIVE


def test_24_hour_session_logs_out_at_the_daily_boundary_and_resets_after() -> None:
    # The daily boundary 100 s after T0.
    a = acceptor(start_time=clock(100), end_time=clock(100))
    a.logon(hbi=120)
    a.advance(99)
    assert a.state is State.ACTIVE
    a.advance(20)
    assert a.last("5").get(58) == b"Session end"
    boundary = T0 + 100 * NS
    logouts = [m for m in a.sent if m.msg_type == b"5"]
    assert logouts and a.now >= boundary
    a.feed(a.msg("5"))
    assert a.state is State.DISCONNECTED
    # The next Logon is in a new period: both sequence numbers start again.
    a.peer_seq = 1
    out = a.connect()
    out += a.feed(a.logon_msg())
    assert only(out, fx.ResetStore)
    assert a.state is State.ACTIVE and a.last("A").get(34) == b"1"


def test_logon_within_the_period_keeps_sequence_numbers() -> None:
    a = acceptor(start_time="00:00:00", end_time="00:00:00")
    a.restore(10, 1, T0 - 60 * NS)  # created a minute ago, same day
    a.connect()
    a.feed(a.logon_msg(seq=1))
    assert not only(a.effects, fx.ResetStore)
    assert a.last("A").get(34) == b"10"


def test_the_timer_is_armed_for_the_boundary() -> None:
    a = acceptor(start_time=clock(100), end_time=clock(100))
    a.logon(hbi=120)
    assert a.session.next_deadline() == T0 + 100 * NS  # before the first heartbeat
