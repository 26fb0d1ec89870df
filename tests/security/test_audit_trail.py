"""The audit trail of a real engine pair, and tampering with its rows in
SQLite and PostgreSQL found by ``fixplus audit verify``."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import yaml
from pyfixmsg_plus.engine.cli.main import main
from pyfixmsg_plus.engine.store.audit import read_records
from pyfixmsg_plus.engine.store.keyprovider import create_key_file
from pyfixmsg_plus.engine.store.ledger import open_ledger
from pyfixmsg_plus.engine.store.url import parse_store_url

from tests.contract.store_servers import drop_pg_schema, pg_dsn
from tests.integration.conftest import (
    Engines,
    RecordingApp,
    acceptor,
    initiator,
    port_of,
)
from tests.security.raw_fix import FixConn

CLIENT = "FIX.4.4:CLIENT->BROKER"


@pytest.fixture
async def engines() -> AsyncIterator[Engines]:
    e = Engines()
    try:
        yield e
    finally:
        await e.stop_all()


@pytest.fixture
def pg_url() -> Iterator[str]:
    dsn = pg_dsn()
    schema = f"aud_{uuid.uuid4().hex[:12]}"
    yield f"{dsn}?schema={schema}"
    drop_pg_schema(dsn, schema)


def _settings(tmp_path: Path) -> dict[str, Any]:
    if not (tmp_path / "kek").exists():
        create_key_file(tmp_path / "kek")
    return {"encryption": {"provider": "local", "keyFile": str(tmp_path / "kek")},
            "audit": {"enabled": True, "signInterval": 3600}}


async def _run_pair(engines: Engines, url: str, tmp_path: Path) -> Path:
    """A broker with audit on: an accepted Logon with ResetSeqNumFlag, a
    refused one; returns a configuration file naming the broker's store."""
    settings = _settings(tmp_path)
    broker = await engines.start(url, RecordingApp("broker", broker=True), [acceptor()],
                                 **settings)
    client = await engines.start("memory://", RecordingApp("client"),
                                 [initiator(port_of(broker), resetOnLogon=True)])
    await client.wait_logged_on(CLIENT)
    intruder = await engines.start("memory://", RecordingApp("x"),
                                   [initiator(port_of(broker), sender="INTRUDER")])
    assert intruder is not None
    for _ in range(1000):  # the refusal reaches the store's ledger
        if "logon.refused" in await _kinds(url):
            break
        await asyncio.sleep(0.01)
    await engines.stop_all()
    config = tmp_path / "broker.yaml"
    config.write_text(yaml.safe_dump({"store": url, "sessions": [acceptor()], **settings}))
    return config


async def _kinds(url: str) -> list[str]:
    ledger = await open_ledger(url)
    try:
        return [r.kind for r in await read_records(ledger)]
    finally:
        await ledger.close()


async def _verify(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    rc = await asyncio.to_thread(main, ["audit", "verify", "-c", str(config)])
    return rc, capsys.readouterr().out


async def test_events_and_sqlite_tampering(engines: Engines, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "broker.db"
    url = f"sqlite:///{db}"
    config = await _run_pair(engines, url, tmp_path)
    kinds = await _kinds(url)
    assert kinds[0] == "config.loaded"
    for kind in ("logon.accepted", "logon.refused", "store.reset"):
        assert kind in kinds, kinds
    ledger = await open_ledger(url)
    records = await read_records(ledger)
    await ledger.close()
    refused = next(r for r in records if r.kind == "logon.refused")
    assert refused.data["peer"] == "127.0.0.1" and "INTRUDER" in refused.data["detail"]
    assert next(r for r in records if r.kind == "store.reset").data["session"] == \
        "FIX.4.4:BROKER->CLIENT"
    rc, out = await _verify(config, capsys)
    assert rc == 0 and f"{len(records)} record(s), chain intact" in out, out
    n = len(records)

    def sql(statement: str, *args: object) -> None:
        with sqlite3.connect(db) as conn:
            conn.execute(statement, args)

    # edit record 2
    with sqlite3.connect(db) as conn:
        (payload,) = conn.execute("SELECT payload FROM fixplus_ledger WHERE log = 'audit' "
                                  "AND id = 2").fetchone()
    sql("UPDATE fixplus_ledger SET payload = ? WHERE log = 'audit' AND id = 2",
        payload.replace(b"127.0.0.1", b"127.0.0.2"))
    rc, out = await _verify(config, capsys)
    assert rc == 1 and "first bad record: 2" in out, out
    sql("UPDATE fixplus_ledger SET payload = ? WHERE log = 'audit' AND id = 2", payload)
    # delete record 3
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT payload FROM fixplus_ledger WHERE log = 'audit' AND id = 3"
                           ).fetchone()
    sql("DELETE FROM fixplus_ledger WHERE log = 'audit' AND id = 3")
    rc, out = await _verify(config, capsys)
    assert rc == 1 and "first bad record: 3" in out and "missing" in out, out
    sql("INSERT INTO fixplus_ledger (log, id, payload) VALUES ('audit', 3, ?)", row[0])
    assert (await _verify(config, capsys))[0] == 0
    # truncate the newest record: only the signed head knows it existed
    sql("DELETE FROM fixplus_ledger WHERE log = 'audit' AND id = ?", n)
    rc, out = await _verify(config, capsys)
    assert rc == 1 and f"first bad record: {n}" in out and "newest records deleted" in out, out


async def test_postgres_tampering(engines: Engines, tmp_path: Path, pg_url: str,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    config = await _run_pair(engines, pg_url, tmp_path)
    rc, out = await _verify(config, capsys)
    assert rc == 0, out
    schema = parse_store_url(pg_url).query["schema"]
    table = f'"{schema}".fixplus_ledger'
    conn = await asyncpg.connect(pg_dsn())
    try:
        n = await conn.fetchval(f"SELECT MAX(id) FROM {table} WHERE log = 'audit'")
        await conn.execute(f"UPDATE {table} SET payload = convert_to(replace(convert_from("
                           "payload, 'UTF8'), 'logon', 'LOGON'), 'UTF8') "
                           "WHERE log = 'audit' AND id = 2")
        rc, out = await _verify(config, capsys)
        assert rc == 1 and "first bad record: 2" in out, out
        await conn.execute(f"DELETE FROM {table} WHERE log = 'audit' AND id >= $1", n - 1)
        rc, out = await _verify(config, capsys)
        assert rc == 1 and f"covers records up to {n} but the chain ends at {n - 2}" in out, out
    finally:
        await conn.close()


async def test_a_sequence_reset_received_is_audited(engines: Engines, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'broker.db'}"
    broker = await engines.start(url, RecordingApp("broker", broker=True), [acceptor()],
                                 **_settings(tmp_path))

    def peer() -> None:
        conn = FixConn(port_of(broker))
        conn.logon()
        conn.read_until("A")
        conn.send("4", [(36, 40)])  # SequenceReset, reset mode: next seq 40
        conn.send("5", seq=40)
        conn.read_until("5")

    await asyncio.to_thread(peer)
    for _ in range(1000):
        if "session.sequence" in await _kinds(url):
            break
        await asyncio.sleep(0.01)
    await engines.stop_all()
    ledger = await open_ledger(url)
    records = await read_records(ledger, "session")
    await ledger.close()
    assert any("SequenceReset from 2 to 40" in r.data["event"] for r in records), records
