"""The ``fixplus`` command line: wiring only."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__
from .codec import Framer, Garbled, decode
from .errors import FixError


def _read_input(text: str | None) -> bytes:
    raw = sys.stdin.buffer.read() if text in (None, "-") else text.encode()
    # Accept '|' or '^A' as a readable stand-in for SOH.
    return raw.replace(b"^A", b"\x01").replace(b"|", b"\x01").strip(b"\r\n")


def cmd_decode(args: argparse.Namespace) -> int:
    """Frame and decode FIX messages; print each field on a line."""
    framer = Framer()
    frames = framer.feed_and_drain(_read_input(args.message))
    status = 0
    for frame in frames:
        if isinstance(frame, Garbled):
            print(f"garbled: {frame.reason}: {frame.data[:80]!r}")
            status = 1
            continue
        msg = decode(frame)
        for section, fields in (("header", msg.header), ("body", msg.body),
                                ("trailer", msg.trailer)):
            for tag, value in fields:
                print(f"{section:8} {tag:>5} = {value.decode('utf-8', 'replace')}")
        print()
    if framer.buffered:
        print(f"incomplete: {framer.buffered} bytes do not form a whole message")
        status = 1
    return status


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fixplus", description="PyFixMsg Plus FIX engine")
    parser.add_argument("--version", action="version", version=f"fixplus {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("decode", help="decode FIX messages ('|' stands for SOH)")
    p.add_argument("message", nargs="?", help="the message; '-' or nothing reads stdin")
    p.set_defaults(func=cmd_decode)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except FixError as exc:
        print(f"fixplus: error: {exc}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
