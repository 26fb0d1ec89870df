"""The store contract against the PostgreSQL backend (a real server; see
``tests/env/10-postgres.sh``).  Each test gets its own schema."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from pyfixmsg_plus.engine.store.url import open_store

from tests.contract.store_contract import KEY, StoreContract, StoreFactory
from tests.contract.store_servers import drop_pg_schema, pg_dsn


@pytest.fixture
def pg_url() -> Iterator[str]:
    dsn = pg_dsn()
    schema = f"t_{uuid.uuid4().hex[:16]}"
    yield f"{dsn}?schema={schema}"
    drop_pg_schema(dsn, schema)


class TestPostgresStore(StoreContract):
    @pytest.fixture
    def factory(self, pg_url: str) -> StoreFactory:
        return StoreFactory(open=lambda: open_store(pg_url), durable=True, url=pg_url,
                            multi_process=True)


async def test_group_commit_batches_concurrent_saves(pg_url: str) -> None:
    import asyncio

    from pyfixmsg_plus.engine.store.base import SessionKey
    from pyfixmsg_plus.engine.store.postgres import PostgresStore

    store = await open_store(pg_url)
    assert isinstance(store, PostgresStore)
    sessions = [await store.open(SessionKey(f"G{i}")) for i in range(50)]
    before = store.transactions
    await asyncio.gather(*(s.save_outbound([(1, b"8=FIX.4.4\x0135=D\x01")]) for s in sessions))
    assert store.transactions - before < 10  # 50 saves, a few commits
    assert (await sessions[7].load()).next_sender_seq == 2
    await store.close()


async def test_newer_schema_is_refused(pg_url: str) -> None:
    from pyfixmsg_plus.engine.store.errors import PermanentStoreError
    from pyfixmsg_plus.engine.store.postgres import PostgresStore

    store = await open_store(pg_url)
    assert isinstance(store, PostgresStore)
    assert store.schema_version == 1
    s = await store.open(KEY)
    await s.save_outbound([(1, b"x")])
    await store.pool.execute(
        f"INSERT INTO {store.schema_sql}.schema_version VALUES (99, 'future', 0)")
    await store.close()
    with pytest.raises(PermanentStoreError, match="newer"):
        await open_store(pg_url)


async def test_flushes_commit_in_one_statement(pg_url: str) -> None:
    from pyfixmsg_plus.engine.store.base import SessionKey, save_batch
    from pyfixmsg_plus.engine.store.postgres import PostgresStore

    store = await open_store(pg_url)
    assert isinstance(store, PostgresStore)
    s = await store.open(SessionKey("F"))
    before = store.fast_commits
    for i in range(5):
        await save_batch(s, [(i + 1, b"8=FIX.4.4\x0135=8\x01")], i + 2)
    assert store.fast_commits - before == 5
    state = await s.load()
    assert (state.next_sender_seq, state.next_target_seq) == (6, 6)
    await store.close()


async def test_a_row_changed_by_another_process_is_not_overwritten(pg_url: str) -> None:
    from pyfixmsg_plus.engine.store.base import SessionKey, save_batch
    from pyfixmsg_plus.engine.store.errors import StoreSequenceError
    from pyfixmsg_plus.engine.store.postgres import PostgresStore

    mine = await open_store(pg_url)
    other = await open_store(pg_url)
    assert isinstance(mine, PostgresStore)
    a = await mine.open(SessionKey("SHARED"))
    await save_batch(a, [(1, b"mine 1")], 2)  # the writer now knows the row
    b = await other.open(SessionKey("SHARED"))
    await b.save_outbound([(2, b"other 2")])  # behind its back
    with pytest.raises(StoreSequenceError):  # checked against the real row
        await save_batch(a, [(2, b"mine 2")], 3)
    await save_batch(a, [(3, b"mine 3")], 4)
    assert await b.get_range(1, 0) == [(1, b"mine 1"), (2, b"other 2"), (3, b"mine 3")]
    assert (await b.load()).next_target_seq == 4
    await mine.close()
    await other.close()


async def test_the_writer_reconnects_after_its_connection_is_killed(pg_url: str) -> None:
    from pyfixmsg_plus.engine.store.base import SessionKey, save_batch
    from pyfixmsg_plus.engine.store.errors import RetryableStoreError
    from pyfixmsg_plus.engine.store.postgres import PostgresStore

    store = await open_store(pg_url)
    assert isinstance(store, PostgresStore)
    s = await store.open(SessionKey("K"))
    await save_batch(s, [(1, b"one")], 2)
    # only this test's own connection: its last statement names this test's schema
    pids = [row[0] for row in await store.pool.fetch(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND query LIKE $1",
        f"WITH u AS (UPDATE {store.schema_sql}.sessions %")]
    assert len(pids) == 1  # the writer's own connection ran the one-statement flush
    for pid in pids:
        await store.pool.execute("SELECT pg_terminate_backend($1)", pid)
    try:
        await save_batch(s, [(2, b"two")], 3)
    except RetryableStoreError:  # the dead connection: nothing written, try again
        state = await s.load()
        assert state.next_sender_seq == 2
        await save_batch(s, [(2, b"two")], 3)
    assert await s.get_range(1, 0) == [(1, b"one"), (2, b"two")]
    await store.close()
