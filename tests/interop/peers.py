"""Real FIX counterparties for the interoperability tests, and our side's apps.

A peer runs in its own process (a JVM for QuickFIX/J, a Python interpreter
with the ``quickfix`` binding for QuickFIX C++).  Our peers print one line
per event and read commands on standard input (see
``tests/interop/qfj/src/main/java/interop/InteropPeer.java`` and
``tests/interop/qfcpp_peer.py``, which speak the same little protocol):
a reader thread collects the lines, so a peer can be started once per test
module whatever event loop the tests run in.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pyfixmsg_plus.engine.application import Application, SessionHandle
from pyfixmsg_plus.engine.codec import Message
from pyfixmsg_plus.engine.codec.values import format_utc_timestamp
from pyfixmsg_plus.engine.config import EngineConfig
from pyfixmsg_plus.engine.runtime import Engine
from pyfixmsg_plus.engine.transport import SessionDriver

from tests.integration.faultproxy import FaultProxy
from tests.realparts import REPO, env_value, missing, shared_dir

SPEC = shared_dir("FIXPLUS_SPEC_DIR", "fix-spec")

#: Test name -> (BeginString, DefaultApplVerID or None, our dictionary files).
VERSIONS: dict[str, tuple[str, str | None, tuple[str, ...]]] = {
    "FIX.4.2": ("FIX.4.2", None, ("FIX42.xml",)),
    "FIX.4.4": ("FIX.4.4", None, ("FIX44.xml",)),
    "FIX.5.0": ("FIXT.1.1", "FIX.5.0", ("FIXT11.xml", "FIX50.xml")),
    "FIX.5.0SP2": ("FIXT.1.1", "FIX.5.0SP2", ("FIXT11.xml", "FIX50SP2.xml")),
}


def spec_dir() -> Path:
    if not (SPEC / "FIX44.xml").is_file():
        missing(f"FIX data dictionaries not found in {SPEC} (set FIXPLUS_SPEC_DIR)")
    return SPEC


def qfj_spec_dir() -> Path:
    """QuickFIX/J's own dictionaries (taken out of its jar by the env script)."""
    spec = env_value("FIXPLUS_QFJ_SPEC_DIR")
    if not spec or not (Path(spec) / "FIX44.xml").is_file():
        missing("QuickFIX/J data dictionaries not found (tests/env/30-quickfixj.sh writes "
                "FIXPLUS_QFJ_SPEC_DIR)")
    assert spec is not None
    return Path(spec)


def validation(version: str, spec: Path | None = None) -> dict[str, object]:
    """Our side's dictionary settings (validation on) for a test version,
    from ``spec`` (default: ../shared/fix-spec, QuickFIX C++'s dictionaries)."""
    begin, _, files = VERSIONS[version]
    spec = spec or spec_dir()
    if begin == "FIXT.1.1":
        return {"transportDataDictionary": str(spec / files[0]),
                "appDataDictionary": [str(spec / files[1])]}
    return {"dataDictionary": str(spec / files[0])}


