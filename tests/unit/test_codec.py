"""Parse, encode and the Message object."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyfixmsg_plus.engine.codec import Message, checksum, decode, encode, parse
from pyfixmsg_plus.engine.codec.tags import DATA_LENGTH_TAGS, HEADER_TAGS, TRAILER_TAGS
from pyfixmsg_plus.engine.errors import GarbledMessageError, LocalProtocolError


def fix(text: str) -> bytes:
    return text.replace("|", "\x01").encode()


def frame(text: str) -> bytes:
    """Add BodyLength and CheckSum to '8=..|35=..|...|'."""
    raw = fix(text)
    first = raw.index(b"\x01") + 1
    body = raw[first:]
    head = raw[:first] + b"9=%d\x01" % len(body)
    return head + body + b"10=%03d\x01" % checksum(head + body)


def test_parse_sections_and_order() -> None:
    msg = parse(frame("8=FIX.4.4|35=D|34=2|49=A|52=20261121-05:40:04|56=B|11=X|55=SYM|"))
    assert [t for t, _ in msg.header] == [8, 9, 35, 34, 49, 52, 56]
    assert msg.body == [(11, b"X"), (55, b"SYM")]
    assert [t for t, _ in msg.trailer] == [10]
    assert msg.msg_type == b"D"
    assert msg.seq_num == 2
    assert msg[55] == b"SYM"
    assert msg.get(9999) is None
    assert msg.misplaced_tag is None


def test_repeated_tags_and_groups_preserved() -> None:
    msg = parse(frame("8=FIX.4.4|35=V|34=2|49=A|52=20261121-05:40:04|56=B|262=R|"
                      "146=2|55=AAA|55=BBB|"))
    assert msg.get_all(55) == [b"AAA", b"BBB"]
    assert msg[55] == b"AAA"


def test_misplaced_header_tag_is_remembered() -> None:
    msg = parse(frame("8=FIX.4.4|35=D|11=X|34=2|49=A|52=20261121-05:40:04|56=B|"))
    assert msg.misplaced_tag == 34
    assert (34, b"2") in msg.header


def test_body_tag_after_trailer_started() -> None:
    msg = decode(fix("8=FIX.4.4|9=5|35=0|93=2|89=ab|58=x|10=000|"))
    assert msg.misplaced_tag == 58


def test_negative_and_zero_tags_parse_for_the_validator() -> None:
    msg = parse(frame("8=FIX.4.4|35=0|34=2|49=A|52=20261121-05:40:04|56=B|-1=HI|0=X|"))
    assert msg.get(-1) == b"HI"
    assert msg.get(0) == b"X"


@pytest.mark.parametrize("bad", ["4garbled9=TW", "49garbled=TW", "=X", "noequals", "+5=1",
                                 " 5=1", "1_0=3"])
def test_garbled_fields(bad: str) -> None:
    with pytest.raises(GarbledMessageError):
        parse(frame(f"8=FIX.4.4|35=0|34=2|{bad}|56=B|"))


def test_empty_value_is_kept() -> None:
    msg = parse(frame("8=FIX.4.4|35=0|34=2|49=A|56=|"))
    assert msg.get(56) == b""


def test_raw_data_field_with_soh_and_equals() -> None:
    data = "a\x01b=c\x0155=x"
    msg = Message.new("FIX.4.4", "B", [(148, "H"), (95, len(data)), (96, data), (58, "t")])
    msg.set(34, 1)
    wire = encode(msg)
    back = parse(wire)
    assert back.get(96) == data.encode()
    assert back.get(55) is None
    assert back.get(58) == b"t"


def test_data_length_that_does_not_fit_falls_back_to_fields() -> None:
    msg = parse(frame("8=FIX.4.4|35=B|95=50|96=ab|58=t|"))
    assert msg.get(96) == b"ab" and msg.get(58) == b"t"


def test_encode_orders_header_and_computes_length_and_checksum() -> None:
    msg = Message()
    msg.append(55, "SYM")
    msg.set(56, "B").set(49, "A").set(35, "D").set(8, "FIX.4.2").set(34, 7)
    wire = encode(msg)
    assert wire.startswith(b"8=FIX.4.2\x019=")
    assert b"\x0135=D\x0134=7\x0149=A\x0156=B\x0155=SYM\x0110=" in wire
    assert parse(wire) is not None


def test_encode_ignores_stale_length_and_checksum() -> None:
    msg = parse(frame("8=FIX.4.4|35=0|34=2|49=A|56=B|"))
    msg.set(58, "longer now")
    again = parse(encode(msg))
    assert again.get(58) == b"longer now"


def test_encode_requires_begin_string_and_msg_type() -> None:
    with pytest.raises(LocalProtocolError):
        encode(Message(body=[(55, b"X")]))
    with pytest.raises(LocalProtocolError):
        encode(Message(header=[(8, b"FIX.4.4")]))


def test_set_replaces_and_orders_header() -> None:
    msg = Message.new("FIX.4.4", "0")
    msg.set(56, "B").set(34, 1).set(49, "A").set(52, "t").set(34, 2)
    assert [t for t, _ in msg.header] == [8, 35, 34, 49, 52, 56]
    assert msg[34] == b"2"


def test_values_converted() -> None:
    msg = Message.new("FIX.4.4", "D", [(44, Decimal("10.50")), (38, 100), (141, True)])
    assert msg[44] == b"10.50" and msg[38] == b"100" and msg[141] == b"Y"
    with pytest.raises(TypeError):
        msg.set(58, 1.5)  # type: ignore[arg-type]


def test_add_group_and_remove() -> None:
    msg = Message.new("FIX.4.4", "V", [(262, "R")])
    msg.add_group(146, [[(55, "AAA")], [(55, "BBB")]])
    assert msg.body == [(262, b"R"), (146, b"2"), (55, b"AAA"), (55, b"BBB")]
    assert msg.remove(55)
    assert not msg.remove(55)
    assert 55 not in msg


def test_copy_is_independent() -> None:
    msg = Message.new("FIX.4.4", "0", [(112, "x")])
    dup = msg.copy()
    dup.set(112, "y")
    assert msg[112] == b"x" and dup[112] == b"y"
    assert msg != dup


_TAGS = st.integers(min_value=1, max_value=9999).filter(
    lambda t: t not in HEADER_TAGS and t not in TRAILER_TAGS and t not in DATA_LENGTH_TAGS
    and t not in DATA_LENGTH_TAGS.values()
)
_VALUES = st.binary(min_size=0, max_size=20).filter(lambda b: b"\x01" not in b)


@given(st.lists(st.tuples(_TAGS, _VALUES), max_size=30), st.sampled_from(["0", "D", "8", "AE"]))
def test_round_trip(body: list[tuple[int, bytes]], msg_type: str) -> None:
    msg = Message.new("FIX.4.4", msg_type, body)
    msg.set(49, "S").set(56, "T").set(34, 9)
    wire = encode(msg)
    back = parse(wire)
    assert back.body == msg.body
    assert [f for f in back.header if f[0] != 9] == msg.header
    assert encode(back) == wire


def test_a_received_message_forgets_its_frame_once_changed() -> None:
    frame = encode(Message.new("FIX.4.4", "0", [(112, "x")]).set(34, 1))
    msg = decode(frame)
    assert msg.raw == frame
    msg.get(112)  # reading keeps it
    assert msg.raw == frame
    msg.set(112, "y")
    assert msg.raw is None
