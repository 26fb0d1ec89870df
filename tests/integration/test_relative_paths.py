"""Relative paths are taken from the configuration file's folder, and the
SQLite store's folder is created (as QuickFIX creates FileStorePath)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pyfixmsg_plus.engine.application import LoggingApplication
from pyfixmsg_plus.engine.config import load_config
from pyfixmsg_plus.engine.runtime import Engine, local_store_url

from tests.integration.conftest import FastBackoff, wait_until

pytestmark = pytest.mark.integration


def test_local_store_url(tmp_path: Path) -> None:
    assert local_store_url("memory://", tmp_path) == "memory://"
    assert local_store_url("sqlite:///:memory:", tmp_path) == "sqlite:///:memory:"
    assert local_store_url("sqlite:///a/b.db?synchronous=FULL", tmp_path) == (
        f"sqlite:///{tmp_path}/a/b.db?synchronous=FULL")
    assert (tmp_path / "a").is_dir()
    assert local_store_url(f"sqlite:///{tmp_path}/c/d.db", None) == f"sqlite:///{tmp_path}/c/d.db"
    assert (tmp_path / "c").is_dir()


async def test_store_and_logs_beside_the_settings_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "conf"
    folder.mkdir()
    (folder / "banzai.cfg").write_text(
        "[DEFAULT]\nConnectionType=initiator\nFileStorePath=data/store\nFileLogPath=data/log\n"
        "HeartBtInt=30\n[SESSION]\nBeginString=FIX.4.4\nSenderCompID=BANZAI\n"
        "TargetCompID=EXEC\nSocketConnectHost=127.0.0.1\nSocketConnectPort=1\n")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config(folder / "banzai.cfg", environ={})
    engine = Engine(config, LoggingApplication(), dictionary_base=folder,
                    backoff=lambda _s: FastBackoff())
    await engine.start()
    stats = engine.driver("FIX.4.4:BANZAI->EXEC").session.stats
    await wait_until(lambda: stats.reconnect_attempts >= 2, 5, "a second connection attempt")
    await engine.stop(0.1)
    assert (folder / "data" / "store" / "fixplus.db").is_file()
    events = (folder / "data" / "log" / "FIX.4.4-BANZAI-EXEC.event.current.log").read_text()
    assert "session created: FIX.4.4:BANZAI->EXEC" in events
    assert "cannot connect to 127.0.0.1:1: " in events
    assert os.listdir(elsewhere) == []
