"""Attacks with a resource figure, shared by ``test_attacks.py`` and the
measurement program ``attack_figures.py``.  Every loop is bounded in count
and time, every address is 127.0.0.1."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from tests.security.engine_process import (
    PASSWORD,
    USERNAME,
    EngineProcess,
    RssSampler,
    acceptor_session,
)
from tests.security.raw_fix import Drain, FixConn, encode, now_text, valid_logon

MIB = 1 << 20
#: How far above its idle RSS the engine may go under any attack here.
RSS_BOUND_KIB = 150 * 1024


def base_config(directory: os.PathLike[str] | str, password_hash: str, *,
                sessions: list[dict[str, Any]] | None = None,
                dynamic: list[dict[str, Any]] | None = None,
                limits: dict[str, Any] | None = None,
                metrics: dict[str, Any] | None = None,
                session_extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """An engine configured as docs/configuration.md says: an SQLite store,
    metrics on a free port of 127.0.0.1, an acceptor session that checks
    Logon credentials against a password hash."""
    config: dict[str, Any] = {
        "store": f"sqlite:///{os.fspath(directory)}/store.db",
        "metrics": metrics if metrics is not None else {
            "enabled": True, "host": "127.0.0.1", "port": 0},
        # Attacks refuse many Logons from 127.0.0.1: no blocking unless a
        # test asks for it.
        "limits": {"failedLogonLimit": 1000, **(limits or {})},
        "sessions": sessions if sessions is not None else [
            acceptor_session(0, password_hash, **(session_extra or {}))],
    }
    if dynamic:
        config["dynamicSessions"] = dynamic
    return config


@dataclass
class Flood:
    """What a junk flood did: bytes written per connection, and the largest
    RSS the engine had meanwhile."""

    sent: list[int] = field(default_factory=list)
    peak_kib: int = 0
    errors: list[str] = field(default_factory=list)


def _junk_writer(port: int, total: int, chunk: bytes, prefix: bytes, out: list[int],
                 errors: list[str], deadline: float) -> None:
    sent = 0
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.settimeout(5)
            if prefix:
                sock.sendall(prefix)
                sent += len(prefix)
            while sent < total and time.monotonic() < deadline:
                sock.sendall(chunk)
                sent += len(chunk)
    except OSError as exc:  # the engine closed the connection: the expected end
        errors.append(type(exc).__name__)
    out.append(sent)


def junk_flood(engine: EngineProcess, *, connections: int = 1, total: int = 400 * MIB,
               prefix: bytes = b"", time_limit: float = 30.0) -> Flood:
    """``connections`` connections at once, each writing up to ``total``
    bytes of random junk in 1 MiB chunks (after ``prefix``), each stopping at
    the first error."""
    chunk = os.urandom(MIB)
    flood = Flood()
    deadline = time.monotonic() + time_limit
    with RssSampler(engine.pid) as sampler:
        threads = [threading.Thread(target=_junk_writer, args=(
            engine.port, total, chunk, prefix, flood.sent, flood.errors, deadline))
            for _ in range(connections)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(time_limit + 10)
    flood.peak_kib = sampler.peak_kib
    return flood


def trickle(engine: EngineProcess, *, body_length: int, step: int = 512,
            every: float = 0.02, time_limit: float = 15.0) -> tuple[int, bool, int]:
    """One Logon whose header announces ``body_length`` bytes, the rest sent
    ``step`` bytes every ``every`` seconds: (bytes sent, whether the engine
    closed the connection within ``time_limit``, peak RSS in KiB)."""
    head = b"8=FIX.4.4\x019=%d\x0135=A\x0149=CLIENT\x0156=BROKER\x0134=1\x01" % body_length
    filler = b"58=" + b"x" * (step - 4) + b"\x01"
    sent = 0
    closed = False
    deadline = time.monotonic() + time_limit
    with RssSampler(engine.pid) as sampler, \
            socket.create_connection(("127.0.0.1", engine.port), timeout=5) as sock:
        sock.settimeout(every)
        try:
            sock.sendall(head)
            sent += len(head)
            while time.monotonic() < deadline:
                try:
                    if sock.recv(1) == b"":
                        closed = True
                        break
                except TimeoutError:
                    pass
                sock.sendall(filler)
                sent += len(filler)
        except OSError:
            closed = True
    return sent, closed, sampler.peak_kib


@dataclass
class GapResult:
    written: int
    peak_kib: int
    messages: list[Any]


def gap_queue_attack(engine: EngineProcess, *, count: int = 600, size: int = 100_000,
                     time_limit: float = 60.0) -> GapResult:
    """After a valid Logon (MsgSeqNum 1), ``count`` messages of ``size``
    bytes numbered from 3: all above a gap at 2.  Stops at the first write
    error (the engine hung up)."""
    conn = valid_logon(engine.port, USERNAME, PASSWORD)
    text = "x" * size
    written = 0
    deadline = time.monotonic() + time_limit
    conn.sock.settimeout(10)
    with RssSampler(engine.pid) as sampler, Drain(conn, time_limit) as drain:
        for seq in range(3, 3 + count):
            if time.monotonic() > deadline:
                break
            data = encode([(35, "D"), (49, "CLIENT"), (56, "BROKER"), (34, seq),
                           (52, now_text()), (11, f"gap-{seq}"), (55, "EUR/USD"), (54, 1),
                           (60, now_text()), (38, 100), (40, 1), (58, text)])
            try:
                conn.sock.sendall(data)
            except OSError:
                break
            written += 1
        with contextlib.suppress(OSError):
            conn.sock.shutdown(socket.SHUT_WR)
    conn.close()
    return GapResult(written, sampler.peak_kib, drain.messages)


def no_traceback(engine: EngineProcess) -> None:
    """Nothing unhandled in the engine's log."""
    log = engine.log_text()
    assert "Traceback" not in log, log[log.index("Traceback") - 300:][:3000]
    assert "internal error" not in log, log[-3000:]


def logon_works(engine: EngineProcess, *, seq: int | None = None, tries: int = 40) -> FixConn:
    """A valid Logon (with a reset unless ``seq`` is given), retried while
    the engine still refuses it (a closing connection not yet released)."""
    last: Exception | None = None
    for _ in range(tries):
        try:
            if seq is None:
                return valid_logon(engine.port, USERNAME, PASSWORD, reset=True)
            return valid_logon(engine.port, USERNAME, PASSWORD, seq=seq)
        except (AssertionError, OSError) as exc:
            last = exc
            time.sleep(0.25)
    raise AssertionError(f"no valid Logon after {tries} tries: {last}")
