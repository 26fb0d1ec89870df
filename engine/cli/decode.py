"""``fixplus decode``: FIX messages and QuickFIX log files made readable.

Input is a message on the command line, files, or standard input.  Every
line may hold a QuickFIX log prefix (``20261121-05:40:04.615 : ``) and any
number of messages, with SOH, ``|`` or ``^A`` between fields: each
``8=FIX`` starts a message, and the text before the first one is printed as
the line's stamp.  A message is framed as the engine frames it (BodyLength,
CheckSum); one that fails is reported as garbled, or with ``--lenient``
decoded anyway with a note saying what is wrong.

With ``--dict FILE.xml`` (or ``--spec-dir DIR``, which picks the dictionary
of each message's version) fields and enumerated values are named.

Everything printed from the input goes through :func:`safe_text`: a log
file is wire data, and control characters are escaped.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ..codec import Framer, Garbled, checksum, decode
from ..codec.message import Field
from ..codec.safetext import safe_text
from ..codec.tags import HEADER_TAGS, TRAILER_TAGS
from ..dictionary import DataDictionary, load
from ..errors import ConfigError

_START: Final = re.compile(rb"8=FIXT?\.\d\.\d")
_SOH: Final = b"\x01"
#: BeginString (and ApplVerID) -> dictionary file of ``--spec-dir``.
_FILES: Final[dict[str, str]] = {
    "FIX.4.0": "FIX40.xml", "FIX.4.1": "FIX41.xml", "FIX.4.2": "FIX42.xml",
    "FIX.4.3": "FIX43.xml", "FIX.4.4": "FIX44.xml", "FIXT.1.1": "FIXT11.xml",
    "7": "FIX50.xml", "8": "FIX50SP1.xml", "9": "FIX50SP2.xml",
}
_SECTIONS: Final = ("header", "body", "trailer")


@dataclass
class Found:
    """One message cut out of a line: its bytes and the line's stamp."""

    stamp: str
    data: bytes


def _normalise(line: bytes) -> bytes:
    if _SOH not in line:
        line = line.replace(b"^A", _SOH).replace(b"|", _SOH)
    return line.strip(b"\r\n")


def split_line(line: bytes) -> tuple[str, list[bytes]]:
    """(stamp, messages) of one log line: text before the first ``8=FIX``, and
    each message from one ``8=FIX`` to the next (trailing blanks dropped)."""
    line = _normalise(line)
    starts = [m.start() for m in _START.finditer(line)
              if m.start() == 0 or line[m.start() - 1:m.start()] in (_SOH, b" ", b"\t")]
    if not starts:
        return safe_text(line.strip(), limit=200), []
    stamp = line[:starts[0]].strip().rstrip(b":").strip()
    pieces = [line[a:b].rstrip(b" \t") for a, b in zip(starts, [*starts[1:], len(line)],
                                                      strict=True)]
    return safe_text(stamp, limit=200), pieces


def messages(lines: Iterable[bytes]) -> Iterator[Found | str]:
    """Messages of log lines; a line with no message at all comes out as text."""
    for line in lines:
        stamp, pieces = split_line(line)
        if not pieces:
            if stamp:
                yield stamp
            continue
        for data in pieces:
            yield Found(stamp, data)


def _fields_leniently(data: bytes) -> list[Field]:
    out: list[Field] = []
    for part in data.split(_SOH):
        tag, sep, value = part.partition(b"=")
        if sep and tag.isdigit() and len(tag) <= 9:
            out.append((int(tag), value))
    return out


def _problem(data: bytes) -> str | None:
    """Why the engine would not take ``data`` as one message (None: it would)."""
    framer = Framer()
    frames = framer.feed_and_drain(data if data.endswith(_SOH) else data + _SOH)
    good = [f for f in frames if not isinstance(f, Garbled)]
    bad = [f for f in frames if isinstance(f, Garbled)]
    if bad:
        return bad[0].reason
    if framer.buffered or len(good) != 1:
        return "incomplete message"
    return None


