"""Expected-versus-received message matching (QuickFIX's ``Comparator.rb``).

Both texts are split on SOH (trailing empty pieces dropped) into
``tag=value`` fields.  They match when

* they have the same number of fields;
* field *i* has the same tag text in both;
* the values are equal, except CheckSum(10), whose value is never compared,
  and the tags listed in ``fields.fmt``, whose received value only has to
  contain a match of the tag's regular expression (``re.search``).

Everything else, BodyLength(9) included, is compared exactly.  The
expected text is the ``E`` line after :func:`~.script.fixify`, so it always
has a 9 and a 10 (added when the line has none, as QuickFIX does).

The first mismatch is reported in QuickFIX's order (field count, then the
first position where the tag or the value differs), with a field-by-field
listing to explain it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from .script import SOH, printable

__all__ = ["DEFAULT_PATTERNS", "FieldDiff", "Matcher", "Mismatch", "load_patterns", "split"]

CHECKSUM_TAG: Final = b"10"

#: The patterns of the QuickFIX acceptance suite's ``fields.fmt``.
DEFAULT_PATTERNS: Final = (
    "10=\\d{3}\n"
    "42=\\d{8}-\\d{2}:\\d{2}:\\d{2}\n"
    "52=\\d{8}-\\d{2}:\\d{2}:\\d{2}|\\d{8}-\\d{2}:\\d{2}:\\d{2}[.]\\d{3}\n"
    "60=\\d{8}-\\d{2}:\\d{2}:\\d{2}\n"
    "122=\\d{8}-\\d{2}:\\d{2}:\\d{2}\n"
)

Pair = tuple[bytes, bytes]


def parse_patterns(text: str) -> dict[int, re.Pattern[bytes]]:
    """``TAG=regex`` lines -> patterns.  Blank lines and ``#`` comments are skipped."""
    patterns: dict[int, re.Pattern[bytes]] = {}
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        tag, sep, regex = line.partition("=")
        if not sep or not tag.strip().isdigit():
            raise ValueError(f"fields.fmt line {n}: expected TAG=regex, got {raw!r}")
        try:
            patterns[int(tag)] = re.compile(regex.encode())
        except re.error as exc:
            raise ValueError(f"fields.fmt line {n}: bad regex {regex!r}: {exc}") from exc
    return patterns


def load_patterns(path: Path | None) -> dict[int, re.Pattern[bytes]]:
    """The patterns of a ``fields.fmt`` file, or :data:`DEFAULT_PATTERNS` for None."""
    if path is None:
        return parse_patterns(DEFAULT_PATTERNS)
    return parse_patterns(path.read_text(encoding="utf-8"))


def split(message: bytes) -> list[Pair]:
    """The ``(tag, value)`` texts of ``message`` in order; trailing empties dropped."""
    parts = message.split(SOH)
    while parts and not parts[-1]:
        parts.pop()
    out: list[Pair] = []
    for part in parts:
        tag, _, value = part.partition(b"=")
        out.append((tag, value))
    return out


def _text(pair: Pair | None) -> str:
    if pair is None:
        return "-"
    return printable(pair[0] + b"=" + pair[1])


@dataclass(frozen=True, slots=True)
class FieldDiff:
    """One position of the field-by-field comparison."""

    index: int
    expected: Pair | None
    received: Pair | None
    ok: bool
    note: str = ""

    def describe(self) -> str:
        mark = "  " if self.ok else "!!"
        exp = _text(self.expected)
        line = f"{mark} {self.index + 1:3d}  expected {exp:<40} received {_text(self.received)}"
        return f"{line}  ({self.note})" if self.note else line


@dataclass(frozen=True, slots=True)
class Mismatch:
    """Why a received message does not match the expected one."""

    reason: str
    expected: bytes
    received: bytes
    fields: tuple[FieldDiff, ...] = field(default=())

    def explain(self, *, all_fields: bool = False) -> Iterator[str]:
        """Readable lines: the reason, both texts, then the fields (only the
        differing ones unless ``all_fields``)."""
        yield self.reason
        yield f"expected: {printable(self.expected)}"
        yield f"received: {printable(self.received)}"
        for diff in self.fields:
            if all_fields or not diff.ok:
                yield diff.describe()


class Matcher:
    """Compares an expected message text with a received frame."""

    __slots__ = ("patterns",)

    def __init__(self, patterns: Mapping[int, re.Pattern[bytes]] | None = None) -> None:
        self.patterns: Mapping[int, re.Pattern[bytes]] = (
            patterns if patterns is not None else parse_patterns(DEFAULT_PATTERNS)
        )

    @classmethod
    def from_file(cls, path: Path | None) -> Matcher:
        return cls(load_patterns(path))

    def _field(self, index: int, exp: Pair | None, got: Pair | None) -> FieldDiff:
        if exp is None or got is None:
            return FieldDiff(index, exp, got, False, "missing" if got is None else "extra")
        if exp[0] != got[0]:
            return FieldDiff(index, exp, got, False, "different tag")
        if exp[0] == CHECKSUM_TAG:
            return FieldDiff(index, exp, got, True, "not compared")
        pattern = self.patterns.get(int(exp[0])) if exp[0].isdigit() else None
        if pattern is not None:
            if pattern.search(got[1]) is None:
                return FieldDiff(
                    index, exp, got, False, f"does not match /{pattern.pattern.decode()}/"
                )
            return FieldDiff(index, exp, got, True, "pattern")
        if exp[1] != got[1]:
            return FieldDiff(index, exp, got, False, "different value")
        return FieldDiff(index, exp, got, True)

    def compare(self, expected: bytes, received: bytes) -> Mismatch | None:
        """None when ``received`` matches ``expected``, else the first mismatch."""
        exp = split(expected)
        got = split(received)
        diffs = tuple(
            self._field(i, exp[i] if i < len(exp) else None, got[i] if i < len(got) else None)
            for i in range(max(len(exp), len(got)))
        )
        if len(exp) != len(got):
            reason = f"number of fields does not match: expected {len(exp)}, received {len(got)}"
            first = next((d for d in diffs if not d.ok), None)
            if first is not None and first.expected is not None and first.received is not None:
                reason += (
                    f"; first difference at field {first.index + 1}: expected "
                    f"{_text(first.expected)}, received {_text(first.received)}"
                )
            return Mismatch(reason, expected, received, diffs)
        for diff in diffs:
            if diff.ok:
                continue
            assert diff.expected is not None and diff.received is not None
            tag = printable(diff.expected[0])
            if diff.note == "different tag":
                reason = (
                    f"expected field ({tag}) but found field ({printable(diff.received[0])})"
                    f" at position {diff.index + 1}"
                )
            elif diff.note == "different value":
                reason = (
                    f"value in field ({tag}) should be ({printable(diff.expected[1])})"
                    f" but was ({printable(diff.received[1])})"
                )
            else:
                reason = f"field ({tag}) value ({printable(diff.received[1])}) {diff.note}"
            return Mismatch(reason, expected, received, diffs)
        return None
