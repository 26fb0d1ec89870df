"""Session layer, inbound sequencing: gaps and ResendRequests, chunked
resends, queued messages, PossDup duplicates, too-low sequence numbers and
SequenceReset (sans-IO, fake time)."""

from __future__ import annotations

from typing import Any

import pytest
from pyfixmsg_plus.engine.session import State
from pyfixmsg_plus.engine.session import effects as fx

from .session_harness import NS, T0, Pair, Solo, only, settings

OLD = "20200101-00:00:00.000"


def acceptor(**kw: Any) -> Solo:
    a = Solo(settings("acceptor", "BROKER", "CLIENT", **kw))
    a.logon()
    return a


def resend_requests(s: Solo) -> list[tuple[bytes | None, bytes | None]]:
    return [(m.get(7), m.get(16)) for m in s.sent if m.msg_type == b"2"]


def gap_fill(s: Solo, seq: int, new_seq: int) -> Any:
    return s.msg("4", [(36, new_seq), (123, "Y")], seq=seq, header=[(43, "Y"), (122, OLD)])


def possdup(s: Solo, msg_type: str, seq: int, body: list[tuple[int, Any]] | None = None,
            orig: str | None = OLD) -> Any:
    header: list[tuple[int, Any]] = [(43, "Y")]
    if orig is not None:
        header.append((122, orig))
    return s.msg(msg_type, body or [(11, f"o{seq}")], seq=seq, header=header)


# -- gaps ----------------------------------------------------------------------------
def test_gap_sends_one_resend_request_and_queues() -> None:
    a = acceptor()  # next target 2
    a.feed(a.msg("D", [(11, "x")], seq=5))
    assert resend_requests(a) == [(b"2", b"0")]
    assert a.session.resend_range == (2, 4, 4)
    assert set(a.session.queue) == {5}
    a.feed(a.msg("D", [(11, "y")], seq=6))
    a.feed(a.msg("0", seq=7))
    assert resend_requests(a) == [(b"2", b"0")]  # one outstanding at a time
    assert a.session.resend_range == (2, 6, 4)
    assert a.app_delivered() == []


def test_redundant_resend_requests_when_enabled() -> None:
    a = acceptor(send_redundant_resend_requests=True)
    a.feed(a.msg("D", seq=5))
    a.feed(a.msg("D", seq=6))
    assert resend_requests(a) == [(b"2", b"0"), (b"2", b"0")]


def test_queued_messages_replayed_in_order_after_gap_closes() -> None:
    a = acceptor()
    for seq in (4, 6, 5):
        a.feed(a.msg("D", [(11, f"q{seq}")], seq=seq))
    assert a.app_delivered() == []
    a.feed(possdup(a, "D", 2, [(11, "r2")]))
    assert [m.get(11) for m in a.app_delivered()] == [b"r2"]
    a.feed(possdup(a, "D", 3, [(11, "r3")]))
    assert [m.get(11) for m in a.app_delivered()] == [b"r2", b"r3", b"q4", b"q5", b"q6"]
    assert a.session.next_target == 7 and not a.session.queue
    assert a.session.resend_range is None
    # The durable target advanced before each delivery (the harness checks it).
    assert a.next_target == 7


def test_resend_answered_by_gap_fill_releases_queue() -> None:
    a = acceptor()
    a.feed(a.msg("D", [(11, "q")], seq=5))
    a.feed(gap_fill(a, 2, 5))
    assert [m.get(11) for m in a.app_delivered()] == [b"q"]
    assert a.session.next_target == 6 and a.session.resend_range is None


def test_gap_after_gap_fill_asks_again() -> None:
    """Regression: a gap closed by a GapFill whose MsgSeqNum lies below the
    end of the requested range left the ResendRequest marked outstanding, so
    the next gap was queued without asking for a resend: the session stalled."""
    a = acceptor()
    a.feed(a.msg("D", seq=5))
    a.feed(gap_fill(a, 2, 5))
    assert a.session.resend_range is None
    a.feed(a.msg("D", seq=9))
    assert resend_requests(a) == [(b"2", b"0"), (b"6", b"0")]


def test_gap_fill_mid_chunk_continues_with_next_chunk() -> None:
    a = acceptor(resend_request_chunk_size=3)
    a.feed(a.msg("D", seq=12))  # gap 2..11
    assert resend_requests(a) == [(b"2", b"4")]
    a.feed(gap_fill(a, 2, 6))  # covers past the first chunk
    assert resend_requests(a) == [(b"2", b"4"), (b"6", b"8")]
    assert a.session.resend_range == (6, 11, 8)


