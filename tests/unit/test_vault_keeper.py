"""VaultKeeper's schedule against a stand-in client (no Vault): leases
renewed, credentials rotated once a renewal is capped, the old lease revoked
only after the swap, failures counted and retried with the values kept."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time
from typing import Any

import pytest
from pyfixmsg_plus.engine.config.vault import VaultSettings
from pyfixmsg_plus.engine.secrets.keeper import VaultKeeper
from pyfixmsg_plus.engine.secrets.vault import Lease, VaultRefused, VaultUnavailable
from pyfixmsg_plus.engine.transport.backoff import NoWait

TTL = 0.09  # seconds: the stand-in's leases
MAX_TTL = 0.3


class FakeVault:
    """Leases of TTL seconds capped at MAX_TTL after their creation."""

    def __init__(self) -> None:
        self.counter = itertools.count(1)
        self.created: dict[str, float] = {}
        self.revoked: list[str] = []
        self.down = False
        self.log: list[str] = []
        self.token_ttl = 0.0
        self.token_renewable = False
        self.token_obtained = 0.0
        self.logged_in = False

    def login(self) -> None:
        self.logged_in = True

    def _check(self) -> None:
        if self.down:
            raise VaultUnavailable("Vault at http://fake: cannot reach Vault (ConnectionError)")

    def database_credentials(self, path: str) -> Lease:
        self._check()
        n = next(self.counter)
        lease = Lease(f"lease-{n}", f"user-{n}", f"pw-{n}", TTL, True, time.monotonic())
        self.created[lease.lease_id] = lease.obtained
        self.log.append(f"new {lease.username}")
        return lease

    def renew_lease(self, lease: Lease) -> Lease:
        self._check()
        if lease.lease_id in self.revoked:
            raise VaultRefused("lease not found")
        now = time.monotonic()
        granted = min(TTL, self.created[lease.lease_id] + MAX_TTL - now)
        self.log.append(f"renew {lease.username}")
        return dataclasses.replace(lease, ttl=max(0.0, granted), obtained=now)

    def revoke_lease(self, lease: Lease) -> None:
        self._check()
        self.revoked.append(lease.lease_id)
        self.log.append(f"revoke {lease.username}")


def keeper_with(fake: FakeVault) -> VaultKeeper:
    settings = VaultSettings.model_validate(
        {"address": "http://fake", "databaseCredentials": {"path": "database/creds/r"}})
    return VaultKeeper(settings, client=fake, backoff=NoWait())  # type: ignore[arg-type]


async def wait_for(predicate: Any, what: str) -> None:
    async with asyncio.timeout(10):
        while not predicate():
            await asyncio.sleep(0.005)


async def test_renews_then_rotates_before_the_maximum_ttl() -> None:
    fake = FakeVault()
    keeper = keeper_with(fake)
    applied: list[str] = []

    async def apply(user: str, password: str) -> None:
        fake.log.append(f"swap {user}")
        applied.append(user)

    first = await keeper.first_credentials()
    keeper.keep_credentials(apply)
    try:
        await wait_for(lambda: keeper.stats.rotations >= 2, "two rotations")
    finally:
        await keeper.stop(revoke=False)
    assert applied[:2] == ["user-2", "user-3"]
    assert keeper.stats.lease_renewals >= 2
    # the old lease is revoked only after its successor is in use
    assert fake.log.index("swap user-2") < fake.log.index(f"revoke {first.username}")
    assert fake.log.index("new user-2") > fake.log.index(f"renew {first.username}")
    assert sum(keeper.stats.errors.values()) == 0


async def test_vault_down_keeps_the_credentials_and_retries() -> None:
    fake = FakeVault()
    keeper = keeper_with(fake)
    applied: list[str] = []

    async def apply(user: str, password: str) -> None:
        applied.append(user)

    await keeper.first_credentials()
    fake.down = True
    keeper.backoff = SlowRetry()
    keeper.keep_credentials(apply)
    try:
        await wait_for(lambda: keeper.stats.errors["lease_renewal"] >= 3, "failing renewals")
        assert keeper.lease is not None and keeper.lease.username == "user-1"
        assert applied == []
        fake.down = False
        await wait_for(lambda: keeper.stats.rotations >= 1, "a rotation once Vault is back")
    finally:
        await keeper.stop(revoke=False)
    assert applied[0] == "user-2"


async def test_credentials_that_cannot_be_used_are_revoked_and_retried() -> None:
    fake = FakeVault()
    keeper = keeper_with(fake)
    keeper.backoff = SlowRetry()
    tries: list[str] = []

    async def apply(user: str, password: str) -> None:
        tries.append(user)
        if len(tries) < 3:
            raise OSError("password authentication failed")

    await keeper.first_credentials()
    keeper.keep_credentials(apply)
    try:
        await wait_for(lambda: keeper.stats.rotations >= 1, "a rotation")
    finally:
        await keeper.stop(revoke=False)
    assert keeper.stats.errors["swap"] == 2
    assert "lease-2" in fake.revoked and "lease-3" in fake.revoked
    assert keeper.lease is not None and keeper.lease.username == tries[2]


async def test_stop_revokes_the_current_lease() -> None:
    fake = FakeVault()
    keeper = keeper_with(fake)
    await keeper.first_credentials()
    await keeper.stop()
    assert fake.revoked == ["lease-1"] and keeper.lease is None


async def test_without_database_credentials_settings() -> None:
    keeper = VaultKeeper(VaultSettings.model_validate({"address": "http://fake"}),
                         client=FakeVault())  # type: ignore[arg-type]
    with pytest.raises(VaultRefused, match="databaseCredentials is not configured"):
        await keeper.first_credentials()


class SlowRetry:
    """A short fixed retry delay (NoWait would spin the loop while Vault is down)."""

    def next_delay(self) -> float:
        return 0.01

    def reset(self) -> None:
        return None
