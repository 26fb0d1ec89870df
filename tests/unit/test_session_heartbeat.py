"""Session layer, heartbeats and TestRequests; logout handshake and timeout
(sans-IO, fake time)."""

from __future__ import annotations

from typing import Any

import pytest
from pyfixmsg_plus.engine.session import State
from pyfixmsg_plus.engine.session import effects as fx

from .session_harness import NS, Pair, Solo, only, settings, types


def solo(role: str = "acceptor", **kw: Any) -> Solo:
    sender, target = ("BROKER", "CLIENT") if role == "acceptor" else ("CLIENT", "BROKER")
    s = Solo(settings(role, sender, target, **kw))
    s.logon(hbi=kw.get("heartbeat_interval", 30))
    s.sent.clear()
    return s


@pytest.mark.parametrize("role", ["acceptor", "initiator"])
def test_heartbeat_after_interval_of_not_sending(role: str) -> None:
    s = solo(role, heartbeat_interval=10)
    s.advance(9.9)
    assert s.sent == []
    s.feed(s.msg("0"))  # receiving does not postpone our heartbeat
    s.advance(0.1)
    assert s.sent_types() == ["0"] and s.sent[0].get(112) is None


def test_sending_postpones_heartbeat() -> None:
    s = solo(heartbeat_interval=10)
    s.advance(6)
    s.send()
    s.feed(s.msg("0"))
    s.advance(9.9)
    assert s.sent_types() == ["D"]
    s.feed(s.msg("0"))
    s.advance(0.1)
    assert s.sent_types() == ["D", "0"]


def test_test_request_after_1_2_intervals_of_silence() -> None:
    s = solo(heartbeat_interval=10)
    s.advance(11.9)
    assert s.sent_types() == ["0"]
    s.advance(0.1)
    assert s.sent_types() == ["0", "1"]
    assert s.last("1").get(112) == b"TEST"
    assert s.session.test_requests == 1


def test_no_heartbeat_while_test_request_outstanding_then_disconnect_at_2_4() -> None:
    s = solo(heartbeat_interval=10)
    s.advance(12)  # heartbeat at 10, TestRequest at 12
    s.advance(11.9)  # 23.9 s of silence
    assert s.sent_types() == ["0", "1"]
    assert s.state is State.ACTIVE
    out = s.advance(0.1)
    assert s.disconnects == ["Timed out waiting for heartbeat"]
    assert only(out, fx.LoggedOut) and s.state is State.DISCONNECTED
    assert s.sent_types() == ["0", "1"]


def test_heartbeat_answering_test_request_clears_it() -> None:
    s = solo(heartbeat_interval=10)
    s.advance(12)
    assert s.session.test_requests == 1
    s.feed(s.msg("0", [(112, "TEST")]))
    assert s.session.test_requests == 0
    s.advance(11.9)
    assert s.state is State.ACTIVE
    assert s.sent_types().count("1") == 1
    s.advance(0.1)
    assert s.sent_types().count("1") == 2


def test_any_message_clears_outstanding_test_request() -> None:
    s = solo(heartbeat_interval=10)
    s.advance(12)
    s.feed(s.msg("D", [(11, "x")]))
    assert s.session.test_requests == 0


def test_test_request_is_answered_with_its_id() -> None:
    s = solo()
    s.feed(s.msg("1", [(112, "abc")]))
    hb = s.last("0")
    assert hb.get(112) == b"abc"
    assert s.session.next_target == 3


@pytest.mark.parametrize(("delay", "timeout"), [(0.5, 2.0), (1.0, 3.0), (0.0, 1.0)])
def test_custom_multipliers(delay: float, timeout: float) -> None:
    s = solo(heartbeat_interval=10, test_request_delay_multiplier=delay,
             heartbeat_timeout_multiplier=timeout)
    test_at = 10 * (1 + delay)
    drop_at = 10 * (1 + timeout)
    s.advance(test_at - 0.01)
    assert "1" not in s.sent_types()
    s.advance(0.01)
    assert "1" in s.sent_types()
    s.advance(drop_at - test_at - 0.01)
    assert s.state is State.ACTIVE
    s.advance(0.01)
    assert s.state is State.DISCONNECTED


