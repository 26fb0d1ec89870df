"""Vault Transit as the key provider, against a real Vault: data keys from
``datakey``, a rotation picked up without a restart, ``fixplus keys
rewrap`` and ``status``, min_decryption_version raised afterwards, a
version Vault no longer serves named, the audit head signed by Transit."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pyfixmsg_plus.engine.cli.main import main
from pyfixmsg_plus.engine.config.store import EncryptionSettings
from pyfixmsg_plus.engine.store.audit import append_record, sign_head, verify
from pyfixmsg_plus.engine.store.base import SessionKey
from pyfixmsg_plus.engine.store.keyprovider import KeyVersionError
from pyfixmsg_plus.engine.store.keyring import KEYS_LOG
from pyfixmsg_plus.engine.store.secure import encrypt_store
from pyfixmsg_plus.engine.store.url import open_store

from tests.integration.vault_server import transit_mount, vault_server

# A real Vault: left out of the default run until Vault builds here
# (tests/env/README.md, "Vault").
pytestmark = pytest.mark.vault_server

KEY = SessionKey("FIX.4.4:CLIENT->BROKER")


def order(seq: int) -> bytes:
    return f"8=FIX.4.4\x0135=D\x0134={seq}\x0111=ORD-{seq}\x0110=000\x01".encode()


@pytest.fixture
def vault(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, str]]:
    tmp = tmp_path_factory.mktemp("vault")
    with vault_server(tmp) as (addr, token_file), transit_mount(addr, token_file) as mount:
        yield addr, token_file, mount


def _settings(vault: tuple[str, Path, str]) -> dict[str, Any]:
    addr, token_file, mount = vault
    return {"provider": "transit", "checkInterval": 3600,
            "vault": {"address": addr, "tokenFile": str(token_file), "mount": mount}}


def _client(vault: tuple[str, Path, str]) -> Any:
    import hvac
    return hvac.Client(url=vault[0], token=vault[1].read_text().strip())


async def test_rotation_rewrap_and_retirement(vault: tuple[str, Path, str], tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    settings = EncryptionSettings.model_validate(_settings(vault))
    store = await encrypt_store(await open_store(url), url, settings)
    s = await store.open(KEY)
    await s.save_outbound([(i, order(i)) for i in range(1, 11)])
    keys = await store.ring.stored_keys()
    assert [k.wrapped[:9] for k in keys.values()] == ["vault:v1:"]
    # rotate in Vault: the running store's next check makes a v2 data key
    transit = _client(vault).secrets.transit
    transit.rotate_key(name="fixplus", mount_point=vault[2])
    assert await store.check_rotation()
    assert store.ring.active_version == 2
    await s.save_outbound([(i, order(i)) for i in range(11, 21)])
    config = tmp_path / "engine.yaml"
    config.write_text(yaml.safe_dump({
        "store": url, "encryption": _settings(vault),
        "sessions": [{"role": "acceptor", "beginString": "FIX.4.4", "senderCompId": "BROKER",
                      "targetCompId": "CLIENT", "acceptPort": 0,
                      "authentication": {"mode": "none"}}]}))
    assert await asyncio.to_thread(main, ["keys", "status", "-c", str(config)]) == 0
    out = capsys.readouterr().out
    assert "version 1: 1 data key(s), 10 stored record(s)" in out, out
    assert "stored data needs versions: 1, 2" in out
    # rewrap while the engine's store is open (online), then retire version 1
    assert await asyncio.to_thread(main, ["keys", "rewrap", "-c", str(config),
                                          "--batch", "1"]) == 0
    captured = capsys.readouterr()
    assert "rewrapped 1 data key(s)" in captured.out and "rewrapped 1/1" in captured.err
    assert await asyncio.to_thread(main, ["keys", "rewrap", "-c", str(config)]) == 0
    assert "rewrapped 0 data key(s)" in capsys.readouterr().out  # resumable: nothing left
    assert await asyncio.to_thread(main, ["keys", "status", "-c", str(config)]) == 0
    assert "stored data needs versions: 2\n" in capsys.readouterr().out
    transit.update_key_configuration(name="fixplus", min_decryption_version=2,
                                     mount_point=vault[2])
    await s.save_outbound([(21, order(21))])  # the running engine carries on
    await store.close()
    # a new process reads everything, the range written before the rotation included
    again = await encrypt_store(await open_store(url), url, settings)
    rows = await (await again.open(KEY)).get_range(1, 10)
    assert [d for _, d in rows] == [order(i) for i in range(1, 11)]
    await again.close()


async def test_a_version_vault_no_longer_serves_is_named(vault: tuple[str, Path, str],
                                                         tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    settings = EncryptionSettings.model_validate(_settings(vault))
    store = await encrypt_store(await open_store(url), url, settings)
    await (await store.open(KEY)).save_outbound([(1, order(1))])
    await store.close()
    transit = _client(vault).secrets.transit
    transit.rotate_key(name="fixplus", mount_point=vault[2])
    transit.update_key_configuration(name="fixplus", min_decryption_version=2,
                                     mount_point=vault[2])
    again = await encrypt_store(await open_store(url), url, settings)
    with pytest.raises(KeyVersionError, match="version 1 is not served"):
        await (await again.open(KEY)).get_range(1, 0)
    await again.close()


async def test_the_audit_head_is_signed_by_transit(vault: tuple[str, Path, str],
                                                   tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    settings = EncryptionSettings.model_validate(_settings(vault))
    store = await encrypt_store(await open_store(url), url, settings, first_key=False)
    ledger, provider = store.ring.ledger, store.ring.provider
    for i in range(3):
        await append_record(ledger, "store.set", {"i": i})
    assert await sign_head(ledger, provider) == 3
    assert await verify(ledger, provider) == ([], 3, 3)
    head = (await ledger.read("audit-head"))[0][1]
    assert b'"sig": "vault:v1:' in head
    assert await ledger.last_id(KEYS_LOG) == 0  # no data key made by reading alone
    await store.close()
