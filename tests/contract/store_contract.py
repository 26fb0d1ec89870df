"""The contract every message store backend passes (QuickFIX/J's
``AbstractMessageStoreTest`` pattern).

A backend's test module only supplies a factory::

    class TestSqliteStore(StoreContract):
        @pytest.fixture
        def factory(self, tmp_path: Path) -> StoreFactory:
            url = f"sqlite:///{tmp_path / 'store.db'}"
            return StoreFactory(open=lambda: open_store(url), durable=True, url=url)

``StoreFactory.open`` must open the *same* storage every time it is called
(a fresh, empty one per test), so that close/reopen tests see the old state
when the backend is durable.  With ``url`` set, the suite also runs
subprocesses against it: a writer killed with SIGKILL (crash safety) and,
with ``multi_process``, two writers sharing the storage at once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from pyfixmsg_plus.engine.errors import PermanentError, RetryableError
from pyfixmsg_plus.engine.store.base import MessageStore, SessionKey, SessionStore, save_batch
from pyfixmsg_plus.engine.store.errors import StoreClosedError, StoreError, StoreSequenceError

from tests.contract._store_writer import payload
from tests.contract.admin_contract import AdminContract
from tests.contract.pipeline_contract import PipelineContract

WRITER = Path(__file__).with_name("_store_writer.py")
KEY = SessionKey("FIX.4.4:SENDER->TARGET")
OTHER = SessionKey("FIX.4.4:SENDER->OTHER")


@dataclasses.dataclass(frozen=True)
class StoreFactory:
    open: Callable[[], Awaitable[MessageStore]]
    durable: bool
    url: str | None = None
    multi_process: bool = False


def msg(seq: int, extra: bytes = b"") -> bytes:
    return f"8=FIX.4.4\x019=10\x0135=D\x0134={seq}\x01".encode() + extra + b"10=000\x01"


def msgs(first: int, last: int) -> list[tuple[int, bytes]]:
    return [(s, msg(s)) for s in range(first, last + 1)]


async def _run_writer(
    url: str, prefix: str, sessions: int, count: int, kill_after: float | None,
    mode: str = "awaited",
) -> dict[str, int]:
    """Run the writer subprocess; return the last acknowledged seq per key."""
    # no PYTHONPATH: the repo root would let ./operator shadow the stdlib module
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(WRITER),
        url,
        prefix,
        str(sessions),
        str(count),
        mode,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    acked: dict[str, int] = {}
    ready = await asyncio.wait_for(proc.stdout.readline(), 20)
    assert ready == b"ready\n", (ready, await proc.stderr.read())
    if kill_after is not None:
        first = await asyncio.wait_for(proc.stdout.readline(), 20)
        assert first, await proc.stderr.read()
        key, seq = first.decode().split()
        acked[key] = int(seq)
        await asyncio.sleep(kill_after)
        proc.send_signal(signal.SIGKILL)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    if kill_after is None:
        assert proc.returncode == 0, err.decode()
    complete = out[: out.rfind(b"\n") + 1]  # a line cut by the kill is not an ack
    for line in complete.decode().splitlines():
        key, seq = line.split()
        acked[key] = max(acked.get(key, 0), int(seq))
    return acked


class StoreContract(AdminContract, PipelineContract):
    """Shared tests (and the administration contract); a subclass named
    ``Test...`` provides ``factory``."""

    @pytest.fixture
    def factory(self) -> StoreFactory:
        raise NotImplementedError("a backend test supplies the factory fixture")

    @pytest.fixture
    async def backend(self, factory: StoreFactory) -> AsyncIterator[MessageStore]:
        store = await factory.open()
        yield store
        await store.close()

    @pytest.fixture
    async def session(self, backend: MessageStore) -> SessionStore:
        return await backend.open(KEY)

    # --- a new session -----------------------------------------------------

    async def test_new_session_starts_at_one_one_with_creation_time(
        self, backend: MessageStore
    ) -> None:
        before = time.time_ns()
        s = await backend.open(KEY)
        after = time.time_ns()
        state = await s.load()
        assert (state.next_sender_seq, state.next_target_seq) == (1, 1)
        # the store may run elsewhere (a database server): allow clock skew
        assert before - 60 * 10**9 <= state.creation_time_ns <= after + 60 * 10**9
        assert s.key == KEY
        assert await s.get_range(1, 0) == []

    async def test_load_is_stable(self, session: SessionStore) -> None:
        assert await session.load() == await session.load()

    # --- save_outbound -----------------------------------------------------

    async def test_save_outbound_stores_and_advances_sender(self, session: SessionStore) -> None:
        await session.save_outbound(msgs(1, 3))
        await session.save_outbound([(4, msg(4))])
        state = await session.load()
        assert state.next_sender_seq == 5
        assert state.next_target_seq == 1
        assert await session.get_range(1, 0) == msgs(1, 4)

    async def test_save_batch_stores_messages_and_target_together(
        self, session: SessionStore
    ) -> None:
        await save_batch(session, msgs(1, 3), 7)
        await save_batch(session, [], 9)
        await save_batch(session, [(4, msg(4))], None)
        state = await session.load()
        assert (state.next_sender_seq, state.next_target_seq) == (5, 9)
        assert await session.get_range(1, 0) == msgs(1, 4)

    async def test_bad_save_batch_writes_nothing(self, session: SessionStore) -> None:
        await save_batch(session, msgs(1, 2), 3)
        with pytest.raises(StoreSequenceError):
            await save_batch(session, [(5, b"gap")], 8)
        state = await session.load()
        assert (state.next_sender_seq, state.next_target_seq) == (3, 3)
        assert await session.get_range(1, 0) == msgs(1, 2)

    async def test_empty_save_is_a_no_op(self, session: SessionStore) -> None:
        await session.save_outbound([])
        assert (await session.load()).next_sender_seq == 1

    @pytest.mark.parametrize(
        "batch",
        [
            [(2, b"gap")],  # skips 1
            [(0, b"zero")],
            [(1, b"a"), (3, b"c")],  # not consecutive
            [(1, b"a"), (1, b"a")],  # duplicate
            [(1, b"a"), (2, b"b"), (4, b"d")],
        ],
        ids=["gap", "zero", "hole", "duplicate", "late-hole"],
    )
    async def test_bad_batch_is_rejected_and_writes_nothing(
        self, session: SessionStore, batch: list[tuple[int, bytes]]
    ) -> None:
        with pytest.raises(StoreSequenceError):
            await session.save_outbound(batch)
        assert (await session.load()).next_sender_seq == 1
        assert await session.get_range(1, 0) == []

    async def test_overlap_with_saved_messages_is_rejected(self, session: SessionStore) -> None:
        await session.save_outbound(msgs(1, 3))
        for batch in ([(3, b"again")], [(1, b"reuse"), (2, b"x")], [(5, b"skip")]):
            with pytest.raises(StoreSequenceError):
                await session.save_outbound(batch)
        assert (await session.load()).next_sender_seq == 4
        assert await session.get_range(1, 0) == msgs(1, 3)

    @pytest.mark.parametrize(
        "batch",
        [[(1, "text")], [(True, b"x")], [("1", b"x")], [(1,)], [1]],
        ids=["str-data", "bool-seq", "str-seq", "short-tuple", "not-a-tuple"],
    )
    async def test_malformed_batch_is_a_store_error(
        self, session: SessionStore, batch: object
    ) -> None:
        with pytest.raises(StoreError):
            await session.save_outbound(batch)  # type: ignore[arg-type]
        assert (await session.load()).next_sender_seq == 1

    async def test_sequence_error_is_permanent(self, session: SessionStore) -> None:
        with pytest.raises(StoreSequenceError) as info:
            await session.save_outbound([(7, b"x")])
        assert isinstance(info.value, PermanentError)
        assert not isinstance(info.value, RetryableError)

    async def test_bytearray_is_copied(self, session: SessionStore) -> None:
        buf = bytearray(b"original")
        await session.save_outbound([(1, buf)])  # type: ignore[list-item]
        buf[:] = b"changed!"
        assert await session.get_range(1, 1) == [(1, b"original")]

    # --- get_range ---------------------------------------------------------

    async def test_get_range_inclusive_ascending_with_gaps(self, session: SessionStore) -> None:
        await session.save_outbound(msgs(1, 3))
        await session.set_next_sender(6)  # 4 and 5 are never stored
        await session.save_outbound(msgs(6, 8))
        assert await session.get_range(1, 0) == msgs(1, 3) + msgs(6, 8)
        assert await session.get_range(2, 6) == msgs(2, 3) + msgs(6, 6)
        assert await session.get_range(4, 5) == []
        assert await session.get_range(7, 7) == msgs(7, 7)
        assert await session.get_range(7, 0) == msgs(7, 8)
        assert await session.get_range(8, 100) == msgs(8, 8)
        assert await session.get_range(9, 0) == []
        assert await session.get_range(5, 2) == []

    # --- set_next_* and reset ----------------------------------------------

    async def test_set_next_sender_and_target(self, session: SessionStore) -> None:
        await session.set_next_sender(10)
        await session.set_next_target(20)
        state = await session.load()
        assert (state.next_sender_seq, state.next_target_seq) == (10, 20)
        with pytest.raises(StoreSequenceError):
            await session.save_outbound([(1, b"old")])
        await session.save_outbound(msgs(10, 11))
        assert (await session.load()).next_sender_seq == 12

    async def test_set_next_rejects_non_positive(self, session: SessionStore) -> None:
        for bad in (0, -1):
            with pytest.raises(StoreError):
                await session.set_next_sender(bad)
            with pytest.raises(StoreError):
                await session.set_next_target(bad)
        state = await session.load()
        assert (state.next_sender_seq, state.next_target_seq) == (1, 1)

    async def test_rewinding_sender_forgets_messages_from_there(
        self, session: SessionStore
    ) -> None:
        await session.save_outbound(msgs(1, 5))
        await session.set_next_sender(3)
        assert await session.get_range(1, 0) == msgs(1, 2)
        await session.save_outbound([(3, b"new 3")])
        assert await session.get_range(3, 0) == [(3, b"new 3")]

    async def test_reset(self, session: SessionStore) -> None:
        await session.save_outbound(msgs(1, 5))
        await session.set_next_target(9)
        await session.reset(creation_time_ns=1_700_000_000_123_456_789)
        state = await session.load()
        assert state.next_sender_seq == 1
        assert state.next_target_seq == 1
        assert state.creation_time_ns == 1_700_000_000_123_456_789
        assert await session.get_range(1, 0) == []
        await session.save_outbound(msgs(1, 1))
        assert await session.get_range(1, 0) == msgs(1, 1)

    # --- isolation, ordering, concurrency ---------------------------------

    async def test_sessions_are_isolated(self, backend: MessageStore) -> None:
        a = await backend.open(KEY)
        b = await backend.open(OTHER)
        await a.save_outbound(msgs(1, 3))
        await b.set_next_target(7)
        await a.reset(creation_time_ns=42)
        await b.save_outbound([(1, b"b1")])
        assert await a.get_range(1, 0) == []
        assert await b.get_range(1, 0) == [(1, b"b1")]
        sa, sb = await a.load(), await b.load()
        assert (sa.next_sender_seq, sa.next_target_seq, sa.creation_time_ns) == (1, 1, 42)
        assert (sb.next_sender_seq, sb.next_target_seq) == (2, 7)
        assert sb.creation_time_ns != 42

    async def test_calls_take_effect_in_call_order(self, session: SessionStore) -> None:
        # started without awaiting each other: the store must keep their order
        await asyncio.gather(
            session.save_outbound(msgs(1, 2)),
            session.set_next_target(5),
            session.save_outbound(msgs(3, 3)),
            session.save_outbound(msgs(4, 6)),
        )
        state = await session.load()
        assert (state.next_sender_seq, state.next_target_seq) == (7, 5)
        assert await session.get_range(1, 0) == msgs(1, 6)

    async def test_concurrent_saves_from_many_tasks(self, backend: MessageStore) -> None:
        keys = [SessionKey(f"S{i}") for i in range(10)]
        sessions = [await backend.open(k) for k in keys]
        counters = dict.fromkeys(keys, 1)

        async def sender(s: SessionStore, batches: int) -> None:
            for _ in range(batches):
                first = counters[s.key]  # claim seqs with no await in between
                counters[s.key] += 2
                await s.save_outbound([(first, msg(first)), (first + 1, msg(first + 1))])

        await asyncio.gather(*(sender(s, 10) for s in sessions for _ in range(5)))
        for s in sessions:
            assert (await s.load()).next_sender_seq == 101
            assert await s.get_range(1, 0) == msgs(1, 100)

    async def test_racing_saves_of_one_seq_exactly_one_wins(self, session: SessionStore) -> None:
        results = await asyncio.gather(
            *(session.save_outbound([(1, f"candidate {i}".encode())]) for i in range(20)),
            return_exceptions=True,
        )
        winners = [i for i, r in enumerate(results) if r is None]
        assert len(winners) == 1
        assert all(isinstance(r, StoreSequenceError) for r in results if r is not None)
        assert await session.get_range(1, 0) == [(1, f"candidate {winners[0]}".encode())]
        assert (await session.load()).next_sender_seq == 2

    # --- payloads ----------------------------------------------------------

    async def test_binary_and_large_messages_round_trip(self, session: SessionStore) -> None:
        every_byte = bytes(range(256)) * 4
        rng = random.Random(1234)
        large = bytes(rng.getrandbits(8) for _ in range(1 << 20)) + b"\x00\x01" * 1000
        batch = [(1, every_byte), (2, b"\x00"), (3, large), (4, b"\x018=FIX.4.4\x01\x00\x00")]
        await session.save_outbound(batch)
        assert await session.get_range(1, 0) == batch
        assert await session.get_range(3, 3) == [(3, large)]

    # --- close -------------------------------------------------------------

    async def test_close_twice_is_harmless(self, factory: StoreFactory) -> None:
        store = await factory.open()
        s = await store.open(KEY)
        await s.close()
        await s.close()
        await store.close()
        await store.close()

    async def test_closed_session_store_raises(self, backend: MessageStore) -> None:
        s = await backend.open(KEY)
        await s.close()
        with pytest.raises(StoreClosedError):
            await s.load()
        with pytest.raises(StoreClosedError):
            await s.save_outbound(msgs(1, 1))
        again = await backend.open(KEY)  # the backend itself is still open
        assert (await again.load()).next_sender_seq == 1

    async def test_closed_backend_raises(self, factory: StoreFactory) -> None:
        store = await factory.open()
        s = await store.open(KEY)
        await store.close()
        with pytest.raises(StoreClosedError):
            await store.open(KEY)
        with pytest.raises(StoreClosedError):
            await s.load()
        with pytest.raises(StoreClosedError):
            await s.save_outbound(msgs(1, 1))
        with pytest.raises(StoreClosedError):
            await s.get_range(1, 0)

    async def test_close_waits_for_pending_writes(self, factory: StoreFactory) -> None:
        store = await factory.open()
        s = await store.open(KEY)
        pending = asyncio.ensure_future(s.save_outbound(msgs(1, 50)))
        await asyncio.sleep(0)
        await store.close()
        await pending
        if factory.durable:
            store = await factory.open()
            assert (await (await store.open(KEY)).load()).next_sender_seq == 51
            await store.close()

    # --- durability ----------------------------------------------------------

    async def test_state_survives_reopen(self, factory: StoreFactory) -> None:
        if not factory.durable:
            pytest.skip("backend is not durable")
        store = await factory.open()
        a = await store.open(KEY)
        b = await store.open(OTHER)
        await a.save_outbound(msgs(1, 4))
        await a.set_next_target(17)
        await b.reset(creation_time_ns=123)
        await b.save_outbound([(1, b"\x00\x01binary")])
        created = (await a.load()).creation_time_ns
        await store.close()

        store = await factory.open()
        a = await store.open(KEY)
        b = await store.open(OTHER)
        assert await a.load() == type(await a.load())(5, 17, created)
        assert await a.get_range(1, 0) == msgs(1, 4)
        state_b = await b.load()
        assert (state_b.next_sender_seq, state_b.creation_time_ns) == (2, 123)
        assert await b.get_range(1, 0) == [(1, b"\x00\x01binary")]
        await a.save_outbound(msgs(5, 5))  # continues where it stopped
        await store.close()

    async def test_crash_keeps_every_acknowledged_message(self, factory: StoreFactory) -> None:
        """SIGKILL a writer at a random point, five times over: after reopening,
        next_sender_seq == last stored seq + 1, every seq below it has its
        message, and every save the writer saw return is there."""
        await self._crash_writer(factory, "awaited")

    async def test_crash_keeps_every_acknowledged_pipelined_batch(
        self, factory: StoreFactory
    ) -> None:
        """The same with batches pipelined by ``submit_batch``: durable once
        their awaitable completed, in submission order."""
        await self._crash_writer(factory, "pipelined")

    async def _crash_writer(self, factory: StoreFactory, mode: str) -> None:
        if not factory.durable or factory.url is None:
            pytest.skip("needs a durable backend reachable by URL")
        rng = random.Random()
        seed = rng.randrange(1 << 30)
        rng.seed(seed)
        acked_total: dict[str, int] = {}
        prefix = "W" if mode == "awaited" else "P"
        for run in range(5):
            acked = await _run_writer(factory.url, prefix, 3, 10**9, rng.uniform(0.02, 0.25),
                                      mode)
            for key, seq in acked.items():
                acked_total[key] = max(acked_total.get(key, 0), seq)
            for i in range(3):
                key = f"{prefix}{i}"
                # A server may still finish a write the killed process had
                # already sent (MongoDB/FerretDB do not cancel it): read, from
                # a store opened afresh each time, until it has settled (two
                # seconds at most), then check.
                for _ in range(20):
                    store = await factory.open()
                    s = await store.open(SessionKey(key))
                    nxt = (await s.load()).next_sender_seq
                    stored = await s.get_range(1, 0)
                    if [seq for seq, _ in stored] == list(range(1, nxt)):
                        break
                    await store.close()
                    await asyncio.sleep(0.1)
                context = (f"seed {seed}, run {run}, session {key}: next {nxt}, stored "
                           f"{[seq for seq, _ in stored][:3]}...{[seq for seq, _ in stored][-3:]} "
                           f"({len(stored)})")
                assert [seq for seq, _ in stored] == list(range(1, nxt)), context
                assert all(data == payload(key, seq) for seq, data in stored), context
                assert nxt - 1 >= acked_total.get(key, 0), context
                await store.close()
        assert acked_total, "the writer never acknowledged a save"

    async def test_two_processes_share_the_store(self, factory: StoreFactory) -> None:
        if not factory.multi_process or factory.url is None:
            pytest.skip("backend is not shared between processes")
        count = 150
        await asyncio.gather(
            _run_writer(factory.url, "P", 2, count, None),
            _run_writer(factory.url, "Q", 2, count, None),
        )
        store = await factory.open()
        for key in ("P0", "P1", "Q0", "Q1"):
            s = await store.open(SessionKey(key))
            assert (await s.load()).next_sender_seq == count + 1
            stored = await s.get_range(1, 0)
            assert stored == [(seq, payload(key, seq)) for seq in range(1, count + 1)]
        await store.close()
