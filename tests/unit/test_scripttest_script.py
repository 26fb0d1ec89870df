"""The .def parser, placeholders and QuickFIX's BodyLength/CheckSum rule."""

from __future__ import annotations

import os
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pyfixmsg_plus.engine.scripttest import (
    ScriptSyntaxError,
    Verb,
    fixify,
    parse_script,
    timify,
)
from pyfixmsg_plus.engine.scripttest.script import load_script

from tests.realparts import missing

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def soh(text: str) -> bytes:
    return text.replace("|", "\x01").encode()


def conformance_dir() -> Path:
    root = Path(os.environ.get("FIXPLUS_CONFORMANCE_DIR", REPO.parent / "shared" / "conformance"))
    defs = root / "quickfix"
    if not defs.is_dir():
        missing(f"QuickFIX acceptance definitions not found in {defs} "
                "(set FIXPLUS_CONFORMANCE_DIR)")
    return defs


# -- parsing ---------------------------------------------------------------


def test_every_verb_and_variant() -> None:
    text = soh(
        "# a comment\n"
        "\n"
        "   \n"
        "iCONNECT\n"
        "I8=FIX.4.4|35=A|34=1|\n"
        "E8=FIX.4.4|9=5|35=A|10=0|\n"
        "i2,CONNECT\r\n"
        "I2,8=FIX.4.4|35=0|\r\n"
        "E2,8=FIX.4.4|35=0|\n"
        "e2,DISCONNECT\n"
        "i1,DISCONNECT\n"
        "I35=0|8=FIX.4.4|9=29|\n"
        "eDISCONNECT"
    )
    script = parse_script(text)
    got = [(s.line_no, s.verb, s.conn, s.payload) for s in script.steps]
    assert got == [
        (4, Verb.CONNECT, 1, b""),
        (5, Verb.SEND, 1, soh("8=FIX.4.4|35=A|34=1|")),
        (6, Verb.EXPECT, 1, soh("8=FIX.4.4|9=5|35=A|10=0|")),
        (7, Verb.CONNECT, 2, b""),
        (8, Verb.SEND, 2, soh("8=FIX.4.4|35=0|")),
        (9, Verb.EXPECT, 2, soh("8=FIX.4.4|35=0|")),
        (10, Verb.EXPECT_DISCONNECT, 2, b""),
        (11, Verb.DISCONNECT, 1, b""),
        (12, Verb.SEND, 1, soh("35=0|8=FIX.4.4|9=29|")),
        (13, Verb.EXPECT_DISCONNECT, 1, b""),
    ]
    assert script.connections == {1, 2}


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (b"X8=FIX.4.4", "unknown verb"),
        (b"iCONNECTED", "expected CONNECT or DISCONNECT"),
        (b"eCONNECT", "not supported"),
        (b"I", "message expected"),
        (b"I0,8=FIX.4.4\x01", "connection numbers start at 1"),
    ],
)
def test_syntax_errors(line: bytes, why: str) -> None:
    with pytest.raises(ScriptSyntaxError, match=why) as info:
        parse_script(b"# header\n" + line + b"\n")
    assert info.value.line_no == 2


def test_all_shared_definitions_parse() -> None:
    defs = conformance_dir()
    files = sorted(defs.rglob("*.def"))
    assert len(files) >= 350
    verbs: Counter[tuple[Verb, int]] = Counter()
    for path in files:
        script = load_script(path)
        assert script.steps, path
        assert script.steps[0].verb is Verb.CONNECT, path
        for step in script.steps:
            verbs[step.verb, step.conn] += 1
            if step.verb in (Verb.SEND, Verb.EXPECT):
                rendered = step.render(NOW)
                assert b"<" not in rendered, (path, step.line_no)
                if step.verb is Verb.EXPECT:
                    # Every expectation ends up with 9 second and 10 last.
                    assert rendered.split(b"\x01")[1].startswith(b"9="), (path, step.line_no)
                    assert rendered.rsplit(b"\x01", 2)[1].startswith(b"10="), (path, step.line_no)
    # Every verb and connection-number variant the suite uses.
    assert {key for key, n in verbs.items() if n} == {
        (Verb.CONNECT, 1),
        (Verb.CONNECT, 2),
        (Verb.DISCONNECT, 1),
        (Verb.SEND, 1),
        (Verb.SEND, 2),
        (Verb.EXPECT, 1),
        (Verb.EXPECT_DISCONNECT, 1),
        (Verb.EXPECT_DISCONNECT, 2),
    }


def test_crlf_definitions_parse_like_lf() -> None:
    lf = soh("iCONNECT\nI8=FIX.4.4|35=0|\neDISCONNECT\n")
    crlf = lf.replace(b"\n", b"\r\n")

    def key(text: bytes) -> list[tuple[int, Verb, int, bytes, bytes]]:
        return [(s.line_no, s.verb, s.conn, s.payload, s.line) for s in parse_script(text).steps]

    assert key(lf) == key(crlf)
    assert [s.payload for s in parse_script(crlf).steps] == [b"", soh("8=FIX.4.4|35=0|"), b""]


