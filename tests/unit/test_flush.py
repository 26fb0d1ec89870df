"""The flusher (engine/transport/flush.py): pipelined commits settle in
order, and nothing reaches the socket before the commit that stored it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
from pyfixmsg_plus.engine.config import StoreFailureSettings
from pyfixmsg_plus.engine.session.stats import SessionStats
from pyfixmsg_plus.engine.store.base import SessionKey, StoreState
from pyfixmsg_plus.engine.store.errors import RetryableStoreError
from pyfixmsg_plus.engine.transport.flush import Flusher


class GatedStore:
    """A pipelined store (``submit_batch``, docs/stores.md "Pipelined
    batches"): each batch waits for its own gate (opened by the test, in any
    order), then for the batch before it; ``fail`` makes the next ones fail
    with a retryable error, and a failed batch fails the later ones of the
    chain with the same error class."""

    def __init__(self) -> None:
        self.gates: list[asyncio.Event] = []
        self.saved: list[tuple[int, bytes]] = []
        self.target = 1
        self.fail = False
        self._last: asyncio.Future[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def key(self) -> SessionKey:
        return SessionKey("FIX.4.4:A->B")

    def submit_batch(self, messages: Sequence[tuple[int, bytes]],
                     next_target: int | None) -> asyncio.Future[None]:
        gate = asyncio.Event()
        self.gates.append(gate)
        before, rows = self._last, list(messages)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._last = fut

        async def run() -> None:
            await gate.wait()
            if before is not None:
                try:
                    await asyncio.shield(before)
                except Exception as exc:
                    fut.set_exception(type(exc)(str(exc)))
                    return
            if self.fail:
                fut.set_exception(RetryableStoreError("disk I/O error"))
                return
            self.saved.extend(rows)
            if next_target is not None:
                self.target = next_target
            fut.set_result(None)

        task = asyncio.ensure_future(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return fut

    async def save_outbound(self, messages: Sequence[tuple[int, bytes]]) -> None:
        self.saved.extend(messages)

    async def set_next_target(self, seq: int) -> None:
        self.target = seq

    async def load(self) -> StoreState:
        return StoreState(len(self.saved) + 1, self.target, 0)

    async def get_range(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        return [row for row in self.saved if begin <= row[0] <= end]


def flusher(store: Any, written: list[bytes], released: list[Any],
            aborts: list[str] | None = None) -> Flusher:
    policy = StoreFailureSettings(retry_initial_delay=0.001, retry_max_delay=0.001)
    return Flusher(store, SessionStats(), policy, "test",
                   write=written.extend, release=released.extend,
                   on_durable_target=lambda _: None,
                   on_abort=lambda reason, _: (aborts if aborts is not None else []).append(
                       reason))


def add(fl: Flusher, seq: int) -> None:
    data = b"msg%d" % seq
    fl.open.rows.append((seq, data))
    fl.open.seqs.append(seq)
    fl.open.writes.append(data)
    fl.open.releases.append(("admin", seq))


async def settle_loop() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_commits_are_pipelined_and_settle_in_order() -> None:
    store = GatedStore()
    written: list[bytes] = []
    released: list[Any] = []
    fl = flusher(store, written, released)
    assert fl.depth > 1
    add(fl, 1)
    fl.commit(None)
    add(fl, 2)
    fl.commit(None)
    await settle_loop()
    assert len(store.gates) == 2  # both commits in flight at once
    store.gates[1].set()  # the second answers first
    await settle_loop()
    assert written == [] and released == []  # nothing before the first is durable
    store.gates[0].set()
    await fl.settled()
    assert written == [b"msg1", b"msg2"]
    assert released == [("admin", 1), ("admin", 2)]


async def test_a_waiter_is_answered_once_its_message_is_durable() -> None:
    store = GatedStore()
    fl = flusher(store, [], [])
    waiter = fl.waiter(1)
    add(fl, 1)
    fl.commit(5)
    await settle_loop()
    assert not waiter.done()
    store.gates[0].set()
    assert await waiter == 1
    assert store.target == 5


async def test_an_outage_holds_every_batch_then_stores_what_is_missing() -> None:
    store = GatedStore()
    written: list[bytes] = []
    fl = flusher(store, written, [])
    store.fail = True
    add(fl, 1)
    fl.commit(None)
    await settle_loop()
    store.gates[0].set()  # fails: the outage begins
    await settle_loop()
    assert fl.outage_since is not None
    add(fl, 2)
    fl.commit(3)  # queued behind the outage, not started
    await settle_loop()
    assert len(store.gates) == 1 and written == []
    store.fail = False
    await fl.settled()
    assert written == [b"msg1", b"msg2"]
    assert [seq for seq, _ in store.saved] == [1, 2]
    assert store.target == 3
    assert fl.outage_since is None


@pytest.mark.parametrize("mode", ["fail"])
async def test_mode_fail_gives_up_at_once(mode: str) -> None:
    store = GatedStore()
    aborts: list[str] = []
    fl = flusher(store, [], [], aborts)
    fl.policy = StoreFailureSettings(mode=mode)
    store.fail = True
    waiter = fl.waiter(1)
    add(fl, 1)
    fl.commit(None)
    await settle_loop()
    store.gates[0].set()
    with pytest.raises(Exception, match="message store failure"):
        await waiter
    await settle_loop()
    assert aborts and aborts[0].startswith("store failure")


async def test_a_failed_batch_fails_the_chain_and_the_held_batches_are_stored_again() -> None:
    store = GatedStore()
    written: list[bytes] = []
    fl = flusher(store, written, [])
    waiters = [fl.waiter(1), fl.waiter(2)]
    add(fl, 1)
    fl.commit(None)
    add(fl, 2)
    fl.commit(3)  # queued in the store while the first one runs
    await settle_loop()
    assert len(store.gates) == 2
    store.fail = True
    store.gates[1].set()
    store.gates[0].set()  # the first fails, and the second with it
    await settle_loop()
    assert fl.outage_since is not None and written == []
    store.fail = False
    await fl.settled()
    assert [await w for w in waiters] == [1, 2]
    assert written == [b"msg1", b"msg2"]
    assert [seq for seq, _ in store.saved] == [1, 2]
    assert store.target == 3
