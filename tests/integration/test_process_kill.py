"""A counterparty in a real separate process, killed with SIGKILL mid-flow.

The initiator (``child_engine.py``, SQLite store) streams orders to an
acceptor engine in this process.  It is killed with SIGKILL while orders are
in flight, started again on the same store, and carries on: its sequence
numbers continue from the store, what it had persisted but not written is
resent (PossDupFlag=Y), nothing is delivered twice, and at the end both
sides agree on the sequence numbers.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import signal
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import Engines, RecordingApp, acceptor, port_of, wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SERVER = "FIX.4.4:BROKER->CLIENT"


class Child:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[list[str]] = []
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            self.lines.append(raw.decode().split())

    def events(self, kind: str) -> list[list[str]]:
        return [line[1:] for line in self.lines if line and line[0] == kind]

    async def wait(self, timeout: float = 15.0) -> int:
        async with asyncio.timeout(timeout):
            code = await self.proc.wait()
            await self._reader
        return code

    async def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGKILL)
        await self.wait()


async def spawn(store: Path, port: int, prefix: str, count: int, *flags: str) -> Child:
    log = store.with_name(f"{prefix}.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.integration.child_engine", str(store), str(port), prefix,
        str(count), *flags, cwd=ROOT, stdout=asyncio.subprocess.PIPE,
        stderr=log, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    return Child(proc)


async def test_sigkilled_initiator_restarts_from_its_store(engines: Engines,
                                                           tmp_path: Path) -> None:
    broker = RecordingApp("broker", broker=True)
    acc = await engines.start("memory://", broker, [acceptor(heartbeatInterval=1)])
    port = port_of(acc)
    store = tmp_path / "child.db"
    server = acc.driver(SERVER)

    first = await spawn(store, port, "run1", 100_000, "--burst")
    try:
        await wait_until(lambda: len(first.events("SENT")) >= 300, 15,
                         "the first child's orders")
    finally:
        await first.kill()
    assert first.proc.returncode == -signal.SIGKILL
    await wait_until(lambda: not server.connected, 5, "the broker to see the connection die")
    sent1 = [cl for cl, _ in first.events("SENT")]

    second = await spawn(store, port, "run2", 20, "--stop")
    assert await second.wait() == 0, (tmp_path / "run2.log").read_text()[-3000:]
    (ready,) = second.events("READY")
    (final,) = second.events("FINAL")

    # the restarted process continued from the store: no sequence number reused
    last_seq1 = max(int(seq) for _, seq in first.events("SENT"))
    assert int(ready[0]) > last_seq1
    # every order the first process knew to be durable reached the broker
    delivered = broker.ids("D")
    missing = [cl for cl in sent1 if cl not in delivered]
    assert not missing, f"durable orders never delivered: {missing[:5]}"
    # ... and orders persisted just before the kill (never printed) may come too
    assert all(cl.startswith(("run1-", "run2-")) for cl in delivered)
    assert set(delivered) >= {f"run2-{i}" for i in range(20)}
    twice = {k: n for k, n in collections.Counter(broker.ids("D", poss_dup=False)).items()
             if n > 1}
    assert not twice
    assert len(delivered) == len(set(delivered)), "an order was delivered twice"
    seqs = [r.seq for r in broker.received]
    assert seqs == sorted(set(seqs))
    # both sides agree, after the graceful logout of the second process
    await wait_until(lambda: not server.connected, 5, "the broker to see the logout")
    assert (server.session.next_target, server.session.next_sender) == (
        int(final[0]), int(final[1]))
    reports2 = [cl for cl, _ in second.events("ER")]
    assert sorted(set(reports2) & {f"run2-{i}" for i in range(20)}) == sorted(
        f"run2-{i}" for i in range(20))
    reports1 = {cl for cl, _ in first.events("ER")}
    # at least once: a report the first process had handled but not yet
    # recorded as handled when it died comes again, flagged PossDupFlag=Y
    again = {cl for cl, dup in second.events("ER") if cl in reports1 and dup != "Y"}
    assert not again, f"a report reached both processes unflagged: {sorted(again)[:5]}"
    print(f"first process: {len(sent1)} orders acknowledged durable before SIGKILL, "
          f"{len(broker.ids('D', poss_dup=True))} orders delivered as PossDup resends, "
          f"{len(reports1)} reports to the first process, {len(reports2)} to the second "
          f"({sum(1 for _, d in second.events('ER') if d == 'Y')} PossDup)")
