"""How an acceptor authenticates the counterparty's Logon."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Final, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from .base import ConfigModel

#: Prefix of a password hash made by ``fixplus auth hash-password``.
PASSWORD_HASH_PREFIX: Final = "scrypt$"


class CertificateIdentity(ConfigModel):
    """The client certificate a counterparty must present (mutual TLS).

    ``subject`` is compared with the certificate's subject written as an
    RFC 4514 string (``CN=banzai,O=Example``); ``dnsNames`` with the DNS names
    of its subjectAltName (any one matching is enough).  Every item given
    must match.
    """

    subject: str | None = Field(default=None, min_length=1, max_length=1024)
    dns_names: list[Annotated[str, Field(min_length=1, max_length=253)]] = Field(
        default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> CertificateIdentity:
        if self.subject is None and not self.dns_names:
            raise ValueError("a certificate identity needs subject or dnsNames")
        return self


class AuthenticationSettings(ConfigModel):
    """How an acceptor authenticates the counterparty's Logon (docs/security.md).

    ``mode: required`` (the default) needs at least one method, and every
    method given must pass: Logon credentials (``username`` with
    ``passwordHash`` or ``password``), a client certificate identity, the
    source address.  ``mode: none`` accepts any counterparty that knows the
    CompIDs and must be written explicitly.
    """

    mode: Literal["required", "none"] = "required"
    #: The Username(553) the Logon must carry.
    username: str | None = Field(default=None, min_length=1, max_length=256)
    #: An scrypt hash of the expected Password(554) (``fixplus auth hash-password``).
    password_hash: SecretStr | None = None
    #: The expected Password(554) itself, as a secret reference (``${FILE:...}``).
    password: SecretStr | None = None
    certificate: CertificateIdentity | None = None
    #: Source addresses or networks (``10.0.0.0/8``, ``192.0.2.7``, ``::1``).
    allowed_addresses: list[str] = Field(default_factory=list)

    @field_validator("allowed_addresses")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f"allowedAddresses: {item!r} is not an IP address or network") from None
        return value

    @field_validator("password_hash")
    @classmethod
    def _hash_format(cls, value: SecretStr | None) -> SecretStr | None:
        text = value.get_secret_value() if value is not None else ""
        if value is not None and not text.startswith((PASSWORD_HASH_PREFIX, "${")):
            raise ValueError(
                f"passwordHash must be a hash made by `fixplus auth hash-password` (it starts "
                f"with {PASSWORD_HASH_PREFIX!r}); put a plain password in `password` instead")
        return value

    @model_validator(mode="after")
    def _check(self) -> AuthenticationSettings:
        methods = [name for name, on in (
            ("username", self.username is not None),
            ("passwordHash", self.password_hash is not None),
            ("password", self.password is not None),
            ("certificate", self.certificate is not None),
            ("allowedAddresses", bool(self.allowed_addresses))) if on]
        if self.mode == "none":
            if methods:
                raise ValueError(
                    f"authentication mode none takes no other setting (got {', '.join(methods)})")
            return self
        if self.password is not None and self.password_hash is not None:
            raise ValueError("give passwordHash or password, not both")
        if self.username is not None and self.password is None and self.password_hash is None:
            raise ValueError("username needs passwordHash or password: a username alone "
                             "authenticates nobody")
        if not methods:
            raise ValueError(
                "authentication needs at least one method (username with passwordHash or "
                "password, certificate, allowedAddresses), or mode: none")
        return self

    @property
    def checks_credentials(self) -> bool:
        return self.password is not None or self.password_hash is not None
