"""The expected-versus-received matcher."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pyfixmsg_plus.engine.codec import Message, encode
from pyfixmsg_plus.engine.scripttest import DEFAULT_PATTERNS, Matcher, fixify
from pyfixmsg_plus.engine.scripttest.compare import load_patterns, parse_patterns, split


def soh(text: str) -> bytes:
    return text.replace("|", "\x01").encode()


LOGON_E = soh("8=FIX.4.4|9=63|35=A|34=1|49=ISLD|52=00000000-00:00:00.000|56=TW44|98=0|108=30|10=0|")


def logon(sending_time: str = "20240102-03:04:05.678", **extra: str) -> bytes:
    msg = Message.new("FIX.4.4", "A", [(98, "0"), (108, extra.get("hb", "30"))])
    msg.set(34, extra.get("seq", "1")).set(49, "ISLD").set(52, sending_time).set(56, "TW44")
    return encode(msg)


@pytest.fixture
def matcher() -> Matcher:
    return Matcher()


def test_match_with_patterns_and_checksum_ignored(matcher: Matcher) -> None:
    assert matcher.compare(LOGON_E, logon()) is None


def test_seconds_sending_time_matches_the_pattern_but_not_the_length(matcher: Matcher) -> None:
    # 52 matches its pattern, but the message is 4 bytes shorter: 9 is exact.
    mismatch = matcher.compare(LOGON_E, logon("20240102-03:04:05"))
    assert mismatch is not None
    assert mismatch.reason == "value in field (9) should be (63) but was (59)"


def test_pattern_failure(matcher: Matcher) -> None:
    mismatch = matcher.compare(LOGON_E, logon("2024-01-02 03:04:05.67"))
    assert mismatch is not None
    assert mismatch.reason.startswith("value in field (9)")  # 9 comes first
    e = soh("8=FIX.4.4|35=A|52=00000000-00:00:00.000|10=0|")
    got = soh("8=FIX.4.4|35=A|52=yesterday|10=123|")
    mismatch = matcher.compare(e, got)
    assert mismatch is not None
    assert mismatch.reason.startswith("field (52) value (yesterday) does not match /")


def test_value_difference_reported_field_by_field(matcher: Matcher) -> None:
    mismatch = matcher.compare(LOGON_E, logon(hb="31"))
    assert mismatch is not None
    assert mismatch.reason == "value in field (108) should be (30) but was (31)"
    lines = list(mismatch.explain())
    assert lines[1].startswith("expected: 8=FIX.4.4|9=63|35=A|")
    assert lines[2].startswith("received: 8=FIX.4.4|9=63|35=A|")
    assert len(lines) == 4
    assert lines[3].startswith("!!")
    assert "expected 108=30" in lines[3]
    assert "received 108=31" in lines[3]
    assert "(different value)" in lines[3]
    everything = list(mismatch.explain(all_fields=True))
    assert len(everything) == 3 + 10


def test_tag_order_matters(matcher: Matcher) -> None:
    e = soh("8=FIX.4.4|9=10|35=0|34=2|49=X|10=0|")
    got = soh("8=FIX.4.4|9=10|35=0|49=X|34=2|10=111|")
    mismatch = matcher.compare(e, got)
    assert mismatch is not None
    assert mismatch.reason == "expected field (34) but found field (49) at position 4"


def test_field_count_matters(matcher: Matcher) -> None:
    e = soh("8=FIX.4.4|9=10|35=0|34=2|10=0|")
    got = soh("8=FIX.4.4|9=10|35=0|34=2|112=X|10=111|")
    mismatch = matcher.compare(e, got)
    assert mismatch is not None
    assert mismatch.reason.startswith("number of fields does not match: expected 5, received 6")
    assert "first difference at field 5: expected 10=0, received 112=X" in mismatch.reason
    assert [d.note for d in mismatch.fields if not d.ok] == ["different tag", "extra"]


def test_checksum_value_is_never_compared_but_must_be_there(matcher: Matcher) -> None:
    e = soh("8=FIX.4.4|9=5|35=0|10=0|")
    assert Matcher({}).compare(e, soh("8=FIX.4.4|9=5|35=0|10=abc|")) is None
    assert matcher.compare(e, soh("8=FIX.4.4|9=5|35=0|")) is not None


def test_expected_line_without_length_gets_a_computed_one(matcher: Matcher) -> None:
    # 2d_GarbledMessage / 3c_GarbledMessage write the expected logon with no
    # 9 and no 10: QuickFIX adds both from the expected text, so 9 is compared
    # against the length of the text as written (placeholders included).
    line = soh("8=FIX.4.4|35=A|34=1|49=ISLD|52=00000000-00:00:00.000|56=TW44|98=0|108=30|")
    expected = fixify(line)
    assert expected.startswith(soh("8=FIX.4.4|9=63|35=A|"))
    assert matcher.compare(expected, logon()) is None
    assert matcher.compare(expected, logon("20240102-03:04:05")) is not None


def test_empty_values_and_values_with_equals(matcher: Matcher) -> None:
    e = soh("8=FIX.4.4|9=5|35=0|58=a=b|115=|10=0|")
    assert matcher.compare(e, soh("8=FIX.4.4|9=5|35=0|58=a=b|115=|10=001|")) is None
    assert matcher.compare(e, soh("8=FIX.4.4|9=5|35=0|58=a=c|115=|10=001|")) is not None


def test_patterns_file(tmp_path: Path) -> None:
    fmt = tmp_path / "fields.fmt"
    fmt.write_text("# comment\n\n10=\\d{3}\n58=^Hello\n")
    matcher = Matcher.from_file(fmt)
    e = soh("8=FIX.4.4|9=5|35=0|58=whatever|52=x|10=0|")
    assert matcher.compare(e, soh("8=FIX.4.4|9=5|35=0|58=Hello world|52=x|10=001|")) is None
    mismatch = matcher.compare(e, soh("8=FIX.4.4|9=5|35=0|58=Oh Hello|52=x|10=001|"))
    assert mismatch is not None
    assert "does not match /^Hello/" in mismatch.reason


def test_default_patterns_are_the_suites(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[2]
    root = Path(os.environ.get("FIXPLUS_CONFORMANCE_DIR", repo.parent / "shared" / "conformance"))
    fmt = root / "quickfix" / "fields.fmt"
    if fmt.is_file():
        assert load_patterns(fmt).keys() == load_patterns(None).keys()
        assert {k: p.pattern for k, p in load_patterns(fmt).items()} == {
            k: p.pattern for k, p in parse_patterns(DEFAULT_PATTERNS).items()
        }
    # 52 allows seconds or milliseconds, found anywhere in the value.
    p52 = load_patterns(None)[52]
    assert p52.search(b"20240102-03:04:05")
    assert p52.search(b"20240102-03:04:05.123")
    assert not p52.search(b"2024-01-02")


@pytest.mark.parametrize("bad", ["x=1", "10", "10=("])
def test_bad_patterns_file(bad: str) -> None:
    with pytest.raises(ValueError, match=r"fields\.fmt line 1"):
        parse_patterns(bad)


def test_split_drops_trailing_empty_pieces_only() -> None:
    assert split(soh("8=A|9=|35=0||")) == [(b"8", b"A"), (b"9", b""), (b"35", b"0")]
    assert split(soh("8=A||35=0|")) == [(b"8", b"A"), (b"", b""), (b"35", b"0")]
