"""Encryption at rest (engine/store/encrypted.py, keyring.py, keyprovider.py)
over the memory and SQLite stores with the local key file provider."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from pyfixmsg_plus.engine.config.store import EncryptionSettings
from pyfixmsg_plus.engine.errors import ConfigError
from pyfixmsg_plus.engine.store.base import SessionKey
from pyfixmsg_plus.engine.store.encrypted import EncryptedMessageStore
from pyfixmsg_plus.engine.store.keyprovider import (
    KeyVersionError,
    LocalKeyFile,
    create_key_file,
    rotate_key_file,
)
from pyfixmsg_plus.engine.store.keyring import KEYS_LOG, IntegrityError, KeyRing
from pyfixmsg_plus.engine.store.ledger import MemoryLedger
from pyfixmsg_plus.engine.store.memory import MemoryStore
from pyfixmsg_plus.engine.store.secure import encrypt_store
from pyfixmsg_plus.engine.store.url import open_store

KEY = SessionKey("FIX.4.4:CLIENT->BROKER")
OTHER = SessionKey("FIX.4.4:CLIENT->OTHER")


def order(seq: int) -> bytes:
    return f"8=FIX.4.4\x0135=D\x0134={seq}\x0111=ORD-{seq:06d}-SECRET\x0110=000\x01".encode()


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "kek"
    create_key_file(path)
    return path


async def _memory(key_file: Path, max_uses: int = 1 << 24) -> EncryptedMessageStore:
    ring = KeyRing(LocalKeyFile(key_file), MemoryLedger(), max_uses)
    store = EncryptedMessageStore(MemoryStore(), ring, check_interval=0)
    await store.start()
    return store


async def test_bodies_round_trip_and_the_backend_holds_no_plaintext(key_file: Path) -> None:
    store = await _memory(key_file)
    s = await store.open(KEY)
    await s.save_outbound([(1, order(1)), (2, order(2))])
    assert await s.get_range(1, 0) == [(1, order(1)), (2, order(2))]
    raw = await (await store.inner.open(KEY)).get_range(1, 0)
    assert all(b"SECRET" not in data and b"35=D" not in data for _, data in raw)
    await store.close()


async def test_a_record_copied_to_another_seq_or_session_is_refused(key_file: Path) -> None:
    store = await _memory(key_file)
    s, other = await store.open(KEY), await store.open(OTHER)
    await s.save_outbound([(1, order(1)), (2, order(2))])
    await other.save_outbound([(1, order(1))])
    inner = store.inner
    assert isinstance(inner, MemoryStore)
    raw = dict(await (await inner.open(KEY)).get_range(1, 0))
    # seq 1's record written over seq 2 (an attacker with write access to the store)
    await (await inner.open(KEY)).reset(1)
    await (await inner.open(KEY)).save_outbound([(1, raw[1]), (2, raw[1])])
    assert await s.get_range(1, 1) == [(1, order(1))]
    with pytest.raises(IntegrityError) as moved:
        await s.get_range(2, 2)
    text = str(moved.value)
    assert "seq 2" in text and "written for seq 1" in text and "CLIENT->BROKER" in text
    # the same record under another session
    await (await inner.open(OTHER)).reset(1)
    await (await inner.open(OTHER)).save_outbound([(1, raw[1])])
    with pytest.raises(IntegrityError, match=r"CLIENT->OTHER.*another session"):
        await other.get_range(1, 0)
    await store.close()


async def test_an_altered_or_plain_record_is_refused(key_file: Path) -> None:
    store = await _memory(key_file)
    s = await store.open(KEY)
    await s.save_outbound([(1, order(1))])
    inner = await store.inner.open(KEY)
    (_, sealed), = await inner.get_range(1, 1)
    await inner.reset(1)
    await inner.save_outbound([(1, sealed[:-1] + bytes([sealed[-1] ^ 1])), (2, order(2))])
    with pytest.raises(IntegrityError, match="altered"):
        await s.get_range(1, 1)
    with pytest.raises(IntegrityError, match="not encrypted"):
        await s.get_range(2, 2)
    await store.close()


async def test_a_data_key_is_retired_after_max_uses(key_file: Path) -> None:
    store = await _memory(key_file, max_uses=3)
    s = await store.open(KEY)
    for seq in range(1, 8):
        await s.save_outbound([(seq, order(seq))])
    await s.save_outbound([(8, order(8)), (9, order(9)), (10, order(10))])
    ledger = store.ring.ledger
    # the first key sealed 1-3, the second 4-6, the third 7, a fourth 8-10
    assert await ledger.last_id(KEYS_LOG) == 4
    assert [d for _, d in await s.get_range(1, 0)] == [order(i) for i in range(1, 11)]
    await store.close()


async def test_rotation_of_the_local_key_file_is_picked_up(key_file: Path) -> None:
    store = await _memory(key_file)
    s = await store.open(KEY)
    await s.save_outbound([(1, order(1))])
    assert store.ring.active_version == 1
    assert not await store.check_rotation()
    assert rotate_key_file(key_file) == 2
    assert await store.check_rotation()
    assert store.ring.active_version == 2
    await s.save_outbound([(2, order(2))])
    assert [d for _, d in await s.get_range(1, 0)] == [order(1), order(2)]
    keys = await store.ring.stored_keys()
    assert sorted(k.version for k in keys.values()) == [1, 2]
    await store.close()


async def test_a_retired_key_version_is_named(key_file: Path) -> None:
    store = await _memory(key_file)
    s = await store.open(KEY)
    await s.save_outbound([(1, order(1))])
    rotate_key_file(key_file)
    with open(key_file, "a") as f:
        f.write("min_decryption_version 2\n")
    fresh = await _reopen(store)
    with pytest.raises(KeyVersionError, match="version 1 is not served"):
        await (await fresh.open(KEY)).get_range(1, 0)


async def _reopen(store: EncryptedMessageStore) -> EncryptedMessageStore:
    """The same backend and ledger seen by a new process (no cached keys)."""
    provider = store.ring.provider
    assert isinstance(provider, LocalKeyFile)
    ring = KeyRing(LocalKeyFile(provider.path), store.ring.ledger)
    return EncryptedMessageStore(store.inner, ring, check_interval=0)


def test_a_key_file_readable_by_others_is_refused(key_file: Path) -> None:
    os.chmod(key_file, 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        LocalKeyFile(key_file)


async def test_sqlite_file_holds_no_plaintext_and_reads_after_restart(
        tmp_path: Path, key_file: Path) -> None:
    db = tmp_path / "store.db"
    url = f"sqlite:///{db}"
    settings = EncryptionSettings(provider="local", key_file=str(key_file))
    store = await encrypt_store(await open_store(url), url, settings)
    s = await store.open(KEY)
    await s.save_outbound([(i, order(i)) for i in range(1, 51)])
    await store.close()
    blob = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("store.db"))
    assert b"ORD-000001" not in blob and b"SECRET" not in blob
    with sqlite3.connect(db) as conn:
        (entries,) = conn.execute("SELECT COUNT(*) FROM fixplus_ledger").fetchone()
    assert entries == 1
    again = await encrypt_store(await open_store(url), url, settings)
    s = await again.open(KEY)
    assert [d for _, d in await s.get_range(40, 42)] == [order(40), order(41), order(42)]
    await again.close()


def test_settings_name_what_a_provider_needs() -> None:
    with pytest.raises(ValueError, match="keyFile"):
        EncryptionSettings(provider="local")
    with pytest.raises(ValueError, match="vault"):
        EncryptionSettings(provider="transit")


async def test_the_next_data_key_is_made_in_the_background_and_order_kept(
        key_file: Path) -> None:
    import asyncio

    store = await _memory(key_file, max_uses=40)  # the next key is made after 30 uses
    s = await store.open(KEY)
    tasks = [asyncio.ensure_future(s.save_outbound([(seq, order(seq))])) for seq in range(1, 71)]
    await asyncio.gather(*tasks)
    assert [d for _, d in await s.get_range(1, 0)] == [order(i) for i in range(1, 71)]
    assert await store.ring.ledger.last_id(KEYS_LOG) >= 2
    await store.close()
