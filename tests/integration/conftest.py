"""Helpers for integration tests: real engines on 127.0.0.1, ephemeral ports.

Nothing here mocks the transport: engines talk over real sockets, possibly
through :class:`~tests.integration.faultproxy.FaultProxy`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from pyfixmsg_plus.engine.application import Application, SessionHandle
from pyfixmsg_plus.engine.codec import Message
from pyfixmsg_plus.engine.config import EngineConfig, SessionSettings
from pyfixmsg_plus.engine.runtime import Engine

from tests.integration.faultproxy import FaultProxy

BEGIN = "FIX.4.4"


class FastBackoff:
    """A fixed, short reconnect delay (a busy loop on a refused port would
    starve the event loop with NoWait).  Counts the reconnects."""

    def __init__(self, delay: float = 0.01) -> None:
        self.delay = delay
        self.calls = 0
        self.resets = 0

    def next_delay(self) -> float:
        self.calls += 1
        return self.delay

    def reset(self) -> None:
        self.resets += 1


def acceptor(sender: str = "BROKER", target: str = "CLIENT", **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "role": "acceptor", "beginString": BEGIN, "senderCompId": sender,
        "targetCompId": target, "acceptPort": 0, "acceptHost": "127.0.0.1",
        "heartbeatInterval": 30, "logonTimeout": 2.0, "logoutTimeout": 1.0,
        "authentication": {"mode": "none"},
    }
    data.update(extra)
    return data


def initiator(port: int | list[int], sender: str = "CLIENT", target: str = "BROKER",
              **extra: Any) -> dict[str, Any]:
    ports = port if isinstance(port, list) else [port]
    data: dict[str, Any] = {
        "role": "initiator", "beginString": BEGIN, "senderCompId": sender,
        "targetCompId": target, "connect": [{"host": "127.0.0.1", "port": p} for p in ports],
        "heartbeatInterval": 30, "logonTimeout": 2.0, "logoutTimeout": 1.0,
    }
    data.update(extra)
    return data


@dataclasses.dataclass
class Received:
    msg_type: str
    cl_ord_id: str
    seq: int
    poss_dup: bool


class RecordingApp(Application):
    """Records everything; as a broker, answers each NewOrderSingle with an
    ExecutionReport carrying the same ClOrdID."""

    def __init__(self, name: str, *, broker: bool = False) -> None:
        self.name = name
        self.broker = broker
        self.received: list[Received] = []
        self.logons = 0
        self.logouts = 0
        self.admin_in: list[Message] = []
        self.admin_out: list[Message] = []
        self.fail_on: Callable[[Message], bool] | None = None
        self.changed = asyncio.Event()

    def _poke(self) -> None:
        self.changed.set()

    async def on_logon(self, session: SessionHandle) -> None:
        self.logons += 1
        self._poke()

    async def on_logout(self, session: SessionHandle) -> None:
        self.logouts += 1
        self._poke()

    async def from_admin(self, msg: Message, session: SessionHandle) -> None:
        self.admin_in.append(msg)
        self._poke()

    async def to_admin(self, msg: Message, session: SessionHandle) -> None:
        self.admin_out.append(msg)

    async def from_app(self, msg: Message, session: SessionHandle) -> None:
        if self.fail_on is not None and self.fail_on(msg):
            raise RuntimeError(f"{self.name}: application bug on purpose")
        self.received.append(Received(msg.get_str(35) or "", msg.get_str(11) or "",
                                      msg.get_int(34) or 0, msg.get(43) == b"Y"))
        self._poke()
        if self.broker and msg.msg_type == b"D":
            await session.send(execution_report(msg.get_str(11) or ""))

    def ids(self, msg_type: str, *, poss_dup: bool | None = None) -> list[str]:
        return [r.cl_ord_id for r in self.received if r.msg_type == msg_type
                and (poss_dup is None or r.poss_dup == poss_dup)]


def new_order(cl_ord_id: str) -> Message:
    return Message.new(BEGIN, "D", [
        (11, cl_ord_id), (55, "EUR/USD"), (54, "1"), (60, "20260101-00:00:00.000"),
        (38, "100"), (40, "1"),
    ])


def execution_report(cl_ord_id: str) -> Message:
    return Message.new(BEGIN, "8", [
        (37, "O-" + cl_ord_id), (11, cl_ord_id), (17, "E-" + cl_ord_id), (150, "0"),
        (39, "0"), (55, "EUR/USD"), (54, "1"), (151, "100"), (14, "0"), (6, "0"),
    ])


async def wait_until(predicate: Callable[[], bool], timeout: float = 10.0,
                     what: str = "condition", describe: Callable[[], str] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            detail = f" ({describe()})" if describe is not None else ""
            raise AssertionError(f"timed out after {timeout} s waiting for {what}{detail}")
        await asyncio.sleep(0.005)


class Engines:
    """Starts engines and stops whatever is left at the end of a test."""

    def __init__(self) -> None:
        self.running: list[Engine] = []

    async def start(self, store: str, app: Application | Callable[[SessionSettings], Application],
                    sessions: list[dict[str, Any]], *, backoff: FastBackoff | None = None,
                    **config: Any) -> Engine:
        cfg = EngineConfig.model_validate({"store": store, "sessions": sessions, **config})
        b = backoff or FastBackoff()
        engine = Engine(cfg, app, backoff=lambda _s: b)
        self.running.append(engine)
        await engine.start()
        return engine

    async def stop(self, engine: Engine, timeout: float | None = None) -> None:
        if engine in self.running:
            self.running.remove(engine)
        await engine.stop(timeout)

    async def stop_all(self) -> None:
        for engine in reversed(self.running):
            try:
                await engine.stop(0.5)
            except Exception:
                logging.getLogger("tests").exception("engine stop failed")
        self.running.clear()


def describe(*engines: Engine) -> str:
    """Every session's state and sequence numbers, for timeout messages."""
    parts = []
    for engine in engines:
        for sid, d in engine.drivers.items():
            s = d.session
            parts.append(f"{sid}: {s.state.value} sender={s.next_sender} "
                         f"target={s.next_target} resend={s.resend_range} "
                         f"queued={sorted(s.queue)} connected={d.connected}")
    return "; ".join(parts)


def port_of(engine: Engine) -> int:
    (acc,) = engine.acceptors.values()
    return acc.bound_port


@pytest.fixture
async def engines() -> AsyncIterator[Engines]:
    e = Engines()
    try:
        yield e
    finally:
        await e.stop_all()


@pytest.fixture
async def proxies() -> AsyncIterator[list[FaultProxy]]:
    started: list[FaultProxy] = []
    try:
        yield started
    finally:
        for p in started:
            await p.close()


async def start_proxy(proxies: list[FaultProxy], port: int) -> FaultProxy:
    proxy = await FaultProxy("127.0.0.1", port).start()
    proxies.append(proxy)
    return proxy
