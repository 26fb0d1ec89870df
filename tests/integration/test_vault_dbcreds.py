"""Dynamic PostgreSQL credentials from Vault's database secrets engine under
load: leases of 3 s (maximum 9 s) renewed at 2/3 of their TTL, new
credentials swapped in under the running session before the maximum TTL.
Vault's role ends the sessions of a revoked user, so a store that kept the
old credentials would fail.  Proof: orders flow the whole time, at least
three credential changes, 0 orders lost, 0 unflagged duplicates, no
session dropped."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import (
    Engines,
    RecordingApp,
    acceptor,
    initiator,
    new_order,
    port_of,
    wait_until,
)
from tests.integration.vaultenv import VaultEnv, vault
from tests.realparts import env_value, missing

pytestmark = pytest.mark.integration
__all__ = ["vault"]  # the fixture

asyncpg = pytest.importorskip("asyncpg")

CLIENT = "FIX.4.4:CLIENT->BROKER"
BROKER = "FIX.4.4:BROKER->CLIENT"


def make_role(vault: VaultEnv, owner: str, ttl: int, max_ttl: int) -> str:
    role = vault.id
    vault.root.write_data(f"database/roles/{role}", data={
        "db_name": "fixplus-pg", "default_ttl": ttl, "max_ttl": max_ttl,
        "creation_statements": [
            f"CREATE ROLE \"{{{{name}}}}\" LOGIN PASSWORD '{{{{password}}}}' "
            f"VALID UNTIL '{{{{expiration}}}}' IN ROLE {owner}",
            f"ALTER ROLE \"{{{{name}}}}\" SET role TO {owner}"],
        "revocation_statements": [
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE usename = '{{name}}'",
            "DROP ROLE IF EXISTS \"{{name}}\""]})
    return role


async def drop_schema(vault: VaultEnv, role: str, dsn_host: str, schema: str) -> None:
    creds = vault.root.read(f"database/creds/{role}")
    try:
        conn = await asyncpg.connect(f"postgresql://{dsn_host}", user=creds["data"]["username"],
                                     password=creds["data"]["password"])
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()
    finally:
        vault.root.sys.revoke_lease(creds["lease_id"])


@pytest.mark.vault_server
async def test_dynamic_credentials_rotate_under_flowing_orders(
        vault: VaultEnv, engines: Engines, tmp_path: Path) -> None:
    dsn = env_value("FIXPLUS_PG_DSN")
    owner = env_value("FIXPLUS_VAULT_PG_OWNER")
    if not dsn or not owner:
        missing("Vault database secrets engine: FIXPLUS_PG_DSN / FIXPLUS_VAULT_PG_OWNER not set "
                "(tests/env/10-postgres.sh, 35-vault.sh)")
        return
    host = dsn.rsplit("@", 1)[1]  # 127.0.0.1:55432/fixplus
    schema = vault.id.replace("-", "_")
    role = make_role(vault, owner, ttl=3, max_ttl=9)
    token = vault.token_for(
        f'path "database/creds/{role}" {{ capabilities = ["read"] }}\n'
        'path "sys/leases/renew" { capabilities = ["update"] }\n'
        'path "sys/leases/revoke" { capabilities = ["update"] }\n', tmp_path)
    vault_settings: dict[str, Any] = {
        "address": vault.addr, "retryInitialDelay": 0.2, "retryMaxDelay": 1,
        "auth": {"method": "token", "tokenFile": str(token)},
        "databaseCredentials": {"path": f"database/creds/{role}"}}
    try:
        broker = RecordingApp("broker", broker=True)
        acc = await engines.start(f"postgresql://{host}?schema={schema}", broker,
                                  [acceptor()], vault=vault_settings)
        keeper = acc.vault
        assert keeper is not None and keeper.lease is not None
        users = {keeper.lease.username}
        app = RecordingApp("client")
        ini = await engines.start("memory://", app, [initiator(port_of(acc))])
        await ini.wait_logged_on(CLIENT, 10)

        sent: list[str] = []
        stop = asyncio.Event()

        async def flow() -> None:
            while not stop.is_set():
                cl_ord_id = f"o-{len(sent)}"
                await ini.driver(CLIENT).send(new_order(cl_ord_id))
                sent.append(cl_ord_id)
                await asyncio.sleep(0.01)

        async def watch_users() -> None:
            while not stop.is_set():
                if keeper.lease is not None:
                    users.add(keeper.lease.username)
                await asyncio.sleep(0.05)

        tasks = [asyncio.create_task(flow()), asyncio.create_task(watch_users())]
        try:
            await wait_until(lambda: keeper.stats.rotations >= 3, 90,
                             "three credential rotations")
        finally:
            stop.set()
            await asyncio.gather(*tasks)
        await wait_until(lambda: len(app.ids("8")) >= len(sent), 30, "every report")

        received = broker.ids("D")
        assert not set(sent) - set(received), "orders lost"
        assert len(broker.ids("D", poss_dup=False)) == len(set(received)), \
            "an order delivered twice without PossDupFlag"
        reports = app.ids("8", poss_dup=False)
        assert len(reports) == len(set(reports)) == len(sent)
        assert broker.logons == 1 and app.logons == 1, "a session was dropped"
        assert ini.initiators[CLIENT].connections == 1
        assert acc.driver(BROKER).logged_on and ini.driver(CLIENT).logged_on
        assert acc.driver(BROKER).session.stats.store_errors == 0
        assert len(users) >= 4 and keeper.stats.rotations >= 3
        assert keeper.stats.lease_renewals >= 3
        assert keeper.stats.errors["swap"] == 0
        # the store's rows were written by every user in turn, into one schema
        store = acc.store
        assert store is not None
        rows = await store.fetch(f'SELECT count(*) FROM "{schema}".messages')  # type: ignore[attr-defined]
        assert rows[0][0] >= len(sent)
        # the revoked users are gone from PostgreSQL
        current = keeper.lease.username if keeper.lease else None
        names = await store.fetch(  # type: ignore[attr-defined]
            "SELECT rolname FROM pg_roles WHERE rolname = ANY($1::text[])", sorted(users))
        assert {r[0] for r in names} <= {current}
    finally:
        await engines.stop_all()
        await drop_schema(vault, role, host, schema)
        vault.root.delete(f"database/roles/{role}")


@pytest.mark.vault_server
async def test_store_password_file_is_read_again_when_it_changes(
        vault: VaultEnv, tmp_path: Path) -> None:
    """A PostgreSQL user whose password is rotated: the new password file
    (a Secret volume ``..data`` swap) is put in use under running writes."""
    from pyfixmsg_plus.engine.secrets.storecreds import StoreCredentials
    from pyfixmsg_plus.engine.store.base import SessionKey

    from tests.integration.test_tls_reload import secret_volume

    dsn = env_value("FIXPLUS_PG_DSN")
    owner = env_value("FIXPLUS_VAULT_PG_OWNER")
    if not dsn or not owner:
        missing("Vault database secrets engine: FIXPLUS_PG_DSN / FIXPLUS_VAULT_PG_OWNER not set")
        return
    host = dsn.rsplit("@", 1)[1]
    schema = vault.id.replace("-", "_")
    role = make_role(vault, owner, ttl=120, max_ttl=300)  # a user of our own for the test
    creds = vault.root.read(f"database/creds/{role}")
    user, first = creds["data"]["username"], creds["data"]["password"]
    volume = tmp_path / "secret"
    volume.mkdir()
    (tmp_path / "pw1").write_text(first + "\n")
    secret_volume(volume, "v1", {"password": tmp_path / "pw1"})
    url = f"postgresql://{user}@{host}?schema={schema}&password_file={volume / 'password'}"
    keeper_less = StoreCredentials(url, None, check_every=0.05)
    store = await keeper_less.open()
    try:
        session = await store.open(SessionKey("PWFILE"))
        await session.save_outbound([(1, b"one")])
        pool = store.pool  # type: ignore[attr-defined]
        second = first + "-rotated"
        conn = await asyncpg.connect(f"postgresql://{host}", user=user, password=first)
        try:  # the user acts as the owner role (SET role): back to itself first
            await conn.execute("RESET ROLE")
            await conn.execute(f"ALTER ROLE CURRENT_USER PASSWORD '{second}'")
        finally:
            await conn.close()
        (tmp_path / "pw2").write_text(second + "\n")
        secret_volume(volume, "v2", {"password": tmp_path / "pw2"})
        await wait_until(lambda: keeper_less.password_swaps == 1, 20, "the new password in use")
        assert store.pool is not pool  # type: ignore[attr-defined]
        await session.save_outbound([(2, b"two")])
        assert [seq for seq, _ in await session.get_range(1, 2)] == [1, 2]
        # a file that cannot log in is not put in use
        (tmp_path / "pw3").write_text("wrong\n")
        secret_volume(volume, "v3", {"password": tmp_path / "pw3"})
        await asyncio.sleep(0.5)
        assert keeper_less.password_swaps == 1
        await session.save_outbound([(3, b"three")])
    finally:
        await keeper_less.stop()
        await store.close()
        await drop_schema(vault, role, host, schema)
        vault.root.sys.revoke_lease(creds["lease_id"])
        vault.root.delete(f"database/roles/{role}")
