"""Session layer, answering ResendRequests: PossDup replays, gap fills for
session messages and vetoed ones, merged gap fills, holes in the store, open
ends per FIX version, ranges beyond what was sent (sans-IO)."""

from __future__ import annotations

from typing import Any

import pytest
from pyfixmsg_plus.engine.codec import Message, decode
from pyfixmsg_plus.engine.session import effects as fx
from pyfixmsg_plus.engine.session.resend import plan_resend

from .session_harness import NS, Pair, Solo, only, settings


def solo(**kw: Any) -> Solo:
    s = Solo(settings("acceptor", "BROKER", "CLIENT", **kw))
    s.logon(hbi=kw.get("heartbeat_interval", 30))
    return s


def ask(s: Solo, begin: int, end: int) -> list[tuple[bytes, int, bytes | None, bytes | None]]:
    """Send a ResendRequest; return (MsgType, MsgSeqNum, NewSeqNo, PossDup) replayed."""
    n = len(s.sent)
    s.feed(s.msg("2", [(7, begin), (16, end)]))
    return [(m.msg_type, int(m.get(34) or b"0"), m.get(36), m.get(43)) for m in s.sent[n:]]


def test_app_messages_replayed_with_possdup_and_orig_sending_time() -> None:
    s = solo()
    s.send(body=[(11, "a"), (55, "X")])  # 2, sent at T0
    original = s.last("D")
    s.now += 5 * NS
    assert ask(s, 2, 2) == [(b"D", 2, None, b"Y")]
    replay = s.last("D")
    assert replay.get(122) == original.get(52)
    assert replay.get(52) != original.get(52)
    assert replay.get(11) == b"a" and replay.get(55) == b"X"
    # Replays reuse the old number: nothing new persisted.
    assert s.next_sender == 3
    assert all(not e.persist for e in only(s.effects, fx.Send) if e.seq == 2 and e.msg.get(43))


def test_session_messages_become_one_gap_fill() -> None:
    s = solo(heartbeat_interval=10)
    s.send()  # 2
    s.advance(10)  # heartbeat 3
    s.feed(s.msg("1", [(112, "x")]))  # heartbeat 4
    s.send()  # 5
    assert ask(s, 1, 0) == [
        (b"4", 1, b"2", b"Y"),  # Logon
        (b"D", 2, None, b"Y"),
        (b"4", 3, b"5", b"Y"),  # two heartbeats merged
        (b"D", 5, None, b"Y"),
    ]
    fill = s.sent[-2]
    assert fill.get(123) == b"Y" and fill.get(122) is not None


def test_vetoed_message_gap_filled_and_merged() -> None:
    s = solo()
    for _ in range(4):
        s.send()  # 2..5
    s.veto_resend |= {3, 4}
    assert ask(s, 2, 5) == [(b"D", 2, None, b"Y"), (b"4", 3, b"5", b"Y"), (b"D", 5, None, b"Y")]


def test_holes_in_store_are_gap_filled() -> None:
    s = solo()
    for _ in range(4):
        s.send()  # 2..5
    del s.stored[3], s.stored[4]
    assert ask(s, 2, 0) == [(b"D", 2, None, b"Y"), (b"4", 3, b"5", b"Y"), (b"D", 5, None, b"Y")]


def test_trailing_session_messages_filled_to_next_sender() -> None:
    s = solo(heartbeat_interval=10)
    s.send()  # 2
    s.advance(10)  # heartbeat 3
    assert ask(s, 2, 0) == [(b"D", 2, None, b"Y"), (b"4", 3, b"4", b"Y")]


@pytest.mark.parametrize(("begin_string", "open_end"), [
    ("FIX.4.0", 999999), ("FIX.4.1", 999999), ("FIX.4.2", 0), ("FIX.4.4", 0), ("FIXT.1.1", 0)])
def test_open_end_per_version(begin_string: str, open_end: int) -> None:
    extra = {"default_appl_ver_id": "FIX.5.0SP2"} if begin_string == "FIXT.1.1" else {}
    s = solo(begin_string=begin_string, **extra)
    s.send()
    s.send()
    assert ask(s, 2, open_end) == [(b"D", 2, None, b"Y"), (b"D", 3, None, b"Y")]


