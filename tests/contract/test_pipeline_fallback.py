"""``base.submit_batch`` for a store without a native one: built on
``save_batch``, with the same ordering and chaining among its batches."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from pyfixmsg_plus.engine.errors import PermanentError
from pyfixmsg_plus.engine.store.base import SessionKey, SessionStore, StoreState, submit_batch
from pyfixmsg_plus.engine.store.errors import StoreError, StoreSequenceError
from pyfixmsg_plus.engine.store.memory import MemoryStore


class _Awaited:
    """A session store with only the awaited calls, each taking a loop turn."""

    def __init__(self, inner: SessionStore) -> None:
        self._inner = inner
        self.calls: list[tuple[int, ...]] = []

    @property
    def key(self) -> SessionKey:
        return self._inner.key

    async def load(self) -> StoreState:
        return await self._inner.load()

    async def save_outbound(self, messages: Sequence[tuple[int, bytes]]) -> None:
        await asyncio.sleep(0)
        self.calls.append(tuple(seq for seq, _ in messages))
        await self._inner.save_outbound(messages)

    async def set_next_sender(self, seq: int) -> None:
        await self._inner.set_next_sender(seq)

    async def set_next_target(self, seq: int) -> None:
        await asyncio.sleep(0)
        await self._inner.set_next_target(seq)

    async def get_range(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        return await self._inner.get_range(begin, end)

    async def reset(self, creation_time_ns: int) -> None:
        await self._inner.reset(creation_time_ns)

    async def close(self) -> None:
        await self._inner.close()


async def _store() -> _Awaited:
    return _Awaited(await MemoryStore().open(SessionKey("FIX.4.4:A->B")))


async def test_batches_complete_in_order_and_are_stored() -> None:
    s = await _store()
    order: list[int] = []
    dones = []
    for i in range(6):
        done = asyncio.ensure_future(submit_batch(s, [(2 * i + 1, b"x"), (2 * i + 2, b"y")],
                                                  i + 5))
        done.add_done_callback(lambda _f, i=i: order.append(i))
        dones.append(done)
    await asyncio.gather(*dones)
    assert order == list(range(6))
    assert s.calls == [(2 * i + 1, 2 * i + 2) for i in range(6)]
    state = await s.load()
    assert (state.next_sender_seq, state.next_target_seq) == (13, 10)


async def test_a_failed_batch_fails_the_later_ones_while_pending() -> None:
    s = await _store()
    bad = submit_batch(s, [(3, b"gap")], None)
    later = submit_batch(s, [(1, b"fine alone")], 4)
    with pytest.raises(StoreSequenceError):
        await bad
    with pytest.raises(StoreError) as info:
        await later
    assert isinstance(info.value, PermanentError)
    state = await s.load()
    assert (state.next_sender_seq, state.next_target_seq) == (1, 1)
    await submit_batch(s, [(1, b"new chain")], 2)  # nothing pending: a new chain
    assert (await s.load()).next_sender_seq == 2


async def test_a_malformed_batch_raises_at_once() -> None:
    s = await _store()
    with pytest.raises(StoreError):
        submit_batch(s, [(1, b"a"), (1, b"again")], None)
