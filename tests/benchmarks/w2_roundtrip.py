"""W2 order round trip (see ../shared/bench/WORKLOAD.md): a program, not a test.

Two processes on 127.0.0.1 per run, both started by this program: an
acceptor (SenderCompID BROKER) and an initiator (SenderCompID CLIENT),
FIX.4.4, HeartBtInt 30, ResetOnLogon, no dictionary validation,
TCP_NODELAY.  After logon the initiator sends N NewOrderSingle keeping at
most W outstanding; the acceptor's application answers each with one
ExecutionReport.  One JSON object per (engine, store, N, W), each figure the
median of --repeat runs:

    {"workload": "W2", "engine": ..., "store": ..., "orders": N, "window": W,
     "orders_per_s": ..., "p50_us": ..., "p99_us": ..., "max_us": ...}

and, when both engines ran, a last line with the ratios ours / QuickFIX C++.

Engines (both in the same run, interleaved run by run):

* ``pyfixmsg_plus``: our engine in both roles; stores ``memory``, ``sqlite``
  (synchronous=FULL, the default: fsync at every commit), ``sqlite-normal``
  (synchronous=NORMAL: no fsync, like QuickFIX's FileStore),
  ``postgresql``, ``mysql`` and ``mongodb`` (FIXPLUS_PG_DSN,
  FIXPLUS_MYSQL_URL, FIXPLUS_MONGODB_URL from the environment or the test
  environment file);
* ``quickfix``: QuickFIX C++ through its Python binding in both roles
  (SocketAcceptor / SocketInitiator, Python callbacks, a settings file in a
  temp directory, no message log); stores ``memory`` (MemoryStore) and
  ``file`` (FileStore).  Null figures when ``import quickfix`` fails.

How the initiator keeps the window (the same for both engines): it sends the
first W orders once logged on, then sends the next order from inside the
ExecutionReport callback, so each report frees its slot without a hand-off
to another task or thread.  With QuickFIX's binding that matters: its
callbacks run on the engine's socket thread, and waking a Python main thread
per report would cost a GIL hand-off each time; the main thread only waits
on one Event for the last report.  Our engine sends with ``send_nowait``
(numbered and queued; still persisted before it is written), as
``engine/cli/demo.py`` does; ``await send`` would wait for the store per order.

Time cap: a run stops sending new orders after --max-seconds (default 8 s)
and its figures are then over the orders completed; the JSON line then
carries ``"completed"`` (median count).  Only slow durable W=1 runs hit it
(SQLite with an fsync per commit does well under 100 round trips per second
here), which keeps the default run near two minutes.

Latency: ``perf_counter_ns`` just before the send call, and again on entry
to the callback receiving its report (matched by ClOrdID).  Orders per
second: N / (last report - first send).

Store groups: ``--store memory`` runs ``memory`` for both engines,
``--store durable`` runs ``sqlite`` (+ each server store whose URL is known)
for ours and ``file`` for QuickFIX; names of one engine's stores select just
that store.  Ratios pair memory with memory and every durable store of ours
with QuickFIX's FileStore.

Usage: python tests/benchmarks/w2_roundtrip.py [--engine ours|quickfix|both]
    [--store memory,durable] [--orders N --window W] [--repeat 3]
    [--max-seconds 8] [--uvloop | --busy-poll-us 0,200] [--profile DIR] [--message-log]

``--busy-poll-us`` runs our engine with the event loop polling its sockets
for that long before sleeping (``busyPollUs``, docs/performance.md); a list
runs ours once per value in the same interleaved run, each line carrying
``"busy_poll_us"``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    env_value,
    free_port,
    percentile,
    quickfix_available,
    read_line,
    stop_child,
)

OURS = "pyfixmsg_plus"
QF = "quickfix"
QFT = "quickfix-thread"  # QuickFIX driven from a Python main thread
QF_DRIVERS = {QF: "callback", QFT: "thread"}
OUR_STORES = ("memory", "sqlite", "sqlite-normal", "postgresql", "mysql", "mongodb",
              "sqlite+enc", "postgresql+enc")
#: a store name ending with this runs with encryption at rest (local key file)
ENC = "+enc"
#: server stores: the test environment's setting naming each one's URL
_SERVER_STORES = {"postgresql": "FIXPLUS_PG_DSN", "mysql": "FIXPLUS_MYSQL_URL",
                  "mongodb": "FIXPLUS_MONGODB_URL"}
QF_STORES = ("memory", "file")
DEFAULT_RUNS = ((20000, 100), (5000, 1))
RUN_TIMEOUT = 300.0


# =============================================================================
# our engine
# =============================================================================


def _message_log(store: str, workdir: Path, role: str) -> dict[str, Any]:
    """``messageLog`` of a ``<store>+log`` variant (--message-log): a file
    message log of every message, heartbeats included."""
    if not store.endswith("+log"):
        return {}
    return {"messageLog": {"path": str(workdir / f"log-{role}")}}


def _our_store_config(store: str, workdir: Path, role: str) -> dict[str, Any]:
    """``store`` (and ``encryption`` for a ``+enc`` store) of an engine configuration."""
    if not store.endswith(ENC):
        return {"store": _our_store_url(store, workdir, role)}
    from pyfixmsg_plus.engine.store.keyprovider import create_key_file

    key_file = workdir / "kek"
    with contextlib.suppress(FileExistsError):
        create_key_file(key_file)
    return {"store": _our_store_url(store.removesuffix(ENC), workdir, role),
            "encryption": {"provider": "local", "keyFile": str(key_file)}}


def _our_store_url(store: str, workdir: Path, role: str) -> str:
    store = store.removesuffix("+log")
    if store == "memory":
        return "memory://"
    if store == "sqlite":
        return f"sqlite:///{workdir / role}.db"
    if store == "sqlite-normal":
        return f"sqlite:///{workdir / role}.db?synchronous=NORMAL"
    if store in _SERVER_STORES:
        url = env_value(_SERVER_STORES[store])
        if not url:
            raise RuntimeError(f"{_SERVER_STORES[store]} is not set (run tests/env/setup.sh)")
        option = {"mysql": "table_prefix=bench_", "mongodb": "collection_prefix=bench_"}
        if store in option:
            url += ("&" if "?" in url else "?") + option[store]
        return url
    raise ValueError(store)


#: Counterparty authentication of our pair: ``password`` (the default: a
#: Username/Password Logon checked against an scrypt hash) or ``none``.
#: FIXPLUS_BENCH_AUTH=none measures without it; it costs at Logon only.
_BENCH_PASSWORD = "bench-password"


def _our_session(role: str, **extra: Any) -> dict[str, Any]:
    me, them = ("BROKER", "CLIENT") if role == "acceptor" else ("CLIENT", "BROKER")
    data = {"role": role, "beginString": "FIX.4.4", "senderCompId": me, "targetCompId": them,
            "heartbeatInterval": 30, "resetOnLogon": True, "tcpNodelay": True,
            "validation": {"useDataDictionary": False}, **extra}
    if os.environ.get("FIXPLUS_BENCH_AUTH", "password") == "none":
        if role == "acceptor":
            data["authentication"] = {"mode": "none"}
    elif role == "acceptor":
        from pyfixmsg_plus.engine.transport.auth import hash_password

        data["authentication"] = {"username": "client",
                                  "passwordHash": hash_password(_BENCH_PASSWORD)}
    else:
        data.update(username="client", password=_BENCH_PASSWORD)
    return data


def _run_loop(main: Any, use_uvloop: bool, busy_poll_us: int = 0) -> Any:
    """Run ``main`` on the loop ``fixplus run`` would pick for these settings."""
    from pyfixmsg_plus.engine.transport.eventloop import loop_factory

    if use_uvloop and not _have_uvloop():
        print("note: --uvloop given but uvloop is not importable; using asyncio",
              file=sys.stderr)
        use_uvloop = False
    factory = loop_factory("uvloop" if use_uvloop else "asyncio", busy_poll_us)
    import asyncio

    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)


def ours_acceptor(store: str, workdir: Path, use_uvloop: bool, busy_poll_us: int) -> None:
    import asyncio

    from pyfixmsg_plus.engine.application import Application, SessionHandle
    from pyfixmsg_plus.engine.codec import Message
    from pyfixmsg_plus.engine.config import EngineConfig
    from pyfixmsg_plus.engine.runtime import Engine

    class Broker(Application):
        """Answers every NewOrderSingle with one new-order ExecutionReport."""

        def __init__(self) -> None:
            self.orders = 0

        async def from_app(self, msg: Message, session: SessionHandle) -> None:
            if msg.msg_type != b"D":
                return
            self.orders += 1
            n = b"%d" % self.orders
            qty = msg.get(38) or b"0"
            session.send_nowait(Message.new(b"FIX.4.4", b"8", [
                (37, b"O" + n), (17, b"E" + n), (150, b"0"), (39, b"0"),
                (54, msg.get(54) or b"1"), (151, b"100"), (14, b"0"), (6, b"0"),
                (11, msg.get(11) or b""), (55, msg.get(55) or b""), (38, qty),
            ]))

    async def main() -> None:
        cfg = EngineConfig.model_validate({
            **_our_store_config(store, workdir, "broker"),
            "sessions": [_our_session("acceptor", acceptPort=0, acceptHost="127.0.0.1")],
            **_message_log(store, workdir, "broker"),
        })
        engine = Engine(cfg, Broker())
        await engine.start()
        port = next(iter(engine.acceptors.values())).bound_port
        print(f"PORT {port}", flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes stdin
        await engine.stop(timeout=5)

    _run_loop(main(), use_uvloop, busy_poll_us)


def ours_initiator(port: int, store: str, workdir: Path, orders: int, window: int,
                   max_seconds: float, use_uvloop: bool, busy_poll_us: int) -> dict[str, Any]:
    import asyncio

    from pyfixmsg_plus.engine.application import Application, SessionHandle
    from pyfixmsg_plus.engine.codec import Message
    from pyfixmsg_plus.engine.codec.values import format_utc_timestamp
    from pyfixmsg_plus.engine.config import EngineConfig
    from pyfixmsg_plus.engine.runtime import Engine

    clock = time.perf_counter_ns
    wall = time.time_ns
    sent_at = [0] * (orders + 1)
    latency = [0] * (orders + 1)

    class Client(Application):
        def __init__(self) -> None:
            self.sent = 0
            self.reports = 0
            self.deadline = 0
            self.logged_on: asyncio.Future[SessionHandle] = (
                asyncio.get_running_loop().create_future())
            self.done: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def on_logon(self, session: SessionHandle) -> None:
            if not self.logged_on.done():
                self.logged_on.set_result(session)

        def send_one(self, session: SessionHandle) -> None:
            self.sent += 1
            i = self.sent
            order = Message.new(b"FIX.4.4", b"D", [
                (11, b"%d" % i), (21, b"1"), (55, b"SYM"), (54, b"1"),
                (60, format_utc_timestamp(wall())), (38, b"100"), (40, b"2"), (44, b"10.5"),
            ])
            sent_at[i] = clock()
            session.send_nowait(order)

        async def from_app(self, msg: Message, session: SessionHandle) -> None:
            now = clock()
            if msg.msg_type != b"8":
                return
            i = int(msg[11])
            latency[i] = now - sent_at[i]
            self.reports += 1
            if self.sent < orders and now < self.deadline:
                self.send_one(session)
            elif self.reports == self.sent and not self.done.done():
                self.done.set_result(now)

    async def main() -> dict[str, Any]:
        app = Client()
        cfg = EngineConfig.model_validate({
            **_our_store_config(store, workdir, "client"),
            "sessions": [_our_session("initiator",
                                      connect=[{"host": "127.0.0.1", "port": port}])],
            **_message_log(store, workdir, "client"),
        })
        engine = Engine(cfg, app)
        await engine.start()
        try:
            session = await asyncio.wait_for(app.logged_on, 30)
            first = clock()
            app.deadline = first + int(max_seconds * 1e9)
            for _ in range(min(window, orders)):
                app.send_one(session)
            last = await asyncio.wait_for(app.done, max_seconds + RUN_TIMEOUT)
        finally:
            await engine.stop(timeout=5)
        return _figures(orders, window, first, last, latency[:app.sent + 1])

    result: dict[str, Any] = _run_loop(main(), use_uvloop, busy_poll_us)
    return result


# =============================================================================
# QuickFIX C++ through its Python binding
# =============================================================================


def _qf_settings(role: str, port: int, store: str, workdir: Path) -> Path:
    me, them = ("BROKER", "CLIENT") if role == "acceptor" else ("CLIENT", "BROKER")
    lines = [
        "[DEFAULT]",
        f"ConnectionType={role}",
        "StartTime=00:00:00",
        "EndTime=00:00:00",
        "HeartBtInt=30",
        "ResetOnLogon=Y",
        "UseDataDictionary=N",
        "SocketNodelay=Y",
        "ReconnectInterval=1",
        f"FileStorePath={workdir / ('store-' + role)}",
        "",
        "[SESSION]",
        "BeginString=FIX.4.4",
        f"SenderCompID={me}",
        f"TargetCompID={them}",
    ]
    if role == "acceptor":
        lines += [f"SocketAcceptPort={port}", "SocketReuseAddress=Y"]
    else:
        lines += ["SocketConnectHost=127.0.0.1", f"SocketConnectPort={port}"]
    path = workdir / f"quickfix-{role}.cfg"
    path.write_text("\n".join(lines) + "\n")
    return path


def _qf_store_factory(fix: Any, store: str, settings: Any) -> Any:
    if store == "memory":
        return fix.MemoryStoreFactory()
    if store == "file":
        return fix.FileStoreFactory(settings)
    raise ValueError(f"QuickFIX has no store {store!r}")


def _qf_setter(fix: Any) -> Any:
    """``set(fieldmap, tag, str)``: ``setField(int, str)`` when the binding
    has that overload, else through a ``StringField``."""
    probe = fix.Message()
    try:
        probe.setField(11, "x")
    except (TypeError, NotImplementedError):
        return lambda fm, tag, value: fm.setField(fix.StringField(tag, value))
    return lambda fm, tag, value: fm.setField(tag, value)


def _qf_engine(fix: Any, role: str, app: Any, store_factory: Any, settings: Any,
               workdir: Path) -> Any:
    cls = fix.SocketAcceptor if role == "acceptor" else fix.SocketInitiator
    try:
        return cls(app, store_factory, settings)  # no message log, like ours
    except TypeError:
        (workdir / "log").mkdir(exist_ok=True)
        print("note: the binding wants a LogFactory; using FileLogFactory", file=sys.stderr)
        return cls(app, store_factory, settings, fix.FileLogFactory(settings))


def qf_acceptor(port: int, store: str, workdir: Path) -> None:
    import quickfix as fix

    setf = _qf_setter(fix)

    class Broker(fix.Application):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.orders = 0

        def onCreate(self, sid: Any) -> None: ...
        def onLogon(self, sid: Any) -> None: ...
        def onLogout(self, sid: Any) -> None: ...
        def toAdmin(self, msg: Any, sid: Any) -> None: ...
        def fromAdmin(self, msg: Any, sid: Any) -> None: ...
        def toApp(self, msg: Any, sid: Any) -> None: ...

        def fromApp(self, msg: Any, sid: Any) -> None:
            try:
                if msg.getHeader().getField(35) != "D":
                    return
                self.orders += 1
                n = str(self.orders)
                report = fix.Message()
                header = report.getHeader()
                setf(header, 8, "FIX.4.4")
                setf(header, 35, "8")
                for tag, value in ((37, "O" + n), (17, "E" + n), (150, "0"), (39, "0"),
                                   (54, msg.getField(54)), (151, "100"), (14, "0"), (6, "0"),
                                   (11, msg.getField(11)), (55, msg.getField(55)),
                                   (38, msg.getField(38))):
                    setf(report, tag, value)
                fix.Session.sendToTarget(report, sid)
            except Exception as exc:  # a callback must not die silently
                print(f"quickfix acceptor fromApp: {exc!r}", file=sys.stderr)

    settings = fix.SessionSettings(str(_qf_settings("acceptor", port, store, workdir)))
    app = Broker()
    acceptor = _qf_engine(fix, "acceptor", app, _qf_store_factory(fix, store, settings),
                          settings, workdir)
    acceptor.start()
    print(f"PORT {port}", flush=True)
    sys.stdin.read()  # until the parent closes stdin
    acceptor.stop()


def qf_initiator(port: int, store: str, workdir: Path, orders: int, window: int,
                 max_seconds: float, driver: str = "callback") -> dict[str, Any]:
    import threading

    import quickfix as fix

    setf = _qf_setter(fix)
    clock = time.perf_counter_ns
    sent_at = [0] * (orders + 1)
    latency = [0] * (orders + 1)
    sid = fix.SessionID("FIX.4.4", "CLIENT", "BROKER")
    have_transact_time = hasattr(fix, "TransactTime")

    def transact_time() -> str:
        t = time.time()
        return time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}"

    class Client(fix.Application):  # type: ignore[misc]
        """driver "callback": all sends happen on QuickFIX's socket thread (the
        first window in onLogon, then one per report in fromApp): no lock, no
        hand-off.  driver "thread": the main thread sends, taking a slot of a
        semaphore of W per order; fromApp gives the slot back."""

        def __init__(self) -> None:
            super().__init__()
            self.slots = threading.Semaphore(window)
            self.logged_on = threading.Event()
            self.sent = 0
            self.reports = 0
            self.first = 0
            self.last = 0
            self.deadline = 0
            self.started = False
            self.done = threading.Event()
            self.error: str | None = None

        def send_one(self) -> None:
            self.sent += 1
            i = self.sent
            order = fix.Message()
            header = order.getHeader()
            setf(header, 8, "FIX.4.4")
            setf(header, 35, "D")
            setf(order, 11, str(i))
            setf(order, 21, "1")
            setf(order, 55, "SYM")
            setf(order, 54, "1")
            if have_transact_time:
                order.setField(fix.TransactTime())
            else:
                setf(order, 60, transact_time())
            setf(order, 38, "100")
            setf(order, 40, "2")
            setf(order, 44, "10.5")
            sent_at[i] = clock()
            fix.Session.sendToTarget(order, sid)

        def onCreate(self, s: Any) -> None: ...
        def onLogout(self, s: Any) -> None: ...
        def toAdmin(self, msg: Any, s: Any) -> None: ...
        def fromAdmin(self, msg: Any, s: Any) -> None: ...
        def toApp(self, msg: Any, s: Any) -> None: ...

        def onLogon(self, s: Any) -> None:
            if self.started:
                return
            self.started = True
            if driver == "thread":
                self.logged_on.set()
                return
            try:
                self.first = clock()
                self.deadline = self.first + int(max_seconds * 1e9)
                for _ in range(min(window, orders)):
                    self.send_one()
            except Exception as exc:
                self.error = repr(exc)
                self.done.set()

        def fromApp(self, msg: Any, s: Any) -> None:
            now = clock()
            try:
                if msg.getHeader().getField(35) != "8":
                    return
                i = int(msg.getField(11))
                latency[i] = now - sent_at[i]
                self.reports += 1
                if driver == "thread":
                    self.last = now
                    self.slots.release()
                elif self.sent < orders and now < self.deadline:
                    self.send_one()
                elif self.reports == self.sent:
                    self.last = now
                    self.done.set()
            except Exception as exc:
                self.error = repr(exc)
                self.done.set()

    settings = fix.SessionSettings(str(_qf_settings("initiator", port, store, workdir)))
    app = Client()
    initiator = _qf_engine(fix, "initiator", app, _qf_store_factory(fix, store, settings),
                           settings, workdir)
    initiator.start()
    try:
        if driver == "thread":
            if not app.logged_on.wait(RUN_TIMEOUT):
                raise TimeoutError(f"no logon after {RUN_TIMEOUT:.0f} s")
            app.first = clock()
            app.deadline = app.first + int(max_seconds * 1e9)
            for _ in range(orders):
                app.slots.acquire()
                if clock() >= app.deadline:
                    app.slots.release()
                    break
                app.send_one()
            for _ in range(window):  # every slot back: every report is in
                if not app.slots.acquire(timeout=RUN_TIMEOUT):
                    raise TimeoutError(f"{app.reports} of {app.sent} reports after "
                                       f"{RUN_TIMEOUT:.0f} s")
            app.done.set()
        if not app.done.wait(max_seconds + RUN_TIMEOUT):
            raise TimeoutError(f"{app.reports} of {orders} reports after {RUN_TIMEOUT:.0f} s")
        if app.error:
            raise RuntimeError(app.error)
    finally:
        initiator.stop()
    return _figures(orders, window, app.first, app.last, latency[:app.sent + 1])


# =============================================================================
# figures, runs and the parent process
# =============================================================================


def _figures(orders: int, window: int, first: int, last: int,
             latency: list[int]) -> dict[str, Any]:
    lat = sorted(latency[1:])
    return {
        "orders": orders,
        "completed": len(lat),
        "window": window,
        "orders_per_s": len(lat) / ((last - first) / 1e9),
        "p50_us": percentile(lat, 0.50) / 1000,
        "p99_us": percentile(lat, 0.99) / 1000,
        "max_us": lat[-1] / 1000,
    }


def run_once(engine: str, store: str, orders: int, window: int, args: argparse.Namespace,
             profile_dir: Path | None = None, busy_poll_us: int = 0) -> dict[str, Any]:
    """One run: start the acceptor, run the initiator, stop the acceptor."""
    workdir = Path(tempfile.mkdtemp(prefix="w2-", dir=args.tmpdir))
    common = [sys.executable, __file__, "--engine", "ours" if engine == OURS else "quickfix",
              "--store", store, "--workdir", str(workdir)]
    if engine in QF_DRIVERS:
        common += ["--driver", QF_DRIVERS[engine]]
    if args.uvloop:
        common.append("--uvloop")
    if busy_poll_us:
        common += ["--busy-poll-us", str(busy_poll_us)]
    acc_cmd = [*common, "--role", "acceptor",
               "--port", str(free_port() if engine in QF_DRIVERS else 0)]
    ini_cmd = [*common, "--role", "initiator", "--orders", str(orders), "--window", str(window),
               "--max-seconds", str(args.max_seconds)]
    if profile_dir is not None:
        acc_cmd += ["--profile", str(profile_dir / "acceptor.prof")]
        ini_cmd += ["--profile", str(profile_dir / "initiator.prof")]
    acceptor = subprocess.Popen(acc_cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True)
    try:
        line = read_line(acceptor, 60)
        if not line.startswith("PORT "):
            raise RuntimeError(f"acceptor did not start (exit {acceptor.poll()})")
        child = subprocess.run([*ini_cmd, "--port", line.split()[1]], capture_output=True,
                               text=True,
                               timeout=args.max_seconds + RUN_TIMEOUT + 60, check=False)
        if child.stderr:
            sys.stderr.write(child.stderr)
        out = child.stdout.strip().splitlines()
        if child.returncode != 0 or not out:
            last = (child.stderr.strip().splitlines() or ["(no stderr)"])[-1]
            raise RuntimeError(f"initiator failed (exit {child.returncode}): {last}")
        result: dict[str, Any] = json.loads(out[-1])
        return result
    finally:
        stop_child(acceptor)
        shutil.rmtree(workdir, ignore_errors=True)


def line(engine: str, store: str, orders: int, window: int,
         runs: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    def med(key: str, digits: int) -> float | None:
        values = [r[key] for r in runs]
        return round(statistics.median(values), digits) if values else None

    done = [r["completed"] for r in runs]
    truncated = ({"completed": int(statistics.median(done))}
                 if any(d < orders for d in done) else {})

    driver = {"driver": QF_DRIVERS[engine]} if engine in QF_DRIVERS else {}
    return {"workload": "W2", "engine": QF if engine in QF_DRIVERS else engine, **driver,
            "store": store, "orders": orders,
            "window": window, "orders_per_s": med("orders_per_s", 0), "p50_us": med("p50_us", 1),
            "p99_us": med("p99_us", 1), "max_us": med("max_us", 1), "runs": len(runs),
            **truncated, **extra}


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def ratios(results: list[dict[str, Any]]) -> dict[str, Any]:
    """ours / quickfix for every (store pair, N, W) where both have figures."""
    pairs = []
    for ours in results:
        if ours["engine"] != OURS or ours["orders_per_s"] is None:
            continue
        qf_store = "memory" if ours["store"].removesuffix("+log") == "memory" else "file"
        for qf in results:
            if (qf["engine"] == QF and qf["store"] == qf_store and qf["orders"] == ours["orders"]
                    and qf["window"] == ours["window"] and qf["orders_per_s"] is not None):
                pairs.append({
                    "store": ours["store"], "busy_poll_us": ours.get("busy_poll_us", 0),
                    "quickfix_store": qf_store,
                    "quickfix_driver": qf.get("driver"),
                    "orders": ours["orders"], "window": ours["window"],
                    "orders_per_s_ratio": _ratio(ours["orders_per_s"], qf["orders_per_s"]),
                    "p50_ratio": _ratio(ours["p50_us"], qf["p50_us"]),
                    "p99_ratio": _ratio(ours["p99_us"], qf["p99_us"]),
                    "max_ratio": _ratio(ours["max_us"], qf["max_us"]),
                })
    return {"workload": "W2", "ratios": "pyfixmsg_plus/quickfix", "pairs": pairs}


def _stores(spec: str, engine: str, message_log: bool = False) -> list[str]:
    out: list[str] = []
    for name in spec.split(","):
        name = name.strip()
        if name == "memory":
            picked = ["memory"]
        elif name == "durable":
            picked = ["sqlite"] if engine == OURS else ["file"]
            if engine == OURS:
                picked += [name for name, env in _SERVER_STORES.items() if env_value(env)]
        elif name in (OUR_STORES if engine == OURS else QF_STORES):
            picked = [name]
        else:
            picked = []
        if message_log and engine == OURS:
            picked = [v for p in picked for v in (p, f"{p}+log")]
        out += [p for p in picked if p not in out]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--engine", choices=["ours", "quickfix", "both"], default="both")
    ap.add_argument("--store", default="memory,durable",
                    help="comma list: memory, durable, or one engine's store names "
                         f"(ours: {', '.join(OUR_STORES)}; quickfix: {', '.join(QF_STORES)})")
    ap.add_argument("--orders", type=int, help="N (default: the two W2 runs)")
    ap.add_argument("--window", type=int, help="W (default: the two W2 runs)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
    ap.add_argument("--max-seconds", type=float, default=8.0,
                    help="stop sending new orders after this long in one run; figures are "
                         "then over the orders completed (the JSON says \"completed\")")
    ap.add_argument("--driver", choices=["callback", "thread", "both"], default="callback",
                    help="how the QuickFIX initiator keeps its window (see the module doc); "
                         "children: the one driver")
    ap.add_argument("--uvloop", action="store_true", help="our engine on uvloop if importable")
    ap.add_argument("--busy-poll-us", default="0",
                    help="our engine's busyPollUs (docs/performance.md); a comma list runs "
                         "ours once per value, interleaved with the other engines "
                         "(e.g. 0,200); children: one value")
    ap.add_argument("--message-log", action="store_true",
                    help="also run ours with a file message log (store name <store>+log), "
                         "interleaved with the runs without it")
    ap.add_argument("--tmpdir", default=None, help="where durable stores are written")
    ap.add_argument("--profile", default=None,
                    help="parent: run ours once under cProfile and write acceptor.prof and "
                         "initiator.prof to this directory; child: the .prof file")
    ap.add_argument("--role", choices=["acceptor", "initiator"], help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--workdir", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.role is not None:
        return child_main(args)

    if (args.orders is None) != (args.window is None):
        ap.error("give both --orders and --window, or neither")
    plan = [(args.orders, args.window)] if args.orders is not None else list(DEFAULT_RUNS)

    try:
        polls = [int(v) for v in args.busy_poll_us.split(",") if v.strip()] or [0]
    except ValueError:
        ap.error(f"--busy-poll-us: comma list of integers, not {args.busy_poll_us!r}")
    if args.uvloop and any(polls):
        ap.error("--busy-poll-us works with asyncio's loop only, not with --uvloop")

    if args.profile is not None:
        out = Path(args.profile)
        out.mkdir(parents=True, exist_ok=True)
        for orders, window in plan[:1]:
            store = _stores(args.store, OURS)[0]
            r = run_once(OURS, store, orders, window, args, profile_dir=out,
                         busy_poll_us=polls[0])
            print(json.dumps(line(OURS, store, orders, window, [r], profiled=True)))
            for role in ("acceptor", "initiator"):
                print_profile(out / f"{role}.prof", role, r["completed"])
        return 0

    qf_engines = [k for k, v in QF_DRIVERS.items() if args.driver in (v, "both")]
    engines = ([OURS] if args.engine in ("ours", "both") else []) + \
        (qf_engines if args.engine in ("quickfix", "both") else [])
    wants_qf = any(e in QF_DRIVERS for e in engines)
    qf_ok = wants_qf and quickfix_available()
    if wants_qf and not qf_ok:
        print("note: `import quickfix` fails in this interpreter; quickfix figures are null",
              file=sys.stderr)
    # (engine, store) pairs, grouped so that each of ours runs next to its
    # QuickFIX counterpart: memory with memory, durable with file.
    groups: list[list[tuple[str, str, int]]] = []
    for spec in args.store.split(","):
        group = [(e, s, bp) for e in engines for s in _stores(spec, e, args.message_log)
                 for bp in (polls if e == OURS else [0])]
        if group:
            groups.append(group)
    results: list[dict[str, Any]] = []
    for group in groups:
        for orders, window in plan:
            runs: dict[tuple[str, str, int], list[dict[str, Any]]] = {k: [] for k in group}
            errors: dict[tuple[str, str, int], str] = {}
            for _ in range(args.repeat):
                for key in group:  # interleaved, so that drift hits both engines alike
                    engine, store, bp = key
                    if key in errors or (engine in QF_DRIVERS and not qf_ok):
                        continue
                    try:
                        runs[key].append(run_once(engine, store, orders, window, args,
                                                  busy_poll_us=bp))
                    except Exception as exc:
                        errors[key] = f"{type(exc).__name__}: {exc}"
                        print(f"note: {engine} {store} busy_poll_us={bp} N={orders} W={window}: "
                              f"{errors[key]}",
                              file=sys.stderr)
            for key in group:
                engine, store, bp = key
                extra: dict[str, Any] = {}
                if key in errors:
                    extra["error"] = errors[key]
                if engine == OURS:
                    extra["uvloop"] = bool(args.uvloop and _have_uvloop())
                    extra["busy_poll_us"] = bp
                r = line(engine, store, orders, window, runs[key], **extra)
                results.append(r)
                print(json.dumps(r), flush=True)
    if args.engine == "both":
        print(json.dumps(ratios(results)), flush=True)
    return 0


def print_profile(path: Path, role: str, orders: int, top: int = 25) -> None:
    """The functions with the most own time, per order, to stderr.  Waiting
    in epoll is left out (idle); start-up (imports) is in, but small."""
    import pstats

    stats: Any = pstats.Stats(str(path))
    rows = [(tt, ct, nc, f"{Path(f).name}:{ln} {fn}")
            for (f, ln, fn), (_, nc, tt, ct, _) in stats.stats.items() if "epoll" not in fn]
    busy = sum(r[0] for r in rows)
    print(f"# {role}: {busy / orders * 1e6:.1f} us per order under cProfile ({orders} orders; "
          "wall clock, so time spent descheduled shows up in syscalls such as send); "
          "own / cumulative us per order, calls per order", file=sys.stderr)
    for tt, ct, nc, name in sorted(rows, reverse=True)[:top]:
        print(f"#  {tt / orders * 1e6:7.2f} {ct / orders * 1e6:8.2f} {nc / orders:6.2f}  {name}",
              file=sys.stderr)


def _have_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def child_main(args: argparse.Namespace) -> int:
    workdir = Path(args.workdir)
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    try:
        if args.engine == "ours":
            if args.role == "acceptor":
                ours_acceptor(args.store, workdir, args.uvloop, int(args.busy_poll_us))
            else:
                r = ours_initiator(args.port, args.store, workdir, args.orders, args.window,
                                   args.max_seconds, args.uvloop, int(args.busy_poll_us))
                print(json.dumps(r), flush=True)
        elif args.role == "acceptor":
            qf_acceptor(args.port, args.store, workdir)
        else:
            r = qf_initiator(args.port, args.store, workdir, args.orders, args.window,
                             args.max_seconds, args.driver)
            print(json.dumps(r), flush=True)
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
    return 0


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
