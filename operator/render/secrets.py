"""Secret wiring: Secrets mounted as files, or Vault Agent injector annotations.

A secret value never enters a ConfigMap: the engine configuration holds
``${FILE:/path}`` references (or a store URL with ``password_file=``), and
this module produces the matching pod parts — a Secret volume and its
mount, or the ``vault.hashicorp.com/*`` annotations that make the Vault
Agent injector write the file to ``/vault/secrets/<name>``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..models import Authentication, LogonCredentials, SessionTls, StoreCredentials, VaultSecret
from .common import PodLayout

VAULT = "vault.hashicorp.com"


class RenderError(ValueError):
    """The resource cannot be rendered as it is (a readable message, and a
    CamelCase reason for the conditions)."""

    def __init__(self, message: str, reason: str = "InvalidConfig") -> None:
        super().__init__(message)
        self.reason = reason


@dataclasses.dataclass
class Wiring:
    """Pod parts that make secrets available as files or environment variables."""

    volumes: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    mounts: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    env: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    annotations: dict[str, str] = dataclasses.field(default_factory=dict)
    #: The engine itself talks to Vault (Transit for encryption at rest).
    direct_vault: bool = False

    def add_vault(self, file: str, secret: VaultSecret) -> None:
        """Annotations for one Vault secret file (``/vault/secrets/<file>``)."""
        role = self.annotations.get(f"{VAULT}/role")
        if role is not None and role != secret.role:
            raise RenderError(
                f"Vault secrets of one pod must use one role (got {role!r} and {secret.role!r})"
            )
        data = ".Data.data" if secret.kv_version == 2 else ".Data"
        self.annotations.update({
            f"{VAULT}/agent-inject": "true",
            f"{VAULT}/role": secret.role,
            f"{VAULT}/agent-inject-secret-{file}": secret.path,
            f"{VAULT}/agent-inject-template-{file}": (
                f'{{{{- with secret "{secret.path}" -}}}}'
                f"{{{{ {data}.{secret.field} }}}}{{{{- end -}}}}"
            ),
        })

    def add_secret_file(self, volume: str, secret: str, key: str, mount_dir: str) -> str:
        """Mount one key of a Secret as ``<mount_dir>/<key>``; returns the path."""
        if not any(v["name"] == volume for v in self.volumes):
            self.volumes.append({
                "name": volume,
                "secret": {"secretName": secret, "items": [], "defaultMode": 0o440},
            })
            self.mounts.append({"name": volume, "mountPath": mount_dir, "readOnly": True})
        vol = next(v for v in self.volumes if v["name"] == volume)
        items = vol["secret"]["items"]
        if not any(i["key"] == key for i in items):
            items.append({"key": key, "path": key})
        return f"{mount_dir}/{key}"

    @property
    def uses_vault(self) -> bool:
        return self.direct_vault or f"{VAULT}/agent-inject" in self.annotations


def vault_path(layout: PodLayout, file: str) -> str:
    return f"{layout.vault_dir}/{file}"


def logon(wiring: Wiring, key: str, creds: LogonCredentials | None,
          layout: PodLayout) -> dict[str, Any]:
    """Engine settings for a session's Logon credentials (``key`` names the session)."""
    if creds is None:
        return {}
    out: dict[str, Any] = {}
    if creds.username is not None:
        out["username"] = creds.username
    if creds.password_secret_ref is not None:
        ref = creds.password_secret_ref
        path = wiring.add_secret_file(
            f"logon-{key}", ref.name, ref.key, f"{layout.secrets_dir}/logon-{key}")
        out["password"] = f"${{FILE:{path}}}"
    elif creds.vault is not None:
        file = f"logon-{key}"
        wiring.add_vault(file, creds.vault)
        out["password"] = f"${{FILE:{vault_path(layout, file)}}}"
    return out


def authentication(wiring: Wiring, key: str, auth: Authentication | None, where: str,
                   layout: PodLayout) -> dict[str, Any]:
    """Engine settings for how an acceptor authenticates its counterparty.

    The expected password and its hash are files of a Secret volume (a
    whole directory, never a ``subPath``, so an updated Secret reaches the
    pod) and ``${FILE:…}`` references in the configuration.
    """
    if auth is None:
        raise RenderError(
            f"{where}: an acceptor session needs authentication (username with "
            "passwordSecretRef or passwordHashSecretRef, certificate, allowedAddresses), "
            "or authentication.mode: none to accept any counterparty that knows the CompIDs",
            reason="AuthenticationMissing")
    if auth.mode == "none":
        return {"mode": "none"}
    out: dict[str, Any] = {"mode": auth.mode}
    if auth.username is not None:
        out["username"] = auth.username
    volume, mount = f"auth-{key}"[:63], f"{layout.secrets_dir}/auth-{key}"
    for setting, ref in (("password", auth.password_secret_ref),
                         ("passwordHash", auth.password_hash_secret_ref)):
        if ref is not None:
            path = wiring.add_secret_file(volume, ref.name, ref.key, mount)
            out[setting] = f"${{FILE:{path}}}"
    if auth.certificate is not None:
        out["certificate"] = auth.certificate.model_dump(mode="json", by_alias=True,
                                                         exclude_none=True)
    if auth.allowed_addresses is not None:
        out["allowedAddresses"] = list(auth.allowed_addresses)
    return out


TLS_KEYS = ("tls.crt", "tls.key", "ca.crt")


def tls(wiring: Wiring, tls_spec: SessionTls | None, keys: frozenset[str], acceptor: bool,
        layout: PodLayout) -> dict[str, Any]:
    """Engine TLS settings from a kubernetes.io/tls Secret with ``keys``."""
    if tls_spec is None:
        return {}
    name = tls_spec.secret_name
    if acceptor and not {"tls.crt", "tls.key"} <= keys:
        raise RenderError(f"Secret {name!r} needs tls.crt and tls.key for an acceptor")
    if tls_spec.require_client_cert and "ca.crt" not in keys:
        raise RenderError(f"Secret {name!r} needs ca.crt to verify client certificates")
    mount = f"{layout.secrets_dir}/tls-{name}"
    out: dict[str, Any] = {"enabled": True, "minVersion": tls_spec.min_version,
                           "requireClientCert": tls_spec.require_client_cert,
                           "verify": tls_spec.verify}
    for key, setting in zip(TLS_KEYS, ("certFile", "keyFile", "caFile"), strict=True):
        if key in keys:
            out[setting] = wiring.add_secret_file(f"tls-{name}"[:63], name, key, mount)
    if tls_spec.ciphers:
        out["ciphers"] = tls_spec.ciphers
    if tls_spec.server_name:
        out["serverName"] = tls_spec.server_name
    return out


def store_password(wiring: Wiring, creds: StoreCredentials | None,
                   layout: PodLayout) -> str | None:
    """The path of the store password file, wiring the username into
    ``$FIXPLUS_STORE_USERNAME`` when it comes from the Secret too."""
    if creds is None:
        return None
    if creds.secret_ref is not None:
        ref = creds.secret_ref
        if ref.username_key:
            wiring.env.append({
                "name": "FIXPLUS_STORE_USERNAME",
                "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.username_key}},
            })
        return wiring.add_secret_file("store-credentials", ref.name, ref.password_key,
                                      f"{layout.secrets_dir}/store")
    assert creds.vault is not None  # the CRD's CEL rule: exactly one
    wiring.add_vault("store-password", creds.vault)
    return vault_path(layout, "store-password")
