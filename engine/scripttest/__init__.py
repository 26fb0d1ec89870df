"""``fixplus script-test``: play QuickFIX-style acceptance definitions against an acceptor.

See ``docs/script-test.md``.  :func:`run_scripts` is the async API,
:func:`main` the command line entry (``main(argv) -> exit code``).
"""

from __future__ import annotations

import argparse
import asyncio
import fnmatch
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from .compare import DEFAULT_PATTERNS, Matcher, Mismatch
from .runner import FileResult, ScriptReport, StepFailure, run_file, run_script, run_scripts
from .script import Script, ScriptSyntaxError, Step, Verb, fixify, load_script, parse_script, timify

__all__ = [
    "DEFAULT_PATTERNS",
    "FileResult",
    "Matcher",
    "Mismatch",
    "Script",
    "ScriptReport",
    "ScriptSyntaxError",
    "Step",
    "StepFailure",
    "Verb",
    "collect_files",
    "find_fields_fmt",
    "fixify",
    "format_result",
    "load_script",
    "main",
    "parse_script",
    "run_file",
    "run_script",
    "run_scripts",
    "timify",
]


def collect_files(paths: Sequence[Path], filters: Sequence[str] = ()) -> list[Path]:
    """The ``.def`` files named by ``paths`` (directories are searched
    recursively, in sorted order), keeping those whose name or path matches
    one of the ``filters`` globs (all when there is none)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(path.rglob("*.def")))
        else:
            found.append(path)
    if not filters:
        return found
    return [
        p
        for p in found
        if any(
            fnmatch.fnmatchcase(p.name, g) or fnmatch.fnmatchcase(p.as_posix(), g) for g in filters
        )
    ]


def find_fields_fmt(paths: Sequence[Path]) -> Path | None:
    """The first ``fields.fmt`` in a given directory, a file's directory, or
    up to two levels above either."""
    for path in paths:
        start = path if path.is_dir() else path.parent
        for folder in [start, *list(start.resolve().parents)[:2]]:
            candidate = folder / "fields.fmt"
            if candidate.is_file():
                return candidate
    return None


def format_result(result: FileResult) -> list[str]:
    """The report lines of one file: ``PASS path (t s)`` or ``FAIL ...`` plus
    the indented explanation of the first failure."""
    status = "PASS" if result.passed else "FAIL"
    lines = [f"{status} {result.path} ({result.duration:.2f} s)"]
    if result.failure is not None:
        lines.extend(f"    {line}" for line in result.failure.explain())
    return lines


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fixplus script-test",
        description="Play QuickFIX-style acceptance definitions (.def) against a FIX acceptor.",
    )
    parser.add_argument("paths", nargs="+", type=Path, help=".def files or directories")
    parser.add_argument("--host", default="127.0.0.1", help="acceptor host (127.0.0.1)")
    parser.add_argument("--port", type=int, required=True, help="acceptor port")
    parser.add_argument(
        "--fields-fmt",
        type=Path,
        default=None,
        help="TAG=regex file of pattern-compared fields (default: a fields.fmt found "
        "next to or above the given paths, else the QuickFIX suite's patterns)",
    )
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="seconds to wait for each step (10)"
    )
    parser.add_argument(
        "--connect-timeout",
        type=float,
        default=5.0,
        help="seconds to keep retrying a refused connection (5)",
    )
    parser.add_argument(
        "--linger",
        type=float,
        default=1.0,
        help="seconds iDISCONNECT waits for the acceptor to close its side (1); 0 closes "
        "at once and goes on, as QuickFIX/J's runner does (a quick reconnect)",
    )
    parser.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="GLOB",
        help="run only files whose name or path matches (repeatable)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="files run at once (1); only safe when they use different CompIDs",
    )
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Run the command; exit code 0 only when every file passed."""
    stream = out if out is not None else sys.stdout
    args = _parser().parse_args(list(argv) if argv is not None else None)
    files = collect_files(args.paths, args.filter)
    fields_fmt: Path | None = args.fields_fmt or find_fields_fmt(args.paths)

    def report(result: FileResult) -> None:
        for line in format_result(result):
            print(line, file=stream)
        stream.flush()

    if not files:
        print("no .def files matched", file=sys.stderr)
        print("0 passed, 0 failed", file=stream)
        return 2
    try:
        summary = asyncio.run(
            run_scripts(
                args.host,
                args.port,
                files,
                fields_fmt=fields_fmt,
                timeout=args.timeout,
                on_result=report,
                jobs=args.jobs,
                connect_timeout=args.connect_timeout,
                linger=args.linger,
            )
        )
    except (OSError, ValueError) as exc:  # unreadable or malformed fields.fmt
        print(f"script-test: {exc}", file=sys.stderr)
        return 2
    print(summary.summary(), file=stream)
    return 0 if summary.ok else 1
