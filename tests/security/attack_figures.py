"""Memory figures of the attacks with a resource cost, against a real
``fixplus run`` process; prints one JSON object.

    .venv/bin/python -m tests.security.attack_figures

For every attack: the engine's RSS when idle (before), the largest RSS
sampled while it ran (every 20 ms from /proc/PID/status), VmHWM (the
kernel's own peak) and the RSS after, in KiB, plus what the attacker got
through.  The suite's bound (``RSS_BOUND_KIB`` above idle) is given for
comparison.
"""

from __future__ import annotations

import json
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make ``tests`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.security.attacks import (
    MIB,
    RSS_BOUND_KIB,
    base_config,
    gap_queue_attack,
    junk_flood,
    logon_works,
    trickle,
)
from tests.security.engine_process import PASSWORD, EngineProcess, hash_password


def _engine(root: Path, name: str, password_hash: str, **options: Any) -> EngineProcess:
    directory = root / name
    directory.mkdir()
    return EngineProcess(directory, base_config(directory, password_hash, **options),
                         name=name).start()


def _figure(engine: EngineProcess, idle: int, peak: int, started: float,
            **extra: Any) -> dict[str, Any]:
    time.sleep(0.5)  # let the engine settle after the attack
    after = engine.rss_kib()
    return {"idle_kib": idle, "peak_kib": peak, "peak_above_idle_kib": peak - idle,
            "vmhwm_kib": engine.peak_rss_kib(), "after_kib": after,
            "seconds": round(time.monotonic() - started, 2), "alive": engine.alive(), **extra}


def junk_figures(root: Path, password_hash: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    engine = _engine(root, "junk", password_hash)
    try:
        idle = engine.rss_kib()
        out["idle_kib"] = idle
        for name, kwargs in (
                ("junk_1_connection_400MiB", {"connections": 1}),
                ("junk_4_connections_400MiB_each", {"connections": 4}),
                ("fix_header_bodylength_5e7_4_connections",
                 {"connections": 4, "prefix": b"8=FIX.4.4\x019=50000000\x0135=A\x01"})):
            started = time.monotonic()
            flood = junk_flood(engine, **kwargs)
            out[name] = _figure(engine, idle, flood.peak_kib, started,
                                bytes_written_per_connection=flood.sent)
        for body_length in (2_000_000_000, 60_000):
            started = time.monotonic()
            sent, closed, peak = trickle(engine, body_length=body_length)
            out[f"trickle_bodylength_{body_length}"] = _figure(
                engine, idle, peak, started, bytes_written=sent, closed_by_engine=closed)
        logon_works(engine).close()
        out["valid_logon_after"] = True
    finally:
        engine.stop()
    return out


def gap_figures(root: Path, password_hash: str, name: str, count: int,
                session_extra: dict[str, Any]) -> dict[str, Any]:
    engine = _engine(root, name, password_hash, session_extra=session_extra)
    try:
        idle = engine.rss_kib()
        started = time.monotonic()
        result = gap_queue_attack(engine, count=count)
        logouts = [m.text() for m in result.messages if m.msg_type == "5"]
        figure = _figure(engine, idle, result.peak_kib, started, settings=session_extra,
                         messages_of_100kB_written=result.written, logout=logouts[:1])
        figure["show"] = engine.store_cli("show", "FIX.4.4:BROKER->CLIENT").splitlines()
        return figure
    finally:
        engine.stop()


def main() -> int:
    password_hash = hash_password(PASSWORD)
    with tempfile.TemporaryDirectory(prefix="fixplus-attacks-") as tmp:
        root = Path(tmp)
        figures: dict[str, Any] = {
            "python": platform.python_version(),
            "rss_bound_above_idle_kib": RSS_BOUND_KIB,
            "before_logon": junk_figures(root, password_hash),
            "gap_queue_600x100kB_maxQueuedBytes_32MiB": gap_figures(
                root, password_hash, "gap32", 600, {"maxQueuedBytes": 32 * MIB}),
            "gap_queue_700x100kB_defaults": gap_figures(root, password_hash, "gapdefault", 700,
                                                        {}),
        }
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
