"""The store write path alone: batches of messages + next target, awaited or
pipelined, against one store, the way the engine's flush uses it.

    .venv/bin/python tests/benchmarks/store_batches.py [--store sqlite,postgresql]
        [--sessions 1] [--batch 100] [--seconds 3] [--depth 1,2,4] [--work-us 20]

Each session runs a task that builds a batch of ``--batch`` ExecutionReport-
sized messages (about 200 bytes) with the next target seq and saves it:
depth 1 awaits ``save_batch`` before it builds the next (today's driver);
depth D keeps up to D batches in flight with ``base.submit_batch`` (a
pipelined driver).  ``--work-us`` spins the event loop that many
microseconds per message between batches, standing in for the engine's own
work (the store's thread then competes for the interpreter lock as it does
in the engine).  One JSON line per (store, depth): messages/s, batches/s,
commits (transactions) when the backend counts them.  Stores: ``sqlite``
(synchronous=FULL), ``sqlite-normal``, ``postgresql`` (FIXPLUS_PG_DSN or the
test-environment file; a schema of its own, dropped after), ``memory``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import env_value
from pyfixmsg_plus.engine.store import base
from pyfixmsg_plus.engine.store.url import open_store


def _message(seq: int) -> bytes:
    body = (f"35=8\x0149=BROKER\x0156=CLIENT\x0134={seq}\x0152=20260101-00:00:00.000\x01"
            "37=O1\x0111=C1\x0117=E1\x01150=0\x0139=0\x0155=EUR/USD\x0154=1\x0138=1000000\x01"
            "44=1.23456\x01151=1000000\x0114=0\x016=0\x01").encode()
    return b"8=FIX.4.4\x019=" + str(len(body)).encode() + b"\x01" + body + b"10=000\x01"


def _spin(us: float) -> None:
    end = time.perf_counter() + us / 1e6
    while time.perf_counter() < end:
        pass


async def _session(store: base.SessionStore, depth: int, batch: int, work_us: float,
                   deadline: float, counts: list[int]) -> None:
    seq = (await store.load()).next_sender_seq
    target = 1
    flight: list[Awaitable[None]] = []
    while time.perf_counter() < deadline:
        _spin(work_us * batch)
        msgs = [(s, _message(s)) for s in range(seq, seq + batch)]
        seq += batch
        target += batch
        if depth == 1:
            await base.save_batch(store, msgs, target)
        else:
            flight.append(base.submit_batch(store, msgs, target))
            if len(flight) >= depth:
                await flight.pop(0)
            else:
                await asyncio.sleep(0)
        counts[0] += batch
        counts[1] += 1
    for f in flight:
        await f


async def run(url: str, sessions: int, depth: int, batch: int, work_us: float,
              seconds: float) -> dict[str, object]:
    backend = await open_store(url)
    try:
        handles = [await backend.open(base.SessionKey(f"BENCH{i}")) for i in range(sessions)]
        before = getattr(backend, "transactions", None)
        counts = [0, 0]
        start = time.perf_counter()
        await asyncio.gather(*(_session(h, depth, batch, work_us, start + seconds, counts)
                               for h in handles))
        elapsed = time.perf_counter() - start
        after = getattr(backend, "transactions", None)
    finally:
        await backend.close()
    return {"messages_per_s": round(counts[0] / elapsed), "batches_per_s": round(
        counts[1] / elapsed), "commits": None if before is None else after - before,
        "batches": counts[1]}


async def _drop_schema(dsn: str, schema: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", default="sqlite,postgresql")
    ap.add_argument("--sessions", type=int, default=1)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--depth", default="1,2,4")
    ap.add_argument("--work-us", type=float, default=20.0)
    args = ap.parse_args()
    depths = [int(d) for d in args.depth.split(",")]
    for name in args.store.split(","):
        for depth in depths:
            with tempfile.TemporaryDirectory() as tmp:
                schema = None
                if name in ("sqlite", "sqlite-normal"):
                    url = f"sqlite:///{Path(tmp) / 'bench.db'}"
                    if name == "sqlite-normal":
                        url += "?synchronous=NORMAL"
                elif name == "postgresql":
                    dsn = env_value("FIXPLUS_PG_DSN")
                    if not dsn:
                        raise SystemExit("FIXPLUS_PG_DSN is not set (run tests/env/setup.sh)")
                    schema = f"bench_{uuid.uuid4().hex[:12]}"
                    url = dsn + ("&" if "?" in dsn else "?") + f"schema={schema}"
                else:
                    url = "memory://"
                try:
                    out = asyncio.run(run(url, args.sessions, depth, args.batch, args.work_us,
                                          args.seconds))
                finally:
                    if schema is not None:
                        asyncio.run(_drop_schema(dsn, schema))
            print(json.dumps({"store": name, "depth": depth, "sessions": args.sessions,
                              "batch": args.batch, "work_us": args.work_us, **out,
                              "pid": os.getpid()}), flush=True)


if __name__ == "__main__":
    main()
