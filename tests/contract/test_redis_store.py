"""The store contract against the Redis backend (a real server with a
password; see ``tests/env/11-redis.sh``).  Each test gets its own key prefix."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from pyfixmsg_plus.engine.store.base import SessionKey
from pyfixmsg_plus.engine.store.url import open_store

from tests.contract.store_contract import StoreContract, StoreFactory, msgs
from tests.contract.store_servers import flush_redis_prefix, redis_tls_url, redis_url


def _with(url: str, option: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{option}"


@pytest.fixture
def prefix() -> Iterator[str]:
    p = f"t{uuid.uuid4().hex[:16]}"
    yield p
    flush_redis_prefix(redis_url(), p)


@pytest.fixture
def rd_url(prefix: str) -> str:
    return _with(redis_url(), f"prefix={prefix}")


class TestRedisStore(StoreContract):
    @pytest.fixture
    def factory(self, rd_url: str) -> StoreFactory:
        return StoreFactory(open=lambda: open_store(rd_url), durable=True, url=rd_url,
                            multi_process=True)


async def test_tls_and_password(prefix: str) -> None:
    url = _with(redis_tls_url(), f"prefix={prefix}")
    store = await open_store(url)
    s = await store.open(SessionKey("TLS"))
    await s.save_outbound(msgs(1, 3))
    assert await s.get_range(2, 0) == msgs(2, 3)
    await store.close()


async def test_wrong_password_is_a_store_error(prefix: str) -> None:
    from pyfixmsg_plus.engine.store.errors import StoreError
    from pyfixmsg_plus.engine.store.url import parse_store_url

    u = parse_store_url(redis_url())
    with pytest.raises(StoreError):
        await open_store(f"redis://:wrong@{u.host}:{u.port}/0?prefix={prefix}")


async def test_ttl_expires_old_messages(prefix: str) -> None:
    from pyfixmsg_plus.engine.store.redis import RedisStore

    store = await open_store(_with(redis_url(), f"prefix={prefix}&ttl_days=1"))
    assert isinstance(store, RedisStore)
    s = await store.open(SessionKey("TTL"))
    await s.save_outbound(msgs(1, 3))
    ttl = await store.client.ttl(f"{prefix}:{{TTL}}:m:2")
    assert 86000 < ttl <= 86400
    await store.client.delete(f"{prefix}:{{TTL}}:m:2")  # as if it had expired
    assert [seq for seq, _ in await s.get_range(1, 0)] == [1, 3]
    assert (await s.load()).next_sender_seq == 4
    await store.close()


async def test_pipeline_batches_concurrent_saves(rd_url: str) -> None:
    from pyfixmsg_plus.engine.store.redis import RedisStore

    store = await open_store(rd_url)
    assert isinstance(store, RedisStore)
    sessions = [await store.open(SessionKey(f"G{i}")) for i in range(50)]
    before = store.pipelines
    await asyncio.gather(*(s.save_outbound(msgs(1, 1)) for s in sessions))
    assert store.pipelines - before < 10
    await store.close()