def test_zero_end_is_not_open_for_fix40() -> None:
    s = solo(begin_string="FIX.4.0")
    s.send()
    # EndSeqNo 0 below BeginSeqNo 2: nothing to resend.
    assert ask(s, 2, 0) == []


def test_range_beyond_what_was_sent() -> None:
    s = solo()
    s.send()
    s.send()  # next sender 4
    assert ask(s, 3, 50) == [(b"D", 3, None, b"Y")]
    assert ask(s, 10, 20) == []


def test_resend_without_persistence_gap_fills_everything() -> None:
    s = solo(persist_messages=False)
    s.send()
    s.send()
    assert ask(s, 1, 0) == [(b"4", 1, b"4", b"Y")]
    assert not only(s.effects, fx.LoadResend)


def test_resend_keeps_app_fields_and_header() -> None:
    s = solo()
    s.send("D", [(11, "ord"), (38, "100")])
    ask(s, 2, 2)
    replay = s.last("D")
    assert replay.get(49) == b"BROKER" and replay.get(56) == b"CLIENT"
    assert replay.get(38) == b"100"


def test_possdup_stripped_from_fresh_app_send() -> None:
    s = solo()
    m = Message.new("FIX.4.4", "D", [(11, "x")])
    m.set(43, b"Y")
    m.set(122, b"20200101-00:00:00")
    s.session.send_app(m, s.now)
    s.run()
    assert s.last("D").get(43) is None and s.last("D").get(122) is None


# -- plan_resend directly -------------------------------------------------------------
def _m(seq: int) -> Message:
    return Message.new("FIX.4.4", "D", [(11, str(seq))])


def _plan(begin: int, end: int, nxt: int, stored: dict[int, bool]) -> list[tuple[str, int, Any]]:
    steps = plan_resend(begin, end, nxt, [(q, _m(q) if keep else None)
                                          for q, keep in stored.items()])
    return [(k, q, p if isinstance(p, int) else "msg") for k, q, p in steps]


def test_plan_empty_store_fills_to_next_sender() -> None:
    assert _plan(1, 10, 6, {}) == [("gap", 1, 6)]


def test_plan_leading_hole_then_message() -> None:
    assert _plan(1, 5, 6, {3: True}) == [("gap", 1, 3), ("msg", 3, "msg"), ("gap", 4, 6)]


def test_plan_all_messages() -> None:
    assert _plan(2, 3, 4, {2: True, 3: True}) == [("msg", 2, "msg"), ("msg", 3, "msg")]


def test_plan_ignores_rows_outside_range() -> None:
    assert _plan(2, 3, 10, {1: True, 2: True, 3: True, 4: True}) == [
        ("msg", 2, "msg"), ("msg", 3, "msg")]


def test_plan_trailing_admin_inside_range() -> None:
    assert _plan(1, 3, 4, {1: True, 2: False, 3: False}) == [("msg", 1, "msg"), ("gap", 2, 4)]


def test_resend_request_above_a_gap_is_answered_and_queued() -> None:
    """Regression (found against QuickFIX/J): a ResendRequest whose own
    MsgSeqNum is above a gap is answered at once and queued, so that the
    target moves past it when the gap closes instead of sticking below it."""
    p = Pair()
    p.connect()
    dropped: list[bytes] = []

    def drop(side, msg):  # type: ignore[no-untyped-def]
        if side is p.ini and msg.msg_type == b"D" and not dropped:
            dropped.append(msg.get(34) or b"")
            return True
        return False

    p.drop = drop
    p.send(p.ini, "D", [(11, "lost")])  # seq 2 never arrives
    p.send(p.acc, "D", [(11, "from-broker")])
    p.ini.session._send_admin(b"2", [(7, b"1"), (16, b"0")], p.now)  # seq 3: above the gap
    p.pump()
    assert dropped == [b"2"]
    # the broker answered the request (a gap fill, then its order again) ...
    answered = [decode(d) for d in p.acc.wire if decode(d).get(43) == b"Y"]
    assert any(m.msg_type == b"D" and m.get(11) == b"from-broker" for m in answered)
    # ... and, once the client's resend of seq 2 filled the gap, moved past seq 3
    assert [m.get(11) for m in p.acc.delivered if m.msg_type == b"D"] == [b"lost"]
    assert p.acc.session.next_target == p.ini.session.next_sender
    assert not p.acc.session.queue and p.acc.session.resend_range is None