# -- placeholders ------------------------------------------------------------


def test_time_placeholders() -> None:
    text = b"52=<TIME>|a=<TIME+10>|b=<TIME-121>|c=<TIME+121>|d=<TIME-1>|e=<TIME>"
    assert timify(text, NOW) == (
        b"52=20240102-03:04:05|a=20240102-03:04:15|b=20240102-03:02:04"
        b"|c=20240102-03:06:06|d=20240102-03:04:04|e=20240102-03:04:05"
    )


def test_forward_shifts_are_never_shortened_by_the_dropped_fraction() -> None:
    late = NOW.replace(microsecond=999_000)
    text = b"52=<TIME>|a=<TIME+121>|b=<TIME-121>|c=<TIME+10>"
    assert timify(text, late) == (
        b"52=20240102-03:04:05|a=20240102-03:06:07|b=20240102-03:02:04"
        b"|c=20240102-03:04:16"
    )


def test_only_time_placeholders_occur_in_the_suite() -> None:
    import re

    seen: set[bytes] = set()
    for path in conformance_dir().rglob("*.def"):
        for line in path.read_bytes().splitlines():
            if not line.startswith(b"#"):
                seen.update(re.findall(rb"<[^>\x01]*>", line))
    assert seen and all(re.fullmatch(rb"<TIME([+-]\d+)?>", p) for p in seen), seen


# -- BodyLength(9) and CheckSum(10) ------------------------------------------


def test_adds_length_and_checksum_when_absent() -> None:
    # 9 = len("35=0|") = 5; 10 = sum("8=FIX.4.4|9=5|35=0|") % 256:
    # "8=FIX.4.4|" 545 + "9=5|" 172 + "35=0|" 214 = 931, 931 - 768 = 163.
    assert fixify(soh("8=FIX.4.4|35=0|")) == soh("8=FIX.4.4|9=5|35=0|10=163|")


def test_adds_length_and_checksum_to_a_heartbeat() -> None:
    # Body "35=0|34=2|49=TW|52=20240102-03:04:05|56=ISLD|" is 5+5+6+21+8 = 45
    # bytes; the checksum agrees with simplefix's encoder.
    want = soh("8=FIX.4.4|9=45|35=0|34=2|49=TW|52=20240102-03:04:05|56=ISLD|10=214|")
    assert fixify(soh("8=FIX.4.4|35=0|34=2|49=TW|52=20240102-03:04:05|56=ISLD|")) == want
    import simplefix

    msg = simplefix.FixMessage()
    for tag, value in [(8, "FIX.4.4"), (35, "0"), (34, "2"), (49, "TW")]:
        msg.append_pair(tag, value)
    msg.append_pair(52, "20240102-03:04:05")
    msg.append_pair(56, "ISLD")
    assert msg.encode() == want


def test_line_with_both_is_sent_as_written() -> None:
    line = soh("8=FIX.4.4|9=52|35=0|34=2|4garbled9=TW|52=20240102-03:04:05|56=ISLD|10=0|")
    assert fixify(line) == line


def test_line_not_starting_with_begin_string_is_sent_as_written() -> None:
    line = soh("35=0|8=FIX.4.4|9=29|34=2|49=TW44|52=20240102-03:04:05|56=ISLD|10=121|")
    assert fixify(line) == line
    assert fixify(b"CONNECT") == b"CONNECT"


def test_length_present_checksum_absent_adds_only_the_checksum() -> None:
    # 2m_BodyLengthValueNotCorrect / 4a_NoDataSentDuringHeartBtInt: the wrong
    # BodyLength stays, the CheckSum is computed over the bytes as written.
    line = soh("8=FIX.4.0|9=30|35=0|34=2|")
    # "8=FIX.4.0|" 541 + "9=30|" 218 + "35=0|" 214 + "34=2|" 215 = 1188 -> 164
    assert fixify(line) == soh("8=FIX.4.0|9=30|35=0|34=2|10=164|")


def test_checksum_present_length_absent_inserts_length_one_short() -> None:
    # 3b_InvalidChecksum: QuickFIX cuts "<SOH>10=...<SOH>" off before measuring,
    # so the inserted BodyLength misses the SOH that ends the last body field.
    line = soh("8=FIX.4.4|35=0|34=2|10=256|")
    assert fixify(line) == soh("8=FIX.4.4|9=9|35=0|34=2|10=256|")


def test_length_anywhere_counts_as_present() -> None:
    # QuickFIX looks for "<SOH>9=" anywhere, not only as the second field.
    line = soh("8=FIX.4.4|35=0|9=3|")
    assert fixify(line).startswith(soh("8=FIX.4.4|35=0|9=3|10="))