class Namer:
    """Field and value names from a dictionary, per message version."""

    def __init__(self, dictionary: str | None, spec_dir: str | None) -> None:
        self._fixed = load(dictionary) if dictionary else None
        self._dir = Path(spec_dir) if spec_dir else None
        self._cache: dict[str, DataDictionary | None] = {}
        if self._dir is not None and not self._dir.is_dir():
            raise ConfigError(f"--spec-dir {spec_dir}: not a folder")

    def _load(self, key: str) -> DataDictionary | None:
        if key not in self._cache:
            name = _FILES.get(key)
            path = self._dir / name if self._dir is not None and name else None
            self._cache[key] = load(path) if path is not None and path.is_file() else None
        return self._cache[key]

    def dictionaries(self, fields: list[Field]) -> list[DataDictionary]:
        if self._fixed is not None:
            return [self._fixed]
        if self._dir is None:
            return []
        index = dict(reversed(fields))
        begin = index.get(8, b"").decode("latin-1")
        found = [self._load(begin)]
        if begin == "FIXT.1.1":
            found.append(self._load(index.get(1128, b"9").decode("latin-1")))
        return [d for d in found if d is not None]

    @staticmethod
    def name(dds: list[DataDictionary], tag: int, value: bytes) -> tuple[str, str]:
        for dd in dds:
            fd = dd.fields.get(tag)
            if fd is not None:
                meaning = fd.values.get(value)
                if meaning is None and fd.values and fd.multi:
                    parts = [fd.values.get(v) for v in value.split()]
                    meaning = " ".join(p or "?" for p in parts)
                return fd.name, meaning or ""
        return "", ""


def _sections(data: bytes, lenient: bool) -> tuple[list[tuple[str, list[Field]]], str | None]:
    problem = _problem(data)
    if problem is None:
        msg = decode(data if data.endswith(_SOH) else data + _SOH)
        return list(zip(_SECTIONS, (msg.header, msg.body, msg.trailer), strict=True)), None
    if not lenient:
        return [], problem
    fields = _fields_leniently(data)
    if problem.startswith("CheckSum"):
        end = data.rfind(b"\x0110=")
        if end >= 0:
            problem += f" (computed {checksum(data[:end + 1]):03d})"
    header = [f for f in fields if f[0] in HEADER_TAGS]
    trailer = [f for f in fields if f[0] in TRAILER_TAGS]
    body = [f for f in fields if f[0] not in HEADER_TAGS and f[0] not in TRAILER_TAGS]
    return list(zip(_SECTIONS, (header, body, trailer), strict=True)), problem


def print_message(found: Found, namer: Namer, lenient: bool, out: list[str]) -> bool:
    """Render one message into ``out``; False when it was garbled and not
    decoded (``--lenient`` decodes it, with a note)."""
    if found.stamp:
        out.append(f"# {found.stamp}")
    sections, problem = _sections(found.data, lenient)
    if not sections:
        out.append(f"garbled: {problem}: {safe_text(found.data[:80], limit=120)}")
        out.append("")
        return False
    if problem is not None:
        out.append(f"lenient: {problem}")
    dds = namer.dictionaries([f for _, fs in sections for f in fs])
    for section, fields in sections:
        for tag, value in fields:
            text = safe_text(value, limit=1000)
            if dds:
                name, meaning = namer.name(dds, tag, value)
                shown = f"{text} ({meaning})" if meaning else text
                out.append(f"{section:8} {tag:>5} {name:24} = {shown}")
            else:
                out.append(f"{section:8} {tag:>5} = {text}")
    out.append("")
    return True


def _inputs(items: list[str]) -> Iterator[bytes]:
    if not items:
        items = ["-"]
    for item in items:
        if item == "-":
            yield from sys.stdin.buffer
        elif "8=FIX" in item:
            yield item.encode()
        else:
            path = Path(item)
            if not path.is_file():
                raise ConfigError(f"decode: {item}: no such file (nor a FIX message)")
            with path.open("rb") as f:
                yield from f


def cmd_decode(args: argparse.Namespace) -> int:
    """Decode messages and log files; exit 1 when something was garbled."""
    namer = Namer(args.dict, args.spec_dir)
    status = 0
    for item in messages(_inputs(args.input)):
        out: list[str] = []
        if isinstance(item, str):
            continue  # a log line without a message (an event)
        if not print_message(item, namer, args.lenient, out):
            status = 1
        sys.stdout.write("\n".join(out) + "\n")
    return status


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "decode", help="decode FIX messages and QuickFIX log files ('|' stands for SOH)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", nargs="*",
                   help="a message, a log file, or '-' (standard input, the default)")
    p.add_argument("--dict", help="data dictionary (QuickFIX XML) naming fields and values")
    p.add_argument("--spec-dir", help="folder of FIX40.xml ... FIXT11.xml: the dictionary of "
                   "each message's version")
    p.add_argument("--lenient", action="store_true",
                   help="decode messages with a wrong CheckSum or BodyLength, with a note")
    p.set_defaults(func=cmd_decode)


__all__ = ["Found", "Namer", "add_parser", "cmd_decode", "messages", "split_line"]
