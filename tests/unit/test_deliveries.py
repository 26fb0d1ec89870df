"""The book of received application messages not yet handled
(engine/transport/delivery.py): the durable target it asks for, resets,
dropped messages and the bound."""

from __future__ import annotations

from pyfixmsg_plus.engine.codec import Message
from pyfixmsg_plus.engine.transport.delivery import Deliveries


def order(seq: int) -> Message:
    return Message.new("FIX.4.4", "D", [(11, f"o{seq}")]).set(34, seq)


def receive(book: Deliveries, seq: int) -> Message:
    """What the driver does for SetTarget(seq + 1) then Deliver(app)."""
    msg = order(seq)
    book.wanted = seq + 1
    book.received(msg)
    return msg


def test_the_target_stops_at_the_oldest_unhandled_message() -> None:
    book = Deliveries(100)
    book.restart(5)
    assert book.goal() is None  # the store holds 5 already
    first, second = receive(book, 5), receive(book, 6)
    book.wanted = 8  # a Heartbeat (7) needs no handling
    assert book.goal() is None  # still 5: the order 5 is not handled
    assert book.done(first)
    assert book.goal() == 6
    book.durable = 6
    assert book.done(second)
    assert book.goal() == 8


def test_out_of_order_completion_does_not_advance_past_the_oldest() -> None:
    book = Deliveries(100)
    book.restart(1)
    first, second = receive(book, 1), receive(book, 2)
    assert not book.done(second)  # not the oldest: the target stays
    assert book.goal() is None
    assert book.done(first)
    assert book.goal() == 3


def test_a_reset_or_reload_forgets_what_was_pending() -> None:
    book = Deliveries(100)
    book.restart(10)
    old = receive(book, 10)
    book.restart(1)  # ResetStore: the old numbers mean nothing now
    new = receive(book, 1)
    assert not book.done(old)  # finishing the old one does not touch the new
    assert book.goal() is None
    assert book.done(new)
    assert book.goal() == 2


def test_a_sequence_reset_moves_the_target_only_past_handled_messages() -> None:
    book = Deliveries(100)
    book.restart(1)
    msg = receive(book, 1)
    book.wanted = 50  # SequenceReset-GapFill NewSeqNo=50
    assert book.goal() is None
    book.done(msg)
    assert book.goal() == 50


def test_dropped_messages_no_longer_hold_the_target() -> None:
    book = Deliveries(100)
    book.restart(1)
    kept, lost = receive(book, 1), receive(book, 2)
    book.drop([lost])
    assert len(book.pending) == 1
    book.done(kept)
    assert book.goal() == 3


def test_room_opens_again_at_half_the_bound() -> None:
    book = Deliveries(4)
    book.restart(1)
    msgs = [receive(book, seq) for seq in range(1, 5)]
    assert book.full
    assert book.stall()  # the driver stops reading
    assert not book.stall()  # (once)
    book.done(msgs[0])
    assert not book.room.is_set()  # 3 left: more than half
    book.done(msgs[1])
    assert book.room.is_set()  # 2 left
    assert not book.full
