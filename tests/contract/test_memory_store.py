"""The store contract against the in-memory backend."""

from __future__ import annotations

import pytest
from pyfixmsg_plus.engine.store.url import open_store

from tests.contract.store_contract import StoreContract, StoreFactory


class TestMemoryStore(StoreContract):
    @pytest.fixture
    def factory(self) -> StoreFactory:
        return StoreFactory(open=lambda: open_store("memory://"), durable=False)
