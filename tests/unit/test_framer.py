"""Framer: chunking, resynchronisation, corruption."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from pyfixmsg_plus.engine.codec import Framer, Garbled, Message, checksum, encode


def fix(text: str) -> bytes:
    return text.replace("|", "\x01").encode()


def make(seq: int, extra: list[tuple[int, str]] | None = None, begin: str = "FIX.4.4") -> bytes:
    msg = Message.new(begin, "D", extra or [(11, f"ORD{seq}"), (55, "SYM"), (54, "1")])
    msg.set(49, "A").set(56, "B").set(34, seq).set(52, "20261121-05:40:04.615")
    return encode(msg)


def frames_of(data: bytes, chunks: list[int] | None = None) -> list[bytes | Garbled]:
    framer = Framer()
    out: list[bytes | Garbled] = []
    if chunks is None:
        return framer.feed_and_drain(data)
    pos = 0
    i = 0
    while pos < len(data):
        size = chunks[i % len(chunks)] if chunks else 1
        out.extend(framer.feed_and_drain(data[pos : pos + size]))
        pos += size
        i += 1
    return out


def test_one_message() -> None:
    m = make(1)
    assert frames_of(m) == [m]


def test_one_byte_at_a_time() -> None:
    data = make(1) + make(2) + make(3)
    assert frames_of(data, [1]) == [make(1), make(2), make(3)]


def test_many_messages_in_one_chunk() -> None:
    msgs = [make(i) for i in range(1, 50)]
    assert frames_of(b"".join(msgs)) == msgs


def test_incomplete_waits() -> None:
    m = make(1)
    framer = Framer()
    assert framer.feed_and_drain(m[:-1]) == []
    assert framer.buffered == len(m) - 1
    assert framer.feed_and_drain(m[-1:]) == [m]
    assert framer.buffered == 0


def test_junk_before_begin_string_is_reported_and_skipped() -> None:
    m = make(1)
    out = frames_of(b"35=0\x01garbage\x01" + m)
    assert out[-1] == m
    assert all(isinstance(f, Garbled) for f in out[:-1])


def test_bad_checksum_is_garbled_then_resync() -> None:
    bad = bytearray(make(1))
    bad[-2] = ord("0") if bad[-2] != ord("0") else ord("1")
    out = frames_of(bytes(bad) + make(2))
    assert isinstance(out[0], Garbled) and "CheckSum" in out[0].reason
    assert out[1] == make(2)


def test_checksum_not_three_digits() -> None:
    m = make(1)
    body = m[: m.rfind(b"\x0110=") + 1]
    out = frames_of(body + b"10=%d\x01" % checksum(body) + make(2))
    if checksum(body) >= 100:
        # Three digits anyway: a good frame.
        assert out[0] == body + b"10=%d\x01" % checksum(body)
    else:
        assert isinstance(out[0], Garbled)
    assert out[-1] == make(2)


def test_checksum_256_is_garbled() -> None:
    m = make(1)
    body = m[: m.rfind(b"\x0110=") + 1]
    out = frames_of(body + b"10=256\x01")
    assert len(out) == 1 and isinstance(out[0], Garbled)


def test_body_length_too_short_is_garbled() -> None:
    m = make(1)
    bad = m.replace(b"\x019=", b"\x019=1", 1)  # 9=1NN: far too long
    bad2 = fix("8=FIX.4.4|9=5|35=0|34=2|49=A|56=B|52=20261121-05:40:04|10=000|")
    out = frames_of(bad2 + make(3))
    assert isinstance(out[0], Garbled) and "BodyLength" in out[0].reason
    assert out[1] == make(3)
    assert bad != m


def test_body_length_too_long_swallows_next_message_like_quickfix() -> None:
    m1 = make(1)
    declared = int(m1.split(b"\x01")[1][2:])
    long_one = m1.replace(b"9=%d" % declared, b"9=%d" % (declared + 14), 1)
    out = frames_of(long_one + make(2) + make(3))
    assert isinstance(out[0], Garbled)
    assert out[1:] == [make(3)]


def test_body_length_not_second_field() -> None:
    out = frames_of(fix("8=FIX.4.4|35=0|9=5|10=000|") + make(1))
    assert isinstance(out[0], Garbled) and "second field" in out[0].reason
    assert out[-1] == make(1)


def test_msg_type_not_third_field() -> None:
    body = fix("34=2|35=0|49=A|56=B|")
    head = b"8=FIX.4.4\x019=%d\x01" % len(body)
    frame = head + body + b"10=%03d\x01" % checksum(head + body)
    out = frames_of(frame + make(1))
    assert isinstance(out[0], Garbled) and "MsgType" in out[0].reason
    assert out[1] == make(1)


def test_non_numeric_body_length() -> None:
    out = frames_of(fix("8=FIX.4.4|9=abc|35=0|10=000|") + make(1))
    assert isinstance(out[0], Garbled)
    assert out[-1] == make(1)


def test_huge_body_length_is_refused_without_waiting() -> None:
    framer = Framer(max_message_size=4096)
    out = framer.feed_and_drain(fix("8=FIX.4.4|9=999999999|35=0|") + make(1))
    assert isinstance(out[0], Garbled) and "maximum" in out[0].reason
    assert out[-1] == make(1)


def test_raw_data_with_embedded_soh_and_trailer_lookalike() -> None:
    data = "ab\x0110=123\x01cd"
    m = make(1, [(11, "X"), (95, str(len(data))), (96, data)])
    assert frames_of(m, [3]) == [m]


@given(st.lists(st.integers(min_value=1, max_value=64), min_size=1, max_size=20))
def test_random_chunking_gives_the_same_frames(chunks: list[int]) -> None:
    msgs = [make(i) for i in range(1, 8)]
    assert frames_of(b"".join(msgs), chunks) == msgs


@given(
    st.integers(min_value=0, max_value=10_000),
    st.binary(min_size=1, max_size=8),
    st.lists(st.integers(min_value=1, max_value=97), min_size=1, max_size=5),
)
def test_corruption_never_crashes_never_yields_a_bad_checksum(
    where: int, noise: bytes, chunks: list[int]
) -> None:
    msgs = [make(i) for i in range(1, 6)]
    stream = b"".join(msgs)
    where %= len(stream)
    corrupted = stream[:where] + noise + stream[where + len(noise) // 2 :]
    out = frames_of(corrupted, chunks)
    good = [f for f in out if isinstance(f, bytes)]
    for frame in good:
        body = frame[: frame.rfind(b"\x0110=") + 1]
        assert int(frame[-4:-1]) == checksum(body)
        assert frame.startswith(b"8=FIX")
    # Messages far from the damage come through intact (damage to a CheckSum
    # field makes the frame run on into the next message, as in QuickFIX).
    assert msgs[-1] in good or where + len(noise) >= len(stream) - len(msgs[-1]) - len(msgs[-2])


@given(st.binary(max_size=300))
def test_random_bytes_never_crash(data: bytes) -> None:
    for frame in frames_of(data, [7]):
        if isinstance(frame, bytes):
            body = frame[: frame.rfind(b"\x0110=") + 1]
            assert int(frame[-4:-1]) == checksum(body)
