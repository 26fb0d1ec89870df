"""Vault references in configurations, and files that change (no Vault here:
tests/integration/test_vault.py talks to a real one)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from pyfixmsg_plus.engine.config import InvalidConfigError, parse_config
from pyfixmsg_plus.engine.config import references as config_module
from pyfixmsg_plus.engine.config.vault import VaultSettings
from pyfixmsg_plus.engine.errors import ConfigError
from pyfixmsg_plus.engine.secrets.refs import VaultRef, parse_ref
from pyfixmsg_plus.engine.secrets.storecreds import with_credentials
from pyfixmsg_plus.engine.transport.reload import ReloadingFile, WatchedFiles

SESSION = {"beginString": "FIX.4.4", "senderCompId": "CLIENT", "targetCompId": "BROKER",
           "role": "initiator", "connect": [{"host": "127.0.0.1", "port": 9878}]}


def test_references_parse() -> None:
    assert parse_ref("kv/fix/BROKER#password") == VaultRef("kv", "fix/BROKER", "password")
    # the API path spelling names the same secret
    assert parse_ref("kv/data/fix/BROKER#password") == VaultRef("kv", "fix/BROKER", "password")
    assert parse_ref("secret/data#x") == VaultRef("secret", "data", "x")
    assert str(parse_ref("kv/a/b#c")) == "${VAULT:kv/a/b#c}"


@pytest.mark.parametrize("text", ["kv/fix/BROKER", "kv#password", "kv/fix/BROKER#",
                                  "kv/fix bar#x", "kv/../x#y", "#x", ""])
def test_bad_references_are_named(text: str) -> None:
    with pytest.raises(ConfigError, match="not a Vault reference") as info:
        parse_ref(text)
    assert f"${{VAULT:{text}}}" in str(info.value)


@pytest.fixture
def fake_vault() -> Iterator[dict[str, Any]]:
    """A resolver standing in for Vault: what it saw, what it answers."""
    seen: dict[str, Any] = {"refs": [], "sections": [], "values": {}}
    saved = list(config_module._vault_resolver)

    def factory(raw: Any, environ: Mapping[str, str]) -> Callable[[str], str]:
        seen["sections"].append(raw.get("vault"))

        def lookup(text: str) -> str:
            ref = parse_ref(text)
            seen["refs"].append(str(ref))
            if str(ref) not in seen["values"]:
                raise ConfigError(f"Vault at http://vault: {ref}: no such secret")
            value: str = seen["values"][str(ref)]
            return value

        return lookup

    config_module.install_vault_resolver(factory)
    try:
        yield seen
    finally:
        config_module._vault_resolver[:] = saved


def test_vault_references_in_secret_settings(fake_vault: dict[str, Any]) -> None:
    fake_vault["values"]["${VAULT:kv/fix/BROKER#password}"] = "s3cret"
    fake_vault["values"]["${VAULT:kv/db/store#password}"] = "dbpw"
    cfg = parse_config({
        "store": "postgresql://fix:${VAULT:kv/db/store#password}@db/fix",
        "vault": {"address": "http://vault:8200"},
        "sessions": [{**SESSION, "password": "${VAULT:kv/data/fix/BROKER#password}"}]})
    assert cfg.sessions[0].password is not None
    assert cfg.sessions[0].password.get_secret_value() == "s3cret"
    assert cfg.store == "postgresql://fix:dbpw@db/fix"
    assert cfg.vault is not None and cfg.vault.address == "http://vault:8200"
    assert fake_vault["sections"] == [{"address": "http://vault:8200"}]


def test_vault_reference_errors_name_the_reference_not_a_value(
        fake_vault: dict[str, Any]) -> None:
    fake_vault["values"]["${VAULT:kv/fix/OTHER#password}"] = "TopSecretValue"
    with pytest.raises(InvalidConfigError) as info:
        parse_config({"sessions": [
            {**SESSION, "password": "${VAULT:kv/fix/BROKER#password}"},
            {**SESSION, "targetCompId": "OTHER", "password": "${VAULT:kv/fix/OTHER#password}",
             "tls": {"keyPassword": "${VAULT:kv/fix/missing}"}}]})
    text = str(info.value)
    assert "sessions[0].password: Vault at http://vault: ${VAULT:kv/fix/BROKER#password}: " \
           "no such secret" in text
    assert "sessions[1].tls.keyPassword: ${VAULT:kv/fix/missing}: not a Vault reference" in text
    assert "TopSecretValue" not in text


def test_vault_references_only_in_secret_settings(fake_vault: dict[str, Any]) -> None:
    with pytest.raises(InvalidConfigError, match=r"sessions\[0\]\.username: .*\$\{VAULT:…\}"):
        parse_config({"sessions": [{**SESSION, "username": "${VAULT:kv/fix/BROKER#user}"}]})
    assert fake_vault["refs"] == []  # never looked up


def test_no_vault_contact_without_a_reference_or_when_not_resolving(
        fake_vault: dict[str, Any]) -> None:
    parse_config({"vault": {"address": "http://vault:8200"}, "sessions": [SESSION]})
    parse_config({"sessions": [{**SESSION, "password": "${VAULT:kv/fix/BROKER#password}"}]},
                 resolve_secrets=False)
    assert fake_vault["sections"] == [] and fake_vault["refs"] == []


def test_vault_settings_validation() -> None:
    with pytest.raises(InvalidConfigError, match="method kubernetes needs role"):
        parse_config({"vault": {"auth": {"method": "kubernetes"}}, "sessions": [SESSION]},
                     resolve_secrets=False)
    with pytest.raises(InvalidConfigError, match="secretIdFile or secretIdEnv"):
        parse_config({"vault": {"auth": {"method": "approle", "roleId": "r"}},
                      "sessions": [SESSION]}, resolve_secrets=False)
    with pytest.raises(InvalidConfigError, match=r"databaseCredentials\.path"):
        parse_config({"vault": {"databaseCredentials": {"path": "database/fixstore"}},
                      "sessions": [SESSION]}, resolve_secrets=False)
    settings = VaultSettings.model_validate(
        {"auth": {"method": "kubernetes", "role": "fix"},
         "databaseCredentials": {"path": "database/creds/fixstore"}})
    assert settings.auth.mount_path == "kubernetes"
    assert settings.auth.kubernetes_token_file.endswith("serviceaccount/token")


def test_store_url_takes_the_credentials() -> None:
    url = with_credentials("postgresql://db:5432/fix?schema=s", "v-user", "p@ss/w:rd")
    assert url == "postgresql://v-user:p%40ss%2Fw%3Ard@db:5432/fix?schema=s"
    with pytest.raises(ConfigError, match="leave user:password out of store"):
        with_credentials("postgresql://fix:pw@db/fix", "u", "p")


def _secret_volume(root: Path, version: str, files: dict[str, str]) -> None:
    """Write files the way the kubelet updates a Secret volume: a new
    timestamped folder, then the ``..data`` symlink swapped atomically."""
    folder = root / f"..{version}"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    tmp = root / "..data_tmp"
    tmp.symlink_to(folder.name)
    os.replace(tmp, root / "..data")
    for name in files:
        link = root / name
        if not link.is_symlink():
            link.symlink_to(f"..data/{name}")


def test_watched_files_see_a_secret_volume_swap(tmp_path: Path) -> None:
    _secret_volume(tmp_path, "v1", {"password": "one\n"})
    watched = WatchedFiles([tmp_path / "password", None])
    assert not watched.changed()
    _secret_volume(tmp_path, "v2", {"password": "two\n"})
    assert watched.changed()
    assert not watched.changed()  # once per change


def test_watched_files_see_a_rewrite_in_place_and_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "pw"
    path.write_text("one")
    watched = WatchedFiles([path])
    path.write_text("a longer value")
    assert watched.changed()
    path.unlink()
    assert watched.changed()
    path.write_text("back")
    assert watched.changed()


def test_reloading_file_keeps_the_last_good_value(tmp_path: Path) -> None:
    _secret_volume(tmp_path, "v1", {"password": "one\n"})
    secret = ReloadingFile(str(tmp_path / "password"))
    assert secret.value == "one" and not secret.refresh()
    _secret_volume(tmp_path, "v2", {"password": "two\n"})
    assert secret.refresh() and secret.value == "two"
    (tmp_path / "..data").unlink()  # mid-swap: nothing there
    assert not secret.refresh() and secret.value == "two"
    with pytest.raises(ConfigError, match="cannot read it"):
        ReloadingFile(str(tmp_path / "nothing"))


def test_vault_reference_in_a_cfg_file(fake_vault: dict[str, Any]) -> None:
    from pyfixmsg_plus.engine.config.cfgfile import parse_cfg

    fake_vault["values"]["${VAULT:kv/fix/EXEC#password}"] = "from-vault"
    text = ("[DEFAULT]\nConnectionType=initiator\nSenderCompID=BANZAI\nHeartBtInt=30\n"
            "StartTime=00:00:00\nEndTime=00:00:00\nSocketConnectHost=localhost\n"
            "[SESSION]\nBeginString=FIX.4.4\nTargetCompID=EXEC\nSocketConnectPort=9880\n"
            "Password=${VAULT:kv/fix/EXEC#password}\n")
    config = parse_cfg(text, source="app.cfg", environ={"VAULT_ADDR": "http://vault"}).config
    password = config.sessions[0].password
    assert password is not None and password.get_secret_value() == "from-vault"
    assert fake_vault["sections"] == [None]  # VAULT_ADDR / VAULT_TOKEN then
