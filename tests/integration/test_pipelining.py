"""A big read is answered in runs, not in one write at its end.

With a store that does no I/O the driver handles a read chunk inside
``data_received``.  It writes what each run of 16 frames caused before it
goes on with the next run, so that the peer starts on the first answers
while the rest are still being processed (both processes busy at once,
instead of taking turns with whole windows)."""

from __future__ import annotations

from typing import Any

import pytest
from pyfixmsg_plus.engine.application import Application, SessionHandle
from pyfixmsg_plus.engine.codec import Message

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
ORDERS = 96


class NowaitBroker(Application):
    """Answers each order at once with ``send_nowait`` (no wait for the store)."""

    def __init__(self) -> None:
        self.orders: list[str] = []

    async def from_app(self, msg: Message, session: SessionHandle) -> None:
        cl_ord_id = msg.get_str(11) or ""
        self.orders.append(cl_ord_id)
        session.send_nowait(execution_report(cl_ord_id))


async def test_a_window_of_orders_is_answered_in_several_writes(engines: Engines) -> None:
    broker = NowaitBroker()
    acc = await engines.start("memory://", broker, [acceptor()])
    client = RecordingApp("client")
    ini = await engines.start("memory://", client, [initiator(port_of(acc))])
    await ini.wait_logged_on(CLIENT, 5)
    await wait_until(lambda: acc.driver(SERVER).logged_on, 5, "the acceptor side logged on")

    server = acc.driver(SERVER)
    writer: Any = server._conn.writer  # type: ignore[union-attr]
    writes: list[int] = []
    original = writer.write

    def counting(data: bytes) -> None:
        writes.append(data.count(b"\x0135=8\x01"))
        original(data)

    writer.write = counting
    driver = ini.driver(CLIENT)
    for i in range(ORDERS):  # numbered now, written in one flush
        driver.send_nowait(new_order(f"o{i}"))
    await wait_until(lambda: len(client.ids("8")) == ORDERS, 10, "every report")

    assert broker.orders == [f"o{i}" for i in range(ORDERS)]
    assert client.ids("8") == [f"o{i}" for i in range(ORDERS)]  # in order
    assert sum(writes) == ORDERS
    # One write per read chunk would be one or two here; runs of 16 give six.
    assert len(writes) >= 4, writes
    assert max(writes) <= 16, writes