def test_chunked_resend_requests_until_gap_closes() -> None:
    a = acceptor(resend_request_chunk_size=2)
    a.feed(a.msg("D", [(11, "q7")], seq=7))  # gap 2..6
    assert resend_requests(a) == [(b"2", b"3")]
    a.feed(possdup(a, "D", 2))
    assert resend_requests(a) == [(b"2", b"3")]
    a.feed(possdup(a, "D", 3))
    assert resend_requests(a) == [(b"2", b"3"), (b"4", b"5")]
    a.feed(possdup(a, "D", 4))
    a.feed(possdup(a, "D", 5))
    # The last chunk fits: it is asked for open-ended.
    assert resend_requests(a) == [(b"2", b"3"), (b"4", b"5"), (b"6", b"0")]
    a.feed(possdup(a, "D", 6))
    assert a.session.resend_range is None and a.session.next_target == 8
    assert [m.get(11) for m in a.app_delivered()][-1] == b"q7"


def test_chunk_size_larger_than_gap_uses_open_end() -> None:
    a = acceptor(resend_request_chunk_size=10)
    a.feed(a.msg("D", seq=4))
    assert resend_requests(a) == [(b"2", b"0")]


@pytest.mark.parametrize(("begin_string", "end"), [("FIX.4.0", b"999999"), ("FIX.4.1", b"999999"),
                                                    ("FIX.4.2", b"0"), ("FIX.4.3", b"0")])
def test_resend_request_open_end_per_version(begin_string: str, end: bytes) -> None:
    a = acceptor(begin_string=begin_string)
    a.feed(a.msg("D", seq=3))
    assert resend_requests(a) == [(b"2", end)]


def test_pair_recovers_dropped_messages_in_both_directions() -> None:
    p = Pair()
    p.connect()
    dropped: set[tuple[int, int]] = set()

    def drop(side: Any, msg: Any) -> bool:
        key = (id(side), int(msg.get(34)))
        fresh = msg.msg_type == b"D" and msg.get(43) is None
        if fresh and int(msg.get(34)) % 3 == 0 and key not in dropped:
            dropped.add(key)
            return True
        return False

    p.drop = drop
    for i in range(10):
        p.send(p.ini, "D", [(11, f"i{i}")])
        p.send(p.acc, "D", [(11, f"a{i}")])
    p.drop = lambda side, msg: False
    # Heartbeats reveal the trailing gaps; a ResendRequest that arrived above
    # a gap is answered but not counted, so one more round closes that.
    p.advance(31)
    p.advance(60)
    for side, prefix in ((p.acc, "i"), (p.ini, "a")):
        got = [m.get(11) for m in side.delivered if m.msg_type == b"D"]
        assert got == [f"{prefix}{i}".encode() for i in range(10)]
    assert p.ini.session.next_target == p.acc.session.next_sender
    assert p.acc.session.next_target == p.ini.session.next_sender


# -- PossDup and too-low sequence numbers -----------------------------------------------
def test_possdup_duplicate_ignored() -> None:
    a = acceptor()
    a.feed(a.msg("D", [(11, "x")]))  # 2
    before = len(a.sent)
    a.feed(possdup(a, "D", 2, [(11, "x")]))
    assert len(a.app_delivered()) == 1 and len(a.sent) == before
    assert a.state is State.ACTIVE and a.session.next_target == 3


def test_possdup_orig_sending_time_after_sending_time() -> None:
    a = acceptor()
    a.feed(a.msg("D"))
    late = "20991231-00:00:00.000"
    a.feed(possdup(a, "D", 2, orig=late))
    rej, logout = a.sent[-2:]
    assert rej.msg_type == b"3" and rej.get(373) == b"10" and rej.get(45) == b"2"
    assert logout.msg_type == b"5"
    assert a.state is State.LOGOUT_SENT


def test_possdup_without_orig_sending_time() -> None:
    a = acceptor()
    a.feed(a.msg("D"))
    a.feed(possdup(a, "D", 2, orig=None))
    rej = a.last("3")
    assert rej.get(373) == b"1" and rej.get(371) == b"122"
    assert a.state is State.ACTIVE and a.session.next_target == 3


