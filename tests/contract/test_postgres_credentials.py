"""PostgresStore.swap_credentials: a new pool swapped in under running
writes (Vault's dynamic credentials use it; tests/integration/
test_vault_dbcreds.py proves the whole rotation), and credentials that
cannot log in leave the store as it was."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from pyfixmsg_plus.engine.store.base import SessionKey
from pyfixmsg_plus.engine.store.errors import StoreError
from pyfixmsg_plus.engine.store.postgres import PostgresStore
from pyfixmsg_plus.engine.store.url import open_store

from tests.contract.store_servers import drop_pg_schema, pg_dsn

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_url() -> Iterator[str]:
    dsn = pg_dsn()
    schema = f"t_{uuid.uuid4().hex[:16]}"
    yield f"{dsn}?schema={schema}"
    drop_pg_schema(dsn, schema)


async def test_swap_under_running_writes_loses_nothing(pg_url: str) -> None:
    parts = urlsplit(pg_url)
    assert parts.username and parts.password
    store = await open_store(pg_url)
    assert isinstance(store, PostgresStore)
    try:
        session = await store.open(SessionKey("SWAP"))
        first_pool = store.pool
        written = 0

        async def writer() -> None:
            nonlocal written
            for seq in range(1, 301):
                await session.save_outbound([(seq, b"8=FIX.4.4|%d" % seq)])
                written = seq

        task = asyncio.create_task(writer())
        for _ in range(3):
            await asyncio.sleep(0.02)
            await store.swap_credentials(parts.username, parts.password)
        await task
        assert store.pool is not first_pool and written == 300
        assert [seq for seq, _ in await session.get_range(1, 300)] == list(range(1, 301))
        with pytest.raises(StoreError):
            await store.swap_credentials(parts.username, "not-the-password")
        pool = store.pool
        await session.save_outbound([(301, b"after")])
        assert store.pool is pool and (await session.load()).next_sender_seq == 302
    finally:
        await store.close()
