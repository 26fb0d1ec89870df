"""Attacks on a real ``fixplus run`` process around the FIX wire: credentials
at rest, mutual TLS, connection floods, and the HTTP endpoints (see
``test_attacks.py`` for how engines are configured and watched).

Every loop is bounded in count and time; every test stops what it started.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from tests.security.attacks import base_config, logon_works, no_traceback
from tests.security.conftest import EngineFactory
from tests.security.engine_process import (
    BROKER,
    PASSWORD,
    SESSION,
    USERNAME,
    acceptor_session,
)
from tests.security.pki import Pki
from tests.security.raw_fix import FixConn

pytestmark = pytest.mark.integration


# ---------------------------------------------------------------------------
# 10. Credentials at rest [waits for Password masking and 0600 store files]


def test_password_of_an_initiator_is_not_stored(start_engine: EngineFactory,
                                                tmp_path: Path, password_hash: str) -> None:
    acceptor = start_engine("acceptor")
    secret = tmp_path / "secret"
    secret.mkdir(mode=0o700)
    (secret / "password").write_text(PASSWORD + "\n")
    initiator_dir = tmp_path / "initiator"
    initiator_dir.mkdir()
    config = base_config(initiator_dir, password_hash, sessions=[{
        "role": "initiator", "beginString": "FIX.4.4", "senderCompId": "CLIENT",
        "targetCompId": BROKER, "heartbeatInterval": 30, "logonTimeout": 2,
        "connect": [{"host": "127.0.0.1", "port": acceptor.port}],
        "reconnect": {"initialDelay": 0.1, "maxDelay": 0.5},
        "username": USERNAME, "password": f"${{FILE:{secret / 'password'}}}"}])
    initiator = start_engine("initiator", config=config)
    initiator.wait_log("logged on")
    acceptor.wait_log("logged on")
    files = [p for d in (initiator.dir, acceptor.dir) for p in d.iterdir()
             if p.name.startswith("store.db")]
    assert files
    modes = {p.name: oct(p.stat().st_mode & 0o777) for p in files}
    initiator.stop()
    assert initiator.wait_log("logged out")
    holding = [str(path) for directory in (initiator.dir, acceptor.dir)
               for path in directory.iterdir() if PASSWORD.encode() in path.read_bytes()]
    assert not holding, f"the password is in {holding} (store file modes: {modes})"
    listing = initiator.store_cli("list", "FIX.4.4:CLIENT->BROKER")
    assert "553=client1" in listing and "554=" in listing, listing
    assert PASSWORD not in listing
    assert PASSWORD not in initiator.store_cli("show", "FIX.4.4:CLIENT->BROKER")
    assert PASSWORD not in acceptor.store_cli("list", SESSION)
    assert all(mode == "0o600" for mode in modes.values()), modes


# ---------------------------------------------------------------------------
# 11. Mutual TLS: the certificate's identity, and revocation


def test_mutual_tls_identity_and_revocation(start_engine: EngineFactory, tmp_path: Path,
                                            password_hash: str) -> None:
    pki = Pki(tmp_path / "pki")
    server = pki.issue("server", "broker.test", server=True)
    client = pki.issue("client", "CLIENT")
    intruder = pki.issue("intruder", "INTRUDER")
    revoked = pki.issue("revoked", "CLIENT")  # the right subject, but revoked
    crl = pki.crl([revoked])
    assert client.subject == revoked.subject != intruder.subject
    directory = tmp_path / "engine"
    directory.mkdir()
    session = {
        "role": "acceptor", "beginString": "FIX.4.4", "senderCompId": BROKER,
        "targetCompId": "CLIENT", "acceptPort": 0, "acceptHost": "127.0.0.1",
        "logonTimeout": 2, "logoutTimeout": 1,
        "tls": {"enabled": True, "certFile": str(server.cert), "keyFile": str(server.key),
                "caFile": str(pki.ca), "requireClientCert": True, "crlFile": str(crl)},
        "authentication": {"certificate": {"subject": client.subject}}}
    engine = start_engine(config=base_config(directory, password_hash, sessions=[session]))

    def attempt(issued: Any) -> list[str] | None:
        """The answers to a Logon over TLS with ``issued``; None when the
        handshake itself failed."""
        try:
            conn = FixConn(engine.port, tls=pki.client_context(issued))
        except OSError:
            return None
        with conn:
            try:
                conn.logon()
            except OSError:
                return None
            return [m.msg_type for m in conn.read_all(5)] if not conn.closed_silently(5) \
                else []

    assert attempt(intruder) == []
    engine.wait_log("client certificate subject does not match")
    assert attempt(revoked) in (None, [])
    line = engine.wait_log("TLS handshake failed")
    assert "revoked" in line, line
    with FixConn(engine.port, tls=pki.client_context(client)) as conn:
        conn.logon()
        assert conn.read(5).msg_type == "A"
        assert conn.logout().msg_type == "5"
    assert engine.metric("fixplus_logons_refused_total", reason="certificate") == 1
    no_traceback(engine)


# ---------------------------------------------------------------------------
# 12. Connection floods


def test_idle_connections_per_source_are_bounded(start_engine: EngineFactory,
                                                 password_hash: str, tmp_path: Path) -> None:
    directory = tmp_path / "engine"
    directory.mkdir()
    engine = start_engine(config=base_config(
        directory, password_hash, limits={"maxUnauthenticatedPerSource": 4},
        sessions=[acceptor_session(0, password_hash, logonTimeout=30)]))
    idle = [FixConn(engine.port) for _ in range(4)]
    try:
        with FixConn(engine.port) as extra:
            assert extra.closed_silently(5)  # long before logonTimeout (30 s)
        assert engine.metric("fixplus_connections_refused_total", reason="source_limit") >= 1
        # a Logon from 127.0.0.1 meets the same limit while the idle ones stay
        with FixConn(engine.port) as conn:
            conn.logon(username=USERNAME, password=PASSWORD)
            assert conn.closed_silently(5)
    finally:
        for conn in idle:
            conn.close()
    conn = logon_works(engine)
    conn.close()
    no_traceback(engine)


def test_accept_rate_is_limited(start_engine: EngineFactory) -> None:
    engine = start_engine(limits={"acceptRate": 0.001, "acceptBurst": 5,
                                  "maxUnauthenticatedPerSource": 100})
    outcomes = []
    for _ in range(10):
        with FixConn(engine.port) as conn:
            conn.logon(username=USERNAME, password="wrong")
            outcomes.append(conn.closed_silently(5))
    assert all(outcomes)
    assert engine.metric("fixplus_connections_refused_total", reason="rate") == 5
    assert engine.metric("fixplus_logons_refused_total", reason="credentials") == 5


# ---------------------------------------------------------------------------
# 13. The HTTP endpoints listen on 127.0.0.1 unless told otherwise
#     [waits for the metrics bind address default]


def test_http_endpoints_listen_on_loopback_by_default(start_engine: EngineFactory) -> None:
    engine = start_engine(metrics={"enabled": True, "port": 0})
    assert engine.http is not None
    assert engine.http[0] == "127.0.0.1", engine.http
    for path in ("/healthz", "/readyz", "/metrics"):
        status, _ = engine.get(path)
        assert status == 200, path


# ---------------------------------------------------------------------------
# /readyz answers without a store round trip [waits for the HTTP endpoint change]


def test_readiness_probe_makes_no_store_calls(start_engine: EngineFactory, tmp_path: Path,
                                              password_hash: str) -> None:
    from tests.contract.store_servers import flush_redis_prefix, redis_url

    url = redis_url()
    prefix = f"attack{os.getpid()}x{time.monotonic_ns() % 10**9}"
    password = url.split("://:", 1)[1].split("@", 1)[0] if "://:" in url else ""
    templated = url.replace(f":{password}@", ":${ENV:FIXPLUS_TEST_STORE_PW}@", 1) \
        if password else url
    directory = tmp_path / "engine"
    directory.mkdir()
    config = base_config(directory, password_hash)
    config["store"] = f"{templated}?prefix={prefix}"
    engine = start_engine(config=config, env={"FIXPLUS_TEST_STORE_PW": password})
    seen: list[str] = []
    stop = threading.Event()
    ready = threading.Event()

    def monitor() -> None:
        """Redis MONITOR over a plain socket: every command the server runs."""
        parts = urllib.parse.urlsplit(url)
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379),
                                      timeout=5) as sock:
            def command(*words: str) -> None:
                data = b"*%d\r\n" % len(words) + b"".join(
                    b"$%d\r\n%s\r\n" % (len(w.encode()), w.encode()) for w in words)
                sock.sendall(data)

            if parts.password:
                command("AUTH", urllib.parse.unquote(parts.password))
            command("MONITOR")
            sock.settimeout(0.2)
            answers = 2 if parts.password else 1  # +OK for AUTH, then for MONITOR
            buffer = b""
            while not stop.is_set():
                try:
                    chunk = sock.recv(65536)
                except TimeoutError:
                    continue
                if not chunk:
                    return
                buffer += chunk
                *lines, buffer = buffer.split(b"\r\n")
                for line in lines:
                    if line == b"+OK":
                        answers -= 1
                        if answers == 0:
                            ready.set()
                    elif prefix.encode() in line:
                        seen.append(line[:200].decode("utf-8", "replace"))

    thread = threading.Thread(target=monitor, daemon=True)
    thread.start()
    try:
        assert ready.wait(10), "MONITOR did not start"
        time.sleep(0.3)
        assert seen == []  # an idle engine with no session logged on
        statuses = {engine.get("/readyz")[0] for _ in range(50)}
        time.sleep(0.3)
    finally:
        stop.set()
        thread.join(5)
        engine.stop()
        flush_redis_prefix(url, prefix)
    assert statuses == {200}
    assert seen == [], f"{len(seen)} store commands for 50 probes, e.g. {seen[:2]}"


def _slow_clients(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` connections that start a request and never finish it."""
    slow = []
    try:
        for _ in range(count):
            sock = socket.create_connection((host, port), timeout=5)
            with contextlib.suppress(OSError):
                sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            slow.append(sock)
    except OSError:
        pass
    return slow


