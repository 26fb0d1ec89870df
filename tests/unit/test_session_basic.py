"""Session layer: two sessions back to back, fake time, no sockets."""

from __future__ import annotations

from pyfixmsg_plus.engine.codec import decode
from pyfixmsg_plus.engine.session import State

from .session_harness import Pair, settings, types


def test_logon_and_app_round_trip() -> None:
    p = Pair()
    p.connect()
    assert p.logged_on()
    assert types(p.ini) == ["A"] and types(p.acc) == ["A"]
    p.send(p.ini, "D", [(11, "1"), (55, "SYM")])
    assert [m.msg_type for m in p.acc.delivered if not m.is_admin()] == [b"D"]
    assert p.acc.next_target == 3 and p.ini.next_sender == 3


def test_heartbeat_and_test_request_timeline() -> None:
    p = Pair()
    p.connect()
    p.advance(30)
    assert types(p.ini)[-1] == "0" and types(p.acc)[-1] == "0"
    # Silence from the acceptor: the initiator probes with a TestRequest.
    p.drop = lambda side, msg: side is p.acc
    p.advance(37)
    assert "1" in types(p.ini)
    p.advance(40)
    assert p.ini.disconnects and "heartbeat" in p.ini.disconnects[0]


def test_gap_resend_and_gap_fill() -> None:
    p = Pair()
    p.connect()
    lost: set[int] = set()

    def drop(side, msg):  # type: ignore[no-untyped-def]
        seq = int(msg.get(34))
        if side is p.ini and msg.msg_type == b"D" and seq in (3, 4) and seq not in lost:
            lost.add(seq)
            return True
        return False

    p.drop = drop
    for i in range(4):
        p.send(p.ini, "D", [(11, str(i)), (55, "SYM")])
    app = [m for m in p.acc.delivered if m.msg_type == b"D"]
    assert [m.get(11) for m in app] == [b"0", b"1", b"2", b"3"]
    assert [m.get(43) for m in app] == [None, b"Y", b"Y", None]
    assert p.acc.next_target == p.ini.next_sender
    assert p.acc.session.resend_range is None and not p.acc.session.queue


def test_resend_gap_fills_admin_and_vetoed() -> None:
    p = Pair()
    p.connect()
    p.send(p.ini, "D", [(11, "a")])
    p.advance(30)  # heartbeats
    p.send(p.ini, "D", [(11, "b")])
    p.ini.veto_resend.add(2)
    sr = p.acc.session
    sr._send_admin(b"2", [(7, b"1"), (16, b"0")], p.now)  # ask for everything
    p.pump()
    replayed = [decode(d) for d in p.ini.wire[-2:]]
    assert [(m.msg_type, m.get(34), m.get(36), m.get(43)) for m in replayed] == [
        (b"4", b"1", b"4", b"Y"),  # Logon, vetoed order, Heartbeat merged in one gap fill
        (b"D", b"4", None, b"Y"),
    ]
    assert replayed[1].get(122) is not None


def test_logout_handshake() -> None:
    p = Pair()
    p.connect()
    p.ini.session.logout(p.now, "bye")
    p.pump()
    assert types(p.ini)[-1] == "5" and types(p.acc)[-1] == "5"
    assert p.ini.session.state is State.RECONNECTING
    assert p.acc.session.state is State.DISCONNECTED


def test_logon_refused_by_application() -> None:
    p = Pair()
    p.acc.refuse_logon = "bad password"
    p.connect()
    assert decode(p.acc.wire[-1]).get(58) == b"bad password"
    assert p.acc.session.state is State.DISCONNECTED


def test_reset_on_logon() -> None:
    ini = settings("initiator", "CLIENT", "BROKER", reset_on_logon=True)
    p = Pair(ini=ini)
    p.ini.session.restore(10, 10, 0)
    p.connect()
    assert p.logged_on()
    assert decode(p.ini.wire[0]).get(141) == b"Y"
    assert decode(p.acc.wire[0]).get(141) == b"Y"
    assert p.ini.next_sender == 2 and p.acc.next_target == 2
