"""Opening a store with encryption at rest: settings -> provider -> wrapper."""

from __future__ import annotations

import dataclasses
import hashlib

from pydantic import BaseModel

from ..config.store import AuditSettings, EncryptionSettings
from ..errors import ConfigError
from .audit import AUDIT_LOG, AuditTrail
from .audited import AuditedMessageStore
from .base import MessageStore
from .encrypted import EncryptedMessageStore
from .keyprovider import KeyProvider, LocalKeyFile
from .keyring import KEYS_LOG, KeyRing
from .ledger import LEDGERS, Ledger, open_ledger
from .url import open_store, parse_store_url


def key_provider(settings: EncryptionSettings) -> KeyProvider:
    """The key provider the settings name (no network call yet)."""
    if settings.provider == "transit":
        from .transit import TransitProvider  # noqa: PLC0415 - hvac: the vault extra
        assert settings.vault is not None
        provider: KeyProvider = TransitProvider(settings.vault)
        return provider
    assert settings.key_file is not None
    return LocalKeyFile(settings.key_file)


async def encrypt_store(store: MessageStore, url: str, settings: EncryptionSettings,
                        *, first_key: bool = True) -> EncryptedMessageStore:
    """Wrap an open store so its message bodies are sealed; closes ``store``
    when the wrapper cannot be set up.  ``first_key``: make the first data
    key now (an engine); tools that may only read leave it to the first write."""
    ledger: Ledger | None = None
    try:
        provider = key_provider(settings)
        ledger = await open_ledger(url, store)
        ring = KeyRing(provider, ledger, settings.max_data_key_uses)
        wrapped = EncryptedMessageStore(store, ring, settings.check_interval)
        await wrapped.start(first_key=first_key)
    except BaseException:
        if ledger is not None:
            await ledger.close()
        await store.close()
        raise
    return wrapped


async def audit_store(store: MessageStore, url: str, settings: AuditSettings,
                      encryption: EncryptionSettings | None
                      ) -> tuple[AuditedMessageStore, AuditTrail]:
    """Wrap ``store`` so resets and store changes are audited; the trail
    (started) signs with the encryption's key provider (unsigned without)."""
    if isinstance(store, EncryptedMessageStore):
        trail = AuditTrail(store.ring.ledger, store.ring.provider, settings.sign_interval)
        store.audit = trail.event
    else:
        provider = key_provider(encryption) if encryption is not None else None
        trail = AuditTrail(await open_ledger(url, store), provider, settings.sign_interval,
                           owns_ledger=True)
    trail.start()
    return AuditedMessageStore(store, trail.event), trail


def config_hash(config: BaseModel) -> str:
    """SHA-256 of the configuration as loaded (secrets masked), for the trail."""
    return hashlib.sha256(config.model_dump_json(by_alias=True).encode()).hexdigest()


@dataclasses.dataclass
class SecuredStore:
    """A store opened for a tool: encrypted and audited as configured."""

    store: MessageStore
    trail: AuditTrail | None

    async def close(self) -> None:
        try:
            if self.trail is not None:
                await self.trail.close()
        finally:
            await self.store.close()


async def open_secured(url: str, encryption: EncryptionSettings | None,
                       audit: AuditSettings | None) -> SecuredStore:
    """Open the store at ``url`` as the engine would (``fixplus store``).

    Without encryption settings, a store whose ledger holds data keys is
    refused (its bodies could not be read, and plain ones must not be
    written into it); with a ledger holding an audit trail, changes are
    audited even when ``audit`` is not given.
    """
    store = await open_store(url)
    ledger: Ledger | None = None
    try:
        if encryption is not None:
            store = await encrypt_store(store, url, encryption, first_key=False)
        elif parse_store_url(url).scheme in LEDGERS:
            ledger = await open_ledger(url, store)
            if await ledger.last_id(KEYS_LOG):
                raise ConfigError(f"store {parse_store_url(url).redacted()} is encrypted: give "
                                  "its engine configuration (-c CONFIG) with the encryption "
                                  "settings")
        audited = audit is not None and audit.enabled
        if not audited and (ledger is not None or isinstance(store, EncryptedMessageStore)):
            probe = store.ring.ledger if isinstance(store, EncryptedMessageStore) else ledger
            assert probe is not None
            audited = bool(await probe.last_id(AUDIT_LOG))
        if not audited:
            if ledger is not None:
                await ledger.close()
            return SecuredStore(store, None)
        if ledger is not None:
            await ledger.close()
        wrapped, trail = await audit_store(store, url, audit or AuditSettings(enabled=True),
                                           encryption)
        return SecuredStore(wrapped, trail)
    except BaseException:
        if ledger is not None:
            await ledger.close()
        await store.close()
        raise
