"""A real ``fixplus run -c engine.yaml`` process for the attack suite.

:class:`EngineProcess` writes the configuration, starts the process with its
log in a file, finds the ports it listens on (the acceptor's from its log
line, the others from ``/proc``), reads its memory from
``/proc/PID/status`` and scrapes ``/metrics``.  Every wait is bounded;
:meth:`EngineProcess.stop` ends the process it started (SIGTERM, then
SIGKILL) and nothing else.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

BEGIN = "FIX.4.4"
#: Our side of the configured session, and the counterparty's.
BROKER = "BROKER"
CLIENT = "CLIENT"
SESSION = f"{BEGIN}:{BROKER}->{CLIENT}"
USERNAME = "client1"
#: Long enough to be found in a file, never a substring of anything else.
PASSWORD = "pw-7f3a9c1e5b2d4680-attack"


def fixplus_command() -> list[str]:
    """``fixplus`` from the same environment as the tests."""
    script = Path(sys.executable).with_name("fixplus")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "pyfixmsg_plus.engine.cli.main"]


def hash_password(password: str) -> str:
    """A ``passwordHash`` made as the documentation says: ``fixplus auth
    hash-password`` with the password on standard input."""
    out = subprocess.run([*fixplus_command(), "auth", "hash-password"], input=password + "\n",
                         capture_output=True, text=True, timeout=60, check=True)
    return out.stdout.strip()


def acceptor_session(port: int, password_hash: str, **extra: Any) -> dict[str, Any]:
    """The configured acceptor session: BROKER, counterparty CLIENT, Logon
    credentials checked against ``password_hash``."""
    data: dict[str, Any] = {
        "role": "acceptor", "beginString": BEGIN, "senderCompId": BROKER,
        "targetCompId": CLIENT, "acceptPort": port, "acceptHost": "127.0.0.1",
        "logonTimeout": 2, "logoutTimeout": 1,
        "authentication": {"username": USERNAME, "passwordHash": password_hash},
    }
    data.update(extra)
    return data


def dynamic_template(port: int, max_sessions: int = 3, **extra: Any) -> dict[str, Any]:
    """Any counterparty from 127.0.0.1 gets a session of its own."""
    session: dict[str, Any] = {
        "role": "acceptor", "beginString": BEGIN, "senderCompId": BROKER,
        "targetCompId": "*", "acceptPort": port, "acceptHost": "127.0.0.1",
        "logonTimeout": 2, "logoutTimeout": 1,
        "authentication": {"allowedAddresses": ["127.0.0.1"]},
    }
    session.update(extra)
    return {"session": session, "maxSessions": max_sessions}


_ACCEPTING = re.compile(r"accepting on ([0-9.]+):(\d+)")


class EngineProcess:
    """One ``fixplus run`` process (use as a context manager)."""

    def __init__(self, directory: Path, config: dict[str, Any], *, name: str = "engine",
                 env: dict[str, str] | None = None) -> None:
        self.dir = directory
        self.extra_env = env or {}
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.dir / f"{name}.yaml"
        self.log_path = self.dir / f"{name}.log"
        self.config = config
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.proc: subprocess.Popen[bytes] | None = None
        self.acceptor_ports: list[int] = []
        self.http: tuple[str, int] | None = None

    # -- life cycle ---------------------------------------------------
    def start(self, timeout: float = 30.0) -> EngineProcess:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env.update(self.extra_env)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [*fixplus_command(), "run", "-c", str(self.config_path)], cwd=self.dir,
                stdout=log, stderr=log, env=env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while "running " not in self.log_text():
            if self.proc.poll() is not None:
                raise AssertionError(f"fixplus run exited with {self.proc.returncode}:\n"
                                     f"{self.log_text()[-4000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"fixplus run not running after {timeout} s:\n"
                                     f"{self.log_text()[-4000:]}")
            time.sleep(0.05)
        self.acceptor_ports = sorted({int(m.group(2))
                                      for m in _ACCEPTING.finditer(self.log_text())})
        others = [a for a in listening_addresses(self.pid) if a[1] not in self.acceptor_ports]
        if self.config.get("metrics", {}).get("enabled"):
            assert others, f"no metrics listener among {listening_addresses(self.pid)}"
            self.http = others[0]
        return self

    def stop(self, timeout: float = 20.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)

    def __enter__(self) -> EngineProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what can be seen from outside ---------------------------------
    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def port(self) -> int:
        assert self.acceptor_ports, "no acceptor port in the log"
        return self.acceptor_ports[0]

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_bytes(self) -> bytes:
        return self.log_path.read_bytes() if self.log_path.exists() else b""

    def log_text(self) -> str:
        return self.log_bytes().decode("utf-8", "replace")

    def log_lines_since(self, offset: int) -> list[str]:
        return self.log_bytes()[offset:].decode("utf-8", "replace").splitlines()

    def wait_log(self, text: str, timeout: float = 10.0, since: int = 0) -> str:
        """The first log line (from byte ``since``) containing ``text``."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.log_lines_since(since):
                if text in line:
                    return line
            if time.monotonic() > deadline or not self.alive():
                raise AssertionError(f"no log line with {text!r} within {timeout} s:\n"
                                     f"{self.log_text()[-3000:]}")
            time.sleep(0.05)

    def rss_kib(self) -> int:
        return status_kib(self.pid, "VmRSS")

    def peak_rss_kib(self) -> int:
        return status_kib(self.pid, "VmHWM")

    def get(self, path: str, timeout: float = 10.0) -> tuple[int, str]:
        assert self.http is not None, "metrics are not enabled"
        host, port = self.http
        url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                return response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode("utf-8", "replace")

    def metrics(self) -> str:
        status, body = self.get(self.config.get("metrics", {}).get("path", "/metrics"))
        assert status == 200, (status, body[:500])
        return body

    def metric(self, name: str, **labels: str) -> float:
        """The sum of the samples of ``name`` whose labels include ``labels``."""
        total = 0.0
        for sample_name, sample_labels, value in parse_metrics(self.metrics()):
            if sample_name == name and all(sample_labels.get(k) == v for k, v in labels.items()):
                total += value
        return total

    def fixplus(self, *args: str) -> str:
        """``fixplus ARGS`` (e.g. ``store show -c engine.yaml SESSION``): its output."""
        out = subprocess.run([*fixplus_command(), *args], check=False, cwd=self.dir,
                             capture_output=True, timeout=60,
                             env={**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
                                  **self.extra_env})
        return (out.stdout + out.stderr).decode("utf-8", "replace") + f"[exit {out.returncode}]"

    def store_cli(self, *args: str) -> str:
        return self.fixplus("store", args[0], "-c", str(self.config_path), *args[1:])


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


