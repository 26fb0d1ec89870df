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
