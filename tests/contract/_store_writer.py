"""Subprocess used by the store contract suite: saves messages until killed.

Usage: ``python _store_writer.py URL PREFIX SESSIONS COUNT [pipelined]``.  Runs one task
per session key ``{PREFIX}0``..``{PREFIX}{SESSIONS-1}``, each saving batches of 1..5 messages
until it has saved COUNT messages (or the process is killed).  After each
``save_outbound`` returns it prints ``<key> <last seq>``: that seq was
acknowledged, so it must survive a crash.  ``pipelined``: each session keeps
up to four batches in flight with ``submit_batch`` (a next target seq with
every other one) and prints each as its awaitable completes.
"""

from __future__ import annotations

import asyncio
import random
import sys

from pyfixmsg_plus.engine.store.base import SessionKey, SessionStore, submit_batch
from pyfixmsg_plus.engine.store.url import open_store


def payload(key: str, seq: int) -> bytes:
    """Deterministic wire bytes for (key, seq), with SOH and NUL inside."""
    body = f"35=D\x0149={key}\x0134={seq}\x0158=".encode() + bytes([0, 1, 255]) * (seq % 7)
    return b"8=FIX.4.4\x019=" + str(len(body)).encode() + b"\x01" + body + b"\x0110=000\x01"


async def _run_session(session: SessionStore, count: int, rng: random.Random) -> None:
    key = session.key.value
    state = await session.load()
    seq = state.next_sender_seq
    saved = 0
    while saved < count:
        n = min(rng.randint(1, 5), count - saved)
        await session.save_outbound([(s, payload(key, s)) for s in range(seq, seq + n)])
        seq += n
        saved += n
        sys.stdout.write(f"{key} {seq - 1}\n")
        sys.stdout.flush()


async def _run_pipelined(session: SessionStore, count: int, rng: random.Random) -> None:
    key = session.key.value
    seq = (await session.load()).next_sender_seq
    saved = 0
    flight: list[tuple[object, int]] = []
    while saved < count or flight:
        while saved < count and len(flight) < 4:
            n = min(rng.randint(1, 5), count - saved)
            batch = [(s, payload(key, s)) for s in range(seq, seq + n)]
            done = submit_batch(session, batch, seq if n % 2 else None)
            seq += n
            saved += n
            flight.append((done, seq - 1))
        done, last = flight.pop(0)
        await done  # type: ignore[misc]
        sys.stdout.write(f"{key} {last}\n")
        sys.stdout.flush()


async def main(url: str, prefix: str, sessions: int, count: int, mode: str) -> None:
    store = await open_store(url)
    rng = random.Random()
    handles = [await store.open(SessionKey(f"{prefix}{i}")) for i in range(sessions)]
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    run = _run_pipelined if mode == "pipelined" else _run_session
    await asyncio.gather(*(run(h, count, rng) for h in handles))
    await store.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]),
                     sys.argv[5] if len(sys.argv) > 5 else "awaited"))
