"""``fixplus keys`` with the local key file provider: rotation, status,
rewrap (resumable), retirement of the old version afterwards."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml
from pyfixmsg_plus.engine.cli.main import main
from pyfixmsg_plus.engine.config import load_config
from pyfixmsg_plus.engine.config.store import EncryptionSettings
from pyfixmsg_plus.engine.store.base import SessionKey
from pyfixmsg_plus.engine.store.keyprovider import KeyVersionError
from pyfixmsg_plus.engine.store.secure import encrypt_store
from pyfixmsg_plus.engine.store.url import open_store

KEY = SessionKey("FIX.4.4:BROKER->CLIENT")


def order(seq: int) -> bytes:
    return f"8=FIX.4.4\x0135=8\x0134={seq}\x0111=ORD-{seq}\x0110=000\x01".encode()


async def test_rotate_status_rewrap_retire(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    kek, url = tmp_path / "kek", f"sqlite:///{tmp_path / 'store.db'}"
    assert main(["keys", "init-local", str(kek)]) == 0
    config = tmp_path / "engine.yaml"
    config.write_text(yaml.safe_dump({
        "store": url, "encryption": {"provider": "local", "keyFile": str(kek)},
        "audit": {"enabled": True},
        "sessions": [{"role": "acceptor", "beginString": "FIX.4.4", "senderCompId": "BROKER",
                      "targetCompId": "CLIENT", "acceptPort": 0,
                      "authentication": {"mode": "none"}}]}))
    settings = load_config(config).encryption
    assert settings is not None
    store = await encrypt_store(await open_store(url), url, settings)
    s = await store.open(KEY)
    await s.save_outbound([(i, order(i)) for i in range(1, 6)])
    assert main(["keys", "rotate-local", str(kek)]) == 0
    assert await store.check_rotation()
    await s.save_outbound([(i, order(i)) for i in range(6, 9)])
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["keys", "status", "-c", str(config)]) == 0
    out = capsys.readouterr().out
    assert "version 1: 1 data key(s), 5 stored record(s)" in out
    assert "version 2: 1 data key(s), 3 stored record(s)" in out
    assert "needs versions: 1, 2" in out
    assert await asyncio.to_thread(main, ["keys", "rewrap", "-c", str(config)]) == 0
    assert "rewrapped 1 data key(s)" in capsys.readouterr().out
    assert await asyncio.to_thread(main, ["keys", "rewrap", "-c", str(config)]) == 0
    assert "rewrapped 0 data key(s)" in capsys.readouterr().out
    with open(kek, "a") as f:
        f.write("min_decryption_version 2\n")
    # the running store carries on; a new one reads what was written before the rotation
    await s.save_outbound([(9, order(9))])
    await store.close()
    again = await encrypt_store(await open_store(url), url, settings)
    assert [d for _, d in await (await again.open(KEY)).get_range(1, 5)] == \
        [order(i) for i in range(1, 6)]
    await again.close()
    assert await asyncio.to_thread(main, ["audit", "show", "-c", str(config)]) == 0
    out = capsys.readouterr().out
    assert "keys.rewrap" in out and "data_keys=1" in out
    assert await asyncio.to_thread(main, ["audit", "verify", "-c", str(config)]) == 0


async def test_without_a_rewrap_the_retired_version_is_named(tmp_path: Path) -> None:
    kek, url = tmp_path / "kek", f"sqlite:///{tmp_path / 'store.db'}"
    assert main(["keys", "init-local", str(kek)]) == 0
    settings = EncryptionSettings(provider="local", key_file=str(kek))
    store = await encrypt_store(await open_store(url), url, settings)
    await (await store.open(KEY)).save_outbound([(1, order(1))])
    await store.close()
    assert main(["keys", "rotate-local", str(kek)]) == 0
    with open(kek, "a") as f:
        f.write("min_decryption_version 2\n")
    again = await encrypt_store(await open_store(url), url, settings)
    with pytest.raises(KeyVersionError, match="version 1 is not served"):
        await (await again.open(KEY)).get_range(1, 0)
    await again.close()


def test_store_commands_refuse_an_encrypted_store_without_its_settings(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kek, url = tmp_path / "kek", f"sqlite:///{tmp_path / 'store.db'}"
    assert main(["keys", "init-local", str(kek)]) == 0

    async def fill() -> None:
        settings = EncryptionSettings(provider="local", key_file=str(kek))
        store = await encrypt_store(await open_store(url), url, settings)
        await (await store.open(KEY)).save_outbound([(1, order(1))])
        await store.close()

    asyncio.run(fill())
    assert main(["store", "list", "--store", url, str(KEY)]) != 0
    assert "is encrypted" in capsys.readouterr().err
