"""Key providers: where the key-encryption key (KEK) lives.

A provider wraps and unwraps 256-bit data keys (DEKs) and never hands out
its KEK.  A wrapped key is text ``<provider>:v<version>:<base64>``, the
version being the KEK version that wrapped it (Vault Transit writes
``vault:v3:...``; the local provider writes ``local:v3:...``).  Stores keep
only wrapped keys (docs/security.md).

Two providers:

* :class:`LocalKeyFile`, a file of versioned KEKs on the engine's disk, for
  the embedded default and for development: whoever reads the file reads
  every message, so it is no protection against a stolen disk holding both;
* ``engine.store.transit.TransitProvider``, Vault's Transit engine: the KEK
  never leaves Vault.

Providers also sign the audit trail's head (:meth:`KeyProvider.sign`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
import stat
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..errors import ConfigError
from .errors import PermanentStoreError

__all__ = [
    "KeyProvider", "KeyVersionError", "LocalKeyFile", "WrappedKeyError", "version_of",
]

DATA_KEY_BYTES = 32
_WRAPPED = re.compile(r"([a-z]+):v([0-9]{1,9}):([A-Za-z0-9+/=_-]+)\Z")
_WRAP_AAD = b"fixplus data key"
_SIGN_INFO = b"fixplus audit signing"


class WrappedKeyError(PermanentStoreError):
    """A wrapped data key that cannot be unwrapped (malformed or altered)."""


class KeyVersionError(PermanentStoreError):
    """A KEK version that the provider no longer serves."""

    def __init__(self, provider: str, version: int, detail: str = "") -> None:
        self.version = version
        super().__init__(
            f"key {provider}: version {version} is not served (retired or below "
            f"min_decryption_version){': ' + detail if detail else ''}")


def version_of(wrapped: str) -> int:
    """The KEK version of a wrapped key or signature (``x:v3:...`` -> 3)."""
    m = _WRAPPED.match(wrapped)
    if m is None:
        raise WrappedKeyError("malformed wrapped key or signature")
    return int(m.group(2))


class KeyProvider(Protocol):
    """Wraps data keys with a versioned KEK; signs with a versioned key."""

    @property
    def name(self) -> str:
        """Names the KEK (``local:/path`` or ``transit:<key>``), never a secret."""
        ...

    async def new_data_key(self) -> tuple[bytes, str]:
        """A fresh data key: (plaintext, wrapped by the newest KEK version)."""
        ...

    async def unwrap(self, wrapped: str) -> bytes: ...

    async def rewrap(self, wrapped: str) -> str:
        """The same data key wrapped by the newest KEK version."""
        ...

    async def latest_version(self) -> int:
        """The newest KEK version (asks the KEK's owner again each time)."""
        ...

    async def sign(self, data: bytes) -> str: ...

    async def verify(self, data: bytes, signature: str) -> bool: ...

    async def close(self) -> None: ...


def create_key_file(path: str | Path) -> None:
    """Write a new key file with version 1 (mode 0600); an existing file is an error."""
    p = Path(path)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(_line(1))


def rotate_key_file(path: str | Path) -> int:
    """Append a new KEK version to a key file; returns it."""
    keys, _ = _read_key_file(Path(path))
    version = max(keys) + 1
    with open(path, "a", encoding="ascii") as f:
        f.write(_line(version))
    return version


def _line(version: int) -> str:
    return f"{version} {base64.b64encode(secrets.token_bytes(32)).decode()}\n"


def _read_key_file(path: Path) -> tuple[dict[int, bytes], int]:
    """(version -> KEK, min_decryption_version) from a key file.

    Lines: ``<version> <base64 32 bytes>``; ``min_decryption_version <n>``;
    blank lines and ``#`` comments ignored.  The file must not be readable
    by group or others.
    """
    try:
        st = os.stat(path)
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"key file {path}: {exc.__class__.__name__}") from None
    if stat.S_IMODE(st.st_mode) & 0o077:
        raise ConfigError(f"key file {path}: readable by others (chmod 600 it)")
    keys: dict[int, bytes] = {}
    minimum = 1
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        try:
            if len(parts) == 2 and parts[0] == "min_decryption_version":
                minimum = int(parts[1])
                continue
            if len(parts) != 2:
                raise ValueError
            version, key = int(parts[0]), base64.b64decode(parts[1], validate=True)
        except (ValueError, binascii.Error):
            raise ConfigError(f"key file {path}: line {n} is not '<version> <base64 key>'") \
                from None
        if len(key) != 32 or version < 1:
            raise ConfigError(f"key file {path}: line {n}: a version >= 1 and a 32-byte key")
        keys[version] = key
    if not keys:
        raise ConfigError(f"key file {path}: no key")
    return keys, minimum


class LocalKeyFile:
    """KEKs in a local file: the embedded default and development only.

    The file is read again by :meth:`latest_version` (so a rotation with
    ``fixplus keys rotate-local`` is picked up by a running engine).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._keys, self._min = _read_key_file(self.path)

    @property
    def name(self) -> str:
        return f"local:{self.path}"

    def _reload(self) -> None:
        self._keys, self._min = _read_key_file(self.path)

    def _kek(self, version: int) -> bytes:
        key = self._keys.get(version)
        if key is None or version < self._min:
            self._reload()
            key = self._keys.get(version)
        if key is None or version < self._min:
            raise KeyVersionError(self.name, version)
        return key

    async def new_data_key(self) -> tuple[bytes, str]:
        dek = secrets.token_bytes(DATA_KEY_BYTES)
        return dek, self._wrap(dek)

    def _wrap(self, dek: bytes) -> str:
        version = max(self._keys)
        nonce = secrets.token_bytes(12)
        ct = AESGCM(self._keys[version]).encrypt(nonce, dek, _WRAP_AAD)
        return f"local:v{version}:{base64.b64encode(nonce + ct).decode()}"

    async def unwrap(self, wrapped: str) -> bytes:
        m = _WRAPPED.match(wrapped)
        if m is None or m.group(1) != "local":
            raise WrappedKeyError(f"key {self.name}: not a local wrapped key")
        kek = self._kek(int(m.group(2)))
        try:
            blob = base64.b64decode(m.group(3), validate=True)
            return AESGCM(kek).decrypt(blob[:12], blob[12:], _WRAP_AAD)
        except (binascii.Error, InvalidTag, ValueError):
            raise WrappedKeyError(
                f"key {self.name}: a data key wrapped by version {m.group(2)} does not "
                "unwrap (altered, or another key file)") from None

    async def rewrap(self, wrapped: str) -> str:
        self._reload()
        return self._wrap(await self.unwrap(wrapped))

    async def latest_version(self) -> int:
        self._reload()
        return max(self._keys)

    def _signing_key(self, version: int) -> bytes:
        return hmac.new(self._kek(version), _SIGN_INFO, hashlib.sha256).digest()

    async def sign(self, data: bytes) -> str:
        version = max(self._keys)
        mac = hmac.new(self._signing_key(version), data, hashlib.sha256).digest()
        return f"local:v{version}:{base64.b64encode(mac).decode()}"

    async def verify(self, data: bytes, signature: str) -> bool:
        m = _WRAPPED.match(signature)
        if m is None or m.group(1) != "local":
            return False
        mac = hmac.new(self._signing_key(int(m.group(2))), data, hashlib.sha256).digest()
        return hmac.compare_digest(base64.b64encode(mac).decode(), m.group(3))

    async def close(self) -> None:
        return None
