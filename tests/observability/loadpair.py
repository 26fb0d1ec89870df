"""Two engines exchanging orders, with faults, for the dashboard tests.

    python -m tests.observability.loadpair DIRECTORY SECONDS [--go]

A broker engine (acceptor, SQLite store) and a client engine (initiators,
SQLite store) run in this process, both with their Prometheus endpoint on a
free port.  The client has three sessions:

* ``CLIENT1`` goes through a fault-injecting proxy, which cuts the
  connection (a reconnect, and a ResendRequest for what was in flight),
  stalls it shortly (a TestRequest answered late: a round trip observed) and
  stalls it for longer than the heartbeat timeout (a heartbeat timeout);
* ``CLIENT2`` is connected directly and only trades;
* ``CLIENT3`` points at a closed port: down during its schedule, trying to
  reconnect (what the session-down alert is about).

Every 25th order is rejected by the broker, and every 50th ExecutionReport
by the client, with a session Reject (a tag with an incorrect value).  Lines on stdout, flushed at once:

* ``METRICS <broker port> <client port>`` once both endpoints listen (with
  ``--go``, the faults start only once a line is read from stdin: the test
  says go once Prometheus scrapes both endpoints);
* ``PHASE <what>`` for each fault injected;
* ``COVERED`` once every kind of event the dashboards show has happened
  (reject, resend request, reconnect, heartbeat timeout, TestRequest round
  trip); the engines keep trading until SECONDS have passed, then stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
import time
from pathlib import Path
from typing import Any

from pyfixmsg_plus.engine.application import Application, IncorrectTagValue, SessionHandle
from pyfixmsg_plus.engine.codec import Message
from pyfixmsg_plus.engine.codec.values import format_utc_timestamp
from pyfixmsg_plus.engine.config import EngineConfig
from pyfixmsg_plus.engine.runtime import Engine
from pyfixmsg_plus.engine.transport.driver import SessionDriver
from pyfixmsg_plus.engine.transport.eventloop import loop_factory

from tests.integration.faultproxy import FaultProxy

HBI = 1  # seconds: TestRequest after 1.2 s of silence, timeout after 2.4 s
REJECT_EVERY = 25


def say(*words: object) -> None:
    sys.stdout.write(" ".join(str(w) for w in words) + "\n")
    sys.stdout.flush()


class Broker(Application):
    def __init__(self) -> None:
        self.orders = 0

    async def from_app(self, msg: Message, session: SessionHandle) -> None:
        if msg.msg_type != b"D":
            return
        self.orders += 1
        if self.orders % REJECT_EVERY == 0:
            raise IncorrectTagValue(44)
        n = b"%d" % self.orders
        qty = msg.get(38) or b"0"
        session.send_nowait(Message.new(msg.begin_string, "8", [
            (37, b"O" + n), (17, b"E" + n), (150, b"0"), (39, b"0"), (54, b"1"),
            (151, qty), (14, b"0"), (6, b"0"), (11, msg.get(11) or b""),
            (55, msg.get(55) or b""), (38, qty),
        ]))


class Client(Application):
    def __init__(self) -> None:
        self.reports = 0

    async def from_app(self, msg: Message, session: SessionHandle) -> None:
        if msg.msg_type == b"8":
            self.reports += 1
            if self.reports % (REJECT_EVERY * 2) == 0:
                raise IncorrectTagValue(14)


def _session(role: str, sender: str, target: str, **extra: Any) -> dict[str, Any]:
    return {"role": role, "beginString": "FIX.4.4", "senderCompId": sender,
            "targetCompId": target, "heartbeatInterval": HBI, "logonTimeout": 2.0,
            "logoutTimeout": 1.0, "reconnect": {"initialDelay": 0.2, "maxDelay": 1.0},
            **extra}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _metrics(store: str) -> dict[str, Any]:
    return {"store": store, "metrics": {"enabled": True, "host": "127.0.0.1", "port": 0}}


async def _trade(driver: SessionDriver, prefix: str, per_second: float,
                 stop: asyncio.Event) -> None:
    """Send NewOrderSingles at about ``per_second`` while logged on."""
    n = 0
    pause = 1.0 / per_second
    while not stop.is_set():
        if driver.logged_on:
            n += 1
            order = Message.new("FIX.4.4", "D", [
                (11, f"{prefix}{n}".encode()), (21, b"1"), (55, b"SYM"), (54, b"1"),
                (60, format_utc_timestamp(time.time_ns())), (38, b"100"), (40, b"2"),
                (44, b"10.5"),
            ])
            with contextlib.suppress(Exception):
                driver.send_nowait(order)
        await asyncio.sleep(pause)


def _covered(client: Engine, broker: Engine) -> list[str]:
    """What has not happened yet."""
    ours = client.driver("FIX.4.4:CLIENT1->BROKER").stats
    theirs = broker.driver("FIX.4.4:BROKER->CLIENT1").stats
    total = {
        "reject": min(sum(ours.rejects_sent.values()), sum(theirs.rejects_sent.values())),
        "resend request": ours.resend_requests_sent + theirs.resend_requests_sent,
        "reconnect": ours.logons - 1,
        "heartbeat timeout": ours.heartbeat_timeouts + theirs.heartbeat_timeouts,
        "TestRequest round trip": min(ours.test_request_rtt.n, theirs.test_request_rtt.n),
    }
    return [name for name, n in total.items() if n <= 0]


async def _wait_logged_on(driver: SessionDriver, timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while not driver.logged_on:
            await asyncio.sleep(0.02)


async def main(directory: Path, seconds: float, go: bool) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + seconds
    broker = Engine(EngineConfig.model_validate({
        **_metrics(f"sqlite:///{directory / 'broker.db'}"),
        "sessions": [_session("acceptor", "BROKER", f"CLIENT{i}", acceptPort=0,
                              acceptHost="127.0.0.1",
                              authentication={"allowedAddresses": ["127.0.0.1"]})
                     for i in (1, 2)],
        # INTRUDER (below) is refused again and again: no blocking of the
        # address, which the other clients share.
        "limits": {"failedLogonLimit": 1_000_000},
    }), Broker())
    await broker.start()
    port = next(iter(broker.acceptors.values())).bound_port
    proxy = await FaultProxy("127.0.0.1", port).start()
    client = Engine(EngineConfig.model_validate({
        **_metrics(f"sqlite:///{directory / 'client.db'}"),
        "sessions": [
            _session("initiator", "CLIENT1", "BROKER",
                     connect=[{"host": "127.0.0.1", "port": proxy.port}]),
            _session("initiator", "CLIENT2", "BROKER",
                     connect=[{"host": "127.0.0.1", "port": port}]),
            _session("initiator", "CLIENT3", "BROKER",
                     connect=[{"host": "127.0.0.1", "port": _closed_port()}]),
            # a session the broker does not have: its Logons are refused
            _session("initiator", "INTRUDER", "BROKER",
                     connect=[{"host": "127.0.0.1", "port": port}],
                     reconnect={"initialDelay": 1.0, "maxDelay": 1.0}),
        ],
    }), Client())
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    try:
        await client.start()
        assert broker.health is not None and client.health is not None
        say("METRICS", broker.health.bound_port, client.health.bound_port)
        one = client.driver("FIX.4.4:CLIENT1->BROKER")
        two = client.driver("FIX.4.4:CLIENT2->BROKER")
        await _wait_logged_on(one, 10)
        await _wait_logged_on(two, 10)
        if go:  # wait until Prometheus scrapes us, so that it sees every fault happen
            await asyncio.to_thread(sys.stdin.readline)
        tasks = [asyncio.create_task(_trade(one, "A", 150, stop)),
                 asyncio.create_task(_trade(two, "B", 80, stop))]
        round_no = 0
        while (todo := _covered(client, broker)) and time.monotonic() < deadline - 5:
            round_no += 1
            await asyncio.sleep(1.5)
            if "resend request" in todo or "reconnect" in todo:
                say("PHASE cut", round_no)
                proxy.cut_after(300, "down")  # mid-message, with orders in flight
                await asyncio.sleep(0.5)
                await _wait_logged_on(one, 10)
                await asyncio.sleep(1.0)
            if "TestRequest round trip" in todo:
                say("PHASE short stall", round_no)
                proxy.stall()
                await asyncio.sleep(HBI * 1.7)
                proxy.resume()
                await asyncio.sleep(1.0)
            if "heartbeat timeout" in todo:
                say("PHASE long stall", round_no)
                proxy.stall()
                await asyncio.sleep(HBI * 3.5)
                proxy.resume()
                await _wait_logged_on(one, 10)
        todo = _covered(client, broker)
        if todo:
            say("MISSING", ",".join(todo).replace(" ", "_"))
        else:
            say("COVERED")
        while time.monotonic() < deadline:
            await asyncio.sleep(0.2)
    finally:
        stop.set()
        for task in tasks:
            await task
        await client.stop(timeout=3)
        await broker.stop(timeout=3)
        await proxy.close()
        say("DONE")


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    # On the busy-polling loop (busyPollUs), so that its panel has data too.
    with asyncio.Runner(loop_factory=loop_factory("asyncio", 200)) as runner:
        runner.run(main(Path(sys.argv[1]), float(sys.argv[2]), "--go" in sys.argv))
