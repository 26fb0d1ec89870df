"""``fixplus demo``: the embedded default, end to end on one machine.

A broker (acceptor) and a client (initiator) run in one process on
127.0.0.1, each with its own SQLite store.  The client sends NewOrderSingle
messages, keeping a window of them outstanding; the broker answers each with
an ExecutionReport.  Stores persist across runs, so a second run continues
the sequence numbers where the first one stopped.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import time
from pathlib import Path
from typing import Any

from ..application import Application, SessionHandle
from ..codec import Message
from ..codec.values import format_utc_timestamp
from ..config import EngineConfig
from ..runtime import Engine
from ..store.files import create_private_dir
from ..transport.auth import hash_password


class BrokerApp(Application):
    """Answers every NewOrderSingle with a new-order ExecutionReport."""

    def __init__(self) -> None:
        self.orders = 0

    async def from_app(self, msg: Message, session: SessionHandle) -> None:
        if msg.msg_type != b"D":
            return
        self.orders += 1
        n = b"%d" % self.orders
        qty = msg.get(38) or b"0"
        report = Message.new(msg.begin_string, "8", [
            (37, b"O" + n), (17, b"E" + n), (150, b"0"), (39, b"0"), (54, msg.get(54) or b"1"),
            (151, qty), (14, b"0"), (6, b"0"), (11, msg.get(11) or b""), (55, msg.get(55) or b""),
            (38, qty),
        ])
        session.send_nowait(report)


class ClientApp(Application):
    """Counts ExecutionReports and wakes whoever waits for them."""

    def __init__(self) -> None:
        self.reports = 0
        self.changed = asyncio.Event()
        self.logged_on = asyncio.Event()

    async def on_logon(self, session: SessionHandle) -> None:
        self.logged_on.set()

    async def from_app(self, msg: Message, session: SessionHandle) -> None:
        if msg.msg_type == b"8":
            self.reports += 1
            self.changed.set()


@dataclasses.dataclass
class DemoSummary:
    orders: int
    reports: int
    seconds: float
    logon_seconds: float
    client_seq: tuple[int, int]
    broker_seq: tuple[int, int]
    stores: tuple[str, str]

    @property
    def orders_per_second(self) -> float:
        return self.orders / self.seconds if self.seconds else 0.0

    def lines(self) -> list[str]:
        return [
            f"logged on in {self.logon_seconds * 1000:.1f} ms",
            f"{self.orders} orders sent, {self.reports} execution reports received "
            f"in {self.seconds:.2f} s ({self.orders_per_second:,.0f} orders/s)",
            f"client sequence numbers now: next out {self.client_seq[0]}, "
            f"next in {self.client_seq[1]}",
            f"broker sequence numbers now: next out {self.broker_seq[0]}, "
            f"next in {self.broker_seq[1]}",
            f"stores: {self.stores[0]}, {self.stores[1]} (run again: numbering continues)",
        ]


def _session(role: str, sender: str, target: str, **extra: Any) -> dict[str, Any]:
    return {"role": role, "beginString": "FIX.4.4", "senderCompId": sender,
            "targetCompId": target, "heartbeatInterval": 30, **extra}


async def run_demo(orders: int = 2000, window: int = 100,
                   directory: Path = Path(".fixplus-demo"), *, memory: bool = False) -> DemoSummary:
    """Run the demo; ``memory`` swaps the SQLite stores for in-memory ones."""
    create_private_dir(directory)  # 0700: it holds the demo's stores
    broker_db = directory / "broker.db"
    client_db = directory / "client.db"
    broker_url = "memory://" if memory else f"sqlite:///{broker_db}"
    client_url = "memory://" if memory else f"sqlite:///{client_db}"
    # The broker authenticates the client's Logon: Username(553) and a
    # Password(554) checked against an scrypt hash (docs/security.md).
    password = secrets.token_urlsafe(16)
    broker_cfg = EngineConfig.model_validate({
        "store": broker_url,
        "sessions": [_session("acceptor", "BROKER", "CLIENT", acceptPort=0,
                              acceptHost="127.0.0.1",
                              authentication={"username": "client",
                                              "passwordHash": hash_password(password)})],
    })
    broker_app = BrokerApp()
    broker = Engine(broker_cfg, broker_app)
    await broker.start()
    port = next(iter(broker.acceptors.values())).bound_port
    client_cfg = EngineConfig.model_validate({
        "store": client_url,
        "sessions": [_session("initiator", "CLIENT", "BROKER",
                              connect=[{"host": "127.0.0.1", "port": port}],
                              username="client", password=password)],
    })
    client_app = ClientApp()
    client = Engine(client_cfg, client_app)
    started = time.perf_counter()
    try:
        await client.start()
        await asyncio.wait_for(client_app.logged_on.wait(), 10)
        logon = time.perf_counter() - started
        session = client.driver("FIX.4.4:CLIENT->BROKER")
        begin = time.perf_counter()
        sent = 0
        while client_app.reports < orders:
            while sent < orders and sent - client_app.reports < window:
                sent += 1
                order = Message.new("FIX.4.4", "D", [
                    (11, b"C%d" % sent), (21, b"1"), (55, b"SYM"), (54, b"1"),
                    (60, format_utc_timestamp(time.time_ns())), (38, b"100"), (40, b"2"),
                    (44, b"10.5"),
                ])
                session.send_nowait(order)
            client_app.changed.clear()
            await asyncio.wait_for(client_app.changed.wait(), 30)
        elapsed = time.perf_counter() - begin
        broker_session = broker.driver("FIX.4.4:BROKER->CLIENT").session
        return DemoSummary(
            orders=sent, reports=client_app.reports, seconds=elapsed, logon_seconds=logon,
            client_seq=(session.session.next_sender, session.session.next_target),
            broker_seq=(broker_session.next_sender, broker_session.next_target),
            stores=(client_url, broker_url),
        )
    finally:
        await client.stop(timeout=5)
        await broker.stop(timeout=5)
