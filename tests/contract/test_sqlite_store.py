"""The store contract against the SQLite backend."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyfixmsg_plus.engine.store.url import open_store

from tests.contract.store_contract import StoreContract, StoreFactory


class TestSqliteStore(StoreContract):
    @pytest.fixture
    def factory(self, tmp_path: Path) -> StoreFactory:
        url = f"sqlite:///{tmp_path / 'store.db'}"
        return StoreFactory(open=lambda: open_store(url), durable=True, url=url, multi_process=True)
