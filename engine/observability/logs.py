"""Engine logging: text or JSON lines, with session context.

Log records may carry ``session`` (the SessionID) in ``extra``; the JSON
formatter puts it in its own key, so that log pipelines can select one
session.  FIX message text is always masked before it is logged
(:func:`pyfixmsg_plus.engine.application.masked_text`).

Wire text (CompIDs, Text(58), anything a counterparty chose) goes through
:func:`safe_text` before it reaches a log message: control characters
escaped, length bounded.  As a second line of defence both formatters keep
every record on one line and cut a message at :data:`MAX_MESSAGE_CHARS`:
a line break inside a message is written as ``\\n`` (text format) or escaped
by JSON, so a log line can never be forged.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
from typing import Any, Final

from ..codec.safetext import safe_text
from ..config import LoggingSettings

__all__ = ["MAX_MESSAGE_CHARS", "JsonFormatter", "TextFormatter", "one_line",
           "safe_text", "setup_logging"]

#: The longest log message written whole; longer ones end in "...(N chars)".
MAX_MESSAGE_CHARS: Final = 8192

# C0 and C1 controls, DEL, the line and paragraph separators and the
# bidirectional overrides and isolates: what can break or disguise a line.
_UNSAFE: Final = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


# Why a session went down, when it is a failure someone should look at (a
# sequence number problem, a refused or timed-out Logon, a broken message)
# rather than the ordinary end of a session (a Logout, the schedule).
def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(ch) or (
        f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")


def one_line(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` with line breaks and other controls escaped, cut at ``limit``
    characters (the formatters' safety net; wire values use :func:`safe_text`)."""
    if len(text) > limit:
        text = f"{text[:limit]}...({len(text)} chars)"
    return _UNSAFE.sub(_escape, text)


class TextFormatter(logging.Formatter):
    """The plain text format: one line per record (a traceback follows it)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = one_line(record.message)
        return super().formatMessage(record)


_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": one_line(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = (value if isinstance(value, int | float | bool)
                            else one_line(value if isinstance(value, str) else str(value)))
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def setup_logging(settings: LoggingSettings, level: str | None = None) -> None:
    """Configure the root logger once, for ``fixplus run`` and friends."""
    handler = logging.StreamHandler(sys.stderr)
    if settings.format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, (level or settings.level).upper(), logging.INFO))
