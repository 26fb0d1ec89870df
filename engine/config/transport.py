"""Connections: TLS, initiator endpoints and reconnects, and the bounds an
acceptor keeps on peers that have not logged on."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from .base import ConfigModel


class TlsSettings(ConfigModel):
    enabled: bool = False
    cert_file: str | None = None
    key_file: str | None = None
    ca_file: str | None = None
    #: Acceptor: require and verify a client certificate (mutual TLS).
    require_client_cert: bool = False
    #: Acceptor: a PEM file of certificate revocation lists; client
    #: certificates it revokes are refused in the handshake.
    crl_file: str | None = None
    #: The passphrase of an encrypted keyFile (a secret setting: takes references).
    key_password: SecretStr | None = None
    min_version: Literal["TLSv1.2", "TLSv1.3"] = "TLSv1.2"
    ciphers: str | None = None
    #: Initiator: the name to verify in the server certificate (default: the host).
    server_name: str | None = None
    verify: bool = True


class Endpoint(ConfigModel):
    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)


class ReconnectSettings(ConfigModel):
    """Initiator reconnect backoff: exponential with jitter, capped."""

    initial_delay: float = Field(default=1.0, gt=0)
    max_delay: float = Field(default=30.0, gt=0)
    multiplier: float = Field(default=2.0, ge=1)
    jitter: float = Field(default=0.2, ge=0, le=1)


class AcceptorLimits(ConfigModel):
    """Bounds on what unauthenticated peers can make an acceptor hold
    (docs/security.md lists every default and what the peer sees)."""

    #: Bytes read from a new connection before its Logon must be complete.
    max_logon_bytes: int = Field(default=65536, ge=256, le=1 << 20)
    #: Connections not yet logged on, in the whole engine and from one address.
    max_unauthenticated: int = Field(default=256, ge=1)
    max_unauthenticated_per_source: int = Field(default=16, ge=1)
    #: New connections accepted per second (token bucket), and the burst.
    accept_rate: float = Field(default=200.0, gt=0)
    accept_burst: int = Field(default=400, ge=1)
    #: After this many refused Logons from one address within
    #: ``failedLogonWindow`` seconds, its connections are refused for
    #: ``failedLogonBlock`` seconds.
    failed_logon_limit: int = Field(default=5, ge=1)
    failed_logon_window: float = Field(default=60.0, gt=0)
    failed_logon_block: float = Field(default=60.0, gt=0)
    #: Password hashes checked at once (each costs tens of ms of CPU).
    max_concurrent_password_checks: int = Field(default=4, ge=1)
