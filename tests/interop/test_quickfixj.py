"""Our engine against QuickFIX/J, both ways, FIX.4.2, FIX.4.4 and FIX.5.0SP2.

Peers (started once for the module, see ``tests/env/30-quickfixj.sh``):

* the QuickFIX/J executor example (``quickfix.examples.executor.Executor``)
  as the acceptor for FIX.4.2, FIX.4.4 and FIXT.1.1/FIX.5.0 (the executor
  only cracks FIX.5.0 NewOrderSingles under FIXT.1.1); it answers each order
  with two ExecutionReports, New then Filled;
* ``InteropPeer`` (ours, on quickfixj-core) as the acceptor for
  FIXT.1.1/FIX.5.0SP2, and as the initiator towards our acceptor for
  FIX.4.2, FIX.4.4 and FIX.5.0SP2.

Every connection goes through the fault-injecting proxy of the integration
tests, which cuts it in the middle of the flow; the initiator reconnects,
both sides resend or gap fill, and every order is answered.  Both sides
validate every message against data dictionaries: QuickFIX/J with those in
its jars; our side with the same files when it talks to the executor (which
sends FIX.4.4 ExecType 2, a value QuickFIX/J's dictionaries keep and QuickFIX
C++'s in ``../shared/fix-spec`` dropped), and with ``../shared/fix-spec``
otherwise (QuickFIX/J's FIX50SP2.xml does not say it is a service pack 2
dictionary, see docs/interop.md).

The sequence-number recovery tests stop one side with messages in flight
and restart it from its store: our engine from SQLite, QuickFIX/J (killed
with SIGKILL) from its file store.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from pyfixmsg_plus.engine.runtime import Engine

from tests.integration.faultproxy import FaultProxy
from tests.interop.peers import (
    VERSIONS,
    BrokerApp,
    ClientApp,
    PeerProcess,
    assert_clean,
    describe,
    free_port,
    java_peer,
    new_order,
    pump_orders,
    qfj_cfg,
    qfj_session,
    qfj_spec_dir,
    session_settings,
    sid,
    spec_dir,
    start_engine,
    wait_port,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]
log = logging.getLogger("tests.interop.qfj")

ORDERS = 2000
EXECUTOR = "quickfix.examples.executor.Executor"
PEER = "interop.InteropPeer"


class Acceptors:
    """The QuickFIX/J acceptors of the module: version -> (port, final OrdStatus)."""

    def __init__(self, executor_port: int, peer_port: int) -> None:
        self.executor_port = executor_port
        self.peer_port = peer_port

    def target(self, version: str) -> tuple[int, str, Path]:
        """Port, final OrdStatus, and the dictionaries our side validates with."""
        if version == "FIX.5.0SP2":
            return self.peer_port, "0", spec_dir()
        return self.executor_port, "2", qfj_spec_dir()


def acceptor_defaults(workdir: Path, port: int) -> dict[str, object]:
    return {
        "ConnectionType": "acceptor", "FileStorePath": workdir / "store",
        "FileLogPath": workdir / "log", "NonStopSession": "Y", "HeartBtInt": 30,
        "UseDataDictionary": "Y", "SocketAcceptAddress": "127.0.0.1",
        "SocketAcceptPort": port, "ValidOrderTypes": "1,2,F", "AlwaysFillLimitOrders": "Y",
        "DefaultMarketPrice": "12.30",
    }


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("qfj")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def acceptors(workdir: Path) -> AsyncIterator[Acceptors]:
    eport, pport = free_port(), free_port()
    edir, pdir = workdir / "executor", workdir / "peer-acceptor"
    ecfg = qfj_cfg(edir / "executor.cfg", acceptor_defaults(edir, eport), [
        qfj_session("FIX.4.2", "EXEC", "BANZAI"),
        qfj_session("FIX.4.4", "EXEC", "BANZAI"),
        qfj_session("FIX.5.0", "EXEC", "BANZAI"),
        qfj_session("FIX.4.4", "EXEC", "RECOVER"),
    ])
    pcfg = qfj_cfg(pdir / "peer.cfg", acceptor_defaults(pdir, pport), [
        qfj_session("FIX.5.0SP2", "EXEC", "BANZAI"),
    ])
    executor = java_peer("executor", EXECUTOR, ecfg, edir).start()
    peer = java_peer("qfj-acceptor", PEER, pcfg, pdir).start()
    try:
        await wait_port(eport, 60, executor)
        await wait_port(pport, 60, peer)
        yield Acceptors(eport, pport)
    finally:
        executor.stop(quit_line="")  # the executor quits on <enter>
        peer.stop()


@pytest.mark.parametrize("version", ["FIX.4.2", "FIX.4.4", "FIX.5.0SP2", "FIX.5.0"])
async def test_our_initiator_to_quickfixj_acceptor(version: str, acceptors: Acceptors,
                                                    tmp_path: Path) -> None:
    port, final, spec = acceptors.target(version)
    begin = VERSIONS[version][0]
    proxy = await FaultProxy("127.0.0.1", port).start()
    app = ClientApp(final)
    engine = await start_engine(tmp_path / "ours.db", app, [session_settings(
        version, "initiator", "BANZAI", "EXEC", spec,
        connect=[{"host": "127.0.0.1", "port": proxy.port}])])
    try:
        session = sid(version, "BANZAI", "EXEC")
        await engine.wait_logged_on(session, 30)
        driver = engine.driver(session)
        t0 = time.monotonic()
        ids = [f"{version}-{i}" for i in range(ORDERS)]
        await pump_orders(driver, app, begin, ids, cut_at=ORDERS // 2, proxy=proxy)
        log.info("%s: %d orders in %.2f s", version, ORDERS, time.monotonic() - t0)
        assert proxy.cuts >= 1 and proxy.connections >= 2
        assert app.counts.logons >= 2
        # the cut lost messages one way or the other: somebody asked for a resend
        assert app.admin_in[b"2"] + app.admin_out[b"2"] >= 1, describe(driver, app)
        await wait_until(lambda: driver.session.resend_range is None and not driver.session.queue,
                         10, "our side to settle", lambda: describe(driver, app))
        assert_clean(app)
        await engine.stop(5)
        # the peer answered our Logout
        assert app.counts.logouts >= 1 and app.last_admin_in == b"5", describe(driver, app)
        assert not driver.connected
    finally:
        await engine.stop(1)
        await proxy.close()


# -- our acceptor, QuickFIX/J initiator ------------------------------------------------

INITIATED = ["FIX.4.2", "FIX.4.4", "FIX.5.0SP2"]


class Reverse:
    def __init__(self, engine: Engine, app: BrokerApp, peer: PeerProcess,
                 proxies: dict[str, FaultProxy]) -> None:
        self.engine, self.app, self.peer, self.proxies = engine, app, peer, proxies


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def reverse(workdir: Path, tmp_path_factory: pytest.TempPathFactory,
                  ) -> AsyncIterator[Reverse]:
    app = BrokerApp()
    ours = tmp_path_factory.mktemp("ours")
    engine = await start_engine(ours / "acceptor.db", app, [
        session_settings(v, "acceptor", "PYFIX", "QFJI", acceptPort=0, acceptHost="127.0.0.1")
        for v in INITIATED])
    (acc,) = engine.acceptors.values()
    proxies = {v: await FaultProxy("127.0.0.1", acc.bound_port).start() for v in INITIATED}
    idir = workdir / "peer-initiator"
    cfg = qfj_cfg(idir / "initiator.cfg", {
        "ConnectionType": "initiator", "FileStorePath": idir / "store",
        "FileLogPath": idir / "log", "NonStopSession": "Y", "HeartBtInt": 1,
        "ReconnectInterval": 1, "UseDataDictionary": "Y", "SocketConnectHost": "127.0.0.1",
    }, [qfj_session(v, "QFJI", "PYFIX", SocketConnectPort=proxies[v].port) for v in INITIATED])
    peer = java_peer("qfj-initiator", PEER, cfg, idir).start()
    try:
        yield Reverse(engine, app, peer, proxies)
    finally:
        peer.stop()
        await engine.stop(2)
        for p in proxies.values():
            await p.close()


@pytest.mark.parametrize("version", INITIATED)
async def test_quickfixj_initiator_to_our_acceptor(version: str, reverse: Reverse) -> None:
    begin = VERSIONS[version][0]
    peer, app, proxy = reverse.peer, reverse.app, reverse.proxies[version]
    session = sid(version, "PYFIX", "QFJI")
    await peer.wait_line(f"LOGON {begin}", 60)
    await reverse.engine.wait_logged_on(session, 10)
    half = ORDERS // 2
    peer.command(f"send {begin} {half} {version}-a")
    await wait_until(lambda: len(app.orders[begin]) >= half // 2, 30, "half the first batch")
    assert proxy.cut() >= 1
    # sent while the connection is down or coming back: stored, then resent
    peer.command(f"send {begin} {half} {version}-b")
    expected = {f"{version}-{p}-{i}" for p in "ab" for i in range(half)}
    await wait_until(lambda: peer.ids[("ER", begin)] >= expected, 60,
                     "execution reports for every order",
                     lambda: f"{len(peer.ids[('ER', begin)])} of {len(expected)}; "
                             f"{len(app.orders[begin])} orders at ours; {peer.tail()}")
    assert app.orders[begin] == expected
    twice = {k: n for k, n in app.plain.items() if k[0] == begin and n > 1}
    assert not twice, f"orders delivered twice without PossDupFlag: {twice}"
    assert proxy.connections >= 2
    assert not app.rejects, app.rejects
    assert not peer.starting(f"REJECT {begin}")
    logouts = peer.has(f"LOGOUT {begin}")  # the cut was one
    ours_before = app.counts[session].logouts
    peer.command(f"logout {begin}")
    await peer.wait_line(f"LOGOUT {begin}", 15, count=logouts + 1)
    await wait_until(lambda: app.counts[session].logouts > ours_before, 10, "our on_logout")
    _, next_sender, next_target = (await peer.query(f"seq {begin}", f"SEQ {begin}"))[1:]
    ours = reverse.engine.driver(session).session
    assert (ours.next_sender, ours.next_target) == (int(next_target), int(next_sender))


# -- sequence-number recovery across engines ------------------------------------------------


async def test_recovery_our_engine_restarts_from_sqlite(acceptors: Acceptors,
                                                        tmp_path: Path) -> None:
    """Our initiator stops with orders unanswered and unsent, restarts from
    its SQLite store: the executor asks for what it missed (our resend) and
    we ask for the reports we missed (its resend)."""
    store = tmp_path / "recover.db"
    proxy = await FaultProxy("127.0.0.1", acceptors.executor_port).start()
    session = sid("FIX.4.4", "RECOVER", "EXEC")
    settings = session_settings("FIX.4.4", "initiator", "RECOVER", "EXEC", qfj_spec_dir(),
                                connect=[{"host": "127.0.0.1", "port": proxy.port}])
    first = ClientApp("2")
    engine = await start_engine(store, first, [settings])
    ids = [f"R-{i}" for i in range(700)]
    try:
        await engine.wait_logged_on(session, 30)
        driver = engine.driver(session)
        for cl in ids[:600]:
            driver.send_nowait(new_order("FIX.4.4", cl))
        await wait_until(lambda: len(first.done) >= 150, 30, "the first reports",
                         lambda: describe(driver, first))
        # cut in the middle of an ExecutionReport: the executor has sent (and
        # stored) at least one report we never get
        proxy.refuse = True
        proxy.cut_after(100, "down")
        await wait_until(lambda: proxy.cuts >= 1, 10, "the cut", lambda: describe(driver, first))
        for cl in ids[600:]:
            await driver.send(new_order("FIX.4.4", cl))  # durable, never sent
        stopped_at = (driver.session.next_sender, driver.session.next_target)
        await engine.stop(1)
        unanswered = set(ids) - first.done
        assert len(unanswered) >= 100
    finally:
        await engine.stop(1)
    second = ClientApp("2")
    proxy.refuse = False
    engine = await start_engine(store, second, [settings])
    try:
        driver = engine.driver(session)
        assert (driver.session.next_sender, driver.session.next_target) == stopped_at
        await engine.wait_logged_on(session, 30)
        await wait_until(lambda: (first.done | second.done) >= set(ids), 60,
                         "reports for every order after the restart",
                         lambda: describe(driver, second))
        assert second.admin_in[b"2"] >= 1, "the executor never asked us to resend"
        assert second.admin_out[b"2"] >= 1, "we never asked the executor to resend"
        assert second.poss_dup + second.admin_in[b"4"] >= 1, "nothing was resent to us"
        assert_clean(second)
        assert not first.rejects
        await engine.stop(5)
        assert second.last_admin_in == b"5"
    finally:
        await engine.stop(1)
        await proxy.close()


async def test_recovery_quickfixj_killed_and_restarted(workdir: Path, tmp_path: Path) -> None:
    """QuickFIX/J is SIGKILLed with orders in flight both ways and restarted
    from its file store; our initiator reconnects, resends what it missed and
    asks for the reports it missed."""
    port = free_port()
    pdir = workdir / "peer-killed"
    cfg = qfj_cfg(pdir / "peer.cfg", acceptor_defaults(pdir, port),
                  [qfj_session("FIX.4.4", "EXEC", "CRASH")])
    peer = java_peer("qfj-killed", PEER, cfg, pdir).start()
    app = ClientApp("0")
    engine: Engine | None = None
    restarted: PeerProcess | None = None
    try:
        await wait_port(port, 60, peer)
        engine = await start_engine(tmp_path / "ours.db", app, [session_settings(
            "FIX.4.4", "initiator", "CRASH", "EXEC",
            connect=[{"host": "127.0.0.1", "port": port}])])
        session = sid("FIX.4.4", "CRASH", "EXEC")
        await engine.wait_logged_on(session, 30)
        driver = engine.driver(session)
        ids = [f"K-{i}" for i in range(1000)]
        for cl in ids[:800]:
            driver.send_nowait(new_order("FIX.4.4", cl))
        await wait_until(lambda: len(peer.ids[("ORDER", "FIX.4.4")]) >= 200, 30,
                         "the peer to take orders", peer.tail)
        peer.kill()
        for cl in ids[800:]:
            await driver.send(new_order("FIX.4.4", cl))
        assert len(app.done) < len(ids)
        restarted = java_peer("qfj-restarted", PEER, cfg, pdir).start()
        await wait_until(lambda: app.done >= set(ids), 90,
                         "reports for every order after the peer's restart",
                         lambda: describe(driver, app) + "; " + restarted.tail())
        got = peer.ids[("ORDER", "FIX.4.4")] | restarted.ids[("ORDER", "FIX.4.4")]
        assert got == set(ids)
        assert app.counts.logons >= 2
        assert app.admin_in[b"2"] >= 1, "the restarted peer never asked us to resend"
        assert restarted.dups[("ORDER", "FIX.4.4")] >= 1
        assert_clean(app)
        await engine.stop(5)
        await restarted.wait_line("LOGOUT FIX.4.4", 10)
    finally:
        if engine is not None:
            await engine.stop(1)
        peer.stop()
        if restarted is not None:
            restarted.stop()


@pytest.fixture(autouse=True)
def _quiet_proxy_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.WARNING, logger="pyfixmsg_plus")
    yield

