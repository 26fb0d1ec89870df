"""Structured fuzzing of everything a counterparty's bytes reach first.

Three targets, each a plain function that takes what hypothesis draws and
raises AssertionError on a finding:

* :func:`check_framer`: a byte stream cut into random chunks through the
  framer, with the C cutter and the pure-Python reference;
* :func:`check_decode`: one frame through ``decode``, C and pure Python
  (only GarbledMessageError comes out of ``decode``), and through
  ``mask_credentials`` (no password left in a readable message);
* :func:`check_validator`: a decoded message through the dictionary
  validators of FIX.4.2, FIX.4.4 and FIX.5.0SP2 (groups, types, enums);
* :func:`check_session`: a logged-on (or waiting) session fed hostile
  messages through framer, decoder and ``Session.receive`` /
  ``receive_garbled``, as the driver does, with fake time passing, with
  and without a validator built from a real FIX.4.4 dictionary.

The inputs are valid messages mutated the way attackers and broken peers
do: byte flips, truncation, huge numbers (10,000 digits, 2^63, 2^31),
duplicated and missing tags, bad CheckSum and BodyLength, control
characters, SOH inside values.  Most cases get a correct BodyLength and
CheckSum after mutation, so that they pass the framer and reach the
session.

``tests/security/test_fuzz.py`` runs a bounded number of examples in CI;
``tests/security/fuzz_long.py`` runs as many as asked and prints the counts.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from pyfixmsg_plus.engine.codec import framer as framer_mod
from pyfixmsg_plus.engine.codec import parser as parser_mod
from pyfixmsg_plus.engine.codec.credentials import MASK, SECRET_TAGS, mask_credentials
from pyfixmsg_plus.engine.codec.framer import Framer, Garbled
from pyfixmsg_plus.engine.codec.parser import DecodedMessage
from pyfixmsg_plus.engine.codec.values import MAX_SEQ_NUM
from pyfixmsg_plus.engine.config import SessionSettings
from pyfixmsg_plus.engine.errors import GarbledMessageError
from pyfixmsg_plus.engine.runtime import build_validator
from pyfixmsg_plus.engine.session import State
from pyfixmsg_plus.engine.session import effects as fx

from tests.realparts import shared_dir
from tests.unit.session_harness import NS, Solo, settings

#: How many times each target ran (fuzz_long.py prints them).
EXECUTIONS: Counter[str] = Counter()

SOH = b"\x01"
HUGE = b"9" * 10_000
NUMBERS = [HUGE, b"9" * 400, b"%d" % 2**63, b"%d" % 2**64, b"%d" % (MAX_SEQ_NUM + 1), b"%d" % MAX_SEQ_NUM,
           b"-1", b"0", b"00000000000000000000001", b"1", b"2", b"3", b"-" + HUGE]
JUNK = [b"", b"abc", b"\r\n2026-01-01 INFO forged", b"\x1b[2J", b"\x00", b"a\x01b", b"=",
        b"\xff\xfe", "\u202e".encode(), b"Y", b"N", b"FIX.4.4", b"x" * 70_000]
#: Tags whose values the session or the decoder read.
TAGS = [34, 36, 7, 16, 108, 789, 9, 10, 35, 8, 49, 56, 52, 43, 97, 122, 123, 141, 45, 371,
        372, 373, 58, 112, 95, 96, 93, 89, 553, 554, 1137,
        # application fields and repeating groups (counts, delimiters, members)
        78, 79, 80, 453, 448, 447, 452, 146, 55, 267, 269, 262, 263, 264, 11, 38, 54, 40, 44,
        60, 21, 18, 29, 1128]
EXECUTABLE_EFFECTS = (fx.Send, fx.SetTarget, fx.ResetStore, fx.Deliver,
                      fx.AuthorizeLogon, fx.LoadResend, fx.Disconnect, fx.LoggedOn,
                      fx.LoggedOut, fx.Log)


# -- building and mutating messages -------------------------------------------
def envelope(body: bytes, begin: bytes = b"FIX.4.4") -> bytes:
    """``body`` (from 35= on) with a correct BodyLength and CheckSum."""
    head = b"8=%s\x019=%d\x01" % (begin, len(body))
    data = head + body
    return data + b"10=%03d\x01" % (sum(data) & 0xFF)


def body_fields(wire: bytes) -> list[tuple[bytes, bytes]]:
    """The fields of a (valid, data-field free) message between 9 and 10."""
    out = []
    for part in wire.split(SOH)[2:-2]:
        tag, _, value = part.partition(b"=")
        out.append((tag, value))
    return out


@st.composite
def field_value(draw: st.DrawFn) -> bytes:
    return draw(st.sampled_from(NUMBERS) | st.sampled_from(JUNK)
                | st.binary(max_size=12) | st.integers(-5, 10**6).map(lambda i: b"%d" % i))


@st.composite
def mutated(draw: st.DrawFn, wire: bytes) -> bytes:
    """``wire`` after one to four structured mutations."""
    fields = body_fields(wire)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["set", "set", "set", "dup", "drop", "insert", "swap", "tag"]))
        if op == "set" or not fields:
            tag = b"%d" % draw(st.sampled_from(TAGS))
            value = draw(field_value())
            for i, (k, _) in enumerate(fields):
                if k == tag:
                    fields[i] = (tag, value)
                    break
            else:
                fields.append((tag, value))
        elif op == "dup":
            i = draw(st.integers(0, len(fields) - 1))
            fields.insert(draw(st.integers(0, len(fields))), fields[i])
        elif op == "drop":
            del fields[draw(st.integers(0, len(fields) - 1))]
        elif op == "insert":
            fields.insert(draw(st.integers(0, len(fields))),
                          (b"%d" % draw(st.sampled_from(TAGS)), draw(field_value())))
        elif op == "swap" and len(fields) > 1:
            i, j = draw(st.integers(0, len(fields) - 1)), draw(st.integers(0, len(fields) - 1))
            fields[i], fields[j] = fields[j], fields[i]
        elif op == "tag":
            i = draw(st.integers(0, len(fields) - 1))
            bad = draw(st.sampled_from([HUGE, b"-5", b"0", b"", b"1x", b"%d" % 2**70,
                                        b"00" + fields[i][0]]))
            fields[i] = (bad, fields[i][1])
    body = b"".join(b"%s=%s\x01" % f for f in fields)
    begin = draw(st.sampled_from([b"FIX.4.4"] * 8 + [b"FIX.4.2", b"FIX.4.4\x1b", b""]))
    data = envelope(body, begin)
    raw = draw(st.sampled_from(["fixed"] * 6 + ["flip", "truncate", "checksum", "length",
                                                "insert"]))
    if raw == "flip" and data:
        i = draw(st.integers(0, len(data) - 1))
        data = data[:i] + bytes([data[i] ^ draw(st.integers(1, 255))]) + data[i + 1:]
    elif raw == "truncate":
        data = data[: draw(st.integers(0, len(data)))]
    elif raw == "checksum":
        data = data[:-4] + b"%03d\x01" % draw(st.integers(0, 999))
    elif raw == "length":
        length = draw(st.sampled_from([*NUMBERS[:5], b"0", b"-1", b"99999999", b"12a"]))
        data = re.sub(rb"\x019=[0-9]*\x01", lambda _m: b"\x019=" + length + b"\x01", data,
                      count=1)
    elif raw == "insert":
        i = draw(st.integers(0, len(data)))
        data = data[:i] + draw(st.binary(min_size=1, max_size=20)) + data[i:]
    return data


# -- target 1: the framer -------------------------------------------------------
class _PyFramer(Framer):
    def next_frame(self) -> Any:
        return self._next_frame_py()


def check_framer(data: bytes, chunks: list[int], max_size: int) -> None:
    EXECUTIONS["framer"] += 1
    # Large inputs (a 70 KB value) in chunks of a few bytes would make
    # tens of thousands of feeds: scale the chunks to about 500 feeds.
    scale = max(1, len(data) // (500 * min(chunks)))
    chunks = [c * scale for c in chunks]
    results = []
    for cls in (Framer, _PyFramer):
        framer = cls(max_message_size=max_size)
        out: list[Any] = []
        pos = i = 0
        while pos < len(data):
            size = chunks[i % len(chunks)]
            for frame in framer.feed_and_drain(data[pos:pos + size]):
                if isinstance(frame, Garbled):
                    assert isinstance(frame.reason, str)
                    out.append(("garbled", frame.reason))
                else:
                    assert isinstance(frame, bytes) and frame.startswith(b"8=FIX")
                    assert frame.endswith(SOH)
                    cs = frame.rindex(b"\x0110=") + 1
                    assert int(frame[cs + 3:-1]) == sum(frame[:cs]) & 0xFF
                    out.append(frame)
            pos += size
            i += 1
        # What stays buffered is bounded by the maximum message size.
        assert framer.buffered <= max_size + 64 + max(chunks), framer.buffered
        results.append(out)
    if framer_mod._cut is not None:
        assert results[0] == results[1]


# -- target 2: the decoder --------------------------------------------------------
def _decode_outcome(fn: Any, frame: bytes) -> tuple[Any, ...]:
    try:
        msg = fn(frame)
    except GarbledMessageError as exc:
        return ("garbled", str(exc))
    except ValueError as exc:
        # Only int()'s digit limit: a tag or data length of more than 4,300
        # digits (the driver treats it as garbled).
        assert "digits" in str(exc), exc
        return ("too many digits",)
    assert isinstance(msg, DecodedMessage)
    assert msg.raw == frame
    return ("message", msg.header, msg.body, msg.trailer, msg.misplaced_tag, msg.clean)


def check_decode(frame: bytes) -> None:
    EXECUTIONS["decode"] += 1
    slow = _decode_outcome(parser_mod._decode_py, frame)
    if parser_mod._c_decode is not None:
        assert _decode_outcome(parser_mod._c_decode, frame) == slow
    # What the engine calls raises GarbledMessageError and nothing else.
    try:
        parser_mod.decode(frame)
    except GarbledMessageError:
        assert slow[0] != "message"
    else:
        assert slow[0] == "message"
    # Masking for storage and display takes any bytes; a readable message
    # keeps no password.
    masked = mask_credentials(frame)
    if slow[0] == "message":
        fields = parser_mod.split_fields(masked)
        assert all(v == MASK for k, v in fields if k in SECRET_TAGS), fields


# -- target 3: the dictionary validators ----------------------------------------------
_DICTIONARIES: dict[str, Any] = {}


def _dictionary_validator(version: str) -> Any:
    if version not in _DICTIONARIES:
        from pyfixmsg_plus.engine.dictionary import Validator, load

        _DICTIONARIES[version] = Validator(load(_spec() / f"{version}.xml"))
    return _DICTIONARIES[version]


def check_validator(frame: bytes, version: str) -> None:
    EXECUTIONS["validator"] += 1
    try:
        msg = parser_mod.decode(frame)
    except (GarbledMessageError, ValueError):
        return
    reject = _dictionary_validator(version)(msg)
    if reject is not None:
        assert isinstance(reject.reason, int) and 0 <= reject.reason <= 99, reject
        assert reject.ref_tag is None or isinstance(reject.ref_tag, int)


#: Application messages with repeating groups, for the validator target.
APP_MESSAGES = [
    envelope(b"35=D\x0149=CLIENT\x0156=BROKER\x0134=2\x0152=20260101-00:00:00.000\x01"
             b"11=o1\x0121=1\x0155=X\x0154=1\x0160=20260101-00:00:00\x0138=100\x0140=2\x01"
             b"44=10.5\x01453=2\x01448=P1\x01447=D\x01452=1\x01448=P2\x01447=D\x01452=3\x01"),
    envelope(b"35=V\x0149=CLIENT\x0156=BROKER\x0134=2\x0152=20260101-00:00:00.000\x01"
             b"262=r1\x01263=1\x01264=0\x01267=2\x01269=0\x01269=1\x01146=1\x0155=X\x01"),
    envelope(b"35=E\x0149=CLIENT\x0156=BROKER\x0134=2\x0152=20260101-00:00:00.000\x01"
             b"66=L1\x01394=1\x0168=1\x0173=1\x0111=o1\x0167=1\x0155=X\x0154=1\x01"
             b"60=20260101-00:00:00\x0140=1\x01"),
]


# -- target 4: the session receive path ----------------------------------------------
@dataclasses.dataclass
class SessionCase:
    validated: bool
    logged_on: bool
    steps: list[tuple[str, Any]]  # ("bytes", data) | ("time", seconds)


def _spec() -> Path:
    return shared_dir("FIXPLUS_SPEC_DIR", "fix-spec")


def session_settings(validated: bool) -> SessionSettings:
    extra: dict[str, Any] = {"enable_next_expected_msg_seq_num": True}
    if validated:
        extra["validation"] = {"data_dictionary": str(_spec() / "FIX44.xml")}
    return settings("acceptor", "BROKER", "CLIENT", **extra)


_VALIDATORS: dict[bool, Any] = {}


def _validator(validated: bool) -> Any:
    if validated not in _VALIDATORS:
        _VALIDATORS[validated] = build_validator(session_settings(validated))
    return _VALIDATORS[validated]


def templates(s: Solo) -> list[bytes]:
    """Valid counterparty messages with the next MsgSeqNum (admin and application)."""
    from pyfixmsg_plus.engine.codec import encode

    seq = s.peer_seq
    bodies: list[tuple[str, list[tuple[int, Any]]]] = [
        ("D", [(11, "o1"), (21, "1"), (55, "X"), (54, "1"), (60, "20260101-00:00:00"),
               (38, 100), (40, "1")]),
        ("0", []), ("1", [(112, "T1")]), ("2", [(7, 1), (16, 0)]),
        ("4", [(36, seq + 5), (123, "Y")]), ("4", [(36, seq + 5)]), ("5", [(58, "bye")]),
        ("A", [(98, 0), (108, 30), (141, "Y"), (789, 1)]), ("3", [(45, 1), (373, 1)]),
        ("j", [(45, 1), (380, 0)]), ("ZZ", [(58, "x")]),
    ]
    return [encode(s.msg(mt, body, seq=seq)) for mt, body in bodies]


@st.composite
def session_case(draw: st.DrawFn) -> SessionCase:
    validated = draw(st.booleans())
    logged_on = draw(st.booleans())
    probe = Solo(session_settings(False))
    if logged_on:
        probe.peer_seq = 2
    bases = templates(probe)
    steps: list[tuple[str, Any]] = []
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["bytes"] * 5 + ["valid", "time"]))
        base = draw(st.sampled_from(bases))
        if kind == "bytes":
            steps.append(("bytes", draw(mutated(base))))
        elif kind == "valid":
            steps.append(("bytes", base))
        else:
            steps.append(("time", draw(st.sampled_from([1, 31, 65, 3600, 86_400 * 3]))))
    return SessionCase(validated, logged_on, steps)


def _feed_bytes(s: Solo, framer: Framer, data: bytes) -> None:
    """What SessionDriver._feed does with received bytes."""
    for frame in framer.feed_and_drain(data):
        if isinstance(frame, Garbled):
            s.session.receive_garbled(frame.reason, s.now)
        else:
            try:
                msg = parser_mod.decode(frame)
            except (GarbledMessageError, ValueError) as exc:
                s.session.receive_garbled(str(exc)[:200], s.now)
            else:
                s.session.receive(msg, s.now)
        s.run()


def check_session(case: SessionCase) -> None:
    EXECUTIONS["session"] += 1
    s = Solo(session_settings(case.validated), _validator(case.validated))
    if case.logged_on:
        s.logon()
    else:
        s.connect()
    framer = Framer(max_message_size=1 << 20)
    session = s.session
    for kind, arg in case.steps:
        if not session.state.connected:
            break
        sender, target = session.next_sender, session.next_target
        seen = len(s.effects)
        if kind == "time":
            s.advance(arg)
        else:
            _feed_bytes(s, framer, arg)
        new = s.effects[seen:]
        assert all(type(e) in EXECUTABLE_EFFECTS for e in new), new
        reset = any(isinstance(e, fx.ResetStore) for e in new)
        if not reset:
            # Sequence numbers never go down except on a reset.
            assert session.next_sender >= sender, (session.next_sender, sender)
            assert session.next_target >= target, (session.next_target, target)
        assert 1 <= session.next_sender <= MAX_SEQ_NUM + 1
        assert 1 <= session.next_target <= MAX_SEQ_NUM + 1
        assert all(1 <= q <= MAX_SEQ_NUM for q in session.queue)
        deadline = session.next_deadline()
        assert deadline is None or isinstance(deadline, int)
        for e in new:
            if isinstance(e, fx.SetTarget):
                assert 1 <= e.next_target <= MAX_SEQ_NUM + 1
            if isinstance(e, fx.LoadResend):
                assert 0 <= e.begin <= e.end <= MAX_SEQ_NUM
    if session.state.connected:
        s.advance(120)  # timers after the hostile input
    assert session.state in State


__all__ = ["APP_MESSAGES", "EXECUTIONS", "NS", "check_decode", "check_framer",
           "check_session", "check_validator", "mutated", "session_case", "templates"]
