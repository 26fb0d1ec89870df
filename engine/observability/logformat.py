"""The lines of the message and event logs, their file names, and reading
them back (``fixplus log``).

A message log line (``text`` format) is::

    20261202-11:30:00.123456 IN  8=FIX.4.4|9=65|35=A|...|10=123|

the UTC time, ``IN`` or ``OUT``, and the message with SOH written as ``|``.
Everything else that is not printable ASCII is escaped, so that a line can
never be broken or disguised by what a counterparty sent: ``\\\\`` for a
backslash, ``\\x7c`` for a ``|`` inside a value, ``\\xNN`` for other bytes.
:func:`wire_bytes` turns the text back into the exact bytes.

An event log line is the time and one line of text.  The ``json`` format
writes one object a line: ``time`` (ISO 8601, UTC), ``session``, and either
``direction``, ``msgType``, ``seqNum`` and ``message`` (escaped as above), or
``event``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Final, Literal

__all__ = [
    "Entry",
    "entry_from_line",
    "file_prefix",
    "format_time",
    "log_files",
    "parse_time",
    "wire_bytes",
    "wire_text",
]

Direction = Literal["in", "out", "event"]

_PRINTABLE: Final = re.compile(r"[\x20-\x7e]*")
_ESCAPE: Final = re.compile(r"[^\x20-\x5b\x5d-\x7b\x7d\x7e]")
_UNESCAPE: Final = re.compile(r"\\(\\|x[0-9a-fA-F]{2})|\|")
_MSG_TYPE: Final = re.compile(rb"\x0135=([^\x01]{1,8})\x01")
_SEQ: Final = re.compile(rb"\x0134=(\d{1,18})\x01")
_NAME_UNSAFE: Final = re.compile(r"[^A-Za-z0-9._-]")


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    if ch == "\x01":
        return "|"
    if ch == "\\":
        return "\\\\"
    return f"\\x{ord(ch):02x}"


def wire_text(data: bytes) -> str:
    """The wire form of a message as one line of printable ASCII (see above)."""
    text = data.decode("latin-1")
    if "|" not in text and "\\" not in text:
        # The usual message: printable ASCII and SOH only.
        plain = text.replace("\x01", "|")
        if _PRINTABLE.fullmatch(plain) is not None:
            return plain
    return _ESCAPE.sub(_escape, text)


_PRINTABLE_BYTES: Final = re.compile(rb"[\x20-\x7e]*")


def wire_line(data: bytes) -> bytes:
    """:func:`wire_text` as ASCII bytes, without decoding the usual message."""
    if b"|" not in data and b"\\" not in data:
        plain = data.replace(b"\x01", b"|")
        if _PRINTABLE_BYTES.fullmatch(plain) is not None:
            return plain
    return _ESCAPE.sub(_escape, data.decode("latin-1")).encode("ascii")


def _unescape(match: re.Match[str]) -> str:
    group = match.group(1)
    if group is None:
        return "\x01"
    return "\\" if group == "\\" else chr(int(group[1:], 16))


def wire_bytes(text: str) -> bytes:
    """The bytes :func:`wire_text` was given."""
    return _UNESCAPE.sub(_unescape, text).encode("latin-1")


def msg_type_of(data: bytes) -> str:
    match = _MSG_TYPE.search(data, 0, 256)
    return match.group(1).decode("latin-1") if match else ""


def seq_num_of(data: bytes) -> int | None:
    match = _SEQ.search(data, 0, 512)
    return int(match.group(1)) if match else None




_last_second: list[tuple[int, str]] = [(-1, "")]


def format_time(now_ns: int, precision: str = "micros") -> str:
    """``YYYYMMDD-HH:MM:SS[.fff[fff]]`` in UTC, as QuickFIX writes log times."""
    seconds, ns = divmod(now_ns, 1_000_000_000)
    cached = _last_second[0]
    if cached[0] == seconds:
        text = cached[1]
    else:
        text = dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y%m%d-%H:%M:%S")
        _last_second[0] = (seconds, text)
    if precision == "micros":
        return f"{text}.{ns // 1000:06d}"
    if precision == "millis":
        return f"{text}.{ns // 1_000_000:03d}"
    if precision == "seconds":
        return text
    raise ValueError(precision)


def iso_time(now_ns: int) -> str:
    seconds, ns = divmod(now_ns, 1_000_000_000)
    text = dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{ns // 1000:06d}Z"


def parse_time(text: str) -> int:
    """Nanoseconds since the epoch for a log time (either format) or an ISO
    8601 date or time given on the command line (UTC unless it says)."""
    text = text.strip()
    for fmt in ("%Y%m%d-%H:%M:%S.%f", "%Y%m%d-%H:%M:%S", "%Y%m%d"):
        try:
            when = dt.datetime.strptime(text, fmt).replace(tzinfo=dt.UTC)
        except ValueError:
            continue
        break
    else:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
    delta = when - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def file_prefix(begin: str, sender: str, target: str, qualifier: str | None = None,
                sender_sub: str | None = None, sender_location: str | None = None,
                target_sub: str | None = None, target_location: str | None = None) -> str:
    """QuickFIX's file name prefix: ``FIX.4.4-EXEC-BANZAI`` (sub and location
    ids joined to their CompID with ``_``, a qualifier added with ``-``).
    Characters other than letters, digits, ``.``, ``_`` and ``-`` become ``_``."""
    sender_part = "_".join(p for p in (sender, sender_sub, sender_location) if p)
    target_part = "_".join(p for p in (target, target_sub, target_location) if p)
    parts = [begin, sender_part, target_part] + ([qualifier] if qualifier else [])
    return _NAME_UNSAFE.sub("_", "-".join(parts))


@dataclasses.dataclass(frozen=True)
class Entry:
    """One line of a message or event log, read back."""

    time_ns: int
    direction: Direction
    session: str  #: the file's prefix (text format) or the session id (json)
    text: str  #: the escaped message, or the event text
    msg_type: str = ""

    @property
    def data(self) -> bytes:
        return wire_bytes(self.text)


_TEXT_LINE: Final = re.compile(r"^(\d{8}-\d{2}:\d{2}:\d{2}(?:\.\d+)?) (IN |OUT) (.*)$")
_EVENT_LINE: Final = re.compile(r"^(\d{8}-\d{2}:\d{2}:\d{2}(?:\.\d+)?) (.*)$")


def entry_from_line(line: str, session: str, kind: Literal["messages", "event"]
                    ) -> Entry | None:
    """The entry of one log line (either format), None for a line that is not one."""
    line = line.rstrip("\r\n")
    if line.startswith("{"):
        try:
            obj = json.loads(line)
            when = parse_time(str(obj["time"]))
            sid = str(obj.get("session", session))
            if "event" in obj:
                return Entry(when, "event", sid, str(obj["event"]))
            direction: Direction = "in" if obj["direction"] == "in" else "out"
            text = str(obj["message"])
            return Entry(when, direction, sid, text, str(obj.get("msgType", "")))
        except (ValueError, KeyError, TypeError):
            return None
    if kind == "event":
        match = _EVENT_LINE.match(line)
        if match is None:
            return None
        return Entry(parse_time(match[1]), "event", session, match[2])
    match = _TEXT_LINE.match(line)
    if match is None:
        return None
    text = match[3]
    return Entry(parse_time(match[1]), "in" if match[2] == "IN " else "out", session, text,
                 msg_type_of(b"\x01" + wire_bytes(text[:256])))


_FILE: Final = re.compile(r"^(?P<prefix>.+)\.(?P<kind>messages|event)\."
                          r"(?P<when>current|\d{8}-\d{6}(?:-\d+)?)\.log$")


def log_files(paths: list[Path]) -> Iterator[tuple[Path, str, Literal["messages", "event"]]]:
    """The log files among ``paths`` (files, or folders searched), oldest
    rotation first: (path, prefix, kind)."""
    found: list[tuple[str, str, str, Path]] = []
    for path in paths:
        candidates = sorted(path.iterdir()) if path.is_dir() else [path]
        for candidate in candidates:
            match = _FILE.match(candidate.name)
            if match is None:
                continue
            when = match["when"]
            found.append((match["prefix"], match["kind"], "~" if when == "current" else when,
                          candidate))
    for prefix, kind, _, path in sorted(found):
        yield path, prefix, "event" if kind == "event" else "messages"
