"""Subprocess used by the store contract suite: saves messages until killed.

Usage: ``python _store_writer.py URL PREFIX SESSIONS COUNT``.  Runs one task
per session key ``{PREFIX}0``..``{PREFIX}{SESSIONS-1}``, each saving batches of 1..5 messages
until it has saved COUNT messages (or the process is killed).  After each
``save_outbound`` returns it prints ``<key> <last seq>``: that seq was
acknowledged, so it must survive a crash.
"""

from __future__ import annotations

import asyncio
import random
import sys

from pyfixmsg_plus.engine.store.base import SessionKey, SessionStore
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


async def main(url: str, prefix: str, sessions: int, count: int) -> None:
    store = await open_store(url)
    rng = random.Random()
    handles = [await store.open(SessionKey(f"{prefix}{i}")) for i in range(sessions)]
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    await asyncio.gather(*(_run_session(h, count, rng) for h in handles))
    await store.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
