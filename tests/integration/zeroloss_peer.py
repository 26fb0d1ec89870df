"""One side of the zero-loss crash test (``zeroloss.py``), in its own process.

    python -m tests.integration.zeroloss_peer acceptor STORE_URL PORT DIR SLOW_MS
    python -m tests.integration.zeroloss_peer initiator STORE_URL PORT DIR ORDERS

Both applications keep their own record, one line per event, each written
and fsynced before the callback goes on (so a SIGKILL loses nothing that was
recorded).  The test counts from these files, never from the engine's store.

The acceptor (BROKER, ``DIR/acceptor.rec``) is the idempotent handler of
docs/application-api.md: for every NewOrderSingle, after ``SLOW_MS``
milliseconds of work, it records ``D <ClOrdID> <PossDup Y/N> <new|known>``;
it answers with an ExecutionReport unless its record says one was already
sent (``A <ClOrdID>``, written once ``send()`` returned); a repeated answer
(an order seen before but not known to be answered) carries PossResend(97)=Y.

The initiator (CLIENT, ``DIR/initiator.rec``) reserves order numbers in
blocks (``I <end>``: numbers below may have been used) so that no ClOrdID is
ever used twice, records ``S <ClOrdID>`` once ``send()`` returned and
``E <ClOrdID> <PossDup Y/N> <PossResend Y/N>`` for each ExecutionReport.
It keeps at most ``WINDOW`` orders of its run unanswered, prints ``DONE``
once every order was sent, and stops gracefully on SIGTERM.

Both print ``READY`` once started.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from pyfixmsg_plus.engine.application import Application, SessionHandle
from pyfixmsg_plus.engine.codec import Message
from pyfixmsg_plus.engine.config import EngineConfig
from pyfixmsg_plus.engine.runtime import Engine

BEGIN = "FIX.4.4"
WINDOW = 100
BLOCK = 20


class _Backoff:
    def next_delay(self) -> float:
        return 0.05

    def reset(self) -> None:
        return None


def say(*words: object) -> None:
    sys.stdout.write(" ".join(str(w) for w in words) + "\n")
    sys.stdout.flush()


class Record:
    """An append-only file of lines, each fsynced before ``write`` returns."""

    def __init__(self, path: Path) -> None:
        self.lines: list[list[str]] = []
        if path.exists():
            data = path.read_text()
            complete = data[: data.rfind("\n") + 1]  # a torn last line was never fsynced
            self.lines = [line.split() for line in complete.splitlines() if line]
            if len(complete) != len(data):
                with path.open("r+") as f:
                    f.truncate(len(complete))
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, *words: str) -> None:
        os.write(self.fd, (" ".join(words) + "\n").encode())
        os.fsync(self.fd)


def yn(flag: bool) -> str:
    return "Y" if flag else "N"


class Broker(Application):
    def __init__(self, record: Record, slow: float) -> None:
        self.record = record
        self.slow = slow
        self.seen = {line[1] for line in record.lines if line[0] == "D"}
        self.answered = {line[1] for line in record.lines if line[0] == "A"}

    async def from_app(self, msg: Message, session: SessionHandle) -> None:
        if msg.msg_type != b"D":
            return
        await asyncio.sleep(self.slow)  # the application's own work
        cl_ord_id = msg.get_str(11) or ""
        known = cl_ord_id in self.seen
        self.record.write("D", cl_ord_id, yn(msg.get(43) == b"Y"), "known" if known else "new")
        self.seen.add(cl_ord_id)
        if cl_ord_id in self.answered:
            return  # its ExecutionReport is durable: it reaches the initiator
        report = Message.new(BEGIN, "8", [
            (37, "O-" + cl_ord_id), (11, cl_ord_id), (17, "E-" + cl_ord_id), (150, "0"),
            (39, "0"), (55, "EUR/USD"), (54, "1"), (151, "100"), (14, "0"), (6, "0"),
        ])
        if known:
            report.set(97, b"Y")  # PossResend: it may have been sent before
        await session.send(report)
        self.record.write("A", cl_ord_id)
        self.answered.add(cl_ord_id)


class Client(Application):
    def __init__(self, record: Record) -> None:
        self.record = record
        self.answered = {line[1] for line in record.lines if line[0] == "E"}
        self.changed = asyncio.Event()

    async def from_app(self, msg: Message, session: SessionHandle) -> None:
        if msg.msg_type != b"8":
            return
        cl_ord_id = msg.get_str(11) or ""
        self.record.write("E", cl_ord_id, yn(msg.get(43) == b"Y"), yn(msg.get(97) == b"Y"))
        self.answered.add(cl_ord_id)
        self.changed.set()


def config(role: str, url: str, port: int) -> EngineConfig:
    session: dict[str, object] = {
        "role": role, "beginString": BEGIN, "heartbeatInterval": 5, "logonTimeout": 5.0,
        "logoutTimeout": 2.0,
    }
    # The initiator authenticates with a password, as a deployment would.
    if role == "acceptor":
        session.update(senderCompId="BROKER", targetCompId="CLIENT", acceptPort=port,
                       acceptHost="127.0.0.1",
                       authentication={"username": "client", "password": "zero-loss"})
    else:
        session.update(senderCompId="CLIENT", targetCompId="BROKER",
                       connect=[{"host": "127.0.0.1", "port": port}],
                       username="client", password="zero-loss")
    return EngineConfig.model_validate({
        "store": url, "sessions": [session],
        "storeFailure": {"mode": "wait", "waitTimeout": 60}, "shutdownTimeout": 5,
    })


async def send_orders(engine: Engine, app: Client, record: Record, count: int) -> None:
    session_id = f"{BEGIN}:CLIENT->BROKER"
    reserved = max((int(line[1]) for line in record.lines if line[0] == "I"), default=0)
    await engine.wait_logged_on(session_id, 60)
    driver = engine.driver(session_id)
    concurrency = asyncio.Semaphore(50)
    mine: set[str] = set()

    async def one(cl_ord_id: str, order: Message) -> None:
        try:
            await driver.send(order)
        except Exception as exc:  # not sent: never counted, never reused
            logging.getLogger("zeroloss").warning("%s not sent: %s", cl_ord_id, exc)
            return
        finally:
            concurrency.release()
        record.write("S", cl_ord_id)

    tasks: list[asyncio.Future[None]] = []
    limit = reserved
    for i in range(reserved, count):
        while len(mine - app.answered) >= WINDOW:
            app.changed.clear()
            await app.changed.wait()
        await concurrency.acquire()
        while not driver.logged_on:  # between connections: wait for the next logon
            await asyncio.sleep(0.01)
        if i >= limit:
            limit = i + BLOCK
            record.write("I", str(limit))
        cl_ord_id = f"o{i}"
        mine.add(cl_ord_id)
        tasks.append(asyncio.ensure_future(one(cl_ord_id, Message.new(BEGIN, "D", [
            (11, cl_ord_id), (55, "EUR/USD"), (54, "1"), (60, "20260101-00:00:00.000"),
            (38, "100"), (40, "1"),
        ]))))
    await asyncio.gather(*tasks)
    say("DONE")


async def main(role: str, url: str, port: int, folder: Path, number: int) -> None:
    record = Record(folder / f"{role}.rec")
    app: Application
    if role == "acceptor":
        app = Broker(record, number / 1000)
    else:
        app = client = Client(record)
    engine = Engine(config(role, url, port), app, backoff=lambda _s: _Backoff())
    await engine.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    say("READY")
    sender = None
    if role == "initiator":
        sender = asyncio.ensure_future(send_orders(engine, client, record, number))
    await stop.wait()
    if sender is not None and not sender.done():
        sender.cancel()
    await engine.stop()
    say("STOPPED")


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]),
                     int(sys.argv[5])))
