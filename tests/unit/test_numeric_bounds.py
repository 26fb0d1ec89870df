"""Numbers too large for their field: a precise Reject or Logout, never an
exception; stores refuse sequence numbers above MAX_SEQ_NUM."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pyfixmsg_plus.engine.codec import FieldType
from pyfixmsg_plus.engine.codec.values import (
    MAX_SEQ_NUM,
    is_valid,
    parse_bounded_uint,
    parse_int,
    parse_seq_num,
    parse_uint,
)
from pyfixmsg_plus.engine.errors import FieldValueError
from pyfixmsg_plus.engine.session import State
from pyfixmsg_plus.engine.session.validation import basic_problems
from pyfixmsg_plus.engine.store.base import SessionKey
from pyfixmsg_plus.engine.store.errors import StoreSequenceError
from pyfixmsg_plus.engine.store.memory import MemoryStore

from .session_harness import Solo, settings

HUGE = b"9" * 10_000  # more digits than Python's int() converts
ABOVE = b"%d" % (MAX_SEQ_NUM + 1)
ABOVE_64 = b"%d" % 2**64


def test_parse_seq_num() -> None:
    assert parse_seq_num(b"1") == 1
    assert parse_seq_num(b"0") == 0
    assert parse_seq_num(b"000042") == 42
    assert parse_seq_num(b"%d" % MAX_SEQ_NUM) == MAX_SEQ_NUM
    for bad in (ABOVE, ABOVE_64, HUGE, b"", b"-1", b"+1", b"1.0", b" 1", b"\xd9\xa1"):
        assert parse_seq_num(bad) is None, bad[:20]
    assert parse_bounded_uint(b"30", 60) == 30
    assert parse_bounded_uint(b"61", 60) is None
    assert parse_bounded_uint(HUGE, 60) is None


def test_typed_parsers_raise_field_value_errors_for_huge_numbers() -> None:
    with pytest.raises(FieldValueError, match="10000 digits"):
        parse_int(HUGE)
    with pytest.raises(FieldValueError):
        parse_uint(b"-" + HUGE)
    assert not is_valid(FieldType.DAYOFMONTH, HUGE)
    assert not is_valid(FieldType.SEQNUM, ABOVE)
    assert is_valid(FieldType.SEQNUM, b"%d" % MAX_SEQ_NUM)


def _solo(validator: Any = None) -> Solo:
    s = Solo(settings("acceptor", "BROKER", "CLIENT"), validator)
    s.logon()
    return s


@pytest.mark.parametrize("seq", [ABOVE, ABOVE_64, HUGE])
@pytest.mark.parametrize("with_validator", [False, True])
def test_msg_seq_num_out_of_range_is_rejected_with_reason_5(seq: bytes,
                                                              with_validator: bool) -> None:
    s = _solo((lambda msg: None) if with_validator else None)
    before = s.session.next_target
    s.feed(s.msg("D", [(11, "x"), (55, "Y")], seq=seq))  # type: ignore[arg-type]
    rej = s.last("3")
    assert (rej.get(373), rej.get(371)) == (b"5", b"34")
    assert s.session.next_target == before
    assert s.state is State.ACTIVE


def test_logon_with_msg_seq_num_out_of_range_is_refused() -> None:
    s = Solo(settings("acceptor", "BROKER", "CLIENT"))
    s.connect()
    s.feed(s.logon_msg(seq=HUGE))  # type: ignore[arg-type]
    assert s.state is State.DISCONNECTED
    assert "(34)" in s.disconnects[-1]
    assert basic_problems(s.logon_msg(seq=ABOVE)).reason == 5  # type: ignore[arg-type, union-attr]


@pytest.mark.parametrize("new_seq", [ABOVE, ABOVE_64, HUGE])
def test_new_seq_no_out_of_range_is_rejected(new_seq: bytes) -> None:
    s = _solo()
    before = s.session.next_target
    s.feed(s.msg("4", [(36, new_seq)]))
    rej = s.last("3")
    assert (rej.get(373), rej.get(371)) == (b"5", b"36")
    assert s.session.next_target == before


@pytest.mark.parametrize(("begin", "end", "tag"), [
    (HUGE, b"0", b"7"), (ABOVE_64, b"0", b"7"), (b"1", HUGE, b"16"), (b"-1", b"0", b"7"),
])
def test_resend_request_bounds_out_of_range_are_rejected(begin: bytes, end: bytes,
                                                         tag: bytes) -> None:
    s = _solo()
    s.feed(s.msg("2", [(7, begin), (16, end)]))
    rej = s.last("3")
    assert (rej.get(373), rej.get(371)) == (b"5", tag)
    assert s.state is State.ACTIVE


def test_resend_request_without_its_bounds_is_rejected_with_reason_1() -> None:
    s = _solo()
    s.feed(s.msg("2", [(16, 0)]))
    rej = s.last("3")
    assert (rej.get(373), rej.get(371)) == (b"1", b"7")


def test_next_expected_msg_seq_num_out_of_range_ends_the_logon() -> None:
    s = Solo(settings("acceptor", "BROKER", "CLIENT", enable_next_expected_msg_seq_num=True))
    s.connect()
    s.feed(s.logon_msg(body=[(789, HUGE)]))
    assert "NextExpectedMsgSeqNum too high" in s.disconnects[-1]


def test_stores_refuse_sequence_numbers_above_the_maximum() -> None:
    async def go() -> None:
        backend = MemoryStore()
        store = await backend.open(SessionKey("FIX.4.4:A->B"))
        for call in (store.set_next_target(2**64), store.set_next_sender(MAX_SEQ_NUM + 2),
                     store.set_next_target(10**5000), store.get_range(1, 2**63)):
            with pytest.raises(StoreSequenceError, match="above the maximum"):
                await call
        await store.set_next_target(MAX_SEQ_NUM + 1)  # the number after the last one
        await store.set_next_sender(MAX_SEQ_NUM)
        await store.save_outbound([(MAX_SEQ_NUM, b"x")])
        with pytest.raises(StoreSequenceError, match="above the maximum"):
            await store.save_outbound([(MAX_SEQ_NUM + 1, b"y")])
        assert (await store.load()).next_sender_seq == MAX_SEQ_NUM + 1
        await backend.close()

    asyncio.run(go())


def test_a_huge_num_in_group_is_an_incorrect_count_not_an_exception() -> None:
    from pyfixmsg_plus.engine.codec import parse
    from pyfixmsg_plus.engine.dictionary import validate

    from .test_dictionary_common import spec

    body = (b"35=D\x0149=C\x0156=B\x0134=2\x0152=20260101-00:00:00\x0111=o\x0121=1\x0155=X"
            b"\x0154=1\x0160=20260101-00:00:00\x0140=1\x01453=" + HUGE + b"\x01448=P\x01447=D"
            b"\x01452=1\x01")
    head = b"8=FIX.4.4\x019=%d\x01" % len(body)
    data = head + body
    msg = parse(data + b"10=%03d\x01" % (sum(data) & 0xFF))
    reject = validate(msg, spec("FIX44.xml"))
    assert reject is not None and (reject.reason, reject.ref_tag) == (16, 453)


@pytest.mark.parametrize("hbi", [b"9" * 400, HUGE, ABOVE_64, b"86401"])
def test_heart_bt_int_out_of_range_ends_the_logon(hbi: bytes) -> None:
    # An acceptor holds it to its configured range ...
    s = Solo(settings("acceptor", "BROKER", "CLIENT"))
    s.connect()
    s.feed(s.msg("A", [(98, 0), (108, hbi)]))
    assert s.state is State.DISCONNECTED
    assert s.last("5").get(58) == b"HeartBtInt(108) must be between 1 and 300 seconds"
    assert s.session.next_deadline() is None
    # ... an initiator to what a number of seconds can sensibly be.
    i = Solo(settings("initiator", "CLIENT", "BROKER"))
    i.connect()
    i.feed(i.msg("A", [(98, 0), (108, hbi)]))
    assert not i.session.state.connected
    assert i.last("5").get(58) == b"HeartBtInt(108) must be at most 86400"


@pytest.mark.parametrize("body", [b"35=A\x01" + HUGE[:5000] + b"=x\x01",
                                  b"35=A\x0195=" + HUGE[:5000] + b"\x0196=x\x01"])
def test_decode_raises_only_garbled_for_numbers_too_long_for_int(body: bytes) -> None:
    from pyfixmsg_plus.engine.codec import decode, split_fields
    from pyfixmsg_plus.engine.errors import GarbledMessageError

    head = b"8=FIX.4.4\x019=%d\x01" % len(body)
    frame = head + body + b"10=%03d\x01" % (sum(head + body) & 0xFF)
    for fn in (decode, split_fields):
        with pytest.raises(GarbledMessageError, match="too long"):
            fn(frame)


def test_logout_with_wrong_begin_string_and_huge_seq_num_is_handled() -> None:
    from pyfixmsg_plus.engine.codec import decode, encode

    s = _solo()
    before = s.session.next_target
    m = s.msg("5", [(58, "bye")], seq=HUGE)  # type: ignore[arg-type]
    m.set(8, b"FIX.4.2")
    s.feed(decode(encode(m)))
    assert s.state is State.DISCONNECTED
    assert s.session.next_target == before