def session_settings(version: str, role: str, sender: str, target: str,
                     spec: Path | None = None, **extra: object) -> dict[str, object]:
    begin, appl, _ = VERSIONS[version]
    data: dict[str, object] = {
        "role": role, "beginString": begin, "senderCompId": sender, "targetCompId": target,
        "heartbeatInterval": 1, "logonTimeout": 5.0, "logoutTimeout": 2.0,
        "validation": validation(version, spec),
    }
    if appl:
        data["defaultApplVerId"] = appl
    if role == "acceptor":
        # The QuickFIX peers log on from this host: authenticate by address.
        data["authentication"] = {"allowedAddresses": ["127.0.0.1", "::1"]}
    data.update(extra)
    return data


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def wait_port(port: int, timeout: float, proc: PeerProcess | None = None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            _, w = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if proc is not None and proc.exited:
                raise AssertionError(f"{proc.name} exited ({proc.returncode}) before listening on "
                                     f"{port}; see {proc.err_path}") from None
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing listening on 127.0.0.1:{port} after {timeout} s") from None
            await asyncio.sleep(0.05)
            continue
        w.close()
        return


async def wait_until(predicate: Callable[[], bool], timeout: float, what: str,
                     describe: Callable[[], str] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            extra = f" ({describe()})" if describe else ""
            raise AssertionError(f"timed out after {timeout} s waiting for {what}{extra}")
        await asyncio.sleep(0.01)


class PeerProcess:
    """A peer in its own process; lines from its standard output are events.

    ``ORDER B ID F`` and ``ER B ID F`` lines are counted per BeginString:
    ``ids[(kind, begin)]`` is the set of ClOrdIDs, ``dups[(kind, begin)]``
    how many carried PossDupFlag=Y.  Other lines are kept in ``lines``.
    """

    def __init__(self, name: str, argv: Sequence[str], workdir: Path,
                 env: dict[str, str] | None = None, keep_lines: bool = True) -> None:
        self.name = name
        self.argv = list(argv)
        self.workdir = workdir
        self.env = env
        self.keep_lines = keep_lines
        self.err_path = workdir / f"{name}.stderr"
        self.out_path = workdir / f"{name}.stdout"
        self.proc: subprocess.Popen[str] | None = None
        self.lines: list[str] = []
        self.ids: dict[tuple[str, str], set[str]] = collections.defaultdict(set)
        self.counts: collections.Counter[tuple[str, str]] = collections.Counter()
        self.dups: collections.Counter[tuple[str, str]] = collections.Counter()
        self.started_at = 0.0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> PeerProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        err = self.err_path.open("a")
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(
            self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True,
            bufsize=1, cwd=self.workdir, env=self.env)
        err.close()
        self._thread = threading.Thread(target=self._read, name=f"{self.name} stdout",
                                        daemon=True)
        self._thread.start()
        return self

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        with self.out_path.open("a") as log:
            for line in self.proc.stdout:
                log.write(line)
                words = line.split()
                if not words:
                    continue
                with self._lock:
                    if words[0] in ("ORDER", "ER") and len(words) >= 4:
                        key = (words[0], words[1])
                        self.counts[key] += 1
                        self.ids[key].add(words[2])
                        if words[3] == "Y":
                            self.dups[key] += 1
                    elif self.keep_lines:
                        self.lines.append(line.rstrip("\n"))

    @property
    def exited(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def has(self, line: str) -> int:
        with self._lock:
            return sum(1 for x in self.lines if x == line)

    def starting(self, prefix: str) -> list[str]:
        with self._lock:
            return [x for x in self.lines if x.startswith(prefix)]

    def command(self, line: str) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    async def wait_line(self, line: str, timeout: float, count: int = 1) -> None:
        await wait_until(lambda: self.has(line) >= count, timeout, f"{self.name}: {line!r}",
                         self.tail)

    async def query(self, command: str, prefix: str, timeout: float = 10.0) -> list[str]:
        """Send a command and wait for the next line starting with ``prefix``."""
        before = len(self.starting(prefix))
        self.command(command)
        await wait_until(lambda: len(self.starting(prefix)) > before, timeout,
                         f"{self.name}: answer to {command!r}", self.tail)
        return self.starting(prefix)[before].split()

    def tail(self) -> str:
        with self._lock:
            last = self.lines[-5:]
        err = self.err_path.read_text(errors="replace")[-1500:] if self.err_path.exists() else ""
        state = "running" if not self.exited else f"exited {self.returncode}"
        return f"{self.name} {state}; last lines {last}; stderr tail: {err!r}"

    def kill(self) -> None:
        """SIGKILL: nothing is flushed or logged out."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self, quit_line: str = "quit", timeout: float = 15.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                self.command(quit_line)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self._thread is not None:
            self._thread.join(5)
        return self.proc.returncode


# -- QuickFIX/J ------------------------------------------------------------------


def qfj_classpath() -> str:
    cp = env_value("FIXPLUS_QFJ_CLASSPATH")
    if not cp or not shutil.which("java"):
        missing("QuickFIX/J is not built (tests/env/30-quickfixj.sh: java, Maven and Maven "
                "Central are needed; FIXPLUS_QFJ_CLASSPATH unset)")
    assert cp is not None
    jar = Path(cp.split(":", 1)[0])
    if not jar.is_file():
        missing(f"QuickFIX/J peer jar {jar} is gone; run tests/env/setup.sh")
    return cp


def qfj_version() -> str:
    return env_value("FIXPLUS_QFJ_VERSION") or "?"


JVM_OPTIONS = ["-XX:+UseSerialGC", "-Xmx256m", "-XX:TieredStopAtLevel=1", "-Xshare:auto"]


def java_peer(name: str, main: str, cfg: Path, workdir: Path) -> PeerProcess:
    argv = ["java", *JVM_OPTIONS, "-cp", qfj_classpath(), main, str(cfg)]
    return PeerProcess(name, argv, workdir)


def qfj_cfg(path: Path, default: dict[str, object], sessions: list[dict[str, object]]) -> Path:
    """A QuickFIX/J (or QuickFIX C++) settings file."""
    lines = ["[DEFAULT]"] + [f"{k}={v}" for k, v in default.items()]
    for s in sessions:
        lines += ["", "[SESSION]"] + [f"{k}={v}" for k, v in s.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def qfj_session(version: str, sender: str, target: str, **extra: object) -> dict[str, object]:
    """One [SESSION] of a QuickFIX settings file; dictionaries from the jars."""
    begin, appl, files = VERSIONS[version]
    s: dict[str, object] = {"BeginString": begin, "SenderCompID": sender, "TargetCompID": target}
    if appl:
        s["DefaultApplVerID"] = appl
        s["TransportDataDictionary"] = files[0]
        s["AppDataDictionary"] = files[1]
    else:
        s["DataDictionary"] = files[0]
    s.update(extra)
    return s


# -- our side's applications ---------------------------------------------------------


def new_order(begin: str, cl_ord_id: str) -> Message:
    return Message.new(begin, "D", [
        (11, cl_ord_id), (21, "1"), (55, "EUR/USD"), (54, "1"),
        (60, format_utc_timestamp(time.time_ns())), (38, "100"), (40, "2"), (44, "10.5"),
    ])


def execution_report(begin: str, order: Message, n: int) -> Message:
    body: list[tuple[int, bytes | str]] = [(37, f"O{n}"), (17, f"E{n}")]
    if begin == "FIX.4.2":
        body.append((20, "0"))
    qty = order.get(38) or b"0"
    body += [(150, "0"), (39, "0"), (11, order.get(11) or b""), (55, order.get(55) or b""),
             (54, order.get(54) or b"1"), (38, qty), (151, qty), (14, "0"), (6, "0")]
    return Message.new(begin, "8", body)


@dataclasses.dataclass
class Counts:
    logons: int = 0
    logouts: int = 0


class ClientApp(Application):
    """Our initiator's application: records ExecutionReports by ClOrdID.

    ``final`` is the OrdStatus(39) of the last report an order gets (the
    QuickFIX/J executor sends New then Filled; our peers send New only)."""

    def __init__(self, final: str = "0") -> None:
        self.final = final.encode()
        self.done: set[str] = set()
        self.reports = 0
        self.plain: collections.Counter[tuple[str, bytes]] = collections.Counter()
        self.poss_dup = 0
        self.counts = Counts()
        self.admin_in: collections.Counter[bytes] = collections.Counter()
        self.admin_out: collections.Counter[bytes] = collections.Counter()
        self.rejects: list[str] = []
        self.last_admin_in: bytes = b""

    async def on_logon(self, session: SessionHandle) -> None:
        self.counts.logons += 1

    async def on_logout(self, session: SessionHandle) -> None:
        self.counts.logouts += 1

    async def from_admin(self, msg: Message, session: SessionHandle) -> None:
        self.admin_in[msg.msg_type] += 1
        self.last_admin_in = msg.msg_type
        if msg.msg_type == b"3":
            self.rejects.append(f"Reject {msg.get_str(58)} (ref {msg.get_str(371)})")

    async def to_admin(self, msg: Message, session: SessionHandle) -> None:
        self.admin_out[msg.msg_type] += 1

    async def from_app(self, msg: Message, session: SessionHandle) -> None:
        if msg.msg_type == b"8":
            self.reports += 1
            cl = msg.get_str(11) or ""
            status = msg.get(39) or b""
            if msg.get(43) == b"Y":
                self.poss_dup += 1
            else:
                self.plain[(msg.get_str(17) or "", status)] += 1
            if status == self.final:
                self.done.add(cl)
        elif msg.msg_type == b"j":
            self.rejects.append(f"BusinessMessageReject {msg.get_str(58)}")

    def duplicates(self) -> dict[tuple[str, bytes], int]:
        """Reports (by ExecID) delivered twice without PossDupFlag=Y.  (A peer
        may answer an order twice, with two ExecIDs, when it restarts before
        it stored the order as received: at-least-once, not a duplicate.)"""
        return {k: n for k, n in self.plain.items() if n > 1}


class BrokerApp(Application):
    """Our acceptor's application: answers each NewOrderSingle with one
    ExecutionReport (new), counting orders per BeginString."""

    def __init__(self) -> None:
        self.orders: dict[str, set[str]] = collections.defaultdict(set)
        self.plain: collections.Counter[tuple[str, str]] = collections.Counter()
        self.poss_dup: collections.Counter[str] = collections.Counter()
        self.counts: dict[str, Counts] = collections.defaultdict(Counts)
        self.rejects: list[str] = []
        self.admin_in: collections.Counter[tuple[str, bytes]] = collections.Counter()
        self.n = 0

    async def on_logon(self, session: SessionHandle) -> None:
        self.counts[session.session_id].logons += 1

    async def on_logout(self, session: SessionHandle) -> None:
        self.counts[session.session_id].logouts += 1

    async def from_admin(self, msg: Message, session: SessionHandle) -> None:
        self.admin_in[(session.session_id, msg.msg_type)] += 1
        if msg.msg_type == b"3":
            self.rejects.append(f"{session.session_id}: Reject {msg.get_str(58)}")

    async def from_app(self, msg: Message, session: SessionHandle) -> None:
        begin = msg.get_str(8) or ""
        if msg.msg_type != b"D":
            if msg.msg_type == b"j":
                self.rejects.append(f"{session.session_id}: BusinessMessageReject")
            return
        cl = msg.get_str(11) or ""
        self.orders[begin].add(cl)
        if msg.get(43) == b"Y":
            self.poss_dup[begin] += 1
        else:
            self.plain[(begin, cl)] += 1
        self.n += 1
        session.send_nowait(execution_report(begin, msg, self.n))


async def start_engine(store: Path, app: Any, sessions: list[dict[str, object]]) -> Engine:
    cfg = EngineConfig.model_validate({"store": f"sqlite:///{store}", "sessions": sessions})
    engine = Engine(cfg, app, backoff=lambda _s: FastBackoff())
    await engine.start()
    return engine


def sid(version: str, sender: str, target: str) -> str:
    return f"{VERSIONS[version][0]}:{sender}->{target}"


def describe(driver: SessionDriver, app: ClientApp) -> str:
    s = driver.session
    return (f"{driver.session_id}: {s.state.value} next_sender={s.next_sender} "
            f"next_target={s.next_target} resend={s.resend_range} queued={len(s.queue)} "
            f"done={len(app.done)} reports={app.reports} possdup={app.poss_dup} "
            f"admin_in={dict(app.admin_in)} admin_out={dict(app.admin_out)} rejects="
            f"{app.rejects[:3]}")


async def pump_orders(driver: SessionDriver, app: ClientApp, begin: str, ids: list[str], *,
                      window: int = 200, cut_at: int | None = None,
                      proxy: FaultProxy | None = None, timeout: float = 60.0) -> None:
    """Send ``ids`` keeping ``window`` orders unanswered; cut the proxy once
    ``cut_at`` orders were answered; wait until every order is answered."""
    sent = 0
    deadline = time.monotonic() + timeout
    while not app.done.issuperset(ids):
        while sent < len(ids) and sent - len(app.done) < window:
            driver.send_nowait(new_order(begin, ids[sent]))
            sent += 1
        if proxy is not None and cut_at is not None and len(app.done) >= cut_at:
            assert proxy.cut() >= 1, "nothing to cut"
            cut_at = None
        if time.monotonic() > deadline:
            raise AssertionError(f"orders unanswered after {timeout} s: {describe(driver, app)}")
        await asyncio.sleep(0.005)


def assert_clean(app: ClientApp) -> None:
    assert not app.rejects, app.rejects
    assert not app.duplicates(), f"delivered twice without PossDupFlag: {app.duplicates()}"


class FastBackoff:
    """Reconnect after a short fixed delay."""

    def __init__(self, delay: float = 0.05) -> None:
        self.delay = delay

    def next_delay(self) -> float:
        return self.delay

    def reset(self) -> None:
        return None


def python_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    return env
