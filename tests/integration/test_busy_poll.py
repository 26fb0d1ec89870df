"""Sessions run on the busy-polling event loop (``busyPollUs``) as on any other.

Logon, a few hundred orders answered one at a time (the ping-pong where
polling matters), a logout, and sequence numbers that match on both sides;
the selector's counters show that answers were caught while polling."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pyfixmsg_plus.engine.application import Application, SessionHandle
from pyfixmsg_plus.engine.codec import Message
from pyfixmsg_plus.engine.transport.eventloop import BusyPollSelector, loop_factory

from tests.integration.conftest import (
    Engines,
    RecordingApp,
    acceptor,
    execution_report,
    initiator,
    new_order,
    port_of,
    wait_until,
)

pytestmark = pytest.mark.integration

CLIENT = "FIX.4.4:CLIENT->BROKER"
SERVER = "FIX.4.4:BROKER->CLIENT"
ORDERS = 300


class Broker(Application):
    async def from_app(self, msg: Message, session: SessionHandle) -> None:
        session.send_nowait(execution_report(msg.get_str(11) or ""))


class PingPong(RecordingApp):
    """Sends the next order from the callback of the previous report."""

    def __init__(self) -> None:
        super().__init__("client")
        self.sent = 0

    async def from_app(self, msg: Message, session: SessionHandle) -> None:
        await super().from_app(msg, session)
        if self.sent < ORDERS:
            self.sent += 1
            session.send_nowait(new_order(f"p{self.sent}"))


async def _scenario() -> dict[str, Any]:
    engines = Engines()
    try:
        acc = await engines.start("memory://", Broker(), [acceptor()])
        client = PingPong()
        ini = await engines.start("memory://", client, [initiator(port_of(acc))])
        await ini.wait_logged_on(CLIENT, 10)
        await wait_until(lambda: acc.driver(SERVER).logged_on, 10, "the acceptor side")
        driver = ini.driver(CLIENT)
        client.sent = 1
        driver.send_nowait(new_order("p1"))
        await wait_until(lambda: len(client.ids("8")) == ORDERS, 30, "every report")
        ids = client.ids("8")
        sender, target = driver.session.next_sender, driver.session.next_target
        server = acc.driver(SERVER).session
        await wait_until(lambda: server.next_target == sender, 5, "the last order")
        served = (server.next_sender, server.next_target)
        await engines.stop(ini, 5)  # a Logout exchange on the same loop
        return {"ids": ids, "client": (sender, target), "server": served,
                "after_logout": (server.next_sender, server.next_target)}
    finally:
        await engines.stop_all()


def test_a_ping_pong_of_orders_on_the_busy_polling_loop() -> None:
    factory = loop_factory("asyncio", 500)
    assert factory is not None
    with asyncio.Runner(loop_factory=factory) as runner:
        selector = runner.get_loop()._selector  # type: ignore[attr-defined]
        assert isinstance(selector, BusyPollSelector)
        result = runner.run(_scenario())
    assert result["ids"] == [f"p{i}" for i in range(1, ORDERS + 1)]
    # Logon + ORDERS each way: the next number each side expects matches.
    assert result["client"] == (ORDERS + 2, ORDERS + 2)
    assert result["server"] == (ORDERS + 2, ORDERS + 2)
    # Both engines share this loop: every answer is in flight while the loop
    # polls, so most selects are answered without sleeping.
    assert result["after_logout"] == (ORDERS + 3, ORDERS + 3)
    assert selector.polled_hits > ORDERS
