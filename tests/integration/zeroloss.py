"""Zero loss across SIGKILLs, counted from the applications' own records.

Two engine processes (``zeroloss_peer.py``): an initiator that sends
NewOrderSingles and an acceptor whose slow ``from_app`` (a few ms of work,
so received messages queue up behind it) answers each with an
ExecutionReport.  While the orders flow, the acceptor, the initiator or both
are killed with SIGKILL at random points and started again 0.3-0.9 s later
on the same stores.  Once every order was sent and the flow is quiet, both
stop gracefully and :func:`run` counts, from the files the two applications
fsynced (never from the engine's store):

* ``lost``: orders ``send()`` accepted that never reached the acceptor's app;
* ``unanswered``: orders the acceptor's app received whose ExecutionReport
  never reached the initiator's app;
* ``unflagged_repeats``: an order delivered again without PossDupFlag(43)=Y,
  or an ExecutionReport received again without PossDupFlag or PossResend(97).

``tests/benchmarks/crash_kill.py`` runs the full version and prints JSON;
``test_zero_loss.py`` runs a small one per store.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import random
import signal
import socket
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Figures:
    store: str
    orders: int
    kills: int
    seed: int
    sent: int = 0
    delivered: int = 0
    answered: int = 0
    lost: int = 0
    unanswered: int = 0
    unflagged_repeats: int = 0
    redelivered_flagged: int = 0
    repeated_reports: int = 0
    victims: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    examples: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Peer:
    """One running peer process and what it printed."""

    def __init__(self, role: str, url: str, port: int, folder: Path, arg: int) -> None:
        self.role, self.url, self.port, self.folder, self.arg = role, url, port, folder, arg
        self.proc: asyncio.subprocess.Process | None = None
        self.lines: list[str] = []
        self._reader: asyncio.Future[None] | None = None

    async def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        with (self.folder / f"{self.role}.log").open("ab") as err:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tests.integration.zeroloss_peer", self.role, self.url,
                str(self.port), str(self.folder), str(self.arg), cwd=ROOT,
                stdout=asyncio.subprocess.PIPE, stderr=err, env=env)
        self.lines = []
        self._reader = asyncio.ensure_future(self._read(self.proc))
        await wait_for(lambda: "READY" in self.lines or self.exited, 60, f"{self.role} start")
        if not self.exited:
            return
        raise AssertionError(f"{self.role} exited: {self.log_tail()}")

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        async for raw in proc.stdout:
            self.lines.append(raw.decode().strip())

    @property
    def exited(self) -> bool:
        return self.proc is None or self.proc.returncode is not None

    async def end(self, sig: int, timeout: float = 60) -> int:
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(sig)
        async with asyncio.timeout(timeout):
            code = await self.proc.wait()
            if self._reader is not None:
                await self._reader
        return code

    def log_tail(self) -> str:
        return (self.folder / f"{self.role}.log").read_text()[-3000:]


async def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)


def records(path: Path) -> list[list[str]]:
    if not path.exists():
        return []
    data = path.read_text()
    return [line.split() for line in data[: data.rfind("\n") + 1].splitlines() if line]


def progress(path: Path) -> int:
    """The highest order number recorded as sent (numbers only grow)."""
    if not path.exists():
        return 0
    with path.open("rb") as f:
        return max((int(line[3:]) for line in f if line.startswith(b"S o")), default=0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tally(folder: Path, figures: Figures) -> Figures:
    acc = records(folder / "acceptor.rec")
    ini = records(folder / "initiator.rec")
    sent = {r[1] for r in ini if r[0] == "S"}
    delivered = [r for r in acc if r[0] == "D"]
    reports = [r for r in ini if r[0] == "E"]
    got = {r[1] for r in delivered}
    answered = {r[1] for r in reports}
    figures.sent, figures.delivered, figures.answered = len(sent), len(got), len(answered)
    lost = sorted(sent - got)
    unanswered = sorted(got - answered)
    figures.lost, figures.unanswered = len(lost), len(unanswered)
    seen: set[str] = set()
    bad: list[str] = []
    for r in delivered:
        if r[1] in seen:
            figures.redelivered_flagged += r[2] == "Y"
            if r[2] != "Y":
                bad.append(f"D {r[1]}")
        seen.add(r[1])
    seen = set()
    for r in reports:
        if r[1] in seen:
            figures.repeated_reports += 1
            if r[2] != "Y" and r[3] != "Y":
                bad.append(f"E {r[1]}")
        seen.add(r[1])
    figures.unflagged_repeats = len(bad)
    figures.examples = {"lost": lost[:10], "unanswered": unanswered[:10],
                        "unflagged": bad[:10]}
    return figures


@contextlib.contextmanager
def store_urls(kind: str, folder: Path) -> Iterator[tuple[str, str]]:
    """Store URLs for the acceptor and the initiator; dropped afterwards."""
    from tests.contract.store_servers import (
        drop_pg_schema,
        flush_redis_prefix,
        pg_dsn,
        redis_url,
    )

    tag = uuid.uuid4().hex[:10]
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'acceptor.db'}", f"sqlite:///{folder / 'initiator.db'}"
    elif kind == "postgresql":
        dsn = pg_dsn()
        sep = "&" if "?" in dsn else "?"
        schemas = [f"zl_a_{tag}", f"zl_i_{tag}"]
        try:
            yield (f"{dsn}{sep}schema={schemas[0]}", f"{dsn}{sep}schema={schemas[1]}")
        finally:
            for s in schemas:
                drop_pg_schema(dsn, s)
    elif kind == "redis":
        url = redis_url()
        sep = "&" if "?" in url else "?"
        prefixes = [f"zla{tag}", f"zli{tag}"]
        try:
            yield (f"{url}{sep}prefix={prefixes[0]}", f"{url}{sep}prefix={prefixes[1]}")
        finally:
            for p in prefixes:
                flush_redis_prefix(url, p)
    elif kind in ("mysql", "mongodb"):
        from tests.contract.store_servers import (
            drop_mongodb_collections,
            drop_mysql_tables,
            mongodb_url,
            mysql_url,
        )

        base = mysql_url() if kind == "mysql" else mongodb_url()
        option = "table_prefix" if kind == "mysql" else "collection_prefix"
        drop = drop_mysql_tables if kind == "mysql" else drop_mongodb_collections
        sep = "&" if "?" in base else "?"
        prefixes = [f"zla{tag}_", f"zli{tag}_"]
        try:
            yield (f"{base}{sep}{option}={prefixes[0]}", f"{base}{sep}{option}={prefixes[1]}")
        finally:
            for p in prefixes:
                drop(base, p)
    else:
        raise ValueError(f"unknown store {kind!r}")


async def run(kind: str, folder: Path, *, orders: int, kills: int, slow_ms: int = 3,
              seed: int | None = None, settle: float = 90.0) -> Figures:
    """Run the flow with ``kills`` SIGKILL events and count (see the module)."""
    seed = random.randrange(1 << 30) if seed is None else seed
    rng = random.Random(seed)
    figures = Figures(kind, orders, kills, seed)
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    started = time.monotonic()
    with store_urls(kind, folder) as (acc_url, ini_url):
        acc = Peer("acceptor", acc_url, port, folder, slow_ms)
        ini = Peer("initiator", ini_url, port, folder, orders)
        await acc.start()
        await ini.start()
        try:
            lo, hi = max(1, orders // 20), max(2, orders * 9 // 10)
            points = sorted(rng.sample(range(lo, hi), kills))
            sent_path = folder / "initiator.rec"
            victims: collections.Counter[str] = collections.Counter()
            for point in points:
                await wait_for(lambda p=point: progress(sent_path) >= p or "DONE" in ini.lines,
                               180, f"order {point} sent (seed {seed})")
                who = rng.choice(("acceptor", "initiator", "both"))
                victims[who] += 1
                down = [p for p in (acc, ini) if who in (p.role, "both")]
                for p in down:
                    assert await p.end(signal.SIGKILL) == -signal.SIGKILL, p.log_tail()
                await asyncio.sleep(rng.uniform(0.3, 0.9))
                for p in down:
                    await p.start()
            figures.victims = dict(victims)
            await wait_for(lambda: "DONE" in ini.lines, 300, f"every order sent (seed {seed})")
            # quiet: every delivered order answered, every sent one delivered
            deadline = time.monotonic() + settle
            while time.monotonic() < deadline:
                tally(folder, figures)
                if not figures.lost and not figures.unanswered:
                    break
                await asyncio.sleep(0.2)
        finally:
            for p in (ini, acc):
                if not p.exited:
                    await p.end(signal.SIGTERM)
    figures.seconds = round(time.monotonic() - started, 1)
    return tally(folder, figures)
