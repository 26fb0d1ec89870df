"""Secrets from a real Vault (tests/env/35-vault.sh): KV references in a
configuration, the three login methods, errors that name the reference and
never the value, and a running engine that keeps its values while Vault
cannot be reached."""

from __future__ import annotations

import asyncio
import logging
import subprocess
from pathlib import Path

import pytest
import yaml
from pyfixmsg_plus.engine.config import InvalidConfigError, load_config
from pyfixmsg_plus.engine.config.vault import VaultSettings
from pyfixmsg_plus.engine.secrets import resolve
from pyfixmsg_plus.engine.secrets.keeper import VaultCollector, VaultKeeper
from pyfixmsg_plus.engine.secrets.refs import parse_ref
from pyfixmsg_plus.engine.secrets.vault import VaultClient, VaultRefused, VaultUnavailable

from tests.integration.conftest import FastBackoff, wait_until
from tests.integration.faultproxy import FaultProxy
from tests.integration.vaultenv import VaultEnv, environ_without_vault, kubectl, vault
from tests.realparts import env_value, missing

pytestmark = pytest.mark.integration
__all__ = ["vault"]  # the fixture

SESSION = {"beginString": "FIX.4.4", "senderCompId": "CLIENT", "targetCompId": "BROKER",
           "role": "initiator", "connect": [{"host": "127.0.0.1", "port": 9878}]}


@pytest.fixture(autouse=True)
def _references() -> None:
    resolve.install()


def read_policy(env: VaultEnv) -> str:
    return f'path "kv/data/{env.id}/*" {{ capabilities = ["read"] }}\n'


def write_config(tmp: Path, vault: dict[str, object], password: str) -> Path:
    path = tmp / "engine.yaml"
    path.write_text(yaml.safe_dump({"vault": vault, "store": "memory://",
                                    "sessions": [{**SESSION, "password": password}]}))
    return path


@pytest.mark.vault_server
def test_configuration_reads_kv_references_with_a_token_file(vault: VaultEnv,
                                                             tmp_path: Path) -> None:
    vault.put("BROKER", password="logon-pw-1", other="x")
    token = vault.token_for(read_policy(vault), tmp_path)
    path = write_config(tmp_path, {"address": vault.addr,
                                   "auth": {"method": "token", "tokenFile": str(token)}},
                        f"${{VAULT:kv/{vault.id}/BROKER#password}}")
    cfg = load_config(path, environ=environ_without_vault())
    assert cfg.sessions[0].password is not None
    assert cfg.sessions[0].password.get_secret_value() == "logon-pw-1"
    # the API path spelling, and the token from the environment
    path = write_config(tmp_path, {"address": vault.addr},
                        f"${{VAULT:kv/data/{vault.id}/BROKER#password}}")
    env = {**environ_without_vault(), "VAULT_TOKEN": token.read_text().strip()}
    assert load_config(path, environ=env).sessions[0].password is not None


@pytest.mark.vault_server
def test_errors_name_the_reference_and_never_the_value(vault: VaultEnv, tmp_path: Path) -> None:
    vault.put("BROKER", password="NeverShowThis")
    token = vault.token_for(read_policy(vault), tmp_path)
    auth = {"address": vault.addr, "auth": {"method": "token", "tokenFile": str(token)}}
    cases = {
        f"kv/{vault.id}/BROKER#nofield": "the secret has no field 'nofield'",
        f"kv/{vault.id}/NOPE#password": "no such secret",
        "kv/someone-else/BROKER#password": "permission denied",
    }
    for ref, reason in cases.items():
        path = write_config(tmp_path, auth, f"${{VAULT:{ref}}}")
        with pytest.raises(InvalidConfigError) as info:
            load_config(path, environ=environ_without_vault())
        text = str(info.value)
        assert f"sessions[0].password: Vault at {vault.addr}: ${{VAULT:{ref}}}" in text, text
        assert reason in text, text
        assert "NeverShowThis" not in text and token.read_text().strip() not in text


def test_vault_unreachable_at_start_is_a_clear_error(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"address": "http://127.0.0.1:9", "timeout": 2,
                                   "auth": {"method": "token", "tokenEnv": "T"}},
                        "${VAULT:kv/fix/BROKER#password}")
    with pytest.raises(InvalidConfigError) as info:
        load_config(path, environ={"T": "some-token"})
    text = str(info.value)
    assert "sessions[0].password: ${VAULT:kv/fix/BROKER#password}: Vault at " \
           "http://127.0.0.1:9: token lookup: cannot reach Vault" in text, text
    assert "some-token" not in text