def test_http_endpoints_survive_oversized_requests(start_engine: EngineFactory) -> None:
    """A 1 MiB request line, a 1 MiB header and 100 unfinished requests: the
    server does not fail, and answers the probes once the slow clients are
    gone.  [waits for the HTTP endpoint change]"""
    engine = start_engine()
    assert engine.http is not None
    host, port = engine.http
    idle = engine.rss_kib()
    slow = _slow_clients(host, port, 100)
    try:
        for line in (b"GET /" + b"a" * (1 << 20) + b" HTTP/1.1\r\n\r\n",
                     b"GET /healthz HTTP/1.1\r\nX-Big: " + b"b" * (1 << 20) + b"\r\n\r\n"):
            with socket.create_connection((host, port), timeout=5) as sock, \
                    contextlib.suppress(OSError):
                sock.sendall(line)
                sock.recv(4096)
    finally:
        for sock in slow:
            sock.close()
    statuses: list[int] = []
    for _ in range(40):
        with contextlib.suppress(ConnectionError):
            statuses = [engine.get(path)[0] for path in ("/healthz", "/readyz", "/metrics")]
            break
        time.sleep(0.25)
    assert statuses == [200, 200, 200]
    assert engine.rss_kib() - idle < 64 * 1024
    no_traceback(engine)


def test_liveness_probe_answers_while_slow_clients_hold_connections(
        start_engine: EngineFactory) -> None:
    """Clients that open connections and never finish a request must not
    keep the liveness probe from being answered (the kubelet would restart
    the pod: a FIX failover on demand)."""
    engine = start_engine()
    assert engine.http is not None
    slow = _slow_clients(*engine.http, 100)
    try:
        status, _ = engine.get("/healthz", timeout=5)
    finally:
        for sock in slow:
            sock.close()
    assert status == 200
