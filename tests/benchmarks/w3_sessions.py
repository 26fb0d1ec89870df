"""W3 many sessions (see ../shared/bench/WORKLOAD.md): a program, not a test.

Two processes per run, both started by this program and both running the
same engine: an acceptor holding S sessions on one port (SenderCompID
BROKER, TargetCompIDs C00001..Cnnnnn, configured statically) and an
initiator holding the S counterpart sessions.  FIX.4.4, HeartBtInt 30,
memory store, no validation.  One JSON object per (engine, S):

    {"workload": "W3", "engine": ..., "sessions": S, "rss_mb_per_1000": ...,
     "idle_cpu_pct": ..., "logon_all_s": ..., "initiator_rss_mb_per_1000": ...,
     "initiator_idle_cpu_pct": ..., "logged_on_after_idle": ...}

The measured engine process is the acceptor: one process holding many
sessions on one port is the server case W3 describes.  The initiator (also
S sessions in one process, also the engine under test) is measured the same
way and reported beside it; its figures include S outgoing connections and
reconnect machinery, so they are an upper bound for the client side.

* ``rss_mb_per_1000``: (VmRSS after the idle period - VmRSS after imports,
  before any session exists) / S * 1000, from /proc/<pid>/status.  The delta
  therefore holds the configuration, the session objects, their stores,
  connections, buffers and the tasks serving them.
* ``idle_cpu_pct``: utime + stime (/proc/<pid>/stat) used during --idle
  seconds (default 30, one HeartBtInt, so that in steady state each
  session sends and receives one Heartbeat inside the window), as a percent
  of one core, measured after a 2 s settle once every session is logged on.
* ``logon_all_s``: from the initiator starting its engine to the last
  on_logon callback in the initiator (every session logged on both ways).
* ``logged_on_after_idle``: sessions the acceptor still has logged on when
  the idle period ends (must be S);
* ``acceptor_tracebacks`` / ``initiator_tracebacks``: tracebacks the
  processes logged (their stderr is kept in the temp directory when there
  are any).

Both processes raise RLIMIT_NOFILE to the hard limit.  The acceptor's listen
backlog is whatever the engine uses (asyncio's default, 100, for ours):
connects beyond it wait for SYN retransmission, which shows up in
``logon_all_s``.

Usage: python tests/benchmarks/w3_sessions.py [--engine ours|quickfix|both]
    [--sessions 1000,5000] [--idle 30]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    free_port,
    proc_cpu_seconds,
    proc_rss_bytes,
    quickfix_available,
    raise_nofile,
    read_line,
    stop_child,
)

OURS = "pyfixmsg_plus"
QF = "quickfix"


def comp_id(i: int) -> str:
    return f"C{i:05d}"


# -- our engine -----------------------------------------------------------------


def _ours_child(role: str, sessions: int, port: int, busy_poll_us: int = 0) -> None:
    import asyncio

    from pyfixmsg_plus.engine.application import Application, SessionHandle
    from pyfixmsg_plus.engine.config import EngineConfig
    from pyfixmsg_plus.engine.runtime import Engine

    raise_nofile()
    gc.collect()
    print(f"BASE {proc_rss_bytes(os.getpid())}", flush=True)

    class App(Application):
        def __init__(self) -> None:
            self.logged_on = 0
            self.all_on: asyncio.Future[float] = asyncio.get_running_loop().create_future()

        async def on_logon(self, session: SessionHandle) -> None:
            self.logged_on += 1
            if self.logged_on == sessions and not self.all_on.done():
                self.all_on.set_result(time.perf_counter())

        async def on_logout(self, session: SessionHandle) -> None:
            self.logged_on -= 1

    def session(i: int) -> dict[str, Any]:
        common = {"beginString": "FIX.4.4", "heartbeatInterval": 30,
                  "validation": {"useDataDictionary": False}}
        if role == "acceptor":
            return {"role": "acceptor", "senderCompId": "BROKER", "targetCompId": comp_id(i),
                    "acceptPort": port, "acceptHost": "127.0.0.1",
                    "authentication": {"allowedAddresses": ["127.0.0.1"]}, **common}
        return {"role": "initiator", "senderCompId": comp_id(i), "targetCompId": "BROKER",
                "connect": [{"host": "127.0.0.1", "port": port}], **common}

    async def main() -> None:
        app = App()
        cfg = EngineConfig.model_validate({
            "store": "memory://",
            "sessions": [session(i) for i in range(1, sessions + 1)],
        })
        engine = Engine(cfg, app)
        t0 = time.perf_counter()
        await engine.start()
        if role == "acceptor":
            print(f"PORT {next(iter(engine.acceptors.values())).bound_port}", flush=True)
        else:
            done = await asyncio.wait_for(app.all_on, 600)
            print(f"LOGGED_ON {done - t0:.3f}", flush=True)
        loop = asyncio.get_running_loop()
        while True:  # commands from the parent; EOF: stop
            cmd = await loop.run_in_executor(None, sys.stdin.readline)
            if not cmd:
                break
            if cmd.strip() == "STATUS":
                n = sum(1 for d in engine.drivers.values() if d.logged_on)
                print(f"STATUS {n}", flush=True)
        await engine.stop(timeout=10)

    from pyfixmsg_plus.engine.transport.eventloop import loop_factory

    with asyncio.Runner(loop_factory=loop_factory("asyncio", busy_poll_us)) as runner:
        runner.run(main())


# -- QuickFIX C++ ----------------------------------------------------------------


def _qf_child(role: str, sessions: int, port: int, workdir: Path) -> None:
    import threading

    import quickfix as fix

    raise_nofile()
    gc.collect()
    print(f"BASE {proc_rss_bytes(os.getpid())}", flush=True)

    lines = ["[DEFAULT]", f"ConnectionType={role}", "StartTime=00:00:00", "EndTime=00:00:00",
             "HeartBtInt=30", "UseDataDictionary=N", "SocketNodelay=Y", "ReconnectInterval=5",
             "BeginString=FIX.4.4"]
    if role == "acceptor":
        lines += [f"SocketAcceptPort={port}", "SocketReuseAddress=Y", "SenderCompID=BROKER"]
    else:
        lines += ["SocketConnectHost=127.0.0.1", f"SocketConnectPort={port}",
                  "TargetCompID=BROKER"]
    for i in range(1, sessions + 1):
        lines += ["", "[SESSION]"]
        lines.append(f"TargetCompID={comp_id(i)}" if role == "acceptor"
                     else f"SenderCompID={comp_id(i)}")
    cfg = workdir / f"w3-{role}.cfg"
    cfg.write_text("\n".join(lines) + "\n")

    class App(fix.Application):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.lock = threading.Lock()
            self.logged_on = 0
            self.all_on = threading.Event()
            self.when = 0.0

        def onCreate(self, sid: Any) -> None: ...
        def toAdmin(self, msg: Any, sid: Any) -> None: ...
        def fromAdmin(self, msg: Any, sid: Any) -> None: ...
        def toApp(self, msg: Any, sid: Any) -> None: ...
        def fromApp(self, msg: Any, sid: Any) -> None: ...

        def onLogon(self, sid: Any) -> None:
            with self.lock:
                self.logged_on += 1
                if self.logged_on == sessions:
                    self.when = time.perf_counter()
                    self.all_on.set()

        def onLogout(self, sid: Any) -> None:
            with self.lock:
                self.logged_on -= 1

    settings = fix.SessionSettings(str(cfg))
    app = App()
    store = fix.MemoryStoreFactory()
    cls = fix.SocketAcceptor if role == "acceptor" else fix.SocketInitiator
    try:
        engine = cls(app, store, settings)
    except TypeError:
        (workdir / "log").mkdir(exist_ok=True)
        engine = cls(app, store, settings, fix.FileLogFactory(settings))
    t0 = time.perf_counter()
    engine.start()
    if role == "acceptor":
        print(f"PORT {port}", flush=True)
    else:
        if not app.all_on.wait(600):
            raise TimeoutError(f"{app.logged_on} of {sessions} sessions logged on")
        print(f"LOGGED_ON {app.when - t0:.3f}", flush=True)
    for cmd in sys.stdin:
        if cmd.strip() == "STATUS":
            print(f"STATUS {app.logged_on}", flush=True)
    engine.stop()


# -- parent ----------------------------------------------------------------------


def _expect(proc: subprocess.Popen[str], word: str, timeout: float) -> str:
    text = read_line(proc, timeout)
    if not text.startswith(word + " "):
        raise RuntimeError(f"expected {word} from {proc.args!r}, got {text!r} "
                           f"(exit {proc.poll()})")
    return text.split()[1]


def run_once(engine: str, sessions: int, idle: float, workdir: Path,
             logon_timeout: float = 300.0, busy_poll_us: int = 0) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--engine", "ours" if engine == OURS else "quickfix",
           "--sessions", str(sessions), "--workdir", str(workdir)]
    if engine == OURS and busy_poll_us:
        cmd += ["--busy-poll-us", str(busy_poll_us)]
    procs: list[subprocess.Popen[str]] = []

    logs: dict[str, Path] = {}

    def start(role: str, port: int) -> subprocess.Popen[str]:
        logs[role] = workdir / f"{role}.log"
        with open(logs[role], "w") as err:
            p = subprocess.Popen([*cmd, "--role", role, "--port", str(port)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                                 text=True)
        procs.append(p)
        return p

    def log_errors(role: str) -> int:
        """Tracebacks and error lines the child logged (its stderr)."""
        with open(logs[role], errors="replace") as f:
            return sum(1 for text in f if text.startswith("Traceback"))

    try:
        acceptor = start("acceptor", free_port() if engine == QF else 0)
        acc_base = int(_expect(acceptor, "BASE", 60))
        port = int(_expect(acceptor, "PORT", 300))
        initiator = start("initiator", port)
        ini_base = int(_expect(initiator, "BASE", 60))
        logon_all = float(_expect(initiator, "LOGGED_ON", logon_timeout))
        time.sleep(2.0)  # settle: the last logons' deliveries, garbage
        cpu0 = {p.pid: proc_cpu_seconds(p.pid) for p in procs}
        t0 = time.monotonic()
        time.sleep(idle)
        wall = time.monotonic() - t0
        cpu = {p.pid: (proc_cpu_seconds(p.pid) - cpu0[p.pid]) / wall * 100 for p in procs}
        rss = {p.pid: proc_rss_bytes(p.pid) for p in procs}
        assert acceptor.stdin is not None
        acceptor.stdin.write("STATUS\n")
        acceptor.stdin.flush()
        still_on = int(_expect(acceptor, "STATUS", 60))

        def per_1000(pid: int, base: int) -> float:
            return round((rss[pid] - base) / 2**20 / sessions * 1000, 2)

        result = {
            "workload": "W3", "engine": engine, "sessions": sessions,
            "rss_mb_per_1000": per_1000(acceptor.pid, acc_base),
            "idle_cpu_pct": round(cpu[acceptor.pid], 2),
            "logon_all_s": round(logon_all, 2),
            "initiator_rss_mb_per_1000": per_1000(initiator.pid, ini_base),
            "initiator_idle_cpu_pct": round(cpu[initiator.pid], 2),
            "rss_mb": round(rss[acceptor.pid] / 2**20, 1),
            "base_rss_mb": round(acc_base / 2**20, 1),
            "idle_s": round(wall, 1),
            "logged_on_after_idle": still_on,
            "acceptor_tracebacks": log_errors("acceptor"),
            "initiator_tracebacks": log_errors("initiator"),
        }
        for role, path in logs.items():
            if result[f"{role}_tracebacks"]:
                keep = Path(tempfile.gettempdir()) / f"w3-{engine}-{sessions}-{role}.log"
                shutil.copyfile(path, keep)
                print(f"note: {engine} S={sessions}: the {role} logged "
                      f"{result[f'{role}_tracebacks']} tracebacks; its stderr: {keep}",
                      file=sys.stderr)
        return result
    finally:
        for p in reversed(procs):  # initiator first: its Logouts are answered
            stop_child(p, timeout=30)


def null_line(engine: str, sessions: int, **extra: Any) -> dict[str, Any]:
    return {"workload": "W3", "engine": engine, "sessions": sessions, "rss_mb_per_1000": None,
            "idle_cpu_pct": None, "logon_all_s": None, **extra}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--engine", choices=["ours", "quickfix", "both"], default="both")
    ap.add_argument("--sessions", default="1000,5000", help="comma list of S")
    ap.add_argument("--idle", type=float, default=30.0, help="seconds of idleness measured")
    ap.add_argument("--logon-timeout", type=float, default=300.0,
                    help="seconds to wait for every session to log on (the line then carries "
                         "an error: QuickFIX C++ does not get 5,000 on here)")
    ap.add_argument("--busy-poll-us", type=int, default=0,
                    help="our engine's busyPollUs, in both processes (docs/performance.md)")
    ap.add_argument("--role", choices=["acceptor", "initiator"], help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--workdir", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.role is not None:
        sessions = int(args.sessions)
        if args.engine == "ours":
            _ours_child(args.role, sessions, args.port, args.busy_poll_us)
        else:
            _qf_child(args.role, sessions, args.port, Path(args.workdir))
        return 0

    engines = [OURS, QF] if args.engine == "both" else [OURS if args.engine == "ours" else QF]
    qf_ok = QF in engines and quickfix_available()
    if QF in engines and not qf_ok:
        print("note: `import quickfix` fails in this interpreter; quickfix figures are null",
              file=sys.stderr)
    for sessions in (int(s) for s in args.sessions.split(",")):
        for engine in engines:
            if engine == QF and not qf_ok:
                print(json.dumps(null_line(engine, sessions)), flush=True)
                continue
            with tempfile.TemporaryDirectory(prefix="w3-") as tmp:
                try:
                    r = run_once(engine, sessions, args.idle, Path(tmp), args.logon_timeout,
                                 args.busy_poll_us if engine == OURS else 0)
                    if engine == OURS and args.busy_poll_us:
                        r["busy_poll_us"] = args.busy_poll_us
                except Exception as exc:
                    print(f"note: {engine} S={sessions}: {exc}", file=sys.stderr)
                    r = null_line(engine, sessions, error=f"{type(exc).__name__}: {exc}")
            print(json.dumps(r), flush=True)
    return 0


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
