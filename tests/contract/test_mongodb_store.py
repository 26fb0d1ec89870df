"""The store contract against the MongoDB backend, served by FerretDB v1 on
the test PostgreSQL (see ``tests/env/13-ferretdb.sh``).  FerretDB v1 has no
multi-document transactions: the store does not need them.  Each test gets
its own collection prefix."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from pyfixmsg_plus.engine.store.base import SessionKey
from pyfixmsg_plus.engine.store.errors import (
    PermanentStoreError,
    RetryableStoreError,
    StoreSequenceError,
)
from pyfixmsg_plus.engine.store.url import open_store, parse_store_url

from tests.contract.store_contract import KEY, StoreContract, StoreFactory, msgs
from tests.contract.store_servers import drop_mongodb_collections, mongodb_url


def _with(url: str, option: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{option}"


@pytest.fixture
def mg_url() -> Iterator[str]:
    url = mongodb_url()
    prefix = f"t{uuid.uuid4().hex[:12]}_"
    yield _with(url, f"collection_prefix={prefix}")
    drop_mongodb_collections(url, prefix)


class TestMongoStore(StoreContract):
    @pytest.fixture
    def factory(self, mg_url: str) -> StoreFactory:
        return StoreFactory(open=lambda: open_store(mg_url), durable=True, url=mg_url,
                            multi_process=True)


async def test_inserts_of_concurrent_saves_share_a_write(mg_url: str) -> None:
    from pyfixmsg_plus.engine.store.mongodb import MongoStore

    store = await open_store(mg_url)
    assert isinstance(store, MongoStore)
    sessions = [await store.open(SessionKey(f"G{i}")) for i in range(50)]
    before = store.writes
    await asyncio.gather(*(s.save_outbound(msgs(1, 1)) for s in sessions))
    assert store.writes - before < 10
    assert (await sessions[7].load()).next_sender_seq == 2
    await store.close()


async def test_second_writer_cannot_reuse_a_sequence_number(mg_url: str) -> None:
    """Two processes that both believe they own a session: the unique
    document id lets one of them store seq 1..2, the other is refused."""
    a_store, b_store = await open_store(mg_url), await open_store(mg_url)
    a, b = await a_store.open(KEY), await b_store.open(KEY)
    await a.load()
    await b.load()
    await a.save_outbound(msgs(1, 2))
    with pytest.raises(StoreSequenceError, match="another writer"):
        await b.save_outbound([(1, b"other")])
    assert (await b.load()).next_sender_seq == 3  # reloaded from the server
    await b.save_outbound(msgs(3, 3))
    assert await a.get_range(1, 0) == msgs(1, 3)
    await a_store.close()
    await b_store.close()


async def test_interrupted_rewind_leaves_the_old_generation(mg_url: str) -> None:
    """A crash between writing a new generation and switching to it: the
    session keeps its old state and the leftovers are removed on open."""
    from pyfixmsg_plus.engine.store.mongodb import MongoStore

    store = await open_store(mg_url)
    assert isinstance(store, MongoStore)
    s = await store.open(KEY)
    await s.save_outbound(msgs(1, 4))
    await store.batches.insert_one({"_id": f"2:1:{KEY.value}", "k": KEY.value, "g": 2, "f": 1,
                                    "n": 2, "t": 0, "m": [b"orphan"]})
    await store.close()
    store = await open_store(mg_url)
    assert isinstance(store, MongoStore)
    s = await store.open(KEY)
    assert await s.get_range(1, 0) == msgs(1, 4)
    assert await store.batches.count_documents({"k": KEY.value, "g": 2}) == 0
    await s.set_next_sender(3)  # a real rewind: generation 2
    assert await s.get_range(1, 0) == msgs(1, 2)
    assert (await s.load()).next_sender_seq == 3
    await store.close()


async def test_oversized_batch_is_refused_and_writes_nothing(mg_url: str) -> None:
    store = await open_store(mg_url)
    s = await store.open(KEY)
    with pytest.raises(PermanentStoreError, match="MiB"):
        await s.save_outbound([(1, b"x" * (8 << 20)), (2, b"y" * (8 << 20))])
    assert (await s.load()).next_sender_seq == 1
    await store.close()


async def test_newer_schema_is_refused(mg_url: str) -> None:
    from pyfixmsg_plus.engine.store.mongodb import MongoStore

    store = await open_store(mg_url)
    assert isinstance(store, MongoStore)
    assert store.schema_version == 1
    await store.db[f"{store.prefix}schema_version"].insert_one(
        {"_id": 99, "description": "future", "applied_ns": 0})
    s = await store.open(KEY)
    await s.save_outbound([(1, b"x")])
    await store.close()
    with pytest.raises(PermanentStoreError, match="schema version 99 is newer") as info:
        await open_store(mg_url)
    assert "127.0.0.1" in str(info.value)  # names the server
    import pyfixmsg_plus.engine.store.mongodb as mongodb_module
    from pyfixmsg_plus.engine.store.migrations import Migration

    later = (*mongodb_module.MIGRATIONS, *(Migration(
        v, "future", ('{"ping": 1}',)) for v in range(2, 100)))
    mongodb_module.MIGRATIONS = later
    try:  # nothing lost: once the engine knows the schema again, the data is there
        store = await open_store(mg_url)
        assert await (await store.open(KEY)).get_range(1, 0) == [(1, b"x")]
        await store.close()
    finally:
        mongodb_module.MIGRATIONS = later[:1]


async def test_wrong_password_is_permanent_and_names_the_server(mg_url: str) -> None:
    u = parse_store_url(mongodb_url())
    url = f"mongodb://{u.username}:wrong@{u.host}:{u.port}{u.path}?authMechanism=PLAIN"
    with pytest.raises(PermanentStoreError) as info:
        await open_store(url)
    assert f"{u.host}:{u.port}" in str(info.value)
    assert "wrong" not in str(info.value).replace("wrong@", "")


async def test_unreachable_server_is_retryable() -> None:
    with pytest.raises(RetryableStoreError, match=r"127\.0\.0\.1:9\b"):
        await open_store("mongodb://127.0.0.1:9/db?connect_timeout=0.5")


async def test_target_rides_in_the_batch_and_survives_pruning(mg_url: str) -> None:
    import time

    from pyfixmsg_plus.engine.store.admin import admin_of
    from pyfixmsg_plus.engine.store.base import save_batch
    from pyfixmsg_plus.engine.store.mongodb import MongoStore

    store = await open_store(mg_url)
    assert isinstance(store, MongoStore)
    s = await store.open(KEY)
    await save_batch(s, msgs(1, 2), 7)
    doc = await store.sessions_col.find_one({"_id": KEY.value})
    assert doc is not None and doc["target"] == 1  # only the batch document was written
    await s.set_next_target(9)
    await save_batch(s, msgs(3, 3), None)
    await admin_of(store).prune(messages_before_ns=time.time_ns() + 10**9)
    await store.close()
    store = await open_store(mg_url)
    s = await store.open(KEY)
    state = await s.load()
    assert (state.next_sender_seq, state.next_target_seq) == (4, 9)
    assert await s.get_range(1, 0) == []
    await store.close()


@pytest.mark.parametrize("value", ["0", "-1", "x", "inf", "nan"])
async def test_bad_timeouts_are_config_errors(value: str) -> None:
    from pyfixmsg_plus.engine.errors import ConfigError

    for scheme in ("mongodb", "mysql"):
        with pytest.raises(ConfigError, match="connect_timeout must be a number > 0"):
            await open_store(f"{scheme}://u:p@127.0.0.1:9/db?connect_timeout={value}")
