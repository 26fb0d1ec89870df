"""safe_text and the log formatters: wire text cannot forge or flood a log line."""

from __future__ import annotations

import json
import logging

from hypothesis import given
from hypothesis import strategies as st
from pyfixmsg_plus.engine.observability.logs import (
    MAX_MESSAGE_CHARS,
    JsonFormatter,
    TextFormatter,
    one_line,
    safe_text,
)


def test_plain_text_is_unchanged() -> None:
    assert safe_text(b"BROKER-1") == "BROKER-1"
    assert safe_text("FIX.4.4:A->B") == "FIX.4.4:A->B"
    assert safe_text("Zürich") == "Zürich"


def test_controls_and_non_printables_are_escaped() -> None:
    assert safe_text(b"A\r\nB") == "A\\r\\nB"
    assert safe_text(b"A\x01B\x1b[31m") == "A\\x01B\\x1b[31m"
    assert safe_text(b"\xff\xfe") == "\\xff\\xfe"
    assert safe_text("\u202eevil") == "\\u202eevil"  # a right-to-left override
    assert safe_text(b"a\\x01") == "a\\\\x01"  # a backslash cannot fake an escape


def test_long_values_are_cut_with_their_size() -> None:
    out = safe_text(b"X" * 100_000)
    assert out == "X" * 64 + "...(100000 bytes)"
    assert safe_text("é" * 100, limit=10) == "é" * 10 + "...(200 bytes)"
    # An escape is never cut in half.
    assert safe_text(b"\x01" * 10, limit=6) == "\\x01...(10 bytes)"


@given(st.binary(max_size=300) | st.text(max_size=300), st.integers(0, 100))
def test_always_one_bounded_printable_line(value: bytes | str, limit: int) -> None:
    out = safe_text(value, limit)
    assert out.isprintable()
    head, _, _ = out.partition("...(")
    assert len(head) <= limit


def _record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("pyfixmsg_plus.test", logging.WARNING, __file__, 1, msg, args,
                               None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_the_text_format_keeps_one_record_on_one_line() -> None:
    forged = "x\n2026-01-01 00:00:00 INFO engine: logged on as ADMIN"
    line = TextFormatter("%(levelname)s %(message)s").format(_record("Logout: %s", forged))
    assert "\n" not in line
    assert line.endswith("x\\n2026-01-01 00:00:00 INFO engine: logged on as ADMIN")


def test_the_json_format_stays_valid_json_and_bounded() -> None:
    text = "a\r\nb\x00\u2028" + "y" * (MAX_MESSAGE_CHARS + 10)
    rec = _record("Text %s", text, session="FIX.4.4:A->B\n")
    line = JsonFormatter().format(rec)
    assert "\n" not in line
    data = json.loads(line)
    assert data["message"].startswith("Text a\\r\\nb\\x00\\u2028y")
    assert data["message"].endswith(f"...({len('Text ' + text)} chars)")
    assert data["session"] == "FIX.4.4:A->B\\n"


def test_one_line_leaves_ordinary_text_alone() -> None:
    assert one_line("session FIX.4.4:A->B logged on (C:\\fix)") == \
        "session FIX.4.4:A->B logged on (C:\\fix)"


def test_session_keys_print_safely_in_store_errors() -> None:
    from pyfixmsg_plus.engine.store.base import SessionKey

    key = SessionKey("FIX.4.4:BROKER->EVIL\r\nX" + "Y" * 1000)
    assert key.value.endswith("Y")  # the key itself is unchanged
    text = str(key)
    assert "\n" not in text and text.startswith("FIX.4.4:BROKER->EVIL\\r\\nX")
    assert len(text) < 250
