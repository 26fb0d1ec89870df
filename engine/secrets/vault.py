"""A small synchronous Vault client on ``hvac``: log in, read KV fields,
database credentials and their leases, renew the token.

hvac blocks: the engine calls these methods from a thread
(:mod:`.keeper` uses :func:`asyncio.to_thread`), one call at a time per
client (a lock), never on the event loop.

Errors are :class:`VaultUnavailable` (Vault cannot be reached, is sealed or
answers 5xx: retry later) or :class:`VaultRefused` (permission denied, no
such secret or field, bad login: retrying does not help).  Their text names
the address, the path or reference and the reason; never a token, a
password or any other value read from Vault.

Further Vault features (a Transit key provider, a signer) are meant to sit
on :meth:`VaultClient.call`, which adds the lock, the login and the error
mapping around any hvac call.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import hvac  # type: ignore[import-untyped]  # ships no type information
import hvac.exceptions  # type: ignore[import-untyped]
import requests

from ..config.vault import VaultSettings
from ..errors import ConfigError
from .refs import VaultRef

T = TypeVar("T")


class VaultError(ConfigError):
    """A Vault operation failed (the message names what, never a value)."""


class VaultUnavailable(VaultError):
    """Vault cannot be reached or cannot answer now: retry later."""


class VaultRefused(VaultError):
    """Vault answered no (permission, missing secret or field, bad login)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Lease:
    """Database credentials and the lease they hold."""

    lease_id: str
    username: str
    password: str = dataclasses.field(repr=False)
    #: Seconds the lease lasts from ``obtained`` (monotonic clock).
    ttl: float
    renewable: bool
    obtained: float


