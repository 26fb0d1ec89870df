"""Engine life cycle over real sockets: graceful shutdown, application
callbacks that raise, and a message store whose writes fail for a while."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

import pytest
from pyfixmsg_plus.engine.application import SessionHandle
from pyfixmsg_plus.engine.codec import Message
from pyfixmsg_plus.engine.errors import RetryableError
from pyfixmsg_plus.engine.store.base import SessionKey, SessionStore, StoreState
from pyfixmsg_plus.engine.store.errors import RetryableStoreError
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


def types(msgs: list[Message]) -> list[bytes]:
    return [m.msg_type for m in msgs]


# ---------------------------------------------------------------------------
# graceful shutdown


async def test_stop_logs_the_initiator_out_before_closing(engines: Engines) -> None:
    broker = RecordingApp("broker", broker=True)
    acc = await engines.start("memory://", broker, [acceptor()])
    client = RecordingApp("client")
    ini = await engines.start("memory://", client, [initiator(port_of(acc))])
    await ini.wait_logged_on(CLIENT, 5)
    await ini.driver(CLIENT).send(new_order("before-stop"))
    await wait_until(lambda: client.ids("8") == ["before-stop"], 5, "the report")

    started = time.monotonic()
    await engines.stop(ini)  # shutdown_timeout is 10 s: it must not be needed
    assert time.monotonic() - started < 1.0
    assert b"5" in types(client.admin_out), "no Logout sent"
    assert b"5" in types(client.admin_in), "the Logout was not answered before closing"
    assert b"5" in types(broker.admin_in)
    assert client.logouts == 1
    await wait_until(lambda: broker.logouts == 1, 2, "the broker's on_logout")
    server, driver = acc.driver(SERVER), ini.driver(CLIENT)
    assert (server.session.next_target, server.session.next_sender) == (
        driver.session.next_sender, driver.session.next_target)


async def test_stop_logs_every_acceptor_session_out(engines: Engines) -> None:
    names = ["C1", "C2", "C3"]
    brokers: dict[str, RecordingApp] = {}

    def broker_app(settings: Any) -> RecordingApp:
        app = RecordingApp(settings.session_id, broker=True)
        brokers[settings.session_id] = app
        return app

    acc = await engines.start("memory://", broker_app, [acceptor(target=n) for n in names])
    client = RecordingApp("clients")
    # a slow reconnect so that the clients do not come back during the test
    ini = await engines.start("memory://", client,
                              [initiator(port_of(acc), sender=n) for n in names],
                              backoff=FastBackoff(0.5))
    for n in names:
        await ini.wait_logged_on(f"FIX.4.4:{n}->BROKER", 5)
    await engines.stop(acc)
    for n in names:
        app = brokers[f"FIX.4.4:BROKER->{n}"]
        assert b"5" in types(app.admin_out)
        assert b"5" in types(app.admin_in), f"{n} did not answer the Logout before the close"
        assert app.logouts == 1
    assert types(client.admin_out).count(b"5") == 3  # each client answered
    assert not any(d.connected for d in acc.drivers.values())


# ---------------------------------------------------------------------------
# exceptions in application callbacks


class GrumpyApp(RecordingApp):
    """Raises from every callback it may raise from, now and then."""

    def __init__(self, name: str, *, broker: bool = False) -> None:
        super().__init__(name, broker=broker)
        self.calls = 0

    async def on_logon(self, session: SessionHandle) -> None:
        await super().on_logon(session)
        raise RuntimeError("on_logon bug")

    async def on_logout(self, session: SessionHandle) -> None:
        await super().on_logout(session)
        raise RuntimeError("on_logout bug")

    async def to_admin(self, msg: Message, session: SessionHandle) -> None:
        await super().to_admin(msg, session)
        if msg.msg_type == b"0":
            raise ValueError("to_admin bug")

    async def from_admin(self, msg: Message, session: SessionHandle) -> None:
        await super().from_admin(msg, session)
        if msg.msg_type != b"A":  # raising on a Logon would (rightly) refuse it
            raise KeyError("from_admin bug")

    async def from_app(self, msg: Message, session: SessionHandle) -> None:
        self.calls += 1
        if self.calls % 3 == 0:
            raise ZeroDivisionError("from_app bug")
        await super().from_app(msg, session)


async def test_exceptions_in_callbacks_do_not_stop_the_engine(
        engines: Engines, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="pyfixmsg_plus.session")
    broker = GrumpyApp("broker", broker=True)
    acc = await engines.start("memory://", broker, [acceptor()])
    client = GrumpyApp("client")
    ini = await engines.start("memory://", client, [initiator(port_of(acc), heartbeatInterval=1)])
    await ini.wait_logged_on(CLIENT, 5)
    driver = ini.driver(CLIENT)
    ids = [f"o{i}" for i in range(12)]
    for cl_ord_id in ids:
        await driver.send(new_order(cl_ord_id))
    # the broker's from_app fails for every third order: those get no report
    answered = [cl for i, cl in enumerate(ids) if (i + 1) % 3 != 0]
    await wait_until(lambda: broker.calls == len(ids), 5, "every order to reach the broker")
    await wait_until(lambda: client.calls == len(answered), 5, "every report")
    assert broker.ids("D") == answered
    # heartbeats flow (to_admin and from_admin raise on them) and nothing reconnects
    await wait_until(lambda: types(client.admin_in).count(b"0") >= 1, 3, "a heartbeat")
    assert driver.logged_on and acc.driver(SERVER).logged_on
    assert ini.initiators[CLIENT].connections == 1
    # a callback that failed is not redelivered: the message was already received
    server = acc.driver(SERVER)
    assert (server.session.next_target, server.session.next_sender) == (
        driver.session.next_sender, driver.session.next_target)
    failures = [r for r in caplog.records if "application callback failed" in r.getMessage()]
    assert failures and all(r.exc_info for r in failures)
    # the engines still stop cleanly (on_logout raises too)
    await engines.stop(ini)
    assert b"5" in types(client.admin_in)


# ---------------------------------------------------------------------------
# store failure


#: ``storeFailure.mode: fail``: a store failure fails the sends and drops the
#: connection at once (the default, ``wait``, rides an outage out: see
#: test_store_outage.py).
FAIL_FAST = {"mode": "fail"}


class FailingStore:
    """A session store whose disk goes bad for a while: a test double for the
    disk, not for the transport.  ``failing`` makes ``save_outbound`` (and,
    with ``fail_loads``, ``load``) raise a retryable error."""

    def __init__(self, inner: SessionStore) -> None:
        self.inner = inner
        self.failing = False
        self.fail_loads = False
        self.fail_targets = False
        self.pause = 0.0  # seconds a failing write takes
        self.failed_saves = 0
        self.failed_loads = 0

    @property
    def key(self) -> SessionKey:
        return self.inner.key

    async def load(self) -> StoreState:
        if self.failing and self.fail_loads:
            self.failed_loads += 1
            raise RetryableStoreError("disk I/O error (load)")
        return await self.inner.load()

    async def save_outbound(self, messages: Sequence[tuple[int, bytes]]) -> None:
        if self.failing:
            self.failed_saves += 1
            await asyncio.sleep(self.pause)
            raise RetryableStoreError("disk I/O error")
        await self.inner.save_outbound(messages)

    async def set_next_sender(self, seq: int) -> None:
        await self.inner.set_next_sender(seq)

    async def set_next_target(self, seq: int) -> None:
        if self.failing and self.fail_targets:
            await asyncio.sleep(0)
            raise RetryableStoreError("disk I/O error (target)")
        await self.inner.set_next_target(seq)

    async def get_range(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        return await self.inner.get_range(begin, end)

    async def reset(self, creation_time_ns: int) -> None:
        await self.inner.reset(creation_time_ns)

    async def close(self) -> None:
        await self.inner.close()


@pytest.mark.parametrize("fail_loads", [False, True], ids=["saves-fail", "saves-and-loads-fail"])
async def test_store_failure_drops_the_connection_and_recovers(
        engines: Engines, tmp_path: Any, fail_loads: bool) -> None:
    broker = RecordingApp("broker", broker=True)
    acc = await engines.start("memory://", broker, [acceptor()])
    client = RecordingApp("client")
    backoff = FastBackoff(0.02)
    ini = await engines.start(f"sqlite:///{tmp_path / 'ini.db'}", client,
                              [initiator(port_of(acc))], backoff=backoff, storeFailure=FAIL_FAST)
    await ini.wait_logged_on(CLIENT, 5)
    driver = ini.driver(CLIENT)
    store = FailingStore(driver.store)
    store.fail_loads = fail_loads
    driver.store = store
    for i in range(5):
        await driver.send(new_order(f"before-{i}"))
    await wait_until(lambda: len(client.ids("8")) == 5, 5, "the first reports")

    store.failing = True
    results = await asyncio.gather(*(driver.send(new_order(f"lost-{i}")) for i in range(3)),
                                   return_exceptions=True)
    assert all(isinstance(r, RetryableError) for r in results), results
    await wait_until(lambda: not driver.logged_on, 2, "the connection to drop")
    with pytest.raises(RetryableError):
        await driver.send(new_order("lost-while-down"))
    # reconnects keep failing while the disk is bad (the Logon cannot be stored)
    calls = backoff.calls
    await wait_until(lambda: backoff.calls >= calls + 3, 3, "reconnect attempts")
    assert not driver.logged_on
    assert store.failed_saves + store.failed_loads >= 4
    assert not fail_loads or store.failed_loads >= 1
    assert not ini.initiators[CLIENT]._task.done(), "the initiator gave up"  # type: ignore[union-attr]

    store.failing = False
    await ini.wait_logged_on(CLIENT, 5)
    for i in range(5):
        await driver.send(new_order(f"after-{i}"))
    expected = [f"before-{i}" for i in range(5)] + [f"after-{i}" for i in range(5)]
    await wait_until(lambda: len(client.ids("8")) == 10, 5, "the later reports",
                     lambda: describe(ini, acc))
    assert broker.ids("D") == expected and client.ids("8") == expected

    # no sequence number reused or skipped: the client's stored messages are
    # numbered 1, 2, 3, ... and the broker never had to ask for a resend
    state = await store.load()
    stored = [seq for seq, _ in await store.get_range(1, 0)]
    assert stored == list(range(1, state.next_sender_seq))
    assert b"2" not in types(broker.admin_out)
    assert b"4" not in types(broker.admin_in)
    server = acc.driver(SERVER)
    assert (server.session.next_target, server.session.next_sender) == (
        driver.session.next_sender, driver.session.next_target)
    assert state.next_sender_seq == driver.session.next_sender


async def _client_behind_proxy(engines: Engines, proxies: list[FaultProxy], tmp_path: Any
                               ) -> tuple[Any, Any, FaultProxy, SessionDriver, FailingStore,
                                          RecordingApp, RecordingApp]:
    broker = RecordingApp("broker", broker=True)
    acc = await engines.start("memory://", broker, [acceptor()])
    proxy = await start_proxy(proxies, port_of(acc))
    client = RecordingApp("client")
    ini = await engines.start(f"sqlite:///{tmp_path / 'ini.db'}", client,
                              [initiator(proxy.port)], backoff=FastBackoff(0.02),
                              storeFailure=FAIL_FAST)
    await ini.wait_logged_on(CLIENT, 5)
    driver = ini.driver(CLIENT)
    store = FailingStore(driver.store)
    driver.store = store
    return acc, ini, proxy, driver, store, broker, client


async def test_sends_after_the_store_recovers_work_while_disconnected(
        engines: Engines, proxies: list[FaultProxy], tmp_path: Any) -> None:
    """Regression: after a store failure the session's counters were only
    reloaded at the next connection, so orders sent before it were numbered
    from the stale counter and failed with a StoreSequenceError."""
    acc, ini, proxy, driver, store, broker, client = await _client_behind_proxy(
        engines, proxies, tmp_path)
    await driver.send(new_order("first"))
    proxy.refuse = True  # no reconnection until the end of the test
    store.failing = True
    with pytest.raises(RetryableError):
        await driver.send(new_order("lost"))
    await wait_until(lambda: not driver.connected, 2, "the connection to drop")
    store.failing = False
    offline = await asyncio.gather(*(driver.send(new_order(f"offline-{i}")) for i in range(3)))
    assert offline == [3, 4, 5]  # Logon 1, "first" 2; "lost" (3) was never stored
    proxy.refuse = False
    await wait_until(lambda: len(client.ids("8")) == 4, 5, "the reports",
                     lambda: describe(ini, acc))
    assert broker.ids("D") == ["first", "offline-0", "offline-1", "offline-2"]


async def test_a_send_queued_behind_a_failing_write_does_not_hang(
        engines: Engines, proxies: list[FaultProxy], tmp_path: Any) -> None:
    """Regression: a message numbered while an earlier batch was being
    written was dropped with the connection, and its send() never returned."""
    _acc, ini, proxy, driver, store, _broker, _client = await _client_behind_proxy(
        engines, proxies, tmp_path)
    proxy.refuse = True
    store.failing = True
    store.pause = 0.05
    first = asyncio.ensure_future(driver.send(new_order("a")))
    while not store.failed_saves:
        await asyncio.sleep(0)  # the pump is inside save_outbound now
    second = asyncio.ensure_future(driver.send(new_order("b")))
    async with asyncio.timeout(2):
        results = await asyncio.gather(first, second, return_exceptions=True)
    assert all(isinstance(r, RetryableError) for r in results), results
    store.failing = False
    proxy.refuse = False
    await ini.wait_logged_on(CLIENT, 5)
    assert await driver.send(new_order("c")) == 3  # Logon 1; a and b were never stored


async def test_a_message_whose_receipt_was_not_stored_comes_again_flagged(
        engines: Engines, tmp_path: Any) -> None:
    """At least once: when storing what was received (or the answer to it)
    fails, the connection drops and the counterparty sends again, with
    PossDupFlag=Y, everything the store does not record as handled; nothing
    is lost and no repeat comes unflagged."""
    broker = RecordingApp("broker", broker=True)
    acc = await engines.start(f"sqlite:///{tmp_path / 'acc.db'}", broker, [acceptor()],
                              storeFailure=FAIL_FAST)
    client = RecordingApp("client")
    ini = await engines.start("memory://", client, [initiator(port_of(acc))],
                              backoff=FastBackoff(0.02))
    await ini.wait_logged_on(CLIENT, 5)
    server = acc.driver(SERVER)
    store = FailingStore(server.store)
    store.fail_targets = True
    server.store = store
    driver = ini.driver(CLIENT)
    await driver.send(new_order("ok"))
    await wait_until(lambda: client.ids("8") == ["ok"], 5, "the first report")
    store.failing = True
    await driver.send(new_order("unlucky"))
    await wait_until(lambda: not server.connected, 2, "the broker to drop the connection")
    store.failing = False
    await wait_until(lambda: set(client.ids("8")) == {"ok", "unlucky"}, 5, "the second report",
                     lambda: describe(ini, acc))
    await ini.wait_logged_on(CLIENT, 5)
    assert set(broker.ids("D")) == {"ok", "unlucky"}, broker.received
    assert "unlucky" in broker.ids("D", poss_dup=True)  # it came again, as a resend
    first = broker.ids("D", poss_dup=False)
    assert len(first) == len(set(first)), broker.received  # repeats are flagged
