"""At-least-once delivery to the application, and its bound.

The durable target sequence number never passes an application message
whose ``from_app`` has not completed; what the application finished with is
recorded with the next flush or shortly after; a message the application
never finished comes again after a restart, with PossDupFlag=Y; and at most
``maxPendingDeliveries`` messages wait for the application before the
engine stops reading.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from pyfixmsg_plus.engine.application import Application, SessionHandle
from pyfixmsg_plus.engine.codec import Message

from tests.integration.conftest import (
    Engines,
    FastBackoff,
    acceptor,
    describe,
    initiator,
    new_order,
    port_of,
    wait_until,
)
from tests.integration.zeroloss import free_port

pytestmark = pytest.mark.integration

CLIENT = "FIX.4.4:CLIENT->BROKER"
SERVER = "FIX.4.4:BROKER->CLIENT"


class Gated(Application):
    """Records each order on entry; returns only when the gate is open."""

    def __init__(self) -> None:
        self.entered: list[tuple[str, bool]] = []
        self.finished: list[str] = []
        self.gate = asyncio.Event()

    async def from_app(self, msg: Message, session: SessionHandle) -> None:
        self.entered.append((msg.get_str(11) or "", msg.get(43) == b"Y"))
        await self.gate.wait()
        self.finished.append(msg.get_str(11) or "")


async def durable_target(engine: Any) -> int:
    return int((await engine.driver(SERVER).store.load()).next_target_seq)


async def test_the_durable_target_waits_for_the_application(engines: Engines,
                                                            tmp_path: Path) -> None:
    app = Gated()
    acc = await engines.start(f"sqlite:///{tmp_path / 'acc.db'}", app, [acceptor()])
    ini = await engines.start("memory://", Application(), [initiator(port_of(acc))])
    await ini.wait_logged_on(CLIENT, 5)
    server = acc.driver(SERVER)
    seqs = [await ini.driver(CLIENT).send(new_order(f"o{i}")) for i in range(3)]
    await wait_until(lambda: server.pending_deliveries == 3, 5, "three orders received")
    assert server.session.next_target == seqs[-1] + 1
    # the first order is inside from_app: a crash now must bring it back
    assert await durable_target(acc) == seqs[0]
    assert [cl for cl, _ in app.entered] == ["o0"]
    app.gate.set()
    await wait_until(lambda: app.finished == ["o0", "o1", "o2"], 5, "the orders handled")
    # nothing else is flushed: the target is written on its own, shortly after
    for _ in range(200):
        if await durable_target(acc) == seqs[-1] + 1:
            break
        await asyncio.sleep(0.01)
    assert await durable_target(acc) == seqs[-1] + 1
    assert server.pending_deliveries == 0


async def test_what_from_app_never_finished_comes_again_flagged(engines: Engines,
                                                                tmp_path: Path) -> None:
    port = free_port()
    url = f"sqlite:///{tmp_path / 'acc.db'}"
    stuck = Gated()
    acc = await engines.start(url, stuck, [acceptor(acceptPort=port)])
    ini = await engines.start("memory://", Application(), [initiator(port)],
                              backoff=FastBackoff(0.02))
    await ini.wait_logged_on(CLIENT, 5)
    seq = await ini.driver(CLIENT).send(new_order("stuck"))
    await wait_until(lambda: stuck.entered == [("stuck", False)], 5, "the order delivered")
    # a shutdown that cannot wait for the callback: as good as a crash for it
    await acc.driver(SERVER).stop(timeout=0.1)
    await engines.stop(acc)
    assert stuck.finished == []

    again = Gated()
    again.gate.set()
    acc2 = await engines.start(url, again, [acceptor(acceptPort=port)])
    assert await durable_target(acc2) == seq
    await wait_until(lambda: again.finished == ["stuck"], 10, "the order again",
                     lambda: describe(ini, acc2))
    assert again.entered == [("stuck", True)]  # PossDupFlag=Y: a redelivery
    await engines.stop(acc2)  # a graceful stop records what was handled
    final = acc2.driver(SERVER).session.next_target  # (after the Logout exchange)
    acc3 = await engines.start(url, Gated(), [acceptor(acceptPort=port)])
    assert await durable_target(acc3) == final > seq


@pytest.mark.parametrize("store", ["memory", "sqlite"])
async def test_pending_deliveries_are_bounded(engines: Engines, tmp_path: Path,
                                              store: str) -> None:
    limit, count = 8, 60
    app = Gated()
    url = "memory://" if store == "memory" else f"sqlite:///{tmp_path / 'acc.db'}"
    acc = await engines.start(url, app, [acceptor(maxPendingDeliveries=limit)])
    ini = await engines.start("memory://", Application(), [initiator(port_of(acc))])
    await ini.wait_logged_on(CLIENT, 5)
    server = acc.driver(SERVER)
    driver = ini.driver(CLIENT)
    for i in range(count):
        await driver.send(new_order(f"o{i}"))
    peak = 0
    for _ in range(50):  # the orders are all on their way: none is read beyond the bound
        peak = max(peak, server.pending_deliveries)
        await asyncio.sleep(0.005)
    assert server.session.next_target <= 2 + limit  # Logon, then at most `limit` orders
    if store == "sqlite":  # reading on while the application works, up to the bound
        assert peak == limit, describe(ini, acc)
        assert server.delivery_stalls >= 1
    else:  # reading eagerly: the next frames wait for the callback anyway
        assert 1 <= peak <= limit, describe(ini, acc)
    app.gate.set()
    await wait_until(lambda: len(app.finished) == count, 10, "every order",
                     lambda: describe(ini, acc))
    assert app.finished == [f"o{i}" for i in range(count)]
    assert not any(flag for _, flag in app.entered)
    assert server.pending_deliveries == 0


def test_max_pending_deliveries_setting() -> None:
    from pydantic import ValidationError
    from pyfixmsg_plus.engine.config import SessionSettings

    settings = SessionSettings.model_validate(acceptor())
    assert settings.max_pending_deliveries == 1000
    with pytest.raises(ValidationError):
        SessionSettings.model_validate(acceptor(maxPendingDeliveries=0))


class Timed(Application):
    """Uses ``asyncio.timeout`` inside ``from_app`` (it raises RuntimeError
    outside a task); the first order waits for ``gate``, later ones for an
    event never set."""

    def __init__(self) -> None:
        self.outcomes: list[str] = []
        self.entered = 0
        self.gate = asyncio.Event()

    async def from_app(self, msg: Message, session: SessionHandle) -> None:
        self.entered += 1
        first = self.entered == 1
        try:
            async with asyncio.timeout(60 if first else 0.01):
                await (self.gate if first else asyncio.Event()).wait()
            self.outcomes.append("opened")
        except TimeoutError:
            self.outcomes.append("timed out")


@pytest.mark.parametrize("store", ["memory", "sqlite"])
async def test_callbacks_run_in_a_task_and_reading_goes_on_meanwhile(
        engines: Engines, tmp_path: Path, store: str) -> None:
    """Every store: ``asyncio.timeout()`` works inside ``from_app`` (the
    callback runs in a real task), and while a callback awaits, the engine
    goes on reading: a TestRequest sent meanwhile is answered."""
    app = Timed()
    url = "memory://" if store == "memory" else f"sqlite:///{tmp_path / 'acc.db'}"
    acc = await engines.start(url, app, [acceptor()])
    ini = await engines.start("memory://", Application(), [initiator(port_of(acc))])
    await ini.wait_logged_on(CLIENT, 5)
    client = ini.driver(CLIENT)
    await client.send(new_order("first"))
    await wait_until(lambda: app.entered == 1, 5, "the order inside from_app")
    before = client.next_target
    # A TestRequest from the client while the broker's from_app waits.
    client.session._send_admin(b"1", [(112, b"PING")], client.clock())
    client._kick()
    await wait_until(lambda: client.next_target > before, 5,
                     "the Heartbeat answering the TestRequest", lambda: describe(ini, acc))
    assert app.outcomes == []  # answered while the callback still waited
    app.gate.set()
    await wait_until(lambda: app.outcomes == ["opened"], 5, "the first callback to finish")
    await client.send(new_order("second"))
    await wait_until(lambda: app.outcomes == ["opened", "timed out"], 5,
                     "the timeout inside from_app")
