"""Keeping a Vault login and dynamic database credentials alive while the
engine runs.

Theory of operation
-------------------

:class:`VaultKeeper` owns one :class:`~.vault.VaultClient`.  Every hvac call
runs in a thread (:func:`asyncio.to_thread`): the event loop never waits on
Vault.  Two tasks:

* **token**: a renewable token is renewed when ``tokenRenewFraction`` of its
  TTL has passed; a token that cannot be renewed any more (at its maximum
  TTL, expired, revoked) is replaced by a new login (Kubernetes and AppRole
  read their token or secret id again; a token file is read again).
* **database credentials** (``vault.databaseCredentials``): the lease is
  renewed when ``renewFraction`` of its TTL has passed.  Once a renewal is
  granted less than the lease's full TTL, the maximum TTL is near: new
  credentials are fetched, handed to ``apply`` (the store opens a new pool
  with them and swaps it in under the running sessions), and only then is
  the old lease revoked.  Renewing at 2/3 of the TTL leaves at least a
  third of it for the swap.

While Vault cannot be reached, the current token and credentials stay in
use: each failure is counted (``fixplus_vault_errors_total``), logged with
the operation and the reason (never a value), and retried after an
exponential backoff (:mod:`..transport.backoff`).  No session is touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from ..config import ReconnectSettings
from ..config.vault import VaultSettings
from ..observability.metrics import METRICS
from ..transport.backoff import Backoff, ExponentialBackoff
from .vault import Lease, VaultClient, VaultError, VaultRefused

log = logging.getLogger("pyfixmsg_plus.secrets")

#: Operations counted in ``fixplus_vault_errors_total`` (a bounded label).
OPERATIONS = ("login", "token_renewal", "lease_renewal", "credentials", "swap", "revoke")

ApplyCredentials = Callable[[str, str], Awaitable[None]]


@dataclasses.dataclass
class VaultStats:
    errors: dict[str, int] = dataclasses.field(
        default_factory=lambda: dict.fromkeys(OPERATIONS, 0))
    token_renewals: int = 0
    lease_renewals: int = 0
    rotations: int = 0


class VaultKeeper:
    """A Vault login and the store's credentials, kept alive (module notes)."""

    def __init__(self, settings: VaultSettings, *, client: VaultClient | None = None,
                 backoff: Backoff | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.client = client or VaultClient(settings, clock=clock)
        self.backoff = backoff or ExponentialBackoff(ReconnectSettings(
            initial_delay=settings.retry_initial_delay, max_delay=settings.retry_max_delay))
        self._clock = clock
        self.stats = VaultStats()
        self.lease: Lease | None = None
        self._full_ttl = 0.0
        self._tasks: list[asyncio.Task[None]] = []

    # -- start and stop ----------------------------------------------------------

    async def start(self) -> None:
        """Log in (a :class:`VaultError` naming Vault and the reason if it
        cannot) and start renewing the token."""
        await asyncio.to_thread(self.client.login)
        self._spawn(self._token_loop(), "vault token")

    async def first_credentials(self) -> Lease:
        """The store's first credentials (a :class:`VaultError` if none)."""
        path = self._credentials_path()
        lease = await asyncio.to_thread(self.client.database_credentials, path)
        self._take(lease)
        return lease

    def keep_credentials(self, apply: ApplyCredentials) -> None:
        """Renew the lease of :meth:`first_credentials`; rotate through ``apply``."""
        self._spawn(self._lease_loop(apply), "vault database credentials")

    async def stop(self, *, revoke: bool = True) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if revoke and self.lease is not None:  # the store is closed by now
            lease, self.lease = self.lease, None
            with contextlib.suppress(VaultError):
                await asyncio.wait_for(asyncio.to_thread(self.client.revoke_lease, lease),
                                       self.settings.timeout)

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        self._tasks.append(asyncio.get_running_loop().create_task(coro, name=name))

    def _credentials_path(self) -> str:
        creds = self.settings.database_credentials
        if creds is None:
            raise VaultRefused("vault.databaseCredentials is not configured")
        return creds.path

    def _take(self, lease: Lease) -> None:
        self.lease = lease
        self._full_ttl = lease.ttl

    def _failed(self, operation: str, exc: VaultError) -> float:
        """Count, log, and the seconds to wait before the next try."""
        self.stats.errors[operation] += 1
        delay = self.backoff.next_delay()
        log.warning("vault %s failed (current values kept; next try in %.1f s): %s",
                    operation.replace("_", " "), delay, exc)
        return delay

    # -- the token -----------------------------------------------------------------

    async def _token_loop(self) -> None:
        client = self.client
        while True:
            ttl = client.token_ttl
            if ttl <= 0:
                return  # a token without expiry: nothing to renew
            due = client.token_obtained + ttl * self.settings.token_renew_fraction
            await asyncio.sleep(max(0.0, due - self._clock()))
            try:
                try:
                    await asyncio.to_thread(client.renew_token)
                    self.stats.token_renewals += 1
                except VaultRefused:  # expired or revoked: a new login
                    await asyncio.to_thread(client.login)
                self.backoff.reset()
            except VaultError as exc:
                await asyncio.sleep(self._failed("token_renewal", exc))

    # -- the database lease ------------------------------------------------------------

    async def _lease_loop(self, apply: ApplyCredentials) -> None:
        fraction = self._renew_fraction()
        while True:
            lease = self.lease
            assert lease is not None
            due = lease.obtained + lease.ttl * fraction
            await asyncio.sleep(max(0.0, due - self._clock()))
            delay = await self._renew_or_rotate(lease, apply)
            if delay:
                await asyncio.sleep(delay)

    def _renew_fraction(self) -> float:
        creds = self.settings.database_credentials
        return creds.renew_fraction if creds is not None else 2 / 3

    async def _renew_or_rotate(self, lease: Lease, apply: ApplyCredentials) -> float:
        """One step; the seconds to wait before retrying (0: done)."""
        if lease.renewable:
            try:
                renewed = await asyncio.to_thread(self.client.renew_lease, lease)
            except VaultRefused:  # expired or revoked: new credentials now
                renewed = None
            except VaultError as exc:
                return self._failed("lease_renewal", exc)
            if renewed is not None and renewed.ttl >= self._full_ttl:
                self.lease = renewed
                self.stats.lease_renewals += 1
                self.backoff.reset()
                return 0.0
            if renewed is not None:
                self.lease = renewed  # near the maximum TTL: keep it while rotating
        return await self._rotate(apply)

    async def _rotate(self, apply: ApplyCredentials) -> float:
        old = self.lease
        try:
            new = await asyncio.to_thread(self.client.database_credentials,
                                          self._credentials_path())
        except VaultError as exc:
            return self._failed("credentials", exc)
        try:
            await apply(new.username, new.password)
        except Exception as exc:  # the store could not log in with them
            with contextlib.suppress(VaultError):
                await asyncio.to_thread(self.client.revoke_lease, new)
            self.stats.errors["swap"] += 1
            delay = self.backoff.next_delay()
            log.warning("new database credentials could not be put in use (current ones kept; "
                        "next try in %.1f s): %s", delay, exc)
            return delay
        self._take(new)
        self.stats.rotations += 1
        self.backoff.reset()
        log.info("database credentials rotated (lease TTL %.0f s)", new.ttl)
        if old is not None:
            try:
                await asyncio.to_thread(self.client.revoke_lease, old)
            except VaultError as exc:  # it expires by itself
                self.stats.errors["revoke"] += 1
                log.warning("vault revoke of the previous database lease failed: %s", exc)
        return 0.0


class VaultCollector(Collector):
    """``fixplus_vault_errors_total`` of the engine's :class:`VaultKeeper`
    (the series exist from the start: zeros without Vault)."""

    def __init__(self, keeper: Callable[[], VaultKeeper | None]) -> None:
        self.keeper = keeper

    def collect(self) -> Iterator[Metric]:
        keeper = self.keeper()
        stats = keeper.stats if keeper is not None else VaultStats()
        name, (_, text) = "fixplus_vault_errors", METRICS["fixplus_vault_errors_total"]
        errors = CounterMetricFamily(name, text, labels=["operation"])
        for operation, count in stats.errors.items():
            errors.add_metric([operation], count)
        yield errors
