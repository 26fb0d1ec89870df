"""Encryption at rest with a real engine pair: the SQLite file, a pg_dump
and a Redis dump hold none of the ClOrdIDs sent, and a stored record moved
to another sequence number is refused on a resend, never sent."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from pyfixmsg_plus.engine.store.base import SessionKey
from pyfixmsg_plus.engine.store.keyprovider import create_key_file
from pyfixmsg_plus.engine.store.url import open_store, parse_store_url

from tests.contract.store_servers import drop_pg_schema, flush_redis_prefix, pg_dsn, redis_url
from tests.integration.conftest import (
    Engines,
    RecordingApp,
    acceptor,
    initiator,
    new_order,
    port_of,
    wait_until,
)
from tests.realparts import env_value, missing

CLIENT = "FIX.4.4:CLIENT->BROKER"
BROKER = "FIX.4.4:BROKER->CLIENT"


@pytest.fixture
async def engines() -> AsyncIterator[Engines]:
    e = Engines()
    try:
        yield e
    finally:
        await e.stop_all()


@pytest.fixture
def encryption(tmp_path: Path) -> dict[str, Any]:
    create_key_file(tmp_path / "kek")
    return {"provider": "local", "keyFile": str(tmp_path / "kek")}


async def _trade(engines: Engines, broker_url: str, client_url: str,
                 encryption: dict[str, Any], orders: int) -> list[str]:
    """Run a pair, send ``orders`` NewOrderSingles, wait for every report; stop."""
    broker_app, client_app = RecordingApp("broker", broker=True), RecordingApp("client")
    broker = await engines.start(broker_url, broker_app, [acceptor()], encryption=encryption)
    client = await engines.start(client_url, client_app, [initiator(port_of(broker))],
                                 encryption=encryption)
    await client.wait_logged_on(CLIENT)
    ids = [f"CLORD-{uuid.uuid4().hex[:12]}-{i}" for i in range(orders)]
    for cl in ids:
        await client.driver(CLIENT).send(new_order(cl))
    await wait_until(lambda: len(client_app.ids("8")) == orders, what="execution reports")
    await engines.stop_all()
    return ids


async def test_sqlite_files_hold_no_clordid(engines: Engines, tmp_path: Path,
                                            encryption: dict[str, Any]) -> None:
    ids = await _trade(engines, f"sqlite:///{tmp_path / 'broker.db'}",
                       f"sqlite:///{tmp_path / 'client.db'}", encryption, 20)
    blob = b"".join(p.read_bytes() for p in tmp_path.iterdir() if ".db" in p.name)
    assert b"CLORD-" not in blob and not any(i.encode() in blob for i in ids)
    with sqlite3.connect(tmp_path / "broker.db") as conn:
        (stored,) = conn.execute("SELECT COUNT(*) FROM messages").fetchone()
    assert stored >= 21  # the Logon and the reports are there, sealed


@pytest.fixture
def pg_url() -> Iterator[str]:
    dsn = pg_dsn()
    schema = f"enc_{uuid.uuid4().hex[:12]}"
    yield f"{dsn}?schema={schema}"
    drop_pg_schema(dsn, schema)


async def test_pg_dump_holds_no_clordid(engines: Engines, pg_url: str,
                                        encryption: dict[str, Any]) -> None:
    ids = await _trade(engines, pg_url, pg_url, encryption, 20)
    pg_bin = env_value("FIXPLUS_PG_BIN")
    if not pg_bin or not os.path.exists(os.path.join(pg_bin, "pg_dump")):
        missing("pg_dump: FIXPLUS_PG_BIN is not set (tests/env/10-postgres.sh)")
    assert pg_bin is not None
    schema = parse_store_url(pg_url).query["schema"]
    dump = subprocess.run([os.path.join(pg_bin, "pg_dump"), "--data-only", "--schema", schema,
                           "--dbname", pg_dsn()], capture_output=True, check=True).stdout
    assert b"fixplus_ledger" in dump and b"messages" in dump
    assert b"CLORD-" not in dump and not any(i.encode() in dump for i in ids)


async def test_redis_dump_holds_no_clordid(engines: Engines, encryption: dict[str, Any]) -> None:
    import redis

    prefix = f"enc{uuid.uuid4().hex[:12]}"
    url = f"{redis_url()}?prefix={prefix}"
    try:
        ids = await _trade(engines, url, url, encryption, 20)
        u = parse_store_url(redis_url())
        client = redis.Redis(host=u.host or "127.0.0.1", port=u.port or 6379,
                             password=u.password, db=int(u.path.strip("/") or 0))
        try:
            keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
            dump = b"".join(bytes(client.dump(k) or b"") for k in keys)
        finally:
            client.close()
        assert any(b":ledger:" in k for k in keys) and len(dump) > 2000
        assert b"CLORD-" not in dump and not any(i.encode() in dump for i in ids)
    finally:
        flush_redis_prefix(redis_url(), prefix)


async def test_a_record_moved_to_another_seq_is_never_resent(
        engines: Engines, tmp_path: Path, encryption: dict[str, Any],
        caplog: pytest.LogCaptureFixture) -> None:
    broker_url, client_url = f"sqlite:///{tmp_path / 'b.db'}", f"sqlite:///{tmp_path / 'c.db'}"
    await _trade(engines, broker_url, client_url, encryption, 5)
    # An attacker with write access copies the broker's seq 3 over its seq 4.
    with sqlite3.connect(tmp_path / "b.db") as conn:
        conn.execute("UPDATE messages SET data = (SELECT data FROM messages WHERE seq = 3 AND "
                     "session_key = ?) WHERE seq = 4 AND session_key = ?", (BROKER, BROKER))
    # The client forgets what it received from seq 2 on: it asks for a resend.
    store = await open_store(client_url)
    await (await store.open(SessionKey(CLIENT))).set_next_target(2)
    await store.close()
    broker_app, client_app = RecordingApp("broker", broker=True), RecordingApp("client")
    caplog.set_level(logging.ERROR)
    broker = await engines.start(broker_url, broker_app, [acceptor()], encryption=encryption)
    await engines.start(client_url, client_app, [initiator(port_of(broker))],
                        encryption=encryption)
    await wait_until(lambda: "written for seq 3, not seq 4" in caplog.text,
                     what="the integrity error")
    assert "BROKER->CLIENT" in caplog.text
    # the broker read the range before sending any of it: the connection is
    # dropped, nothing resent, the moved record least of all
    await wait_until(lambda: "store failure during a resend" in caplog.text
                     or "cannot read messages" in caplog.text, what="the dropped connection")
    assert client_app.ids("8") == []
