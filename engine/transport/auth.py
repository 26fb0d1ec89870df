"""Counterparty authentication on acceptors.

Theory of operation
-------------------
An acceptor reads a new connection's first message, which must be a Logon,
and finds the session (or dynamic-session template) it names.  Before
anything else happens (no reset, no session created, no store row, no
metrics series, no application callback) :class:`Authenticator` checks the
Logon against the session's :class:`~..config.AuthenticationSettings`:

1. the source address against ``allowedAddresses``;
2. the client certificate (mutual TLS) against ``certificate``: its subject
   as an RFC 4514 string, and the DNS names of its subjectAltName;
3. Username(553) and Password(554) against ``username`` and ``passwordHash``
   (scrypt, checked in a worker thread, a bounded number at once) or
   ``password`` (compared in constant time).

Every method configured must pass.  The verdict carries a short ``reason``
from a fixed set (it becomes a metrics label) and a ``detail`` for the log
line; neither ever holds a password.

Password hashes have the form ``scrypt$<log2 N>$<r>$<p>$<salt>$<key>`` (salt
and key in unpadded base64); :func:`hash_password` makes them and
``fixplus auth hash-password`` prints one.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import ipaddress
import os
from dataclasses import dataclass
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from ..codec import Message
from ..codec import tags as t
from ..config import PASSWORD_HASH_PREFIX, AuthenticationSettings, CertificateIdentity

#: scrypt cost of new hashes: N = 2^14, r = 8, p = 1 (16 MiB, tens of ms).
_LOG2_N: Final = 14
_R: Final = 8
_P: Final = 1
_SALT_BYTES: Final = 16
_KEY_BYTES: Final = 32
#: The most a configured hash may ask for (a hash is configuration, and a
#: costly one would let every Logon burn memory and CPU).
_MAX_LOG2_N: Final = 20
_MAX_R: Final = 16
_MAX_P: Final = 4
#: Longest Username/Password compared; anything longer is refused unread.
_MAX_CREDENTIAL: Final = 1024

NEW_PASSWORD: Final = 925



class PasswordHashError(ValueError):
    """A configured password hash cannot be read."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def hash_password(password: str, *, log2_n: int = _LOG2_N) -> str:
    """A new salted scrypt hash of ``password`` for ``passwordHash``."""
    salt = os.urandom(_SALT_BYTES)
    key = Scrypt(salt=salt, length=_KEY_BYTES, n=1 << log2_n, r=_R, p=_P).derive(
        password.encode())
    return f"{PASSWORD_HASH_PREFIX}{log2_n}${_R}${_P}${_b64(salt)}${_b64(key)}"


@dataclass(frozen=True)
class _Hash:
    log2_n: int
    r: int
    p: int
    salt: bytes
    key: bytes


def parse_password_hash(text: str) -> _Hash:
    """Read a hash made by :func:`hash_password`; raises PasswordHashError."""
    parts = text.split("$")
    if len(parts) != 6 or parts[0] + "$" != PASSWORD_HASH_PREFIX:
        raise PasswordHashError("not a password hash of `fixplus auth hash-password`")
    try:
        log2_n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, key = _unb64(parts[4]), _unb64(parts[5])
    except ValueError:
        raise PasswordHashError("malformed password hash") from None
    if not (1 <= log2_n <= _MAX_LOG2_N and 1 <= r <= _MAX_R and 1 <= p <= _MAX_P):
        raise PasswordHashError(
            f"password hash cost out of range (log2 N <= {_MAX_LOG2_N}, r <= {_MAX_R}, "
            f"p <= {_MAX_P})")
    if len(salt) < 8 or len(key) < 16:
        raise PasswordHashError("password hash salt or key too short")
    return _Hash(log2_n, r, p, salt, key)


def verify_password(password: bytes, hashed: str) -> bool:
    """Whether ``password`` matches ``hashed`` (blocking: tens of ms)."""
    h = parse_password_hash(hashed)
    kdf = Scrypt(salt=h.salt, length=len(h.key), n=1 << h.log2_n, r=h.r, p=h.p)
    try:
        kdf.verify(password, h.key)
    except InvalidKey:
        return False
    return True


@dataclass(frozen=True)
class Peer:
    """What the transport knows of a connection's other end."""

    address: str | None
    certificate: bytes | None = None  # DER


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str = ""  # one of REASONS when refused
    detail: str = ""  # for the log line; never a secret


ACCEPTED: Final = Verdict(True)


def _address_allowed(address: str | None, allowed: list[str]) -> bool:
    if address is None:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in ipaddress.ip_network(net, strict=False) for net in allowed)


def certificate_identity(der: bytes) -> tuple[str, list[str]]:
    """A certificate's subject (RFC 4514) and the DNS names of its SAN."""
    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = list(san.value.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        names = []
    return cert.subject.rfc4514_string(), names


def _certificate_matches(der: bytes | None, wanted: CertificateIdentity) -> str | None:
    """None when the certificate matches; otherwise why not."""
    if der is None:
        return "no client certificate"
    try:
        subject, names = certificate_identity(der)
    except ValueError:
        return "unreadable client certificate"
    if wanted.subject is not None and subject != wanted.subject:
        return "client certificate subject does not match"
    if wanted.dns_names and not set(wanted.dns_names) & set(names):
        return "client certificate names do not match"
    return None


def _same(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


class Authenticator:
    """Checks Logons against sessions' authentication settings."""

    def __init__(self, max_concurrent_password_checks: int = 4) -> None:
        self._hashing = asyncio.Semaphore(max_concurrent_password_checks)

    async def check(self, auth: AuthenticationSettings, logon: Message, peer: Peer) -> Verdict:
        if auth.mode == "none":
            return ACCEPTED
        if auth.allowed_addresses and not _address_allowed(peer.address,
                                                           auth.allowed_addresses):
            return Verdict(False, "address", "source address not allowed")
        if auth.certificate is not None:
            problem = _certificate_matches(peer.certificate, auth.certificate)
            if problem is not None:
                return Verdict(False, "certificate", problem)
        if auth.checks_credentials:
            return await self._credentials(auth, logon)
        return ACCEPTED

    async def _credentials(self, auth: AuthenticationSettings, logon: Message) -> Verdict:
        username = logon.get(t.USERNAME)
        password = logon.get(t.PASSWORD)
        if password is None:
            return Verdict(False, "credentials", "no Password(554) in the Logon")
        if len(password) > _MAX_CREDENTIAL or (username is not None
                                               and len(username) > _MAX_CREDENTIAL):
            return Verdict(False, "credentials", "Username or Password too long")
        # Both checks always run: the time taken says nothing about which failed.
        user_ok = True
        if auth.username is not None:
            user_ok = username is not None and _same(username, auth.username.encode())
        if auth.password_hash is not None:
            hashed = auth.password_hash.get_secret_value()
            async with self._hashing:
                pass_ok = await asyncio.to_thread(verify_password, password, hashed)
        else:
            assert auth.password is not None
            pass_ok = _same(password, auth.password.get_secret_value().encode())
        if not (user_ok and pass_ok):
            return Verdict(False, "credentials", "wrong Username or Password")
        return ACCEPTED