@pytest.mark.vault_server
def test_approle_login(vault: VaultEnv, tmp_path: Path) -> None:
    vault.put("BROKER", password="approle-pw")
    policy = vault.policy(read_policy(vault))
    role = vault.id
    vault.root.write_data(f"auth/approle/role/{role}",
                              data={"token_policies": policy, "token_ttl": "10m"})
    try:
        role_id = vault.root.read(f"auth/approle/role/{role}/role-id")["data"]["role_id"]
        secret_id = vault.root.write_data(f"auth/approle/role/{role}/secret-id")["data"][
            "secret_id"]
        (tmp_path / "secret-id").write_text(secret_id)
        settings = VaultSettings.model_validate({"address": vault.addr, "auth": {
            "method": "approle", "roleId": role_id, "secretIdFile": str(tmp_path / "secret-id")}})
        client = VaultClient(settings)
        assert client.read_field(parse_ref(f"kv/{vault.id}/BROKER#password")) == "approle-pw"
        assert 0 < client.token_ttl <= 600 and client.token_renewable
        (tmp_path / "secret-id").write_text("not-the-secret-id")
        with pytest.raises(VaultRefused, match="AppRole login at auth/approle"):
            client.login()
    finally:
        vault.root.delete(f"auth/approle/role/{role}")


@pytest.mark.vault_server
def test_kubernetes_login_reads_the_service_account_token_before_every_login(
        vault: VaultEnv, tmp_path: Path) -> None:
    kube = kubectl()
    kubeconfig = env_value("FIXPLUS_KUBECONFIG")
    if kube is None or kubeconfig is None:
        missing("Vault Kubernetes auth: no test kube-apiserver configured in Vault "
                "(FIXPLUS_VAULT_KUBE_AUTH=1 from tests/env/35-vault.sh)")
        return
    namespace = f"fixplus-{vault.id}"

    def k(*args: str) -> str:
        return subprocess.run([kube, "--kubeconfig", kubeconfig, *args], check=True,
                              capture_output=True, text=True, timeout=60).stdout

    vault.put("BROKER", password="kube-pw")
    policy = vault.policy(read_policy(vault))
    role = vault.id
    k("create", "namespace", namespace)
    try:
        k("-n", namespace, "create", "serviceaccount", "engine")
        vault.root.write_data(f"auth/kubernetes/role/{role}", data={
            "bound_service_account_names": "engine",
            "bound_service_account_namespaces": namespace, "token_policies": policy,
            "token_ttl": "10m"})
        token_file = tmp_path / "token"
        token_file.write_text(k("-n", namespace, "create", "token", "engine",
                                "--duration", "10m").strip())
        settings = VaultSettings.model_validate({"address": vault.addr, "auth": {
            "method": "kubernetes", "role": role, "tokenFile": str(token_file)}})
        client = VaultClient(settings)
        assert client.read_field(parse_ref(f"kv/{vault.id}/BROKER#password")) == "kube-pw"
        # a projected token is replaced by the kubelet: the next login reads the new one
        token_file.write_text(k("-n", namespace, "create", "token", "engine",
                                "--duration", "10m").strip())
        client.login()
        assert client.read_field(parse_ref(f"kv/{vault.id}/BROKER#password")) == "kube-pw"
        token_file.write_text("not.a.token")
        with pytest.raises(VaultRefused, match=f"Kubernetes login as role {role}"):
            client.login()
    finally:
        vault.root.delete(f"auth/kubernetes/role/{role}")
        k("delete", "namespace", namespace, "--wait=false")


@pytest.mark.vault_server
async def test_values_kept_while_vault_is_unreachable(
        vault: VaultEnv, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A short-lived token renewed through a proxy that is then cut: the
    errors are counted and logged, the token stays, renewals resume."""
    caplog.set_level(logging.INFO)
    vault.put("BROKER", password="kept")
    token = vault.token_for(read_policy(vault), tmp_path, ttl="6s", explicit_max_ttl="10m")
    port = int(vault.addr.rsplit(":", 1)[1])
    async with FaultProxy("127.0.0.1", port) as proxy:
        settings = VaultSettings.model_validate({
            "address": f"http://127.0.0.1:{proxy.port}", "timeout": 2,
            "auth": {"method": "token", "tokenFile": str(token)}})
        keeper = VaultKeeper(settings, backoff=FastBackoff(0.2))
        await keeper.start()
        try:
            await wait_until(lambda: keeper.stats.token_renewals >= 1, 20, "a renewal")
            proxy.refuse = True
            proxy.cut()
            await wait_until(lambda: keeper.stats.errors["token_renewal"] >= 2, 20,
                             "renewals failing")
            assert keeper.client.logged_in
            ref = parse_ref(f"kv/{vault.id}/BROKER#password")
            with pytest.raises(VaultUnavailable, match="cannot reach Vault"):
                await asyncio.to_thread(keeper.client.read_field, ref)
            proxy.refuse = False
            renewed = keeper.stats.token_renewals
            await wait_until(lambda: keeper.stats.token_renewals > renewed, 20,
                             "renewals again")
            assert await asyncio.to_thread(keeper.client.read_field, ref) == "kept"
        finally:
            await keeper.stop()
    warnings = [r.getMessage() for r in caplog.records
                if r.name == "pyfixmsg_plus.secrets" and r.levelno == logging.WARNING]
    assert any("vault token renewal failed (current values kept" in w for w in warnings)
    assert not any(token.read_text().strip() in w for w in warnings)
    samples = {s.labels["operation"]: s.value
               for m in VaultCollector(lambda: keeper).collect() for s in m.samples}
    assert samples["token_renewal"] >= 2 and samples["login"] == 0


