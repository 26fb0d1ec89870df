"""Opening the message store with credentials from Vault.

With ``vault.databaseCredentials`` the store URL names no user and no
password: the first dynamic credentials are put into it, and the store's
``swap_credentials`` hook (PostgreSQL) takes every later pair while the
sessions run (:mod:`.keeper`).
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

from ..errors import ConfigError
from ..store.base import MessageStore
from ..store.url import open_store
from .keeper import VaultKeeper


def with_credentials(url: str, username: str, password: str) -> str:
    """``url`` with ``username:password@`` put in (it must have none)."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        raise ConfigError("vault.databaseCredentials gives the store its user and password: "
                          "leave user:password out of store")
    netloc = f"{quote(username, safe='')}:{quote(password, safe='')}@{parts.netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


async def open_store_with_vault(url: str, keeper: VaultKeeper) -> MessageStore:
    """Open ``url`` with the keeper's first credentials; keep them fresh."""
    scheme = url.partition(":")[0].lower()
    if scheme not in ("postgresql", "postgres"):
        raise ConfigError("vault.databaseCredentials works with a postgresql:// store only "
                          f"(store is {scheme}://)")
    with_credentials(url, "u", "p")  # the URL must not carry credentials of its own
    lease = await keeper.first_credentials()
    store = await open_store(with_credentials(url, lease.username, lease.password))
    swap = getattr(store, "swap_credentials", None)
    assert swap is not None, "the PostgreSQL store swaps credentials"
    keeper.keep_credentials(swap)
    return store
