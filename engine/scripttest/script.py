"""Acceptance definitions (``.def`` files) -> steps.

Theory of operation
-------------------
A definition is a line-oriented script played by a test client against an
acceptor.  This module mirrors the QuickFIX acceptance-test runner
(``test/Reflector.rb``) so that a definition means here exactly what it
means there:

* lines are split on LF; one trailing CR is dropped (the FIX 5.0 files have
  CRLF line ends); a line that is empty (or only blanks) is skipped, a line
  starting with ``#`` is a comment;
* the first character is the verb: ``i`` (CONNECT / DISCONNECT: the client
  opens / closes its connection), ``e`` (DISCONNECT: the acceptor must close
  the connection), ``I`` (send a message) and ``E`` (expect a message);
* the verb may be followed by a connection number and a comma
  (``I2,8=FIX...``, ``i1,CONNECT``); without one the step is on connection 1;
* ``<TIME>``, ``<TIME+N>`` and ``<TIME-N>`` are replaced, when the step
  runs, by the current UTC time ``YYYYMMDD-HH:MM:SS`` shifted by N seconds
  (:func:`timify`);
* messages are then completed by :func:`fixify`, QuickFIX's rule for
  BodyLength(9) and CheckSum(10), which applies to ``I`` and ``E`` lines
  alike (see its docstring for the exact rule).

No I/O happens here except reading the file in :func:`load_script`; the
clock is an argument.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Final

__all__ = [
    "Script",
    "ScriptSyntaxError",
    "Step",
    "Verb",
    "fixify",
    "load_script",
    "parse_script",
    "timify",
]

SOH: Final = b"\x01"


class ScriptSyntaxError(ValueError):
    """A definition line that is not a step."""

    def __init__(self, line_no: int, line: bytes, why: str) -> None:
        super().__init__(f"line {line_no}: {why}: {printable(line)}")
        self.line_no = line_no
        self.line = line
        self.why = why


class Verb(Enum):
    CONNECT = "iCONNECT"
    DISCONNECT = "iDISCONNECT"
    SEND = "I"
    EXPECT = "E"
    EXPECT_DISCONNECT = "eDISCONNECT"


@dataclass(frozen=True, slots=True)
class Step:
    """One line of a definition.

    ``payload`` is the message text as written (placeholders not yet
    replaced, no BodyLength/CheckSum added) for SEND and EXPECT, empty
    otherwise.
    """

    line_no: int
    verb: Verb
    conn: int
    payload: bytes
    line: bytes

    def render(self, now: datetime) -> bytes:
        """The bytes this step sends (SEND) or expects (EXPECT) at ``now``."""
        return fixify(timify(self.payload, now))


@dataclass(frozen=True, slots=True)
class Script:
    path: Path
    steps: tuple[Step, ...]

    @property
    def connections(self) -> frozenset[int]:
        return frozenset(step.conn for step in self.steps)


def printable(data: bytes) -> str:
    """``data`` for humans: SOH shown as ``|``."""
    return data.replace(SOH, b"|").decode("utf-8", "replace")


# A verb, optionally a connection number and a comma.  QuickFIX accepts a
# single digit only; more digits are accepted here (a superset).
_PREFIX: Final = re.compile(rb"([IEie])(?:(\d+),)?")


def parse_script(data: bytes, path: Path | None = None) -> Script:
    """Parse a whole definition.  Raises :class:`ScriptSyntaxError`."""
    steps: list[Step] = []
    for line_no, raw in enumerate(data.split(b"\n"), start=1):
        line = raw[:-1] if raw.endswith(b"\r") else raw
        if not line.strip() or line.lstrip().startswith(b"#"):
            continue
        m = _PREFIX.match(line)
        if m is None:
            raise ScriptSyntaxError(line_no, line, "unknown verb")
        kind = m.group(1)
        conn = int(m.group(2)) if m.group(2) is not None else 1
        if conn < 1:
            raise ScriptSyntaxError(line_no, line, "connection numbers start at 1")
        body = line[m.end() :]
        if kind in (b"I", b"E"):
            if not body:
                raise ScriptSyntaxError(line_no, line, "message expected")
            verb = Verb.SEND if kind == b"I" else Verb.EXPECT
            steps.append(Step(line_no, verb, conn, body, line))
            continue
        word = body.strip()
        if kind == b"i" and word == b"CONNECT":
            verb = Verb.CONNECT
        elif kind == b"i" and word == b"DISCONNECT":
            verb = Verb.DISCONNECT
        elif kind == b"e" and word == b"DISCONNECT":
            verb = Verb.EXPECT_DISCONNECT
        elif kind == b"e" and word == b"CONNECT":
            raise ScriptSyntaxError(
                line_no, line, "eCONNECT (the acceptor connects to us) is not supported"
            )
        else:
            raise ScriptSyntaxError(line_no, line, "expected CONNECT or DISCONNECT")
        steps.append(Step(line_no, verb, conn, b"", line))
    return Script(path if path is not None else Path("<script>"), tuple(steps))


def load_script(path: Path) -> Script:
    return parse_script(path.read_bytes(), path)


_TIME: Final = re.compile(rb"<TIME(?:([+-])(\d+))?>")


def format_time(when: datetime) -> bytes:
    return when.strftime("%Y%m%d-%H:%M:%S").encode()


def timify(text: bytes, now: datetime) -> bytes:
    """Replace ``<TIME>``, ``<TIME+N>`` and ``<TIME-N>`` by ``now`` (UTC,
    seconds precision) shifted by N seconds.

    Seconds precision drops the fraction, which moves a time up to a second
    back.  For ``<TIME+N>`` that would make "121 s late" as little as 120 s
    and a bit late by the time the acceptor reads it (inside a 120 s
    tolerance, so no reject: a flaky case), so a forward shift starts from
    the next whole second and is always at least N seconds ahead."""
    floor = now.replace(microsecond=0)
    ceil = floor if floor == now else floor + timedelta(seconds=1)

    def repl(m: re.Match[bytes]) -> bytes:
        if m.group(1) is None:
            return format_time(floor)
        shift = int(m.group(2))
        if m.group(1) == b"-":
            return format_time(floor - timedelta(seconds=shift))
        return format_time(ceil + timedelta(seconds=shift))

    return _TIME.sub(repl, text)


_HAS_LENGTH: Final = re.compile(rb"\x019=.*?\x01")
_HEAD: Final = re.compile(rb"8=.*?\x01")
_CHECKSUM: Final = re.compile(rb"\x0110=.*\x01$")


def _chomp(data: bytes) -> bytes:
    if data.endswith(b"\r\n"):
        return data[:-2]
    if data.endswith((b"\n", b"\r")):
        return data[:-1]
    return data


def fixify(message: bytes) -> bytes:
    """Complete a message the way QuickFIX's runner does (``Reflector#fixify!``).

    1. A message that does not start with ``8=`` is returned unchanged
       (``I35=0|8=FIX.4.4|9=29|...`` is sent byte for byte).
    2. The head is ``8=...<SOH>``, the first field.
    3. The *checksum part* is everything from the first ``<SOH>10=`` to the
       end, when the message ends with SOH; it is cut off, SOH included.
    4. If the message has no ``<SOH>9=`` anywhere, ``9=<n><SOH>`` is inserted
       after the head, ``n`` being the byte length of what is left between the
       head and the checksum part.
    5. If there was no checksum part, ``10=<nnn><SOH>`` is appended, ``nnn``
       the byte sum modulo 256 of everything before it.

    So 9 is added only when absent and 10 only when absent; a line with both
    is sent exactly as written.  A quirk kept on purpose: when a line has
    ``10=`` but no ``9=``, step 3 also took the SOH that ends the last body
    field, so the inserted BodyLength is one less than the real body length
    (it only happens in garbled-input tests, where either way the acceptor
    must ignore the message).
    """
    head_match = _HEAD.match(message)
    if head_match is None:
        return message
    has_length = _HAS_LENGTH.search(message) is not None
    head = head_match.group(0)
    rest = message[head_match.end() :]
    checksum_match = _CHECKSUM.search(rest)
    checksum = b""
    if checksum_match is not None:
        checksum = checksum_match.group(0)
        rest = rest[: checksum_match.start()] + rest[checksum_match.end() :]
    rest = _chomp(rest)
    length = b"" if has_length else b"9=%d\x01" % len(rest)
    if checksum_match is None:
        checksum = b"10=%03d\x01" % (sum(head + length + rest) & 0xFF)
    return head + length + rest + checksum
