"""The real Vault of the test environment (tests/env/35-vault.sh), as the
tests use it: a root client to set things up, and names of their own.

Every test creates uniquely named policies, roles and KV paths and deletes
them afterwards: the server is shared.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.realparts import env_value, missing

hvac = pytest.importorskip("hvac")


@dataclasses.dataclass
class VaultEnv:
    addr: str
    root: Any  # hvac.Client logged in with the root token
    id: str  # unique per test: fix-<hex>

    def token_for(self, policy_hcl: str, tmp: Path, *, ttl: str = "1h",
                  renewable: bool = True, explicit_max_ttl: str | None = None) -> Path:
        """A token with only ``policy_hcl``, written 0600 to a file."""
        name = f"{self.id}-{uuid.uuid4().hex[:6]}"
        self.root.sys.create_or_update_policy(name=name, policy=policy_hcl)
        self._policies.append(name)
        extra: dict[str, Any] = {}
        if explicit_max_ttl:
            extra["explicit_max_ttl"] = explicit_max_ttl
        token = self.root.auth.token.create(policies=[name], ttl=ttl, renewable=renewable,
                                            no_default_policy=False, **extra)["auth"]
        self._tokens.append(token["accessor"])
        path = tmp / f"{name}.token"
        path.write_text(token["client_token"] + "\n")
        path.chmod(0o600)
        return path

    def policy(self, hcl: str) -> str:
        name = f"{self.id}-{uuid.uuid4().hex[:6]}"
        self.root.sys.create_or_update_policy(name=name, policy=hcl)
        self._policies.append(name)
        return name

    def cleanup(self) -> None:
        undo = [lambda a=a: self.root.auth.token.revoke_accessor(a) for a in self._tokens]
        undo += [lambda n=n: self.root.sys.delete_policy(n) for n in self._policies]
        undo += [lambda p=p: self.root.secrets.kv.v2.delete_metadata_and_all_versions(
            path=p, mount_point="kv") for p in self._kv]
        for step in undo:
            with contextlib.suppress(Exception):
                step()

    def put(self, path: str, **fields: str) -> None:
        """A KV v2 secret ``kv/<id>/<path>``."""
        self.root.secrets.kv.v2.create_or_update_secret(path=f"{self.id}/{path}",
                                                        secret=fields, mount_point="kv")
        self._kv.append(f"{self.id}/{path}")

    _policies: list[str] = dataclasses.field(default_factory=list)
    _tokens: list[str] = dataclasses.field(default_factory=list)
    _kv: list[str] = dataclasses.field(default_factory=list)


def vault_root() -> tuple[str, Any]:
    addr = env_value("FIXPLUS_VAULT_ADDR")
    token_file = env_value("FIXPLUS_VAULT_TOKEN_FILE")
    if not addr or not token_file:
        missing("Vault: FIXPLUS_VAULT_ADDR is not set (run tests/env/35-vault.sh or make testenv)")
    assert addr is not None and token_file is not None
    try:
        token = Path(token_file).read_text().strip()
        client = hvac.Client(url=addr, token=token, timeout=10)
        if not client.is_authenticated() or client.sys.is_sealed():
            missing(f"Vault at {addr} is sealed or refuses the root token")
    except OSError as exc:
        missing(f"Vault at {addr}: {exc}")
    return addr, client


@pytest.fixture
def vault() -> Iterator[VaultEnv]:
    addr, client = vault_root()
    env = VaultEnv(addr, client, f"fix-{uuid.uuid4().hex[:10]}")
    try:
        yield env
    finally:
        env.cleanup()


def kubectl() -> str | None:
    return env_value("FIXPLUS_KUBECTL") if env_value("FIXPLUS_VAULT_KUBE_AUTH") == "1" else None


def environ_without_vault() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("VAULT_")}
