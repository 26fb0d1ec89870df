"""Our engine against QuickFIX C++ (the ``quickfix`` binding from PyPI), FIX.4.4.

The peer is ``tests/interop/qfcpp_peer.py`` run by the project's Python
with the wheel ``tests/env/31-quickfix-cpp.sh`` built (with OpenSSL).  Both
directions go through the fault-injecting proxy, which cuts the connection
in the middle of the flow; a third run is over TLS: QuickFIX's SSL acceptor
with a certificate the test makes, our initiator verifying it against the
test's CA.  Both sides validate against ``../shared/fix-spec`` (QuickFIX
C++'s own dictionaries).
"""

from __future__ import annotations

import importlib.util
import logging
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from pyfixmsg_plus.engine.runtime import Engine

from tests.integration.faultproxy import FaultProxy
from tests.interop.peers import (
    BrokerApp,
    ClientApp,
    PeerProcess,
    assert_clean,
    describe,
    free_port,
    pump_orders,
    python_env,
    qfj_cfg,
    session_settings,
    sid,
    spec_dir,
    start_engine,
    wait_port,
    wait_until,
)
from tests.realparts import REPO, env_value, missing

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]
log = logging.getLogger("tests.interop.cpp")

ORDERS = 2000
PEER = REPO / "tests" / "interop" / "qfcpp_peer.py"
VERSION = "FIX.4.4"


def need_quickfix() -> None:
    if importlib.util.find_spec("quickfix") is None:
        missing("the quickfix binding (QuickFIX C++) is not installed in this Python: "
                "tests/env/31-quickfix-cpp.sh builds and installs it")


def cpp_peer(name: str, cfg: Path, workdir: Path) -> PeerProcess:
    need_quickfix()
    return PeerProcess(name, [sys.executable, str(PEER), str(cfg)], workdir, env=python_env())


def cpp_session(sender: str, target: str, **extra: object) -> dict[str, object]:
    s: dict[str, object] = {"BeginString": VERSION, "SenderCompID": sender,
                            "TargetCompID": target,
                            "DataDictionary": spec_dir() / "FIX44.xml"}
    s.update(extra)
    return s


def common(workdir: Path, connection: str) -> dict[str, object]:
    return {"ConnectionType": connection, "FileStorePath": workdir / "store",
            "FileLogPath": workdir / "log", "StartTime": "00:00:00", "EndTime": "00:00:00",
            "NonStopSession": "Y", "HeartBtInt": 1, "UseDataDictionary": "Y",
            "ReconnectInterval": 1}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("qfcpp")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cpp_acceptor(workdir: Path) -> AsyncIterator[int]:
    port = free_port()
    d = workdir / "acceptor"
    cfg = qfj_cfg(d / "acceptor.cfg", {**common(d, "acceptor"), "SocketAcceptPort": port,
                                       "SocketAcceptHost": "127.0.0.1"},
                  [cpp_session("EXEC", "BANZAI")])
    peer = cpp_peer("qfcpp-acceptor", cfg, d).start()
    try:
        await wait_port(port, 30, peer)
        yield port
    finally:
        peer.stop()


async def _run_initiator(port: int, tmp_path: Path, *, tls: dict[str, object] | None,
                         orders: int, cut: bool) -> None:
    proxy = await FaultProxy("127.0.0.1", port).start() if cut else None
    target = proxy.port if proxy is not None else port
    app = ClientApp("0")
    extra: dict[str, object] = {"connect": [{"host": "127.0.0.1", "port": target}]}
    if tls is not None:
        extra["tls"] = tls
    engine = await start_engine(tmp_path / "ours.db", app, [
        session_settings(VERSION, "initiator", "BANZAI", "EXEC", **extra)])
    try:
        session = sid(VERSION, "BANZAI", "EXEC")
        await engine.wait_logged_on(session, 30)
        driver = engine.driver(session)
        t0 = time.monotonic()
        ids = [f"cpp-{i}" for i in range(orders)]
        await pump_orders(driver, app, VERSION, ids, cut_at=orders // 2 if cut else None,
                          proxy=proxy)
        log.info("%d orders in %.2f s (tls=%s)", orders, time.monotonic() - t0, bool(tls))
        if proxy is not None:
            assert proxy.cuts >= 1 and proxy.connections >= 2
            assert app.admin_in[b"2"] + app.admin_out[b"2"] >= 1, describe(driver, app)
        await wait_until(lambda: driver.session.resend_range is None and not driver.session.queue,
                         10, "our side to settle", lambda: describe(driver, app))
        assert_clean(app)
        await engine.stop(5)
        assert app.counts.logouts >= 1 and app.last_admin_in == b"5", describe(driver, app)
    finally:
        await engine.stop(1)
        if proxy is not None:
            await proxy.close()


async def test_our_initiator_to_quickfix_cpp_acceptor(cpp_acceptor: int, tmp_path: Path) -> None:
    await _run_initiator(cpp_acceptor, tmp_path, tls=None, orders=ORDERS, cut=True)


