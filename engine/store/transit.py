"""Vault Transit as the key provider (``encryption.provider: transit``).

The KEK never leaves Vault: data keys come from Transit's ``datakey``
endpoint (plaintext and wrapped), are unwrapped with ``decrypt`` and
rewrapped with ``rewrap``; the newest version is read from the key itself,
so a ``vault write -f transit/keys/<key>/rotate`` is seen by the next
check.  The audit trail's head is signed with a second Transit key
(``signingKey``, type ed25519).

Authentication: a token file (re-read at every login, as Vault agents
rewrite it) or Vault's Kubernetes auth with the pod's service account
token.  A 403 answer logs in again once.  hvac is synchronous: every call
runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import hvac  # type: ignore[import-untyped]  # ships no type information
import hvac.exceptions  # type: ignore[import-untyped]

from ..config.store import VaultTransitSettings
from ..errors import ConfigError
from .errors import PermanentStoreError, RetryableStoreError
from .keyprovider import KeyVersionError, WrappedKeyError, version_of

__all__ = ["TransitProvider"]

_T = TypeVar("_T")


class TransitProvider:
    def __init__(self, settings: VaultTransitSettings) -> None:
        if settings.token_file is None and settings.kubernetes_role is None:
            raise ConfigError("encryption.vault: set tokenFile or kubernetesRole")
        self.settings = settings
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return f"transit:{self.settings.mount}/{self.settings.key}"

    def _login(self) -> Any:
        s = self.settings
        client = hvac.Client(url=s.address, verify=s.ca_file if s.ca_file else True, timeout=10)
        if s.kubernetes_role is not None:
            jwt = Path(s.service_account_token_file).read_text().strip()
            client.auth.kubernetes.login(role=s.kubernetes_role, jwt=jwt,
                                         mount_point=s.kubernetes_auth_mount)
        else:
            assert s.token_file is not None
            client.token = Path(s.token_file).read_text().strip()
        return client

    def _call_sync(self, fn: Callable[[Any], _T]) -> _T:
        with self._lock:
            if self._client is None:
                self._client = self._login()
            client = self._client
        try:
            return fn(client)
        except hvac.exceptions.Forbidden:
            with self._lock:
                self._client = self._login()
                client = self._client
            return fn(client)

    async def _call(self, what: str, fn: Callable[[Any], _T], wrapped: str | None = None) -> _T:
        try:
            return await asyncio.to_thread(self._call_sync, fn)
        except hvac.exceptions.InvalidRequest as exc:
            if wrapped is not None:
                raise KeyVersionError(self.name, version_of(wrapped), _first(exc)) from None
            raise PermanentStoreError(f"vault {what} ({self.name}): {_first(exc)}") from None
        except hvac.exceptions.Forbidden:
            raise PermanentStoreError(f"vault {what} ({self.name}): permission denied") from None
        except hvac.exceptions.VaultError as exc:
            raise RetryableStoreError(f"vault {what} ({self.name}): {_first(exc)}") from None
        except OSError as exc:
            raise RetryableStoreError(f"vault {what} ({self.name}): {type(exc).__name__}") \
                from None
        except Exception as exc:  # requests' connection errors and their kin
            raise RetryableStoreError(f"vault {what} ({self.name}): {type(exc).__name__}") \
                from None

    async def new_data_key(self) -> tuple[bytes, str]:
        s = self.settings
        data = await self._call("datakey", lambda c: c.secrets.transit.generate_data_key(
            name=s.key, key_type="plaintext", mount_point=s.mount)["data"])
        return base64.b64decode(data["plaintext"]), str(data["ciphertext"])

    async def unwrap(self, wrapped: str) -> bytes:
        s = self.settings
        version_of(wrapped)  # malformed: WrappedKeyError before any call
        data = await self._call("decrypt", lambda c: c.secrets.transit.decrypt_data(
            name=s.key, ciphertext=wrapped, mount_point=s.mount)["data"], wrapped)
        key = base64.b64decode(data["plaintext"])
        if len(key) != 32:
            raise WrappedKeyError(f"key {self.name}: unwrapped data key is not 32 bytes")
        return key

    async def rewrap(self, wrapped: str) -> str:
        s = self.settings
        data = await self._call("rewrap", lambda c: c.secrets.transit.rewrap_data(
            name=s.key, ciphertext=wrapped, mount_point=s.mount)["data"], wrapped)
        return str(data["ciphertext"])

    async def latest_version(self) -> int:
        s = self.settings
        data = await self._call("read key", lambda c: c.secrets.transit.read_key(
            name=s.key, mount_point=s.mount)["data"])
        return int(data["latest_version"])

    async def min_decryption_version(self) -> int:
        s = self.settings
        data = await self._call("read key", lambda c: c.secrets.transit.read_key(
            name=s.key, mount_point=s.mount)["data"])
        return int(data["min_decryption_version"])

    async def sign(self, data: bytes) -> str:
        s = self.settings
        payload = base64.b64encode(data).decode()
        out = await self._call("sign", lambda c: c.secrets.transit.sign_data(
            name=s.signing_key, hash_input=payload, mount_point=s.mount)["data"])
        return str(out["signature"])

    async def verify(self, data: bytes, signature: str) -> bool:
        s = self.settings
        payload = base64.b64encode(data).decode()
        try:
            out = await self._call("verify", lambda c: c.secrets.transit.verify_signed_data(
                name=s.signing_key, hash_input=payload, signature=signature,
                mount_point=s.mount)["data"])
        except PermanentStoreError:
            return False
        return bool(out.get("valid"))

    async def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            await asyncio.to_thread(client.adapter.close)


def _first(exc: BaseException) -> str:
    errors = getattr(exc, "errors", None)
    if isinstance(errors, list) and errors:
        return "; ".join(str(e) for e in errors)[:300]
    return type(exc).__name__