class VaultClient:
    """One logged-in Vault client (see the module notes)."""

    def __init__(self, settings: VaultSettings, environ: Mapping[str, str] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self._environ: Mapping[str, str] = os.environ if environ is None else environ
        address = settings.address or self._environ.get("VAULT_ADDR")
        if not address:
            raise ConfigError("vault: no address (set vault.address or VAULT_ADDR)")
        self.address = address.rstrip("/")
        self._clock = clock
        self._lock = threading.RLock()
        self._hvac = hvac.Client(
            url=self.address, verify=settings.ca_file or True, timeout=settings.timeout,
            namespace=settings.namespace)
        self.logged_in = False
        #: The token's TTL when it was obtained or last renewed (0: never expires).
        self.token_ttl = 0.0
        self.token_renewable = False
        self.token_obtained = 0.0

    # -- plumbing ----------------------------------------------------------------

    def call(self, what: str, fn: Callable[[hvac.Client], T]) -> T:
        """``fn(hvac_client)`` under the lock, logged in first, errors mapped.

        ``what`` names the operation in error messages (a path or reference)."""
        with self._lock:
            if not self.logged_in:
                self.login()
            return self._mapped(what, lambda: fn(self._hvac))

    def _mapped(self, what: str, fn: Callable[[], T]) -> T:
        where = f"Vault at {self.address}: {what}"
        try:
            return fn()
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise VaultUnavailable(f"{where}: cannot reach Vault ({type(exc).__name__})") from None
        except (hvac.exceptions.VaultDown, hvac.exceptions.InternalServerError,
                hvac.exceptions.BadGateway, hvac.exceptions.RateLimitExceeded) as exc:
            raise VaultUnavailable(f"{where}: {_reason(exc)}") from None
        except hvac.exceptions.Forbidden as exc:
            raise VaultRefused(f"{where}: permission denied ({_reason(exc)})") from None
        except hvac.exceptions.InvalidPath:
            raise VaultRefused(f"{where}: no such secret") from None
        except hvac.exceptions.VaultError as exc:
            raise VaultRefused(f"{where}: {_reason(exc)}") from None
        except OSError as exc:  # a token or secret-id file
            raise VaultRefused(f"{where}: {exc.strerror or exc}") from None

    # -- login and token -----------------------------------------------------------

    def login(self) -> None:
        """Log in with the configured method (files read again every time)."""
        auth = self.settings.auth
        with self._lock:
            if auth.method == "token":
                token = self._token()
                self._hvac.token = token
                data = self._mapped("token lookup", self._hvac.auth.token.lookup_self)
                info = data.get("data") or {}
                self._set_token(float(info.get("ttl") or 0), bool(info.get("renewable")))
            elif auth.method == "kubernetes":
                path = auth.kubernetes_token_file
                jwt = self._mapped(f"service-account token {path}",
                                   lambda: Path(path).read_text(encoding="utf-8").strip())
                resp = self._mapped(
                    f"Kubernetes login as role {auth.role} at auth/{auth.mount_path}",
                    lambda: self._hvac.auth.kubernetes.login(
                        role=auth.role, jwt=jwt, mount_point=auth.mount_path,
                        use_token=True))
                self._from_auth(resp)
            else:
                secret_id = self._secret_id()
                resp = self._mapped(
                    f"AppRole login at auth/{auth.mount_path}",
                    lambda: self._hvac.auth.approle.login(
                        role_id=auth.role_id, secret_id=secret_id,
                        mount_point=auth.mount_path, use_token=True))
                self._from_auth(resp)
            self.logged_in = True

    def _token(self) -> str:
        auth = self.settings.auth
        if auth.token_file:
            path = auth.token_file
            token = self._mapped(f"token file {path}",
                                 lambda: Path(path).read_text(encoding="utf-8").strip())
        else:
            token = self._environ.get(auth.token_env, "").strip()
        if not token:
            source = f"file {auth.token_file}" if auth.token_file else f"${auth.token_env}"
            raise VaultRefused(f"Vault at {self.address}: no token in {source}")
        return token

    def _secret_id(self) -> str:
        auth = self.settings.auth
        if auth.secret_id_file:
            path = auth.secret_id_file
            value = self._mapped(f"secret-id file {path}",
                                 lambda: Path(path).read_text(encoding="utf-8").strip())
        else:
            assert auth.secret_id_env is not None
            value = self._environ.get(auth.secret_id_env, "").strip()
        if not value:
            raise VaultRefused(f"Vault at {self.address}: AppRole login: the secret id is empty")
        return value

    def _from_auth(self, resp: Any) -> None:
        info = resp.get("auth") or {}
        self._set_token(float(info.get("lease_duration") or 0), bool(info.get("renewable")))

    def _set_token(self, ttl: float, renewable: bool) -> None:
        self.token_ttl = ttl
        self.token_renewable = renewable
        self.token_obtained = self._clock()

    def renew_token(self) -> float:
        """Renew the token for its full TTL; the TTL granted (shorter near
        the token's maximum).  A token that cannot be renewed logs in again."""
        with self._lock:
            if not self.logged_in:
                self.login()
                return self.token_ttl
            if not self.token_renewable:
                self.login()
                return self.token_ttl
            wanted = int(self.token_ttl) or None
            resp = self._mapped("token renewal",
                                lambda: self._hvac.auth.token.renew_self(increment=wanted))
            granted = float((resp.get("auth") or {}).get("lease_duration") or 0)
            if wanted is not None and granted < wanted:  # near its maximum TTL
                self.login()
                return self.token_ttl
            self._set_token(granted, self.token_renewable)
            return granted

    # -- secrets -----------------------------------------------------------------------

    def read_field(self, ref: VaultRef) -> str:
        """The value of a KV version 2 field (see :mod:`.refs`)."""
        resp = self.call(str(ref), lambda c: c.secrets.kv.v2.read_secret_version(
            path=ref.path, mount_point=ref.mount, raise_on_deleted_version=True))
        data = ((resp or {}).get("data") or {}).get("data") or {}
        if ref.field not in data:
            raise VaultRefused(f"Vault at {self.address}: {ref}: the secret has no field "
                               f"{ref.field!r}")
        value = data[ref.field]
        if not isinstance(value, str):
            raise VaultRefused(f"Vault at {self.address}: {ref}: the field is not text")
        return value

    def database_credentials(self, path: str) -> Lease:
        """New credentials from ``<mount>/creds/<role>``."""
        resp = self.call(path, lambda c: c.read(path))
        data = (resp or {}).get("data") or {}
        if not resp or "username" not in data or "password" not in data:
            raise VaultRefused(f"Vault at {self.address}: {path}: no username and password")
        return Lease(lease_id=str(resp.get("lease_id") or ""), username=str(data["username"]),
                     password=str(data["password"]), ttl=float(resp.get("lease_duration") or 0),
                     renewable=bool(resp.get("renewable")), obtained=self._clock())

    def renew_lease(self, lease: Lease) -> Lease:
        """The lease renewed for its TTL; its new TTL is shorter near the maximum."""
        wanted = max(1, int(lease.ttl))
        resp = self.call(f"lease renewal of {lease.lease_id}",
                         lambda c: c.sys.renew_lease(lease_id=lease.lease_id, increment=wanted))
        granted = float((resp or {}).get("lease_duration") or 0)
        return dataclasses.replace(lease, ttl=granted, obtained=self._clock(),
                                   renewable=bool((resp or {}).get("renewable")))

    def revoke_lease(self, lease: Lease) -> None:
        self.call(f"lease revocation of {lease.lease_id}",
                  lambda c: c.sys.revoke_lease(lease_id=lease.lease_id))


def _reason(exc: BaseException) -> str:
    """hvac's error text: Vault's own error strings, which carry no values."""
    errors = getattr(exc, "errors", None)
    if isinstance(errors, list) and errors:
        return " ".join("; ".join(str(e) for e in errors).split())[:300]
    return type(exc).__name__