class RssSampler:
    """Samples a process's VmRSS every ``every`` seconds while running; the
    largest value seen is :attr:`peak_kib`."""

    def __init__(self, pid: int, every: float = 0.02) -> None:
        self.pid = pid
        self.every = every
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError, AssertionError):
                self.peak_kib = max(self.peak_kib, status_kib(self.pid, "VmRSS"))
            self._stop.wait(self.every)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text: str) -> Iterator[tuple[str, dict[str, str], float]]:
    """(name, labels, value) of every sample of a Prometheus text exposition."""
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if m is None:
            continue
        labels = {k: v.encode().decode("unicode_escape") for k, v in _LABEL.findall(m.group(2) or "")}
        yield m.group(1), labels, float(m.group(3))


def listening_addresses(pid: int) -> list[tuple[str, int]]:
    """(address, port) of every TCP socket of ``pid`` in LISTEN state."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    found = []
    for table, width in (("tcp", 8), ("tcp6", 32)):
        path = Path(f"/proc/{pid}/net/{table}")
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            parts = line.split()
            if parts[3] != "0A" or parts[9] not in inodes:
                continue
            addr_hex, port_hex = parts[1].split(":")
            found.append((_address(addr_hex, width), int(port_hex, 16)))
    return found


def _address(hex_text: str, width: int) -> str:
    raw = bytes.fromhex(hex_text)
    if width == 8:
        return ".".join(str(b) for b in reversed(raw))
    words = [raw[i:i + 4][::-1] for i in range(0, 16, 4)]
    return str(ipaddress.IPv6Address(b"".join(words)))


def sqlite_content(path: Path) -> list[tuple[Any, ...]]:
    """Every row of every table, read through a read-only connection."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows: list[tuple[Any, ...]] = []
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        for table in tables:
            rows.extend((table, *r) for r in conn.execute(f'SELECT * FROM "{table}" ORDER BY 1, 2'))
        return rows
    finally:
        conn.close()


def file_digests(path: Path) -> dict[str, str]:
    """sha256 of an SQLite database file and its -wal file (when present)."""
    out = {}
    for p in (path, path.with_name(path.name + "-wal")):
        if p.exists():
            out[p.name] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out
