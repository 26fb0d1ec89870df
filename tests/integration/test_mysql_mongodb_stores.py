"""The MySQL (MariaDB) and MongoDB (FerretDB) stores through the same
end-to-end trials as PostgreSQL and Redis: ``fixplus run`` from a
configuration file, the server restarted mid-flow (test_store_outage's flow)
and a sender SIGKILLed at random points (test_crash_flow's flow)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.contract.store_servers import (
    drop_mongodb_collections,
    drop_mysql_tables,
    ferretdb_ctl,
    mariadb_ctl,
    mongodb_url,
    mysql_url,
)
from tests.integration import test_crash_flow as crash_flow_module
from tests.integration.conftest import Engines
from tests.integration.test_crash_flow import crash_flow
from tests.integration.test_run_with_server_stores import _run
from tests.integration.test_store_outage import _ensure_running, _flow

pytestmark = pytest.mark.integration


def _with(url: str, option: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{option}"


class _Urls:
    """Store URLs of one test (own table or collection prefixes), dropped after."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.base = mysql_url() if kind == "mysql" else mongodb_url()
        self.prefixes: list[str] = []

    def new(self, options: str = "") -> str:
        prefix = f"t{uuid.uuid4().hex[:12]}_"
        self.prefixes.append(prefix)
        name = "table_prefix" if self.kind == "mysql" else "collection_prefix"
        url = _with(self.base, f"{name}={prefix}")
        return _with(url, options) if options else url

    def drop(self) -> None:
        for p in self.prefixes:
            if self.kind == "mysql":
                drop_mysql_tables(self.base, p)
            else:
                drop_mongodb_collections(self.base, p)


KINDS = ["mysql", "mongodb"]
CTL: dict[str, Callable[[str], None]] = {"mysql": mariadb_ctl, "mongodb": ferretdb_ctl}


@pytest.fixture(params=KINDS)
def urls(request: pytest.FixtureRequest) -> Iterator[_Urls]:
    u = _Urls(request.param)
    yield u
    u.drop()


async def test_fixplus_run(engines: Engines, tmp_path: Path, urls: _Urls) -> None:
    await _run(engines, tmp_path, urls.new())


async def test_server_restarted_mid_flow(engines: Engines, urls: _Urls) -> None:
    ctl = CTL[urls.kind]
    try:
        await _flow(engines, urls.new("connect_timeout=1"), urls.new("connect_timeout=1"), ctl,
                    {"mode": "wait", "waitTimeout": 60, "retryMaxDelay": 0.2})
    finally:
        await engines.stop_all()
        await asyncio.to_thread(_ensure_running, ctl)


async def test_sigkill_flow(engines: Engines, tmp_path: Path, urls: _Urls,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The crash flow, shorter than PostgreSQL's and SQLite's (the suite's
    time): 2,000 orders and 8 kills."""
    monkeypatch.setattr(crash_flow_module, "ORDERS", 2000)
    monkeypatch.setattr(crash_flow_module, "KILLS", 8)
    try:
        await crash_flow(engines, urls.new(), urls.new(), tmp_path)
    finally:
        await engines.stop_all()
