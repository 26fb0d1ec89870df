"""The QuickFIX/J-style application API over real sockets: the cracker and
typed messages, send_to_target / lookup_session from an engine-start hook,
the whole header in to_app, on_logout's reason, and the FIXT.1.1
BusinessMessageReject of one engine taken by another that validates."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from pyfixmsg_plus.engine.application import (
    Application,
    SessionHandle,
    SessionNotFound,
    lookup_session,
    send_to_target,
)
from pyfixmsg_plus.engine.codec import Message
from pyfixmsg_plus.engine.fix import SessionID, fix44, fix50sp2
from pyfixmsg_plus.engine.fix.cracker import MessageCracker

from tests.integration.conftest import Engines, acceptor, initiator, port_of, wait_until
from tests.unit.test_dictionary_common import spec_dir

pytestmark = pytest.mark.integration

CLIENT = "FIX.4.4:CLIENT->BROKER"


class Broker(MessageCracker, Application):
    """Answers NewOrderSingle with a typed ExecutionReport; nothing else is
    handled (the cracker rejects it)."""

    def __init__(self) -> None:
        self.orders: list[tuple[str | None, Decimal | None, str | None]] = []
        self.logout_reasons: list[str | None] = []

    async def on_new_order_single(self, msg: fix44.NewOrderSingle,
                                  session: SessionHandle) -> None:
        self.orders.append((msg.cl_ord_id, msg.order_qty, msg.side))
        er = fix44.ExecutionReport()
        er.order_id, er.exec_id, er.cl_ord_id = "O1", "E1", msg.cl_ord_id
        er.exec_type = er.ord_status = fix44.ExecType.NEW
        er.side, er.symbol = msg.side, msg.symbol
        er.leaves_qty, er.cum_qty, er.avg_px = msg.order_qty, Decimal(0), Decimal(0)
        await session.send(er)

    async def on_logout(self, session: SessionHandle) -> None:
        self.logout_reasons.append(session.logout_reason)


class Client(Application):
    def __init__(self) -> None:
        self.started = 0
        self.to_app_headers: list[dict[int, bytes | None]] = []
        self.received: list[Message] = []
        self.custom: dict[str, str] = {}

    async def on_engine_start(self) -> None:
        self.started += 1
        handle = lookup_session("FIX.4.4:CLIENT/BROKER")
        if handle is not None:
            self.custom = dict(handle.settings.custom)

    async def to_app(self, msg: Message, session: SessionHandle) -> None:
        self.to_app_headers.append({tag: msg.get(tag) for tag in (8, 34, 49, 52, 56)})

    async def from_app(self, msg: Message, session: SessionHandle) -> None:
        self.received.append(msg)


async def test_cracker_send_to_target_and_the_header_in_to_app(engines: Engines) -> None:
    broker = Broker()
    acc = await engines.start("memory://", broker, [acceptor()])
    client = Client()
    ini = await engines.start("memory://", client,
                              [initiator(port_of(acc), custom={"ValidOrderTypes": "1,2,F"})])
    assert client.started == 1 and client.custom == {"ValidOrderTypes": "1,2,F"}
    await ini.wait_logged_on(CLIENT, 5)
    handle = lookup_session(CLIENT)
    assert handle is not None and isinstance(handle.session_id, SessionID)

    order = fix44.NewOrderSingle()
    order.cl_ord_id, order.side, order.symbol = "A1", fix44.Side.BUY, "EUR/USD"
    order.order_qty, order.ord_type = Decimal(100), fix44.OrdType.MARKET
    order.transact_time = "20260101-00:00:00.000"
    order.sender_comp_id, order.target_comp_id = "CLIENT", "BROKER"  # QuickFIX/J style
    seq = await send_to_target(order)
    assert seq == 2
    await wait_until(lambda: len(client.received) == 1, 5, "the execution report")
    assert broker.orders == [("A1", Decimal(100), fix44.Side.BUY)]
    report = fix44.ExecutionReport.view(client.received[0])
    assert report.exec_type == fix44.ExecType.NEW and report.leaves_qty == Decimal(100)
    header = client.to_app_headers[0]
    assert (header[8], header[34], header[49], header[56]) == (
        b"FIX.4.4", b"2", b"CLIENT", b"BROKER")
    assert header[52] is not None

    # A message the broker's cracker has no method for: BusinessMessageReject.
    await send_to_target(Message.new("FIX.4.4", "E", [(66, "L1")]), "FIX.4.4:CLIENT/BROKER")
    await wait_until(lambda: len(client.received) == 2, 5, "the reject")
    assert client.received[1].msg_type == b"j" and client.received[1].get(380) == b"3"

    with pytest.raises(SessionNotFound):
        await send_to_target(Message.new("FIX.4.4", "D"), "FIX.4.4:NOBODY->BROKER")
    assert lookup_session("not a session id") is None

    await ini.driver(CLIENT).logout("end of day")
    await wait_until(lambda: broker.logout_reasons != [], 5, "the broker's on_logout")
    assert "end of day" in (broker.logout_reasons[0] or "")


async def test_fixt_business_reject_is_valid_for_another_engine(engines: Engines) -> None:
    """Both engines validate with FIXT11.xml + FIX50SP2.xml; the acceptor
    rejects a message type it does not handle; the initiator takes the
    BusinessMessageReject (before the fix it answered with a session Reject:
    "Tag not defined for this message type", 1137)."""
    spec = spec_dir()
    fixt: dict[str, Any] = {
        "beginString": "FIXT.1.1", "defaultApplVerId": "FIX.5.0SP2",
        "validation": {"transportDataDictionary": str(spec / "FIXT11.xml"),
                       "appDataDictionary": [str(spec / "FIX50SP2.xml")]},
    }
    broker = Broker()
    acc = await engines.start("memory://", broker, [acceptor(**fixt)])
    client = Client()
    ini = await engines.start("memory://", client, [initiator(port_of(acc), **fixt)])
    sid = "FIXT.1.1:CLIENT->BROKER"
    await ini.wait_logged_on(sid, 5)
    quote_request = fix50sp2.QuoteRequest()
    quote_request.quote_req_id = "Q1"
    quote_request.add_entries(146, [[(55, "EUR/USD")]])
    await ini.driver(sid).send(quote_request)
    await wait_until(lambda: len(client.received) == 1, 5, "the BusinessMessageReject")
    reject = client.received[0]
    assert (reject.msg_type, reject.get(380), reject.get(372)) == (b"j", b"3", b"R")
    await asyncio.sleep(0.1)  # a session Reject of it would be on its way by now
    assert sum(ini.driver(sid).session.stats.rejects_sent.values()) == 0
