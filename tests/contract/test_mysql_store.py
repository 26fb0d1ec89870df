"""The store contract against the MySQL backend (a real MariaDB server with a
password; see ``tests/env/12-mariadb.sh``).  Each test gets its own table
prefix."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from pyfixmsg_plus.engine.store.base import SessionKey
from pyfixmsg_plus.engine.store.errors import (
    PermanentStoreError,
    RetryableStoreError,
    StoreError,
)
from pyfixmsg_plus.engine.store.url import open_store, parse_store_url

from tests.contract.store_contract import KEY, StoreContract, StoreFactory, msgs
from tests.contract.store_servers import drop_mysql_tables, mysql_url


@pytest.fixture
def my_url() -> Iterator[str]:
    url = mysql_url()
    prefix = f"t{uuid.uuid4().hex[:12]}_"
    yield f"{url}?table_prefix={prefix}"
    drop_mysql_tables(url, prefix)


class TestMySQLStore(StoreContract):
    @pytest.fixture
    def factory(self, my_url: str) -> StoreFactory:
        return StoreFactory(open=lambda: open_store(my_url), durable=True, url=my_url,
                            multi_process=True)


async def test_group_commit_batches_concurrent_saves(my_url: str) -> None:
    from pyfixmsg_plus.engine.store.mysql import MySQLStore

    store = await open_store(my_url)
    assert isinstance(store, MySQLStore)
    sessions = [await store.open(SessionKey(f"G{i}")) for i in range(50)]
    before = store.transactions
    await asyncio.gather(*(s.save_outbound(msgs(1, 1)) for s in sessions))
    assert store.transactions - before < 10  # 50 saves, a few commits
    assert (await sessions[7].load()).next_sender_seq == 2
    await store.close()


async def test_newer_schema_is_refused(my_url: str) -> None:
    from pyfixmsg_plus.engine.store.mysql import MySQLStore

    store = await open_store(my_url)
    assert isinstance(store, MySQLStore)
    assert store.schema_version == 1
    s = await store.open(KEY)
    await s.save_outbound([(1, b"x")])
    async with store.connection() as conn, conn.cursor() as cur:
        await cur.execute(f"INSERT INTO {store.prefix}schema_version VALUES (99, 'future', 0)")
        await conn.commit()
    await store.close()
    with pytest.raises(PermanentStoreError, match="schema version 99 is newer") as info:
        await open_store(my_url)
    assert "127.0.0.1" in str(info.value)  # names the server
    # nothing lost: once the engine knows the schema again, the data is there
    import pyfixmsg_plus.engine.store.mysql as mysql_module
    from pyfixmsg_plus.engine.store.migrations import Migration

    later = (*mysql_module.MIGRATIONS, *(Migration(v, "future", ("SELECT 1",))
                                          for v in range(2, 100)))
    mysql_module.MIGRATIONS = later
    try:
        store = await open_store(my_url)
        assert await (await store.open(KEY)).get_range(1, 0) == [(1, b"x")]
        await store.close()
    finally:
        mysql_module.MIGRATIONS = later[:1]


async def test_mariadb_scheme_is_the_same_store(my_url: str) -> None:
    from pyfixmsg_plus.engine.store.mysql import MySQLStore

    store = await open_store(my_url.replace("mysql://", "mariadb://", 1))
    assert isinstance(store, MySQLStore)
    await store.close()


async def test_wrong_password_is_permanent_and_names_the_server(my_url: str) -> None:
    u = parse_store_url(mysql_url())
    url = f"mysql://{u.username}:wrong@{u.host}:{u.port}{u.path}"
    with pytest.raises(PermanentStoreError) as info:
        await open_store(url)
    text = str(info.value)
    assert f"{u.host}:{u.port}" in text and "Access denied" in text
    assert "wrong" not in text.replace("wrong@", "")  # the password is never shown


async def test_unreachable_server_is_retryable() -> None:
    with pytest.raises(RetryableStoreError, match=r"127\.0\.0\.1:9\b"):
        await open_store("mysql://u:p@127.0.0.1:9/db?connect_timeout=1")


async def test_unknown_database_is_a_store_error(my_url: str) -> None:
    u = parse_store_url(mysql_url())
    with pytest.raises(StoreError, match="nosuchdb"):
        await open_store(f"mysql://{u.username}:{u.password}@{u.host}:{u.port}/nosuchdb")


async def test_tls_with_a_checked_server_certificate() -> None:
    from pyfixmsg_plus.engine.store.mysql import MySQLStore

    from tests.contract.store_servers import mysql_tls_url

    url = mysql_tls_url()
    prefix = f"t{uuid.uuid4().hex[:12]}_"
    store = await open_store(f"{url}&table_prefix={prefix}")
    try:
        assert isinstance(store, MySQLStore)
        s = await store.open(KEY)
        await s.save_outbound(msgs(1, 2))
        async with store.connection() as conn, conn.cursor() as cur:
            await cur.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
            row = await cur.fetchone()
        assert row is not None and row[1], "the connection is not encrypted"
    finally:
        await store.close()
        drop_mysql_tables(mysql_url(), prefix)
