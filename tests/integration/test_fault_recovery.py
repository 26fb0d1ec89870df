"""Orders and execution reports through a fault-injecting proxy.

The proxy cuts the connection in the middle of the flow several times,
delays, splits writes byte by byte and stalls; the initiator reconnects with
a fast backoff, both sides ask for and answer resends, and at the end every
application message was delivered exactly once (resent copies carry
PossDupFlag=Y and are counted apart) and both sides' sequence numbers agree,
in memory and in the session stores.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from pathlib import Path

import pytest
from pyfixmsg_plus.engine.runtime import Engine
from pyfixmsg_plus.engine.transport import SessionDriver

from tests.integration.conftest import (
    Engines,
    FastBackoff,
    RecordingApp,
    acceptor,
    describe,
    initiator,
    new_order,
    port_of,
    start_proxy,
    wait_until,
)
from tests.integration.faultproxy import FaultProxy

pytestmark = pytest.mark.integration

CLIENT = "FIX.4.4:CLIENT->BROKER"
SERVER = "FIX.4.4:BROKER->CLIENT"
log = logging.getLogger("tests.fault")


def store_url(kind: str, tmp_path: Path, name: str) -> str:
    return "memory://" if kind == "memory" else f"sqlite:///{tmp_path / name}.db"


def assert_exactly_once(app: RecordingApp, msg_type: str, expected: list[str]) -> int:
    """Every id delivered, none twice without PossDupFlag=Y, no MsgSeqNum
    delivered twice; returns how many deliveries were flagged PossDup."""
    by_id = collections.Counter(app.ids(msg_type, poss_dup=False))
    twice = {k: n for k, n in by_id.items() if n > 1}
    assert not twice, f"{app.name}: delivered more than once without PossDupFlag: {twice}"
    delivered = set(app.ids(msg_type))
    missing = [i for i in expected if i not in delivered]
    assert not missing, f"{app.name}: never delivered: {missing[:10]} ({len(missing)} in all)"
    assert delivered == set(expected)
    seqs = [r.seq for r in app.received]
    assert seqs == sorted(set(seqs)), f"{app.name}: a MsgSeqNum was delivered twice or late"
    return len(app.ids(msg_type, poss_dup=True))


async def assert_sequences_agree(client: SessionDriver, server: SessionDriver) -> None:
    c, s = client.session, server.session
    assert (c.next_sender, c.next_target) == (s.next_target, s.next_sender)
    # The durable target follows the application's progress: written with
    # the next flush, or on its own shortly after the last callback returned.
    for _ in range(200):
        cs, ss = await client.store.load(), await server.store.load()
        if (cs.next_target_seq, ss.next_target_seq) == (c.next_target, s.next_target):
            break
        await asyncio.sleep(0.01)
    assert (cs.next_sender_seq, cs.next_target_seq) == (c.next_sender, c.next_target)
    assert (ss.next_sender_seq, ss.next_target_seq) == (s.next_sender, s.next_target)


def settled(ini: Engine, acc: Engine) -> bool:
    c, s = ini.driver(CLIENT), acc.driver(SERVER)
    return (c.logged_on and s.logged_on and c.session.resend_range is None
            and s.session.resend_range is None and not c.session.queue and not s.session.queue
            and c.session.next_sender == s.session.next_target
            and s.session.next_sender == c.session.next_target)


async def send_orders(driver: SessionDriver, ids: list[str], pause: float = 0.0) -> None:
    for cl_ord_id in ids:
        await driver.send(new_order(cl_ord_id))
        if pause:
            await asyncio.sleep(pause)


@pytest.mark.parametrize("store", ["memory", "sqlite"])
async def test_cuts_delays_and_byte_by_byte_writes(engines: Engines, proxies: list[FaultProxy],
                                                   tmp_path: Path, store: str) -> None:
    broker = RecordingApp("broker", broker=True)
    client = RecordingApp("client")
    backoff = FastBackoff()
    acc = await engines.start(store_url(store, tmp_path, "acc"), broker, [acceptor()])
    proxy = await start_proxy(proxies, port_of(acc))
    # HeartBtInt 1: a ResendRequest that arrives with a too-high MsgSeqNum is
    # answered but leaves a gap that only the next message (a heartbeat at the
    # latest) reveals; see the note at the end of this module.
    ini = await engines.start(store_url(store, tmp_path, "ini"), client,
                              [initiator(proxy.port, heartbeatInterval=1)], backoff=backoff)
    await ini.wait_logged_on(CLIENT, 5)
    driver = ini.driver(CLIENT)
    sent: list[str] = []

    async def phase(name: str, n: int, *, cut_after: int | None = None,
                    direction: str = "any", pause: float = 0.0) -> None:
        ids = [f"{name}-{i}" for i in range(n)]
        sent.extend(ids)
        t0 = time.monotonic()
        before = proxy.cuts
        if cut_after is not None:
            proxy.cut_after(cut_after, direction)  # type: ignore[arg-type]
        await send_orders(driver, ids, pause)
        if cut_after is not None:
            await wait_until(lambda: proxy.cuts > before, 5, f"the cut in phase {name}")
        await wait_until(lambda: settled(ini, acc), 10, f"phase {name} to settle",
                         lambda: describe(ini, acc))
        log.info("phase %s took %.2f s", name, time.monotonic() - t0)

    # 1. a cut in the middle of a burst, in whichever direction comes first
    await phase("burst", 40, cut_after=1500)
    # 2. a cut on the way back (execution reports), orders keep coming meanwhile
    await phase("down", 30, cut_after=2100, direction="down", pause=0.001)
    # 3. byte by byte, with a cut on the way up in the middle of a message
    proxy.chunk = 1
    await phase("bytes", 10, cut_after=777, direction="up", pause=0.002)
    proxy.chunk = None
    # 4. every chunk delayed, cut twice while orders flow
    proxy.delay = 0.003
    await phase("slow", 20, cut_after=999, pause=0.001)
    await phase("slow2", 20, cut_after=333, direction="down")
    proxy.delay = 0.0
    # 5. orders sent while no connection exists at all (they wait in the store)
    proxy.refuse = True
    proxy.cut()
    await wait_until(lambda: not driver.connected, 5, "the initiator to notice the cut")
    offline = [f"offline-{i}" for i in range(15)]
    sent.extend(offline)
    await send_orders(driver, offline)
    proxy.refuse = False
    await wait_until(lambda: settled(ini, acc) and len(client.ids("8")) >= len(sent), 10,
                     "the offline orders to go through")

    await wait_until(lambda: len(set(client.ids("8"))) == len(sent), 10, "every report")
    dup_orders = assert_exactly_once(broker, "D", sent)
    dup_reports = assert_exactly_once(client, "8", sent)
    await assert_sequences_agree(ini.driver(CLIENT), acc.driver(SERVER))
    resend_requests = sum(1 for m in client.admin_in + broker.admin_in if m.msg_type == b"2")
    log.warning("%s: %d connections, %d cuts, %d reconnect waits, %d ResendRequests, "
                "%d PossDup orders, %d PossDup reports", store, proxy.connections, proxy.cuts,
                backoff.calls, resend_requests, dup_orders, dup_reports)
    assert proxy.cuts >= 6
    assert proxy.connections >= 7
    assert resend_requests >= 1
    assert dup_orders + dup_reports >= 1  # some messages really were resent


async def test_stalled_path_is_detected_by_heartbeats(engines: Engines,
                                                      proxies: list[FaultProxy]) -> None:
    """A path that silently stops carrying bytes: the TestRequest goes
    unanswered, the session times out, reconnects and resends."""
    broker = RecordingApp("broker", broker=True)
    client = RecordingApp("client")
    acc = await engines.start("memory://", broker, [acceptor()])
    proxy = await start_proxy(proxies, port_of(acc))
    ini = await engines.start("memory://", client, [initiator(
        proxy.port, heartbeatInterval=1, testRequestDelayMultiplier=0.1,
        heartbeatTimeoutMultiplier=0.3)])
    await ini.wait_logged_on(CLIENT, 5)
    driver = ini.driver(CLIENT)
    first = proxy.connections
    proxy.stall()
    ids = [f"stalled-{i}" for i in range(5)]
    await send_orders(driver, ids)
    await wait_until(lambda: not driver.logged_on, 3, "the heartbeat timeout")
    proxy.cut(count=False)  # the stalled socket is gone for good
    proxy.resume()
    await wait_until(lambda: settled(ini, acc) and len(client.ids("8")) == len(ids), 5,
                     "recovery after the stall")
    assert proxy.connections > first
    assert any(m.msg_type == b"1" for m in client.admin_out), "no TestRequest was sent"
    assert_exactly_once(broker, "D", ids)
    assert_exactly_once(client, "8", ids)
    await assert_sequences_agree(driver, acc.driver(SERVER))


async def test_short_stall_is_survived(engines: Engines, proxies: list[FaultProxy]) -> None:
    """A stall shorter than the heartbeat interval costs nothing: no reconnect."""
    broker = RecordingApp("broker", broker=True)
    client = RecordingApp("client")
    acc = await engines.start("memory://", broker, [acceptor()])
    proxy = await start_proxy(proxies, port_of(acc))
    ini = await engines.start("memory://", client, [initiator(proxy.port, heartbeatInterval=1)])
    await ini.wait_logged_on(CLIENT, 5)
    proxy.stall()
    ids = [f"held-{i}" for i in range(5)]
    await send_orders(ini.driver(CLIENT), ids)
    await asyncio.sleep(0.3)
    assert broker.ids("D") == []
    proxy.resume()
    await wait_until(lambda: len(client.ids("8")) == len(ids), 5, "the held orders")
    assert proxy.connections == 1 and client.logons == 1
    assert_exactly_once(client, "8", ids)


# Note on HeartBtInt 1 in the fault test: when both sides reconnect with gaps,
# each sends a ResendRequest whose own MsgSeqNum is usually above what the
# other expects.  The session answers such a ResendRequest at once but neither
# queues it nor asks for the gap below it (QuickFIX/J queues it, QFJ-673), so
# the gap is only noticed when the next message arrives.  With nothing else to
# send that is the next heartbeat; the test keeps HeartBtInt short so that the
# sessions settle within about a second of each cut.
