"""An order-sending engine process for the crash test (``test_crash_flow.py``).

    python -m tests.integration.crash_sender STORE_URL PORT COUNT

Logs on as CLIENT to BROKER on 127.0.0.1:PORT with the message store at
STORE_URL and sends NewOrderSingles ``o0`` … ``o{COUNT-1}``, at most 100 without an
ExecutionReport.  Like a real
application it resumes from its durable state: the last order in its own
store (an order persisted but never written reaches the broker by resend).
Prints ``READY <first index>`` when logged on, ``DONE`` once every order was
sent, and on SIGTERM stops gracefully (Logout) and prints ``FINAL <next
sender> <next target>``.
"""

from __future__ import annotations

import asyncio
import signal
import sys

from pyfixmsg_plus.engine.application import Application, SessionHandle
from pyfixmsg_plus.engine.codec import Message, decode
from pyfixmsg_plus.engine.config import EngineConfig
from pyfixmsg_plus.engine.runtime import Engine
from pyfixmsg_plus.engine.store.admin import MessageQuery, admin_of
from pyfixmsg_plus.engine.store.base import SessionKey

SESSION = "FIX.4.4:CLIENT->BROKER"


class _Backoff:
    def next_delay(self) -> float:
        return 0.05

    def reset(self) -> None:
        return None


def say(*words: object) -> None:
    sys.stdout.write(" ".join(str(w) for w in words) + "\n")
    sys.stdout.flush()


class Reports(Application):
    """Counts ExecutionReports: the sender keeps at most WINDOW orders open."""

    def __init__(self) -> None:
        self.count = 0
        self.first = 1 << 62  # only reports for orders of this run count
        self.changed = asyncio.Event()

    async def from_app(self, msg: Message, session: SessionHandle) -> None:
        if msg.msg_type == b"8" and int((msg.get_str(11) or "o-1")[1:]) >= self.first:
            self.count += 1
            self.changed.set()


WINDOW = 100


async def resume_index(engine: Engine) -> int:
    """One past the last order in our own store."""
    assert engine.store is not None
    admin = admin_of(engine.store)
    key = SessionKey(SESSION)
    state = await (await engine.store.open(key)).load()
    begin = max(1, state.next_sender_seq - 2000)
    orders = await admin.query(key, MessageQuery(begin=begin, msg_types=frozenset({"D"})))
    if not orders:
        return 0
    cl = decode(orders[-1].data).get_str(11) or "o-1"
    return int(cl[1:]) + 1


async def main(url: str, port: int, count: int) -> None:
    config = EngineConfig.model_validate({
        "store": url,
        "sessions": [{
            "role": "initiator", "beginString": "FIX.4.4", "senderCompId": "CLIENT",
            "targetCompId": "BROKER", "connect": [{"host": "127.0.0.1", "port": port}],
            "heartbeatInterval": 5, "logonTimeout": 5.0, "logoutTimeout": 2.0,
        }],
        "storeFailure": {"mode": "wait", "waitTimeout": 60},
    })
    app = Reports()
    engine = Engine(config, app, backoff=lambda _s: _Backoff())
    await engine.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    first = app.first = await resume_index(engine)
    await engine.wait_logged_on(SESSION, 30)
    driver = engine.driver(SESSION)
    say("READY", first)
    window = asyncio.Semaphore(50)

    async def one(i: int) -> None:
        try:
            await driver.send(Message.new("FIX.4.4", "D", [
                (11, f"o{i}"), (55, "EUR/USD"), (54, "1"), (60, "20260101-00:00:00.000"),
                (38, "100"), (40, "1"),
            ]))
        finally:
            window.release()

    tasks = []
    for n, i in enumerate(range(first, count)):
        while n - app.count >= WINDOW:  # at most WINDOW orders without a report
            app.changed.clear()
            await app.changed.wait()
        await window.acquire()
        while not driver.logged_on:  # a reconnect: wait for the next logon
            await asyncio.sleep(0.01)
        tasks.append(asyncio.ensure_future(one(i)))
    await asyncio.gather(*tasks)
    say("DONE")
    await stop.wait()
    await engine.stop()
    say("FINAL", driver.session.next_sender, driver.session.next_target)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
