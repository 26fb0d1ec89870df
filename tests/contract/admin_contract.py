"""Administration contract (``engine/store/admin.py``) every backend passes:
listing sessions, querying messages, pruning, export and import.  Mixed
into :class:`tests.contract.store_contract.StoreContract`."""

from __future__ import annotations

import time

import pytest
from pyfixmsg_plus.engine.store.admin import MessageQuery, SessionExport, StoredMessage, admin_of
from pyfixmsg_plus.engine.store.base import MessageStore, SessionKey, StoreState
from pyfixmsg_plus.engine.store.errors import PermanentStoreError

A = SessionKey("FIX.4.4:ADMIN->A")
B = SessionKey("FIX.4.4:ADMIN->B")


def wire(seq: int, msg_type: str = "D") -> bytes:
    return f"8=FIX.4.4\x019=10\x0135={msg_type}\x0134={seq}\x01".encode() + b"10=000\x01"


class AdminContract:
    async def test_sessions_lists_state_and_counts(self, backend: MessageStore) -> None:
        admin = admin_of(backend)
        a = await backend.open(A)
        await backend.open(B)
        await a.save_outbound([(1, wire(1)), (2, wire(2, "8"))])
        await a.set_next_target(5)
        infos = {i.key: i for i in await admin.sessions()}
        assert infos[A].state.next_sender_seq == 3
        assert infos[A].state.next_target_seq == 5
        assert infos[A].messages == 2
        assert infos[B].messages == 0
        assert abs(infos[A].updated_ns - time.time_ns()) < 120 * 10**9

    async def test_query_filters(self, backend: MessageStore) -> None:
        admin = admin_of(backend)
        a = await backend.open(A)
        t0 = time.time_ns()
        await a.save_outbound([(1, wire(1, "A")), (2, wire(2, "D")), (3, wire(3, "D")),
                               (4, wire(4, "8"))])
        everything = await admin.query(A, MessageQuery())
        assert [m.seq for m in everything] == [1, 2, 3, 4]
        assert [m.msg_type for m in everything] == ["A", "D", "D", "8"]
        assert everything[1].data == wire(2, "D")
        assert all(abs(m.sent_time_ns - t0) < 120 * 10**9 for m in everything)
        assert [m.seq for m in await admin.query(A, MessageQuery(begin=2, end=3))] == [2, 3]
        got = await admin.query(A, MessageQuery(msg_types=frozenset({"D", "8"}), limit=2))
        assert [m.seq for m in got] == [2, 3]
        stamp = everything[0].sent_time_ns
        assert await admin.query(A, MessageQuery(until_ns=stamp)) == []
        assert len(await admin.query(A, MessageQuery(since_ns=stamp))) == 4
        assert await admin.query(B, MessageQuery()) == []

    async def test_prune_old_messages_and_idle_sessions(self, backend: MessageStore) -> None:
        admin = admin_of(backend)
        a = await backend.open(A)
        b = await backend.open(B)
        await a.save_outbound([(1, wire(1)), (2, wire(2))])
        await b.save_outbound([(1, wire(1))])
        cutoff = time.time_ns() + 10**9  # everything so far is "old"
        result = await admin.prune(messages_before_ns=cutoff)
        assert result.messages == 3 and result.sessions == 0
        assert await a.get_range(1, 0) == []
        assert (await a.load()).next_sender_seq == 3  # sequence numbers are kept
        await a.save_outbound([(3, wire(3))])
        assert [seq for seq, _ in await a.get_range(1, 0)] == [3]
        result = await admin.prune(sessions_idle_before_ns=time.time_ns() + 10**9, keep=[A])
        assert result.sessions == 1
        assert {i.key for i in await admin.sessions()} == {A}

    async def test_export_import_round_trip(self, backend: MessageStore) -> None:
        admin = admin_of(backend)
        assert await admin.export_session(A) is None
        data = SessionExport(B, StoreState(6, 9, 1_700_000_000_000_000_000), [
            StoredMessage(2, 1_700_000_000_000_000_000, "D", wire(2)),
            StoredMessage(5, 1_700_000_001_000_000_000, "8", wire(5, "8")),
        ])
        await admin.import_session(data)
        s = await backend.open(B)
        assert await s.load() == data.state
        assert await s.get_range(1, 0) == [(2, wire(2)), (5, wire(5, "8"))]
        out = await admin.export_session(B)
        assert out is not None and out.state == data.state
        assert [(m.seq, m.sent_time_ns // 10**6, m.msg_type, m.data) for m in out.messages] == [
            (m.seq, m.sent_time_ns // 10**6, m.msg_type, m.data) for m in data.messages]
        with pytest.raises(PermanentStoreError):
            await admin.import_session(data)  # B has state now
        await admin.import_session(SessionExport(B, StoreState(1, 1, 5), []), replace=True)
        assert await s.load() == StoreState(1, 1, 5)
        assert await s.get_range(1, 0) == []