async def test_quickfix_cpp_initiator_to_our_acceptor(workdir: Path, tmp_path: Path) -> None:
    app = BrokerApp()
    engine = await start_engine(tmp_path / "acceptor.db", app, [session_settings(
        VERSION, "acceptor", "PYFIX", "QFCPP", acceptPort=0, acceptHost="127.0.0.1")])
    proxy: FaultProxy | None = None
    peer: PeerProcess | None = None
    try:
        (acc,) = engine.acceptors.values()
        proxy = await FaultProxy("127.0.0.1", acc.bound_port).start()
        d = workdir / "initiator"
        cfg = qfj_cfg(d / "initiator.cfg", {**common(d, "initiator"),
                                            "SocketConnectHost": "127.0.0.1",
                                            "SocketConnectPort": proxy.port},
                      [cpp_session("QFCPP", "PYFIX")])
        peer = cpp_peer("qfcpp-initiator", cfg, d).start()
        session = sid(VERSION, "PYFIX", "QFCPP")
        await peer.wait_line(f"LOGON {VERSION}", 30)
        await engine.wait_logged_on(session, 10)
        half = ORDERS // 2
        peer.command(f"send {VERSION} {half} cpp-a")
        await wait_until(lambda: len(app.orders[VERSION]) >= half // 2, 30, "half the orders")
        assert proxy.cut() >= 1
        peer.command(f"send {VERSION} {half} cpp-b")
        expected = {f"cpp-{p}-{i}" for p in "ab" for i in range(half)}
        await wait_until(lambda: peer.ids[("ER", VERSION)] >= expected, 60,
                         "execution reports for every order",
                         lambda: f"{len(peer.ids[('ER', VERSION)])} of {len(expected)}; "
                                 f"{len(app.orders[VERSION])} at ours; {peer.tail()}")
        assert app.orders[VERSION] == expected
        assert not [k for k, n in app.plain.items() if n > 1]
        assert proxy.connections >= 2
        assert not app.rejects and not peer.starting(f"REJECT {VERSION}"), app.rejects
        logouts = peer.has(f"LOGOUT {VERSION}")  # the cut was one
        ours_before = app.counts[session].logouts
        peer.command(f"logout {VERSION}")
        await peer.wait_line(f"LOGOUT {VERSION}", 15, count=logouts + 1)
        await wait_until(lambda: app.counts[session].logouts > ours_before, 10, "our on_logout")
        _, next_sender, next_target = (await peer.query(f"seq {VERSION}", f"SEQ {VERSION}"))[1:]
        ours = engine.driver(session).session
        assert (ours.next_sender, ours.next_target) == (int(next_target), int(next_sender))
    finally:
        if peer is not None:
            peer.stop()
        await engine.stop(2)
        if proxy is not None:
            await proxy.close()


# -- TLS -------------------------------------------------------------------------


def make_certificates(d: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for localhost/127.0.0.1, made with openssl."""
    d.mkdir(parents=True, exist_ok=True)

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=pyfixmsg-plus interop CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=localhost")
    (d / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "san.ext")
    return d / "ca.pem", d / "server.pem", d / "server.key"


async def test_tls_our_initiator_to_quickfix_cpp_ssl_acceptor(workdir: Path,
                                                              tmp_path: Path) -> None:
    need_quickfix()
    if env_value("FIXPLUS_QUICKFIX_SSL") != "1":
        missing("the quickfix wheel was built without SSL (tests/env/31-quickfix-cpp.sh "
                "builds it with HAVE_SSL and OpenSSL)")
    ca, cert, key = make_certificates(workdir / "tls")
    port = free_port()
    d = workdir / "ssl-acceptor"
    cfg = qfj_cfg(d / "acceptor.cfg", {
        **common(d, "acceptor"), "SocketAcceptPort": port, "SocketAcceptHost": "127.0.0.1",
        "SocketUseSSL": "Y", "ServerCertificateFile": cert, "ServerCertificateKeyFile": key,
        "SSLProtocol": "+TLSv1_2 +TLSv1_3", "CertificateVerifyLevel": 0,
    }, [cpp_session("EXEC", "BANZAI")])
    peer = cpp_peer("qfcpp-ssl-acceptor", cfg, d).start()
    try:
        await wait_port(port, 30, peer)
        await _run_initiator(port, tmp_path, tls={"enabled": True, "caFile": str(ca),
                                                  "serverName": "localhost"},
                             orders=500, cut=False)
        assert not peer.starting("REJECT")
        assert len(peer.ids[("ORDER", VERSION)]) == 500
    finally:
        peer.stop()


async def test_tls_refuses_an_unknown_certificate(workdir: Path, tmp_path: Path) -> None:
    """Our initiator verifies QuickFIX's certificate: without the test CA it
    never logs on."""
    need_quickfix()
    if env_value("FIXPLUS_QUICKFIX_SSL") != "1":
        missing("the quickfix wheel was built without SSL")
    _ca, cert, key = make_certificates(workdir / "tls2")
    port = free_port()
    d = workdir / "ssl-acceptor2"
    cfg = qfj_cfg(d / "acceptor.cfg", {
        **common(d, "acceptor"), "SocketAcceptPort": port, "SocketAcceptHost": "127.0.0.1",
        "SocketUseSSL": "Y", "ServerCertificateFile": cert, "ServerCertificateKeyFile": key,
        "CertificateVerifyLevel": 0,
    }, [cpp_session("EXEC", "BANZAI")])
    peer = cpp_peer("qfcpp-ssl-acceptor2", cfg, d).start()
    engine: Engine | None = None
    try:
        await wait_port(port, 30, peer)
        engine = await start_engine(tmp_path / "ours.db", ClientApp(), [session_settings(
            VERSION, "initiator", "BANZAI", "EXEC",
            connect=[{"host": "127.0.0.1", "port": port}], tls={"enabled": True})])
        with pytest.raises(TimeoutError):
            await engine.wait_logged_on(sid(VERSION, "BANZAI", "EXEC"), 2)
        assert not peer.starting("LOGON")
    finally:
        if engine is not None:
            await engine.stop(1)
        peer.stop()
