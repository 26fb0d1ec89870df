"""``fixplus log``: read the message and event logs a ``messageLog`` writes
(docs/logs.md), filtered by session, direction, MsgType and time."""

from __future__ import annotations

import argparse
import fnmatch
import heapq
import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..observability.logformat import Entry, entry_from_line, format_time, log_files, parse_time

_AGO = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def _when(text: str | None) -> int | None:
    """Nanoseconds for --since/--until: a time, a date, or ``15m``/``2h``/``7d`` ago."""
    if text is None:
        return None
    match = _AGO.match(text.strip())
    if match:
        return time.time_ns() - int(float(match[1]) * _UNIT[match[2]] * 1_000_000_000)
    try:
        return parse_time(text)
    except ValueError:
        raise SystemExit(f"fixplus log: {text!r} is not a time (20261202-11:30:00, "
                         "2026-12-02T11:30:00Z, 2026-12-02) or a duration (15m, 2h, 7d)") from None


def _prefix_pattern(session: str) -> str:
    """A session id (``FIX.4.4:EXEC->BANZAI``) or a file prefix
    (``FIX.4.4-EXEC-BANZAI``), globs allowed, as a file prefix pattern."""
    return session.replace("->", "-").replace(":", "-")


def _entries(path: Path, prefix: str, kind: Any) -> Iterator[Entry]:
    with path.open(encoding="ascii", errors="backslashreplace") as lines:
        for line in lines:
            entry = entry_from_line(line, prefix, kind)
            if entry is not None:
                yield entry


def cmd_log(args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.paths]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        print(f"fixplus log: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    since, until = _when(args.since), _when(args.until)
    kinds = {"event"} if args.events else {"messages"}
    if args.all:
        kinds = {"event", "messages"}
    patterns = [_prefix_pattern(s) for s in args.session or []]
    types = set(args.type or [])
    streams = []
    for path, prefix, kind in log_files(paths):
        if kind not in kinds:
            continue
        if patterns and not any(fnmatch.fnmatchcase(prefix, p) for p in patterns):
            continue
        streams.append(_entries(path, prefix, kind))
    shown = 0
    try:
        for entry in heapq.merge(*streams, key=lambda e: e.time_ns):
            if since is not None and entry.time_ns < since:
                continue
            if until is not None and entry.time_ns >= until:
                continue
            if entry.direction != "event":
                if args.direction and entry.direction != args.direction:
                    continue
                if types and entry.msg_type not in types:
                    continue
            stamp = format_time(entry.time_ns)
            if entry.direction == "event":
                print(f"{stamp} {entry.session} event {entry.text}")
            else:
                print(f"{stamp} {entry.session} {entry.direction:<5} {entry.text}")
            shown += 1
            if args.limit and shown >= args.limit:
                break
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    return 0


def add_parser(sub: Any) -> None:
    """Add ``log`` to the ``fixplus`` parser."""
    p = sub.add_parser(
        "log", help="read message and event logs (messageLog, FileLogPath)",
        description="Print the messages (or events) of message log files in time order. "
        "Times are UTC.")
    p.add_argument("paths", nargs="+", help="log folders or files")
    p.add_argument("-s", "--session", action="append",
                   help="session id (FIX.4.4:EXEC->BANZAI) or file prefix "
                   "(FIX.4.4-EXEC-BANZAI); * and ? allowed; repeatable")
    p.add_argument("-d", "--direction", choices=["in", "out"])
    p.add_argument("-t", "--type", action="append", help="MsgType(35), e.g. D; repeatable")
    p.add_argument("--since", help="at or after: 20261202-11:30:00, ISO 8601, or 15m/2h/7d ago")
    p.add_argument("--until", help="before: same forms as --since")
    p.add_argument("--events", action="store_true", help="the event logs instead of messages")
    p.add_argument("--all", action="store_true", help="messages and events together")
    p.add_argument("--limit", type=int, help="stop after this many lines")
    p.set_defaults(func=cmd_log)
