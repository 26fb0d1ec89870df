"""An initiator engine in its own process, for the SIGKILL tests.

    python -m tests.integration.child_engine STORE PORT PREFIX COUNT [--stop] [--burst]

Logs on as CLIENT to BROKER on 127.0.0.1:PORT with the SQLite store STORE,
sends COUNT NewOrderSingles with ClOrdID ``PREFIX-<n>`` and writes one line
to stdout per event, flushed at once so that a SIGKILL loses nothing that was
printed:

* ``READY <next sender> <next target>`` when logged on;
* ``SENT <ClOrdID> <MsgSeqNum>`` once ``send()`` returned (the order is durable);
* ``ER <ClOrdID> <PossDup Y/N>`` for each ExecutionReport delivered;
* ``FINAL <next sender> <next target>`` after a graceful stop (``--stop``:
  once every order was answered, stop the engine, which logs out).

``--burst`` sends without pausing between orders (the broker falls behind,
so a kill finds messages in flight both ways).
"""

from __future__ import annotations

import asyncio
import logging
import sys

from pyfixmsg_plus.engine.application import Application, SessionHandle
from pyfixmsg_plus.engine.codec import Message
from pyfixmsg_plus.engine.config import EngineConfig
from pyfixmsg_plus.engine.runtime import Engine

SESSION = "FIX.4.4:CLIENT->BROKER"


class _Backoff:
    def next_delay(self) -> float:
        return 0.02

    def reset(self) -> None:
        return None


def say(*words: object) -> None:
    sys.stdout.write(" ".join(str(w) for w in words) + "\n")
    sys.stdout.flush()


class ChildApp(Application):
    def __init__(self) -> None:
        self.reports: set[str] = set()

    async def from_app(self, msg: Message, session: SessionHandle) -> None:
        if msg.msg_type == b"8":
            cl_ord_id = msg.get_str(11) or ""
            self.reports.add(cl_ord_id)
            say("ER", cl_ord_id, "Y" if msg.get(43) == b"Y" else "N")


async def main(store: str, port: int, prefix: str, count: int, stop: bool,
               burst: bool) -> None:
    config = EngineConfig.model_validate({
        "store": f"sqlite:///{store}",
        "sessions": [{
            "role": "initiator", "beginString": "FIX.4.4", "senderCompId": "CLIENT",
            "targetCompId": "BROKER", "connect": [{"host": "127.0.0.1", "port": port}],
            "heartbeatInterval": 1, "logonTimeout": 2.0, "logoutTimeout": 1.0,
        }],
    })
    app = ChildApp()
    engine = Engine(config, app, backoff=lambda _s: _Backoff())
    await engine.start()
    await engine.wait_logged_on(SESSION, 10)
    driver = engine.driver(SESSION)
    say("READY", driver.session.next_sender, driver.session.next_target)
    ids = [f"{prefix}-{i}" for i in range(count)]
    for cl_ord_id in ids:
        order = Message.new("FIX.4.4", "D", [
            (11, cl_ord_id), (55, "EUR/USD"), (54, "1"), (60, "20260101-00:00:00.000"),
            (38, "100"), (40, "1"),
        ])
        seq = await driver.send(order)
        say("SENT", cl_ord_id, seq)
        await asyncio.sleep(0 if burst else 0.002)
    if stop:
        async with asyncio.timeout(10):
            while not app.reports.issuperset(ids):
                await asyncio.sleep(0.01)
        await engine.stop(2.0)
        say("FINAL", driver.session.next_sender, driver.session.next_target)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    args = sys.argv[1:]
    asyncio.run(main(args[0], int(args[1]), args[2], int(args[3]), "--stop" in args,
                     "--burst" in args))
