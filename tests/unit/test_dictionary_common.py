"""Shared helpers of the dictionary tests: where the QuickFIX XML files are.

The project ships no dictionaries; tests read them from FIXPLUS_SPEC_DIR
(default ``../shared/fix-spec`` from the repository root).  When the folder
is missing the tests skip, except under CI=true where they fail.
"""

from __future__ import annotations

import os
from pathlib import Path

from pyfixmsg_plus.engine.codec import Message, encode, parse
from pyfixmsg_plus.engine.codec.parser import DecodedMessage
from pyfixmsg_plus.engine.dictionary import DataDictionary, SessionDictionaries, load

from tests.realparts import missing

REPO_ROOT = Path(__file__).resolve().parents[2]
SPEC_FILES = (
    "FIX40.xml",
    "FIX41.xml",
    "FIX42.xml",
    "FIX43.xml",
    "FIX44.xml",
    "FIX50.xml",
    "FIX50SP1.xml",
    "FIX50SP2.xml",
    "FIXT11.xml",
)


def _missing(what: str, where: Path, env: str) -> None:
    missing(f"{what} not found at {where} (set {env})")


def spec_dir() -> Path:
    where = Path(os.environ.get("FIXPLUS_SPEC_DIR", REPO_ROOT.parent / "shared" / "fix-spec"))
    if not (where / "FIX44.xml").is_file():
        _missing("QuickFIX data dictionaries", where, "FIXPLUS_SPEC_DIR")
    return where


def conformance_dir() -> Path:
    where = Path(
        os.environ.get("FIXPLUS_CONFORMANCE_DIR", REPO_ROOT.parent / "shared" / "conformance")
    )
    if not (where / "quickfix").is_dir():
        _missing("QuickFIX acceptance definitions", where, "FIXPLUS_CONFORMANCE_DIR")
    return where / "quickfix"


def spec(name: str) -> DataDictionary:
    return load(spec_dir() / name)


def fixt(app: str = "FIX50SP2.xml") -> SessionDictionaries:
    return SessionDictionaries(spec("FIXT11.xml"), [spec(app)])


def wire(text: str) -> DecodedMessage:
    """A received message from ``8=FIX.4.4|35=D|...`` text, BodyLength and
    CheckSum added, fields kept exactly in the order written."""
    fields = [f for f in text.split("|") if f]
    begin = fields[0].encode()
    body = b"".join(f.encode() + b"\x01" for f in fields[1:])
    data = begin + b"\x019=%d\x01" % len(body) + body
    return parse(data + b"10=%03d\x01" % (sum(data) & 0xFF))


def roundtrip(msg: Message) -> DecodedMessage:
    return parse(encode(msg))


HEADER44 = "8=FIX.4.4|35={mt}|34=2|49=TW|52=20261121-05:40:04.615|56=ISLD|"
