"""Credentials at rest and file modes: a real engine pair on SQLite stores."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pyfixmsg_plus.engine.cli.main import main
from pyfixmsg_plus.engine.codec import Message, encode
from pyfixmsg_plus.engine.codec.msgtypes import OTHER_MSG_TYPE
from pyfixmsg_plus.engine.store.base import SessionKey
from pyfixmsg_plus.engine.store.files import create_private_dir
from pyfixmsg_plus.engine.store.url import open_store

from tests.integration.conftest import (
    Engines,
    RecordingApp,
    acceptor,
    initiator,
    port_of,
    wait_until,
)

PASSWORD = "pa55-Wörd-7d1c"
NEW_PASSWORD = "n3w-pa55-e0a2"
CLIENT_KEY = "FIX.4.4:CLIENT->BROKER"


@pytest.fixture
async def engines() -> AsyncIterator[Engines]:
    e = Engines()
    try:
        yield e
    finally:
        await e.stop_all()


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


async def test_logon_password_is_not_stored_and_files_are_private(
        engines: Engines, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = os.umask(0o022)  # the usual umask: files would be 0644
    try:
        broker_app, client_app = RecordingApp("broker", broker=True), RecordingApp("client")
        broker = await engines.start(f"sqlite:///{tmp_path / 'broker.db'}", broker_app,
                                     [acceptor()])
        client_db = tmp_path / "client.db"
        client = await engines.start(f"sqlite:///{client_db}", client_app,
                                     [initiator(port_of(broker), username="alice",
                                                password=PASSWORD)])
        await client.wait_logged_on(CLIENT_KEY)
        # The counterparty saw the password: only the stored copy is masked.
        logons = [m for m in broker_app.admin_in if m.msg_type == b"A"]
        assert logons and logons[0].get(554) == PASSWORD.encode()
        # A made-up MsgType is counted under one key, whatever its value.
        driver = client.driver(CLIENT_KEY)
        await driver.send(Message.new("FIX.4.4", "Z\r\n9", [(11, "x")]))
        bdriver = broker.driver("FIX.4.4:BROKER->CLIENT")
        await wait_until(lambda: bdriver.session.stats.received[OTHER_MSG_TYPE] == 1)
        assert not [mt for mt in bdriver.session.stats.received if b"\n" in mt]
        for path in (client_db, Path(f"{client_db}-wal"), Path(f"{client_db}-shm")):
            assert _mode(path) == 0o600, path
        await engines.stop_all()
    finally:
        os.umask(old)
    secret = PASSWORD.encode()
    for path in tmp_path.iterdir():
        assert secret not in path.read_bytes(), path
    assert await asyncio.to_thread(
        main, ["store", "list", "--store", f"sqlite:///{client_db}", CLIENT_KEY]) == 0
    out = capsys.readouterr().out
    assert "554=***" in out and PASSWORD not in out and "553=alice" in out


def test_store_list_masks_records_stored_in_clear(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    logon = encode(Message.new("FIX.4.4", "A", [(34, 1), (98, 0), (108, 30), (553, "alice"),
                                                (554, PASSWORD), (925, NEW_PASSWORD)]))

    async def fill() -> None:
        store = await open_store(url)
        session = await store.open(SessionKey(CLIENT_KEY))
        await session.save_outbound([(1, logon)])
        await store.open(SessionKey("FIX.4.4:EVIL\n2026 INFO forged->X"))
        await store.close()

    asyncio.run(fill())
    for extra in ([], ["--raw"]):
        assert main(["store", "list", "--store", url, CLIENT_KEY, *extra]) == 0
        out = capsys.readouterr().out
        assert PASSWORD not in out and NEW_PASSWORD not in out
        assert "554=***" in out and "925=***" in out
    assert main(["store", "show", "--store", url, CLIENT_KEY]) == 0
    assert PASSWORD not in capsys.readouterr().out
    assert main(["store", "sessions", "--store", url]) == 0
    out = capsys.readouterr().out
    assert "EVIL\\n2026 INFO forged" in out
    assert not any(line.startswith("2026 INFO") for line in out.splitlines())


def test_folders_created_for_stores_are_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        create_private_dir(tmp_path / "a" / "b")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "a" / "b") == 0o700
