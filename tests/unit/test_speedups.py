"""The C accelerator gives exactly what the pure-Python reference gives.

Each test runs the same input through ``engine/codec/_speedups.c`` and
through the reference code in framer.py / parser.py (``_next_frame_py``,
``_split_fields_py``, ``_decode_py``) and compares everything observable:
frames, Garbled reasons, field lists, ``misplaced_tag``, ``clean``, exception types and
texts.  The C functions are called directly, so the comparison also runs
when FIXPLUS_NO_SPEEDUPS=1 switches the engine itself to pure Python.

When the extension is not built these tests are skipped, except under
CI=true where a missing extension is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyfixmsg_plus.engine.codec import encoder as encoder_mod
from pyfixmsg_plus.engine.codec import framer as framer_mod
from pyfixmsg_plus.engine.codec import parser as parser_mod
from pyfixmsg_plus.engine.codec.encoder import encode
from pyfixmsg_plus.engine.codec.framer import Frame, Framer, Garbled, checksum
from pyfixmsg_plus.engine.codec.message import Message
from pyfixmsg_plus.engine.codec.parser import DecodedMessage
from pyfixmsg_plus.engine.codec.tags import DATA_LENGTH_TAGS, HEADER_TAGS, TRAILER_TAGS
from pyfixmsg_plus.engine.errors import GarbledMessageError

from tests.realparts import missing


def _load() -> ModuleType:
    try:
        from pyfixmsg_plus.engine.codec import _speedups
    except ImportError as exc:  # pragma: no cover - depends on the build
        missing(f"the C extension _speedups is not built ({exc}); "
                "install with a C compiler: pip install -e '.[dev]'")
    return _speedups


sp = _load()
# The same constants parser.py hands over (configure is idempotent); done
# here too so that the C functions are usable under FIXPLUS_NO_SPEEDUPS=1.
sp.configure(HEADER_TAGS, TRAILER_TAGS, DATA_LENGTH_TAGS, GarbledMessageError, DecodedMessage)

SOH = b"\x01"


# -- helpers -----------------------------------------------------------------


class PyFramer(Framer):
    """The framer with the reference cutter."""

    __slots__ = ()

    def next_frame(self) -> Frame | None:
        return self._next_frame_py()


class CFramer(Framer):
    """The framer with the C cutter, whatever FIXPLUS_NO_SPEEDUPS says."""

    __slots__ = ()

    def next_frame(self) -> Frame | None:
        cut = sp.next_frame(self._buf, self._pos, self.max_message_size)
        if cut is None:
            return None
        self._pos, data, reason = cut
        return data if reason is None else Garbled(data, reason)


def outcome(fn: Callable[[bytes], Any], data: bytes) -> tuple[Any, ...]:
    """What ``fn(data)`` returns or raises, in comparable form."""
    try:
        result = fn(data)
    except GarbledMessageError as exc:
        return ("garbled", str(exc), exc.reason, exc.ref_tag)
    except Exception as exc:
        return ("error", type(exc).__name__, str(exc))
    if isinstance(result, DecodedMessage):
        return (
            "message",
            type(result),
            result.header,
            result.body,
            result.trailer,
            result.misplaced_tag,
            result.raw,
            result.clean,
        )
    return ("value", result)


def assert_same_decode(frame: bytes) -> None:
    expected = outcome(parser_mod._decode_py, frame)
    assert outcome(sp.decode, frame) == expected
    assert outcome(sp.split_fields, frame) == outcome(parser_mod._split_fields_py, frame)
    if expected[0] == "message":
        fast = sp.decode(frame)
        slow = parser_mod._decode_py(frame)
        assert isinstance(fast, DecodedMessage)
        # The index the C code fills is the one Message builds lazily.
        assert fast._index == slow._build_index()
        for tag in {t for t, _ in slow.fields()}:
            assert fast[tag] == slow[tag]
            assert fast.get_all(tag) == slow.get_all(tag)


def run_framer(cls: type[Framer], data: bytes, chunks: list[int], max_size: int) -> list[Any]:
    framer = cls(max_message_size=max_size)
    out: list[Any] = []
    pos = i = 0
    while pos < len(data):
        size = chunks[i % len(chunks)]
        for frame in framer.feed_and_drain(data[pos : pos + size]):
            out.append(("garbled", frame.data, frame.reason) if isinstance(frame, Garbled) else frame)
        out.append(("buffered", framer.buffered))
        pos += size
        i += 1
    return out


def assert_same_frames(data: bytes, chunks: list[int], max_size: int = 1 << 20) -> None:
    assert run_framer(CFramer, data, chunks, max_size) == run_framer(
        PyFramer, data, chunks, max_size
    )


def wrap(body: bytes, begin: bytes = b"FIX.4.4") -> bytes:
    """A frame around ``body`` (which starts with 35=) with correct length and checksum."""
    head = b"8=%s\x019=%d\x01" % (begin, len(body))
    return head + body + b"10=%03d\x01" % checksum(head + body)


# -- strategies --------------------------------------------------------------

value_bytes = st.binary(max_size=12).map(lambda b: b.replace(SOH, b"x"))
some_tags = st.one_of(
    st.sampled_from(sorted(HEADER_TAGS | TRAILER_TAGS)),
    st.sampled_from(sorted(DATA_LENGTH_TAGS) + sorted(DATA_LENGTH_TAGS.values())),
    st.integers(min_value=1, max_value=12000),
)


@st.composite
def data_field(draw: st.DrawFn) -> bytes:
    """A length field and its raw-data field, the data holding SOH and '='."""
    length_tag = draw(st.sampled_from(sorted(DATA_LENGTH_TAGS)))
    data = draw(st.binary(max_size=20) | st.sampled_from([b"\x01", b"a\x01b=c\x01", b"\x0110=1\x01"]))
    declared = draw(st.sampled_from([len(data)] * 4 + [len(data) + 1, max(len(data) - 1, 0), 0]))
    data_tag = draw(
        st.sampled_from([b"%d" % DATA_LENGTH_TAGS[length_tag]] * 4 + [b"0%d" % length_tag, b"58"])
    )
    return b"%d=%d\x01%s=%s\x01" % (length_tag, declared, data_tag, data)


@st.composite
def plain_field(draw: st.DrawFn) -> bytes:
    tag = draw(some_tags)
    return b"%d=%s\x01" % (tag, draw(value_bytes))


@st.composite
def odd_field(draw: st.DrawFn) -> bytes:
    """Fields with tags the parser must keep (-5, 007, huge) or reject (x, empty)."""
    tag = draw(
        st.sampled_from(
            [b"-5", b"007", b"-0", b"99999999999999999999999", b"x", b"", b"-", b"1 ", b"+1",
             b"\xd9\xa3", b"12a", b"1_0"]
        )
    )
    return tag + b"=" + draw(value_bytes) + SOH


@st.composite
def message_body(draw: st.DrawFn) -> bytes:
    """35=... then fields in any order (header tags in the body, trailer tags early...)."""
    kinds = st.one_of(plain_field(), plain_field(), plain_field(), data_field(), odd_field())
    fields = draw(st.lists(kinds, max_size=25))
    msg_type = draw(st.sampled_from([b"8", b"D", b"A", b"0"]))
    return b"35=" + msg_type + SOH + b"".join(fields)


@st.composite
def good_message(draw: st.DrawFn) -> bytes:
    """A well-formed message built by the encoder (valid body length and checksum)."""
    msg = Message.new("FIX.4.4", draw(st.sampled_from(["8", "D", "0"])))
    msg.set(49, "BROKER").set(56, "CLIENT").set(34, draw(st.integers(1, 10**9)))
    for _ in range(draw(st.integers(0, 12))):
        if draw(st.booleans()):
            tag = draw(st.integers(min_value=11, max_value=12000))
            if tag not in HEADER_TAGS and tag not in TRAILER_TAGS and tag not in DATA_LENGTH_TAGS:
                msg.append(tag, draw(value_bytes))
        else:
            data = draw(st.binary(max_size=16))
            msg.append(95, len(data)).append(96, data)
    return encode(msg)


chunkings = st.lists(st.integers(min_value=1, max_value=97), min_size=1, max_size=6)


# -- wiring --------------------------------------------------------------------


def test_engine_uses_the_extension_unless_disabled() -> None:
    disabled = os.environ.get("FIXPLUS_NO_SPEEDUPS", "") not in ("", "0")
    assert (framer_mod._cut is None) == disabled
    assert (parser_mod._c_decode is None) == disabled
    assert (encoder_mod._c_encode is None) == disabled
    if not disabled:
        assert encoder_mod._c_encode is sp.encode
        assert framer_mod._cut is sp.next_frame
        assert parser_mod._c_decode is sp.decode


def test_decode_returns_a_decoded_message_whose_fields_read_by_tag() -> None:
    frame = wrap(b"35=8\x0134=2\x0149=B\x0156=C\x0155=SYM\x0195=3\x0196=a\x01b\x01")
    msg = sp.decode(frame)
    assert isinstance(msg, DecodedMessage)
    assert msg[55] == b"SYM"
    assert msg[96] == b"a\x01b"
    assert msg.raw is frame
    assert msg.misplaced_tag is None


def test_non_bytes_input_is_rejected_by_c_and_handled_by_the_dispatch() -> None:
    frame = wrap(b"35=0\x01")
    with pytest.raises(TypeError):
        sp.decode(bytearray(frame))
    assert parser_mod.decode(bytearray(frame)) == parser_mod._decode_py(bytearray(frame))


def test_checksum_matches() -> None:
    for data in (b"", b"\xff" * 1000, bytes(range(256)) * 3):
        assert sp.checksum(data) == checksum(data)
        assert sp.checksum(bytearray(data)) == checksum(data)


# -- decode ----------------------------------------------------------------


@given(message_body())
def test_decode_same_on_random_messages(body: bytes) -> None:
    assert_same_decode(wrap(body))


@given(good_message())
def test_decode_same_on_encoded_messages(frame: bytes) -> None:
    assert_same_decode(frame)


@given(st.binary(max_size=200))
def test_decode_same_on_random_bytes(data: bytes) -> None:
    assert_same_decode(data)
    assert_same_decode(data + SOH)


@given(message_body(), st.data())
def test_decode_same_on_corrupted_messages(body: bytes, data: st.DataObject) -> None:
    frame = bytearray(wrap(body))
    for _ in range(data.draw(st.integers(1, 4))):
        where = data.draw(st.integers(0, len(frame) - 1))
        action = data.draw(st.sampled_from(["flip", "soh", "eq", "cut", "drop"]))
        if action == "flip":
            frame[where] ^= 1 << data.draw(st.integers(0, 7))
        elif action == "soh":
            frame.insert(where, 1)
        elif action == "eq":
            frame.insert(where, ord("="))
        elif action == "cut":
            del frame[where:]
        elif len(frame) > 1:
            del frame[where]
        if not frame:
            break
    assert_same_decode(bytes(frame))


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        SOH,
        b"=" + SOH,
        b"8=FIX.4.4",
        b"8=FIX.4.4\x01\x01",
        b"=\x01=\x01",
        b"95=5\x0196=ab\x01",  # data shorter than declared, runs off the end
        b"95=2\x0196=ab\x01",
        b"95=999999999999999999999999\x0196=a\x01b\x01",  # longer than any frame
        b"95=" + b"9" * 5000 + b"\x0196=a\x01b\x01",  # beyond int()'s digit limit
        b"95=\x0196=\x01",
        b"95=3\x0196=a\x01\x01",
        b"95=3\x0196=\x01\x01\x01",
        b"95=1\x01",
        b"95=1\x0196\x01",
        b"1" * 5000 + b"=x\x01",  # a tag beyond int()'s digit limit
        b"-" + b"1" * 30 + b"=x\x01",
        b"10=000\x0134=1\x01",  # field after the trailer started
        b"35=8\x0155=X\x0149=A\x0110=000\x0189=S\x01",
        b"35=8\x0193=4\x0189=a\x01b\x01c\x0110=000\x01",
    ],
)
def test_decode_same_on_hostile_input(frame: bytes) -> None:
    assert_same_decode(frame)


# -- framer ----------------------------------------------------------------


@given(st.lists(good_message(), min_size=1, max_size=5), chunkings)
def test_framer_same_on_random_chunking(msgs: list[bytes], chunks: list[int]) -> None:
    assert_same_frames(b"".join(msgs), chunks)


@given(st.lists(message_body(), min_size=1, max_size=4), chunkings)
def test_framer_same_on_random_bodies(bodies: list[bytes], chunks: list[int]) -> None:
    assert_same_frames(b"".join(wrap(b) for b in bodies), chunks)


@given(
    st.lists(good_message(), min_size=1, max_size=5),
    st.lists(
        st.tuples(
            st.integers(min_value=0),
            st.sampled_from(["flip", "soh", "cut", "drop", "noise", "begin"]),
            st.binary(min_size=1, max_size=8),
        ),
        min_size=1,
        max_size=4,
    ),
    chunkings,
    st.sampled_from([1 << 20, 100, 40, 0, -1, 2**70]),
)
def test_framer_same_on_corruption(
    msgs: list[bytes],
    damage: list[tuple[int, str, bytes]],
    chunks: list[int],
    max_size: int,
) -> None:
    stream = bytearray(b"".join(msgs))
    for where, action, noise in damage:
        if not stream:
            break
        where %= len(stream)
        if action == "flip":
            stream[where] ^= 1 << (noise[0] % 8)
        elif action == "soh":
            stream.insert(where, 1)
        elif action == "cut":
            del stream[where : where + noise[0] % 64]
        elif action == "drop":
            del stream[where]
        elif action == "noise":
            stream[where:where] = noise
        else:
            stream[where:where] = b"\x018=FIX"[: 1 + noise[0] % 6]
    assert_same_frames(bytes(stream), chunks, max_size)


@given(st.binary(max_size=400), chunkings, st.sampled_from([1 << 20, 64, 0]))
def test_framer_same_on_random_bytes(data: bytes, chunks: list[int], max_size: int) -> None:
    assert_same_frames(data, chunks, max_size)
    assert_same_frames(b"8=FIX.4.4\x019=" + data, chunks, max_size)


@pytest.mark.parametrize(
    "data",
    [
        b"8=FIX.4.4\x019=999999999\x0135=0\x0110=000\x01",  # huge BodyLength
        b"8=FIX.4.4\x019=9999999999\x0135=0\x01",  # ten digits
        b"8=FIX.4.4" + b"x" * 200,  # BeginString never terminated
        b"8=FIX.4.4\x019=" + b"1" * 40,  # BodyLength never terminated
        b"8=FIX.4.4\x0135=0\x019=5\x01",  # BodyLength not second
        b"x" * 1000,  # no SOH at all
        b"\x01" * 100,
        b"8=FIX" * 50,
        b"\x018=FIX" * 30,
        b"8=FIX.4.4\x019=-1\x0135=0\x0110=000\x01",
        b"8=FIX.4.4\x019=0\x0110=000\x01",
        b"8=FIX.4.4\x019=5\x0135=0\x0110=00\x01",
        b"8=FIX.4.4\x019=5\x0135=0\x0110=0000\x01",
        b"8=FIX.4.4\x019=5\x0135=0\x0110=" + b"0" * 50,
        b"8=FIX.4.4\x019=3\x0134\x0110=000\x01",
        b"junk\x018=FIX.4.4\x019=5\x0135=0\x0110=163\x01",
    ],
)
@pytest.mark.parametrize("chunk", [1, 3, 7, 1000])
def test_framer_same_on_hostile_input(data: bytes, chunk: int) -> None:
    for max_size in (1 << 20, 10, 0):
        assert_same_frames(data, [chunk], max_size)
        assert_same_frames(data + wrap(b"35=0\x01"), [chunk], max_size)


def test_next_frame_checks_its_arguments() -> None:
    with pytest.raises(ValueError):
        sp.next_frame(bytearray(b"8=FIX"), 6, 100)
    with pytest.raises(ValueError):
        sp.next_frame(bytearray(b"8=FIX"), -1, 100)
    with pytest.raises(TypeError):
        sp.next_frame("8=FIX", 0, 100)
    with pytest.raises(TypeError):
        sp.next_frame(bytearray(), 0)


# -- encode ----------------------------------------------------------------

any_tag = st.one_of(
    st.integers(min_value=-20, max_value=12000),
    st.sampled_from([8, 9, 10, 35, 5999, 6000, 2**63 - 1, -(2**63), 2**70, -(2**70)]),
)
any_value = st.one_of(
    st.binary(max_size=12), st.binary(max_size=4).map(bytearray), st.just(memoryview(b"mv"))
)


def encode_both(begin: bytes, msg_type: bytes, msg: Message) -> tuple[Any, Any]:
    def attempt(fn: Callable[[], Any]) -> Any:
        try:
            return ("ok", fn())
        except Exception as exc:
            return ("error", type(exc).__name__, str(exc))

    fast = attempt(lambda: sp.encode(begin, msg_type, msg.header, msg.body, msg.trailer))
    slow = attempt(lambda: encoder_mod._encode_py(begin, msg_type, msg))
    return fast, slow


@given(
    st.binary(min_size=1, max_size=10),
    st.binary(min_size=1, max_size=3),
    st.lists(st.tuples(any_tag, st.binary(max_size=12)), max_size=8),
    st.lists(st.tuples(any_tag, st.binary(max_size=12)), max_size=25),
    st.lists(st.tuples(any_tag, st.binary(max_size=12)), max_size=4),
)
def test_encode_same_bytes(
    begin: bytes,
    msg_type: bytes,
    header: list[tuple[int, bytes]],
    body: list[tuple[int, bytes]],
    trailer: list[tuple[int, bytes]],
) -> None:
    msg = Message(header, body, trailer)
    fast, slow = encode_both(begin, msg_type, msg)
    if fast == ("ok", None):  # left to Python: only for tags beyond 64 bits
        assert any(abs(tag) >= 2**63 for tag, _ in msg.fields())
    else:
        assert fast == slow


@given(
    st.lists(st.tuples(any_tag, any_value), max_size=10),
    st.sampled_from([b"FIX.4.4", bytearray(b"FIX.4.4")]),
)
def test_encode_odd_values_fall_back_to_python(body: list[Any], begin: Any) -> None:
    msg = Message([], [*body, (True, b"x")] if len(body) % 3 == 0 else body, [])
    fast, slow = encode_both(begin, b"D", msg)
    assert fast in (slow, ("ok", None))
    # Through the public dispatch the result is always the Python one.
    msg.header = [(8, begin), (35, b"D")]
    msg.touch()
    try:
        expected: Any = encoder_mod._encode_py(begin, b"D", msg)
    except Exception as exc:
        expected = type(exc)
    try:
        got: Any = encoder_mod.encode(msg)
    except Exception as exc:
        got = type(exc)
    assert got == expected


def test_encode_w1_through_the_dispatch() -> None:
    msg = Message.new("FIX.4.4", "8", [(6, "0"), (11, "12345"), (55, "SYM"), (44, "10.5")])
    msg.set(34, 2).set(49, "BROKER").set(56, "CLIENT").set(52, "20261121-05:40:04.615")
    wire = encoder_mod.encode(msg)
    assert wire == encoder_mod._encode_py(b"FIX.4.4", b"8", msg)
    assert sp.encode(b"FIX.4.4", b"8", msg.header, msg.body, msg.trailer) == wire


@pytest.mark.parametrize("field,clean", [
    (b"58=x", True), (b"58=", False), (b"0=x", False), (b"-5=x", False),
    (b"99999999999999999999999=x", True), (b"-99999999999999999999999=x", False),
])
def test_clean_flags_bad_tags_and_empty_values(field: bytes, clean: bool) -> None:
    body = b"35=0\x0134=1\x0149=A\x0152=20260101-00:00:00\x0156=B\x01" + field + b"\x01"
    frame = b"8=FIX.4.4\x019=%d\x01" % len(body) + body
    frame += b"10=%03d\x01" % (sum(frame) % 256)
    for decode in (sp.decode, parser_mod._decode_py):
        assert decode(frame).clean is clean
