"""The message store's credentials while the engine runs.

* With ``vault.databaseCredentials`` the store URL names no user and no
  password: the first dynamic credentials are put into it, and the store's
  ``swap_credentials`` hook (PostgreSQL) takes every later pair while the
  sessions run (:mod:`.keeper`).
* With ``password_file=`` in a PostgreSQL store URL, the file is checked
  every :data:`PASSWORD_FILE_CHECK` seconds (a Secret volume swap or a
  rewrite) and a new password is put in use the same way: a new pool logs in
  with it, running transactions finish on the old one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

from ..errors import ConfigError
from ..store.base import MessageStore
from ..store.url import open_store, parse_store_url
from ..transport.reload import ReloadingFile
from .keeper import ApplyCredentials as SwapCredentials
from .keeper import VaultKeeper

log = logging.getLogger("pyfixmsg_plus.secrets")

#: Seconds between two looks at a store's password file.
PASSWORD_FILE_CHECK = 5.0


def with_credentials(url: str, username: str, password: str) -> str:
    """``url`` with ``username:password@`` put in (it must have none)."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        raise ConfigError("vault.databaseCredentials gives the store its user and password: "
                          "leave user:password out of store")
    netloc = f"{quote(username, safe='')}:{quote(password, safe='')}@{parts.netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _is_postgres(url: str) -> bool:
    return url.partition(":")[0].lower() in ("postgresql", "postgres")


class StoreCredentials:
    """Opens the store and keeps its credentials current (module notes)."""

    def __init__(self, url: str, keeper: VaultKeeper | None,
                 check_every: float = PASSWORD_FILE_CHECK) -> None:
        self.url = url
        self.keeper = keeper
        self.check_every = check_every
        self.password_swaps = 0
        self._task: asyncio.Task[None] | None = None

    async def open(self) -> MessageStore:
        keeper = self.keeper
        if keeper is not None and keeper.settings.database_credentials is not None:
            if not _is_postgres(self.url):
                raise ConfigError("vault.databaseCredentials works with a postgresql:// store "
                                  f"only (store is {self.url.partition(':')[0]}://)")
            with_credentials(self.url, "-", "-")  # the URL must carry no credentials itself
            lease = await keeper.first_credentials()
            store = await open_store(with_credentials(self.url, lease.username, lease.password))
            keeper.keep_credentials(_swap_hook(store))
            return store
        store = await open_store(self.url)
        password_file = dict(parse_qsl(urlsplit(self.url).query)).get("password_file")
        if password_file and _is_postgres(self.url):
            username = parse_store_url(self.url).username or ""
            self._task = asyncio.get_running_loop().create_task(
                self._watch(store, username, ReloadingFile(password_file)),
                name="store password file")
        return store

    async def _watch(self, store: MessageStore, username: str, secret: ReloadingFile) -> None:
        swap = _swap_hook(store)
        while True:
            await asyncio.sleep(self.check_every)
            if not secret.refresh():
                continue
            try:
                await swap(username, secret.value)
            except Exception as exc:  # the old pool stays; the next change is tried
                log.warning("store password file %s changed but the new password cannot log "
                            "in (the current connections stay): %s", secret.path, exc)
            else:
                self.password_swaps += 1
                log.info("store password file %s changed: new connections use it", secret.path)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


def _swap_hook(store: MessageStore) -> SwapCredentials:
    swap: SwapCredentials | None = getattr(store, "swap_credentials", None)
    assert swap is not None, "the PostgreSQL store swaps credentials"
    return swap
