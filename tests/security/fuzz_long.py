"""A long fuzzing campaign, on demand; prints what ran as JSON.

    .venv/bin/python tests/security/fuzz_long.py --examples 100000 [--seconds 3600]
        [--target framer --target decode --target validator --target session
         --target engine]

Runs the targets of tests/security/fuzz.py (and the ``engine`` target of
fuzz_engine.py: a running acceptor over real sockets) in rounds of up to 5,000
hypothesis examples (a new random seed each round) until ``--examples``
executions per target are done or ``--seconds`` have passed.  The last line
of output is one JSON object: executions per target, seconds, and the
failures found (the falsifying example is printed above it by hypothesis).
Exit status 1 when anything failed; SIGTERM or Ctrl-C stop the campaign
early and still print the counts.  ``FIXPLUS_FUZZ_EXAMPLES`` is the
default for ``--examples``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.security import fuzz, fuzz_engine
from tests.unit.session_harness import Solo
from tests.unit.session_harness import settings as session_settings

ROUND = 5000


def _targets() -> dict[str, tuple[Callable[..., None], tuple[Any, ...]]]:
    bases = fuzz.templates(Solo(session_settings("acceptor", "BROKER", "CLIENT")))
    one = st.sampled_from(bases).flatmap(fuzz.mutated)
    streams = st.lists(one, min_size=1, max_size=4).map(b"".join)
    return {
        "framer": (fuzz.check_framer, (streams, st.lists(st.integers(1, 300), min_size=1,
                                                          max_size=5),
                                       st.sampled_from([1 << 20, 4096, 200]))),
        "decode": (fuzz.check_decode, (one,)),
        "validator": (fuzz.check_validator, (
            st.sampled_from(fuzz.APP_MESSAGES + bases).flatmap(fuzz.mutated),
            st.sampled_from(["FIX42", "FIX44", "FIX50SP2"]))),
        "session": (fuzz.check_session, (fuzz.session_case(),)),
        "engine": (fuzz_engine.check_engine, (
            st.lists(st.sampled_from(fuzz_engine.BASES).flatmap(fuzz.mutated), min_size=1,
                     max_size=6),)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int,
                        default=int(os.environ.get("FIXPLUS_FUZZ_EXAMPLES", "100000")))
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--target", action="append", choices=["framer", "decode", "validator", "session", "engine"])
    args = parser.parse_args(argv)
    targets = _targets()
    chosen = args.target or list(targets)
    start = time.monotonic()
    failures: list[dict[str, str]] = []
    # SIGTERM (a CI timeout, kill PID) ends the campaign with its report.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        _campaign(args, targets, chosen, start, failures)
    except KeyboardInterrupt:
        failures.append({"target": "-", "error": "interrupted"})
    finally:
        fuzz_engine.stop()
    report = {"executions": dict(fuzz.EXECUTIONS), "seconds": round(time.monotonic() - start, 1),
              "failures": failures}
    print(json.dumps(report))
    return 1 if any(f["error"] != "interrupted" for f in failures) else 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _campaign(args: argparse.Namespace, targets: dict[str, tuple[Callable[..., None],
                                                                 tuple[Any, ...]]],
              chosen: list[str], start: float, failures: list[dict[str, str]]) -> None:
    for name in chosen:
        fn, strategies = targets[name]
        while fuzz.EXECUTIONS[name] < args.examples:
            if args.seconds is not None and time.monotonic() - start > args.seconds:
                break
            n = min(ROUND, args.examples - fuzz.EXECUTIONS[name])
            run = settings(max_examples=n, deadline=None, database=None,
                           suppress_health_check=list(HealthCheck))(given(*strategies)(fn))
            before = fuzz.EXECUTIONS[name]
            try:
                run()
            except Exception as exc:
                traceback.print_exc()
                failures.append({"target": name, "error": f"{type(exc).__name__}: {exc}"[:500]})
                break
            if fuzz.EXECUTIONS[name] == before:
                break  # nothing ran: do not spin


if __name__ == "__main__":
    sys.exit(main())
