"""The pipelining part of the store contract (``base.submit_batch``): every
backend's test class gets these through ``StoreContract``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

import pytest
from pyfixmsg_plus.engine.errors import PermanentError, RetryableError
from pyfixmsg_plus.engine.store.base import MessageStore, SessionKey, SessionStore, submit_batch
from pyfixmsg_plus.engine.store.errors import StoreError, StoreSequenceError

KEY = SessionKey("FIX.4.4:PIPE->LINE")


def _msg(seq: int) -> bytes:
    return f"8=FIX.4.4\x019=10\x0135=8\x0134={seq}\x01".encode() + b"10=000\x01"


def _msgs(first: int, last: int) -> list[tuple[int, bytes]]:
    return [(s, _msg(s)) for s in range(first, last + 1)]


async def _outcome(done: Awaitable[None]) -> BaseException | None:
    try:
        await done
    except BaseException as e:
        return e
    return None


def _is_done(done: Awaitable[None]) -> bool:
    return isinstance(done, asyncio.Future) and done.done()


class PipelineContract:
    async def test_pipelined_batches_complete_in_submission_order(
        self, backend: MessageStore
    ) -> None:
        s = await backend.open(KEY)
        order: list[int] = []
        dones = []
        stored: list[tuple[int, bytes]] = []
        nxt = 1
        for i in range(12):
            # messages, a target, or both, none of them awaited before the next
            messages = _msgs(nxt, nxt + i % 3 - 1)
            nxt += len(messages)
            stored += messages
            target = i + 10 if i % 2 else None
            done = asyncio.ensure_future(submit_batch(s, messages, target))
            done.add_done_callback(lambda _f, i=i: order.append(i))
            dones.append(done)
        await asyncio.gather(*dones)
        assert order == list(range(12))
        state = await s.load()
        assert (state.next_sender_seq, state.next_target_seq) == (nxt, 21)
        assert await s.get_range(1, 0) == stored

    async def test_pipelined_batches_number_consecutively(self, backend: MessageStore) -> None:
        s = await backend.open(KEY)
        dones = [submit_batch(s, _msgs(3 * i + 1, 3 * i + 3), 2 + i) for i in range(20)]
        for d in dones:
            await d
        state = await s.load()
        assert (state.next_sender_seq, state.next_target_seq) == (61, 21)
        assert await s.get_range(1, 0) == _msgs(1, 60)

    async def test_a_failed_batch_fails_the_later_batches_of_its_chain(
        self, backend: MessageStore
    ) -> None:
        s = await backend.open(KEY)
        await submit_batch(s, _msgs(1, 2), 3)
        first = submit_batch(s, _msgs(3, 4), 4)
        bad = submit_batch(s, [(9, b"a gap")], 5)  # refused: next sender is 5
        answered = _is_done(bad)  # a store that answers at once (memory)
        later = submit_batch(s, _msgs(5, 6), 6)  # valid on its own
        target_only = submit_batch(s, [], 9)
        results = [await _outcome(d) for d in (first, bad, later, target_only)]
        assert results[0] is None
        assert isinstance(results[1], StoreSequenceError)
        state = await s.load()
        if not answered:  # the later batches were chained to it: refused, unwritten
            assert all(isinstance(r, StoreError) for r in results[2:]), results
            assert isinstance(results[2], PermanentError)  # the same class as the cause
            assert (state.next_sender_seq, state.next_target_seq) == (5, 4)
            assert await s.get_range(1, 0) == _msgs(1, 4)
        else:
            assert results[2:] == [None, None]
            assert (state.next_sender_seq, state.next_target_seq) == (7, 9)
        # every batch answered: the next one starts a new chain
        nxt = state.next_sender_seq
        await submit_batch(s, _msgs(nxt, nxt + 1), 11)
        state = await s.load()
        assert (state.next_sender_seq, state.next_target_seq) == (nxt + 2, 11)

    async def test_a_chain_failure_keeps_its_class(self, backend: MessageStore) -> None:
        s = await backend.open(KEY)
        bad = submit_batch(s, [(2, b"gap")], None)
        later = submit_batch(s, [], 3)
        errors = [await _outcome(bad), await _outcome(later)]
        assert isinstance(errors[0], StoreSequenceError)
        if errors[1] is not None:
            assert isinstance(errors[1], PermanentError)
            assert not isinstance(errors[1], RetryableError)

    async def test_other_sessions_are_not_chained(self, backend: MessageStore) -> None:
        a = await backend.open(KEY)
        b = await backend.open(SessionKey("FIX.4.4:PIPE->OTHER"))
        bad = submit_batch(a, [(3, b"gap")], None)
        fine = submit_batch(b, _msgs(1, 2), 2)
        assert isinstance(await _outcome(bad), StoreSequenceError)
        assert await _outcome(fine) is None
        assert await b.get_range(1, 0) == _msgs(1, 2)

    async def test_malformed_batch_raises_at_submission(self, session: SessionStore) -> None:
        with pytest.raises(StoreError):
            submit_batch(session, [(1, b"a"), (3, b"not consecutive")], None)
        with pytest.raises(StoreError):
            submit_batch(session, [], 0)
        assert (await session.load()).next_sender_seq == 1

    async def test_many_sessions_share_commits(self, backend: MessageStore) -> None:
        sessions = [await backend.open(SessionKey(f"PIPE{i}")) for i in range(20)]
        dones = [submit_batch(s, _msgs(1 + 2 * j, 2 + 2 * j), j + 1)
                 for j in range(5) for s in sessions]
        for d in dones:
            await d
        for s in sessions:
            assert (await s.load()).next_sender_seq == 11
            assert await s.get_range(1, 0) == _msgs(1, 10)
