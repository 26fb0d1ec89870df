"""Opening a store with encryption at rest: settings -> provider -> wrapper."""

from __future__ import annotations

from ..config.store import EncryptionSettings
from .base import MessageStore
from .encrypted import EncryptedMessageStore
from .keyprovider import KeyProvider, LocalKeyFile
from .keyring import KeyRing
from .ledger import open_ledger


def key_provider(settings: EncryptionSettings) -> KeyProvider:
    """The key provider the settings name (no network call yet)."""
    if settings.provider == "transit":
        from .transit import TransitProvider  # noqa: PLC0415 - hvac: the vault extra
        assert settings.vault is not None
        provider: KeyProvider = TransitProvider(settings.vault)
        return provider
    assert settings.key_file is not None
    return LocalKeyFile(settings.key_file)


async def encrypt_store(store: MessageStore, url: str,
                        settings: EncryptionSettings) -> EncryptedMessageStore:
    """Wrap an open store so its message bodies are sealed; closes ``store``
    when the wrapper cannot be set up."""
    try:
        provider = key_provider(settings)
        ledger = await open_ledger(url, store)
        ring = KeyRing(provider, ledger, settings.max_data_key_uses)
        wrapped = EncryptedMessageStore(store, ring, settings.check_interval)
        await wrapped.start()
    except BaseException:
        await store.close()
        raise
    return wrapped
