"""SIGKILL at random points of a 10,000-order flow, against PostgreSQL and
SQLite.

A sender engine in its own process (``crash_sender.py``) streams orders to a
broker engine in this process that records what it receives.  The sender is
killed with SIGKILL 20 times at random points and restarted each time from
its store; the last run finishes the flow and logs out.  Then: every order
reached the broker, none twice without PossDupFlag, the broker saw strictly
increasing sequence numbers, and both sides' sequence numbers agree.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import random
import signal
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.contract.store_servers import drop_pg_schema, pg_dsn
from tests.integration.conftest import (
    Engines,
    RecordingApp,
    acceptor,
    describe,
    port_of,
    wait_until,
)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BROKER = "FIX.4.4:BROKER->CLIENT"
ORDERS = 10_000
KILLS = 20


class Sender:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[list[str]] = []
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            self.lines.append(raw.decode().split())

    def saw(self, word: str) -> list[str] | None:
        return next((line for line in self.lines if line and line[0] == word), None)

    async def end(self, sig: int, timeout: float = 30) -> int:
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(sig)
        async with asyncio.timeout(timeout):
            code = await self.proc.wait()
            await self._reader
        return code


async def spawn(url: str, port: int, log: Path) -> Sender:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    with log.open("ab") as f:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.integration.crash_sender", url, str(port), str(ORDERS),
            cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=f, env=env)
    return Sender(proc)


async def crash_flow(engines: Engines, sender_url: str, broker_url: str, tmp_path: Path) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    broker = RecordingApp("broker", broker=True)
    acc = await engines.start(broker_url, broker, [acceptor(heartbeatInterval=5)],
                              storeFailure={"mode": "wait", "waitTimeout": 60})
    port = port_of(acc)
    server = acc.driver(BROKER)
    log = tmp_path / "sender.log"
    started = time.monotonic()
    # kill points: random order counts spread over the flow, plus a random delay
    points = sorted(rng.sample(range(200, ORDERS - 200), KILLS))
    resumed = []
    for n, point in enumerate(points):
        s = await spawn(sender_url, port, log)
        await wait_until(lambda s=s: s.saw("READY") is not None or s.proc.returncode is not None,
                         60, f"sender run {n} to log on (seed {seed})")
        ready = s.saw("READY")
        assert ready is not None, log.read_text()[-3000:]
        resumed.append(int(ready[1]))
        await wait_until(lambda p=point: len(broker.received) >= p, 60,
                         f"the broker to reach {point} orders (seed {seed})",
                         lambda: describe(acc))
        await asyncio.sleep(rng.uniform(0, 0.05))
        assert await s.end(signal.SIGKILL) == -signal.SIGKILL
        await wait_until(lambda: not server.connected, 10, "the broker to see the kill")
    s = await spawn(sender_url, port, log)
    await wait_until(lambda: s.saw("DONE") is not None, 120, f"the last run (seed {seed})",
                     lambda: describe(acc))
    await wait_until(lambda: len(set(broker.ids("D"))) >= ORDERS, 60, "every order",
                     lambda: describe(acc))
    assert await s.end(signal.SIGTERM) == 0, log.read_text()[-3000:]
    final = s.saw("FINAL")
    assert final is not None
    await wait_until(lambda: not server.connected, 10, "the logout")
    elapsed = time.monotonic() - started

    received = broker.ids("D")
    missing = sorted({f"o{i}" for i in range(ORDERS)} - set(received), key=lambda c: int(c[1:]))
    assert not missing, f"seed {seed}: lost orders {missing[:10]}"
    unflagged = collections.Counter(broker.ids("D", poss_dup=False))
    twice = sorted(k for k, v in unflagged.items() if v > 1)
    assert not twice, f"seed {seed}: unflagged duplicates {twice[:10]}"
    assert len(received) == len(set(received)), f"seed {seed}: an order delivered twice"
    seqs = [r.seq for r in broker.received]
    assert seqs == sorted(set(seqs)), f"seed {seed}: broker saw a sequence number twice"
    b = server.session
    assert (b.next_target, b.next_sender) == (int(final[1]), int(final[2])), seed
    poss_dup = len(broker.ids("D", poss_dup=True))
    print(f"{KILLS} kills (seed {seed}) in {elapsed:.1f} s; {len(received)} orders, "
          f"{poss_dup} delivered by resend (PossDup); resume points {resumed}")


async def test_sigkill_flow_postgres(engines: Engines, tmp_path: Path) -> None:
    dsn = pg_dsn()
    schemas = [f"t_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    try:
        await crash_flow(engines, f"{dsn}?schema={schemas[0]}", f"{dsn}?schema={schemas[1]}",
                         tmp_path)
    finally:
        await engines.stop_all()
        for s in schemas:
            drop_pg_schema(dsn, s)


async def test_sigkill_flow_sqlite(engines: Engines, tmp_path: Path) -> None:
    await crash_flow(engines, f"sqlite:///{tmp_path / 'sender.db'}",
                     f"sqlite:///{tmp_path / 'broker.db'}", tmp_path)