def test_possdup_in_sequence_is_delivered() -> None:
    a = acceptor()
    a.feed(possdup(a, "D", 2, [(11, "first")]))
    assert [m.get(11) for m in a.app_delivered()] == [b"first"]


def test_too_low_without_possdup_logs_out() -> None:
    a = acceptor()
    a.feed(a.msg("0"))
    a.feed(a.msg("0"))  # 3; next expected 4
    out = a.feed(a.msg("D", seq=2))
    assert a.last("5").get(58) == b"MsgSeqNum too low, expecting 4 but received 2"
    assert only(out, fx.Disconnect) and a.state is State.DISCONNECTED


def test_too_low_possdup_sequence_reset_is_ignored() -> None:
    a = acceptor()
    a.feed(a.msg("0"))
    before = len(a.sent)
    a.feed(gap_fill(a, 2, 3))
    assert len(a.sent) == before and a.session.next_target == 3


# -- SequenceReset --------------------------------------------------------------------------
def test_gap_fill_moves_target() -> None:
    a = acceptor()
    a.feed(gap_fill(a, 2, 10))
    assert a.session.next_target == 10 and a.next_target == 10


def test_gap_fill_too_high_is_queued_behind_resend() -> None:
    a = acceptor()
    a.feed(gap_fill(a, 5, 10))
    assert resend_requests(a) == [(b"2", b"0")]
    assert a.session.next_target == 2


def test_sequence_reset_mode_ignores_msg_seq_num() -> None:
    a = acceptor()
    a.feed(a.msg("4", [(36, 20)], seq=99))
    assert a.session.next_target == 20
    assert resend_requests(a) == []
    a.feed(a.msg("4", [(36, 25)], seq=1))  # too low, no PossDup: still honoured
    assert a.session.next_target == 25 and a.state is State.ACTIVE


def test_sequence_reset_lower_is_rejected_without_increment() -> None:
    a = acceptor()
    a.feed(a.msg("0"))  # next 3
    a.feed(a.msg("4", [(36, 2)], seq=3))
    rej = a.last("3")
    assert rej.get(373) == b"5" and rej.get(45) == b"3"
    assert a.session.next_target == 3


def test_gap_fill_lower_is_rejected_without_increment() -> None:
    a = acceptor()
    a.feed(a.msg("0"))
    a.feed(a.msg("4", [(36, 2), (123, "Y")], seq=3))
    assert a.last("3").get(373) == b"5"
    assert a.session.next_target == 3


def test_sequence_reset_equal_does_nothing() -> None:
    a = acceptor()
    before = len(a.sent)
    a.feed(a.msg("4", [(36, 2)], seq=2))
    assert len(a.sent) == before and a.session.next_target == 2


def test_sequence_reset_drops_skipped_queue_entries() -> None:
    a = acceptor()
    a.feed(a.msg("D", [(11, "q4")], seq=4))
    a.feed(a.msg("D", [(11, "q6")], seq=6))
    a.feed(a.msg("4", [(36, 6)], seq=1))
    assert [m.get(11) for m in a.app_delivered()] == [b"q6"]
    assert a.session.next_target == 7 and not a.session.queue


# -- ResendRequest received while a gap is open --------------------------------------------
def test_resend_request_above_gap_is_answered_at_once() -> None:
    """A ResendRequest is served whatever its MsgSeqNum (QuickFIX's rule: a
    counterparty that lost our ResendRequest must still get its messages);
    the gap below it is asked for at once, and only once."""
    a = acceptor()
    a.send()
    a.send()
    a.sent.clear()
    a.feed(a.msg("2", [(7, 2), (16, 0)], seq=5))
    assert [(m.msg_type, m.get(34), m.get(43)) for m in a.sent] == [
        (b"2", b"4", None), (b"D", b"2", b"Y"), (b"D", b"3", b"Y")]
    assert resend_requests(a) == [(b"2", b"0")]
    assert a.session.next_target == 2
    a.feed(a.msg("0", seq=6))
    assert resend_requests(a) == [(b"2", b"0")]


# -- timing of queued messages -------------------------------------------------------------
def test_queued_message_still_counts_as_traffic() -> None:
    a = acceptor()
    a.advance(20)
    a.feed(a.msg("0", seq=9))
    assert a.session.last_received == T0 + 20 * NS
