"""The store contract against encrypted stores (the wrapper of
engine/store/encrypted.py over memory, SQLite and PostgreSQL backends)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyfixmsg_plus.engine.config.store import EncryptionSettings
from pyfixmsg_plus.engine.store.base import MessageStore
from pyfixmsg_plus.engine.store.keyprovider import create_key_file
from pyfixmsg_plus.engine.store.secure import encrypt_store
from pyfixmsg_plus.engine.store.url import open_store

from tests.contract.store_contract import StoreContract, StoreFactory
from tests.contract.store_servers import drop_pg_schema, flush_redis_prefix, pg_dsn, redis_url


def _opener(url: str, key_file: Path) -> StoreFactory:
    settings = EncryptionSettings(provider="local", key_file=str(key_file))

    async def open_() -> MessageStore:
        return await encrypt_store(await open_store(url), url, settings)

    return StoreFactory(open=open_, durable=not url.startswith("memory:"))


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "kek"
    create_key_file(path)
    return path


class TestEncryptedMemoryStore(StoreContract):
    @pytest.fixture
    def factory(self, key_file: Path) -> StoreFactory:
        return _opener("memory://", key_file)


class TestEncryptedSqliteStore(StoreContract):
    @pytest.fixture
    def factory(self, tmp_path: Path, key_file: Path) -> StoreFactory:
        return _opener(f"sqlite:///{tmp_path / 'store.db'}", key_file)


@pytest.fixture
def pg_url() -> Iterator[str]:
    dsn = pg_dsn()
    schema = f"t_{uuid.uuid4().hex[:16]}"
    yield f"{dsn}?schema={schema}"
    drop_pg_schema(dsn, schema)


class TestEncryptedPostgresStore(StoreContract):
    @pytest.fixture
    def factory(self, pg_url: str, key_file: Path) -> StoreFactory:
        return _opener(pg_url, key_file)


@pytest.fixture
def redis_store_url() -> Iterator[str]:
    prefix = f"enc{uuid.uuid4().hex[:12]}"
    yield f"{redis_url()}?prefix={prefix}"
    flush_redis_prefix(redis_url(), prefix)


class TestEncryptedRedisStore(StoreContract):
    @pytest.fixture
    def factory(self, redis_store_url: str, key_file: Path) -> StoreFactory:
        return _opener(redis_store_url, key_file)
