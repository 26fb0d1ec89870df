"""Run W1, W2 and W3 for our engine and QuickFIX C++, then check the targets.

A program, not a test (``make bench`` runs it).  It runs, one after the
other on this machine:

* ``w1_codec.py`` (every codec engine),
* ``w2_roundtrip.py --engine both --store memory,durable`` (plus
  ``sqlite-normal``, the SQLite setting that matches QuickFIX's FileStore:
  no fsync),
* ``w2_roundtrip.py --engine both --store memory --orders 5000 --window 1
  --busy-poll-us 200`` (W=1 once more, our engine with its event loop
  polling for 200 µs before it sleeps: ``busyPollUs``, docs/performance.md),
* ``w3_sessions.py --engine both``,

echoes every JSON line they print, and ends with one JSON line per target
of issue 5 and issue 4:

    {"target": ..., "measured": ..., "required": ..., "pass": true|false|null}

``pass`` is null when a figure is missing (e.g. QuickFIX C++ not importable,
no PostgreSQL DSN).  Ratios against QuickFIX C++ use the figures measured in
this run; the reference figures of WORKLOAD.md are printed beside them for
orientation only.

Usage: python tests/benchmarks/run_all.py [--quick] [--uvloop] [--skip w1,w2,w3]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OURS = "pyfixmsg_plus"
QF = "quickfix"
#: QuickFIX C++ 1.16 reference figures from WORKLOAD.md (another machine, another day).
QF_REFERENCE = {("memory", 100): 4723, ("memory", 1): 2369, ("file", 100): 3878,
                ("file", 1): 2132}


def run(name: str, args: list[str]) -> list[dict[str, Any]]:
    """Run one benchmark program, echo and collect its JSON lines."""
    cmd = [sys.executable, str(HERE / name), *args]
    print(f"# {' '.join(cmd[1:])}", file=sys.stderr, flush=True)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    lines: list[dict[str, Any]] = []
    for text in proc.stdout:
        text = text.strip()
        if not text.startswith("{"):
            continue
        print(text, flush=True)
        with contextlib.suppress(json.JSONDecodeError):
            lines.append(json.loads(text))
    if proc.wait() != 0:
        print(f"note: {name} exited with {proc.returncode}", file=sys.stderr)
    return lines


def find(lines: list[dict[str, Any]], **match: Any) -> dict[str, Any] | None:
    for r in lines:
        if all(r.get(k) == v for k, v in match.items()):
            return r
    return None


def check(target: str, measured: float | None, required: str, ok: bool | None,
          **extra: Any) -> dict[str, Any]:
    return {"target": target, "measured": measured, "required": required, "pass": ok, **extra}


def targets(w2: list[dict[str, Any]], w3: list[dict[str, Any]],
            w2_polled: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    out = []

    def w2line(engine: str, store: str, window: int,
               lines: list[dict[str, Any]] = w2) -> dict[str, Any] | None:
        return find(lines, workload="W2", engine=engine, store=store, window=window)

    # issue 5: W2 memory W=100 >= 3x QuickFIX C++ orders/s
    ours = w2line(OURS, "memory", 100)
    qf = w2line(QF, "memory", 100)
    o = ours["orders_per_s"] if ours else None
    q = qf["orders_per_s"] if qf else None
    ratio = round(o / q, 2) if o and q else None
    out.append(check("issue 5: W2 memory W=100 orders/s, ours / QuickFIX C++", ratio, ">= 3.0",
                     None if ratio is None else ratio >= 3.0, ours_orders_per_s=o,
                     quickfix_orders_per_s=q,
                     ratio_to_workload_reference=round(o / QF_REFERENCE[("memory", 100)], 2)
                     if o else None))
    # issue 5: W2 W=1 p50 <= 150 us, p99 <= 300 us (ours, every store that ran;
    # then the busy-polling run, beside the QuickFIX figures of its own run)
    for lines in (w2, w2_polled or []):
        for r in lines:
            if r.get("workload") != "W2" or r.get("engine") != OURS or r.get("window") != 1:
                continue
            p50, p99 = r.get("p50_us"), r.get("p99_us")
            q1 = w2line(QF, "memory" if r["store"] == "memory" else "file", 1, lines)
            poll = r.get("busy_poll_us") or 0
            name = f"issue 5: W2 W=1 {r['store']}" + (f" busyPollUs={poll}" if poll else "")
            out.append(check(f"{name} p50 us", p50, "<= 150",
                             None if p50 is None else p50 <= 150,
                             quickfix_p50_us=q1["p50_us"] if q1 else None))
            out.append(check(f"{name} p99 us", p99, "<= 300",
                             None if p99 is None else p99 <= 300,
                             quickfix_p99_us=q1["p99_us"] if q1 else None))
    # issue 5: W3 5000 sessions
    w3r = find(w3, workload="W3", engine=OURS, sessions=5000)
    mb = w3r.get("rss_mb_per_1000") if w3r else None
    cpu = w3r.get("idle_cpu_pct") if w3r else None
    q3 = find(w3, workload="W3", engine=QF, sessions=5000)
    out.append(check("issue 5: W3 5000 sessions, MB resident per 1000 sessions", mb, "<= 50",
                     None if mb is None else mb <= 50,
                     quickfix=q3.get("rss_mb_per_1000") if q3 else None))
    out.append(check("issue 5: W3 5000 sessions, idle CPU % of one core", cpu, "< 10",
                     None if cpu is None else cpu < 10,
                     quickfix=q3.get("idle_cpu_pct") if q3 else None,
                     logon_all_s=w3r.get("logon_all_s") if w3r else None))
    # issue 4: W2 W=100 with PostgreSQL and with SQLite >= 8000 orders/s
    for store in ("postgresql", "sqlite", "sqlite-normal"):
        r = w2line(OURS, store, 100)
        v = r["orders_per_s"] if r else None
        out.append(check(f"issue 4: W2 W=100 {store} orders/s", v, ">= 8000",
                         None if v is None else v >= 8000))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="one W2 run per figure, W3 with S=1000 and 5000 but 10 s idle")
    ap.add_argument("--uvloop", action="store_true", help="our engine on uvloop in W2")
    ap.add_argument("--busy-poll-us", type=int, default=200,
                    help="busyPollUs of the second W=1 run (not with --uvloop)")
    ap.add_argument("--skip", default="", help="comma list of w1, w2, w3 to leave out")
    args = ap.parse_args()
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}

    if "w1" not in skip:
        run("w1_codec.py", ["--repeat", "3"] if args.quick else [])
    w2: list[dict[str, Any]] = []
    if "w2" not in skip:
        w2_args = ["--engine", "both", "--store", "memory,durable,sqlite-normal"]
        if args.quick:
            w2_args += ["--repeat", "1"]
        if args.uvloop:
            w2_args.append("--uvloop")
        w2 = run("w2_roundtrip.py", w2_args)
    w2_polled: list[dict[str, Any]] = []
    if "w2" not in skip and not args.uvloop:
        w2_polled = run("w2_roundtrip.py", [
            "--engine", "both", "--store", "memory", "--orders", "5000", "--window", "1",
            "--busy-poll-us", str(args.busy_poll_us), *(["--repeat", "1"] if args.quick else [])])
    w3: list[dict[str, Any]] = []
    if "w3" not in skip:
        w3 = run("w3_sessions.py", ["--engine", "both", *(["--idle", "10"] if args.quick else [])])
    for line in targets(w2, w3, w2_polled):
        print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