def test_next_deadline_follows_the_earliest_timer() -> None:
    s = solo(heartbeat_interval=10)
    t0 = s.now
    assert s.session.next_deadline() == t0 + 10 * NS
    s.advance(10)  # heartbeat sent
    assert s.session.next_deadline() == t0 + 12 * NS
    s.advance(2)  # TestRequest
    assert s.session.next_deadline() == t0 + 24 * NS


def test_pair_keeps_heartbeating_quietly() -> None:
    p = Pair()
    p.connect()
    p.advance(3600)
    assert p.logged_on()
    assert "1" not in types(p.ini) and "1" not in types(p.acc)
    assert types(p.ini).count("0") >= 100


# -- logout ---------------------------------------------------------------------
@pytest.mark.parametrize("role", ["acceptor", "initiator"])
def test_local_logout_waits_for_answer(role: str) -> None:
    s = solo(role)
    s.session.logout(s.now, "end of day")
    s.run()
    assert s.state is State.LOGOUT_SENT
    assert s.last("5").get(58) == b"end of day"
    out = s.feed(s.msg("5"))
    assert s.sent_types() == ["5"]  # not answered twice
    assert only(out, fx.Disconnect) and only(out, fx.LoggedOut)
    assert s.session.next_target == 3


@pytest.mark.parametrize("role", ["acceptor", "initiator"])
def test_remote_logout_is_answered(role: str) -> None:
    s = solo(role)
    out = s.feed(s.msg("5", [(58, "bye")]))
    assert s.sent_types() == ["5"]
    assert [d.reason for d in only(out, fx.Disconnect)] == ["logout: bye"]
    assert s.delivered[-1].get(58) == b"bye"
    assert not s.session.state.connected


def test_logout_timeout() -> None:
    s = solo(logout_timeout=4)
    s.session.logout(s.now)
    s.run()
    s.advance(3.9)
    assert s.state is State.LOGOUT_SENT
    s.advance(0.1)
    assert s.disconnects == ["Timed out waiting for logout response"]


def test_messages_still_processed_while_logout_sent() -> None:
    s = solo()
    s.session.logout(s.now)
    s.run()
    s.feed(s.msg("D", [(11, "late")]))
    assert [m.get(11) for m in s.app_delivered()] == [b"late"]
    s.feed(s.msg("2", [(7, 1), (16, 0)]))
    assert s.state is State.LOGOUT_SENT


def test_no_heartbeats_while_logout_sent() -> None:
    s = solo(heartbeat_interval=1, logout_timeout=10)
    s.session.logout(s.now)
    s.run()
    s.advance(5)
    assert s.sent_types() == ["5"]


def test_second_local_logout_is_ignored() -> None:
    s = solo()
    s.session.logout(s.now)
    s.session.logout(s.now)
    s.run()
    assert s.sent_types() == ["5"]


def test_logout_before_logon_completes_just_disconnects() -> None:
    a = Solo(settings("acceptor", "BROKER", "CLIENT"))
    a.connect()
    a.session.logout(a.now, "shutting down")
    a.run()
    assert a.sent == [] and a.disconnects == ["shutting down"]


def test_logout_with_gap_is_answered_without_advancing() -> None:
    s = solo()
    out = s.feed(s.msg("5", seq=7))
    assert s.sent_types() == ["5"]
    assert s.session.next_target == 2
    assert only(out, fx.Disconnect)


def test_pair_logout_handshake_from_acceptor() -> None:
    p = Pair()
    p.connect()
    p.acc.session.logout(p.now, "maintenance")
    p.pump()
    assert types(p.acc)[-1] == "5" and types(p.ini)[-1] == "5"
    assert p.ini.delivered[-1].get(58) == b"maintenance"
    assert p.ini.session.state is State.RECONNECTING
    assert p.acc.session.state is State.DISCONNECTED
    assert p.acc.disconnects and p.ini.disconnects


def test_forced_logout_texts() -> None:
    s = solo()
    s.feed(s.msg("0"))
    s.feed(s.msg("0", seq=1))
    assert s.last("5").get(58) == b"MsgSeqNum too low, expecting 3 but received 1"
