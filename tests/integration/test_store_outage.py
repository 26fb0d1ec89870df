"""The database restarted mid-flow (real PostgreSQL via pg_ctl, real Redis):
an initiator/acceptor pair exchanging orders rides the outage out.

Both engines use the restarted server.  ``storeFailure.mode: wait``: the
application's ``send()`` calls wait, every outgoing message (heartbeats
included) is held until its sequence number is durable, the stores reconnect
by themselves and the flow resumes.  Checked: no order or report lost, none
delivered twice without PossDupFlag, and both sides' sequence numbers agree
(in memory and in the stores).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
import uuid
from collections.abc import Callable

import pytest
from pyfixmsg_plus.engine.runtime import Engine
from pyfixmsg_plus.engine.store.base import SessionKey
from pyfixmsg_plus.engine.store.errors import RetryableStoreError, StoreUnavailableError
from pyfixmsg_plus.engine.store.url import open_store

from tests.contract.store_servers import (
    drop_pg_schema,
    flush_redis_prefix,
    pg_ctl,
    pg_dsn,
    redis_ctl,
    redis_url,
)
from tests.integration.conftest import (
    Engines,
    RecordingApp,
    acceptor,
    describe,
    initiator,
    new_order,
    port_of,
    wait_until,
)

pytestmark = pytest.mark.integration

CLIENT = "FIX.4.4:CLIENT->BROKER"
BROKER = "FIX.4.4:BROKER->CLIENT"
ORDERS = 600


async def _flow(engines: Engines, client_url: str, broker_url: str,
                restart: Callable[[str], None], policy: dict[str, object]) -> None:
    broker = RecordingApp("broker", broker=True)
    client = RecordingApp("client")
    acc = await engines.start(broker_url, broker, [acceptor(heartbeatInterval=5)],
                              storeFailure=policy)
    ini = await engines.start(client_url, client, [initiator(port_of(acc), heartbeatInterval=5)],
                              storeFailure=policy)
    await ini.wait_logged_on(CLIENT)
    driver = ini.driver(CLIENT)
    sent: list[str] = []
    failed: list[str] = []

    async def send_all() -> None:
        window = asyncio.Semaphore(20)

        async def one(cl: str) -> None:
            try:
                await driver.send(new_order(cl))
                sent.append(cl)
            except StoreUnavailableError:
                failed.append(cl)
            finally:
                window.release()

        tasks = []
        for i in range(ORDERS):
            await window.acquire()
            tasks.append(asyncio.ensure_future(one(f"o{i}")))
            await asyncio.sleep(0.002)
        await asyncio.gather(*tasks)

    sender = asyncio.ensure_future(send_all())
    await wait_until(lambda: len(sent) >= ORDERS // 4, 30, "the first orders")
    before = len(sent)
    t0 = time.monotonic()
    await asyncio.to_thread(restart, "stop")
    await asyncio.sleep(1.5)  # the database is down: sends wait, nothing is written
    during = len(sent)
    assert during - before <= 20, "orders were acknowledged while the database was down"
    assert not driver.store_available or not acc.driver(BROKER).store_available
    await asyncio.to_thread(restart, "start")
    outage = time.monotonic() - t0
    await asyncio.wait_for(sender, 60)
    await wait_until(lambda: len(client.ids("8")) >= len(sent), 30, "every report",
                     lambda: describe(ini, acc))
    _check(broker, client, sent, failed, ini, acc)
    await _check_stores(client_url, broker_url, ini, acc)
    print(f"outage {outage:.1f} s; {len(sent)} orders, {len(failed)} failed; "
          f"{len(broker.ids('D', poss_dup=True))} PossDup resends; client logons "
          f"{client.logons}")


def _check(broker: RecordingApp, client: RecordingApp, sent: list[str], failed: list[str],
           ini: Engine, acc: Engine) -> None:
    assert not failed, f"{len(failed)} sends failed under mode wait"
    got = collections.Counter(broker.ids("D", poss_dup=False))
    missing = [cl for cl in sent if cl not in set(broker.ids("D"))]
    assert not missing, f"lost orders: {missing[:5]}"
    twice = {k: n for k, n in got.items() if n > 1}
    assert not twice, f"unflagged duplicates: {list(twice)[:5]}"
    reports = collections.Counter(client.ids("8", poss_dup=False))
    assert not {k for k, n in reports.items() if n > 1}
    assert set(client.ids("8")) == set(sent)
    c, b = ini.driver(CLIENT).session, acc.driver(BROKER).session
    assert (c.next_sender, c.next_target) == (b.next_target, b.next_sender)
    seqs = [r.seq for r in broker.received]
    assert seqs == sorted(set(seqs)), "a sequence number delivered twice or out of order"


async def _check_stores(client_url: str, broker_url: str, ini: Engine, acc: Engine) -> None:
    for url, engine, sid in ((client_url, ini, CLIENT), (broker_url, acc, BROKER)):
        session = engine.driver(sid).session
        store = await open_store(url)
        try:
            # The durable target follows the application's progress: written
            # with the next flush, or on its own shortly after the last
            # callback returned (at-least-once delivery).
            for _ in range(300):
                state = await (await store.open(SessionKey(sid))).load()
                if (state.next_sender_seq, state.next_target_seq) == (
                        session.next_sender, session.next_target):
                    break
                await asyncio.sleep(0.01)
        finally:
            await store.close()
        assert (state.next_sender_seq, state.next_target_seq) == (
            session.next_sender, session.next_target), sid


async def test_postgres_restarted_mid_flow(engines: Engines) -> None:
    dsn = pg_dsn()
    schemas = [f"t_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    try:
        await _flow(engines, f"{dsn}?schema={schemas[0]}&connect_timeout=1",
                    f"{dsn}?schema={schemas[1]}&connect_timeout=1", pg_ctl,
                    {"mode": "wait", "waitTimeout": 60, "retryMaxDelay": 0.2})
    finally:
        await engines.stop_all()
        await asyncio.to_thread(_ensure_running, pg_ctl)
        for s in schemas:
            drop_pg_schema(dsn, s)


async def test_redis_restarted_mid_flow(engines: Engines) -> None:
    url = redis_url()
    prefixes = [f"t{uuid.uuid4().hex[:12]}" for _ in range(2)]
    try:
        await _flow(engines, f"{url}?prefix={prefixes[0]}&connect_timeout=1",
                    f"{url}?prefix={prefixes[1]}&connect_timeout=1", redis_ctl,
                    {"mode": "wait", "waitTimeout": 60, "retryMaxDelay": 0.2})
    finally:
        await engines.stop_all()
        await asyncio.to_thread(_ensure_running, redis_ctl)
        for p in prefixes:
            flush_redis_prefix(url, p)


def _ensure_running(ctl: Callable[[str], None]) -> None:
    with contextlib.suppress(Exception):  # already running
        ctl("start")


async def test_fail_mode_refuses_sends_and_gives_sequence_numbers_back(
        engines: Engines) -> None:
    """mode fail: the send whose flush fails raises StoreUnavailableError and
    the connection drops; later sends fail at once while the store is down
    (the session cannot reload); afterwards the session logs on again, what
    the failed sends numbered is reused, and both sides agree."""
    dsn = pg_dsn()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    url = f"{dsn}?schema={schema}&connect_timeout=1"
    policy = {"mode": "fail", "retryMaxDelay": 0.2}
    broker = RecordingApp("broker", broker=True)
    client = RecordingApp("client")
    try:
        acc = await engines.start("memory://", broker, [acceptor(heartbeatInterval=5)])
        ini = await engines.start(url, client, [initiator(port_of(acc), heartbeatInterval=5)],
                                  storeFailure=policy)
        await ini.wait_logged_on(CLIENT)
        driver = ini.driver(CLIENT)
        for i in range(10):
            await driver.send(new_order(f"a{i}"))
        await asyncio.to_thread(pg_ctl, "stop")
        # the flush fails (StoreUnavailableError), or a failure a moment
        # earlier already dropped the connection and the reload fails
        with pytest.raises(RetryableStoreError):
            await driver.send(new_order("lost-1"))
        with pytest.raises(RetryableStoreError):  # refused at once: cannot reload
            await driver.send(new_order("lost-2"))
        await asyncio.to_thread(pg_ctl, "start")
        await wait_until(lambda: driver.store_available and driver.logged_on, 30,
                         "the session back", lambda: describe(ini, acc))
        for i in range(10):
            await driver.send(new_order(f"b{i}"))
        await wait_until(lambda: len(client.ids("8")) >= 20, 20, "the reports",
                         lambda: describe(ini, acc))
        assert "lost-1" not in broker.ids("D") and "lost-2" not in broker.ids("D")
        assert sorted(broker.ids("D", poss_dup=False)) == sorted(
            [f"a{i}" for i in range(10)] + [f"b{i}" for i in range(10)])
        c, b = driver.session, acc.driver(BROKER).session
        assert (c.next_sender, c.next_target) == (b.next_target, b.next_sender)
    finally:
        await engines.stop_all()
        await asyncio.to_thread(_ensure_running, pg_ctl)
        drop_pg_schema(dsn, schema)
