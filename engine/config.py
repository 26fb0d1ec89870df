"""Typed engine configuration (pydantic v2).

These models are the single source of truth for settings: the engine reads
them from YAML (or QuickFIX ``.cfg`` files, see :mod:`.cfgfile`), and the
operator writes the very same schema into its CRDs and ConfigMaps.

Loading (:func:`load_config`, :func:`parse_config`) is a pipeline over plain
data, each step on the raw mapping before pydantic sees it:

1. read the YAML file (or convert the ``.cfg`` file);
2. canonicalise keys: ``snake_case`` and ``camelCase`` both become the
   camelCase alias, so the later steps see one spelling;
3. apply ``FIXPLUS__<PATH>`` environment overrides;
4. resolve ``${ENV:NAME}`` and ``${FILE:/path}`` secret references, which
   only the secret settings take (:data:`SECRET_SESSION_SETTINGS` and the
   user:password part of ``store``): a reference anywhere else is an error,
   so that a secret never lands in a label, a log line or a session id;
5. merge ``defaults`` under every session and dynamic session template;
6. validate; every pydantic error becomes one line of a :class:`InvalidConfigError`
   naming the file, the setting path (``sessions[1].heartbeatInterval``) and
   the problem.

This module imports nothing from the engine except :mod:`.errors`: the
operator imports it.  (:func:`load_config` imports :mod:`.cfgfile` lazily,
only for ``.cfg`` files; that module depends on nothing but this one.)

Field names are snake_case in Python and camelCase in YAML/JSON (both are
accepted on input).  Every model forbids unknown keys so that a typo is a
precise error instead of a silently ignored setting.
"""

from __future__ import annotations

import datetime as dt
import difflib
import enum
import ipaddress
import os
import re
import types
import typing
import zoneinfo
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Final, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from .errors import ConfigError
from .secrets.settings import VaultSettings

BEGIN_STRINGS = ("FIX.4.0", "FIX.4.1", "FIX.4.2", "FIX.4.3", "FIX.4.4", "FIXT.1.1")
BeginString = Literal["FIX.4.0", "FIX.4.1", "FIX.4.2", "FIX.4.3", "FIX.4.4", "FIXT.1.1"]

#: ApplVerID(1128) codes and the names used in settings.
APPL_VER_IDS: dict[str, str] = {
    "FIX.2.7": "0",
    "FIX.3.0": "1",
    "FIX.4.0": "2",
    "FIX.4.1": "3",
    "FIX.4.2": "4",
    "FIX.4.3": "5",
    "FIX.4.4": "6",
    "FIX.5.0": "7",
    "FIX.5.0SP1": "8",
    "FIX.5.0SP2": "9",
}

CompID = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f=|]+$")]


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        alias_generator=to_camel,
        use_enum_values=False,
        # ``senderCompId: 12345`` or ``password: 1234`` in YAML are numbers;
        # accept them for string settings instead of failing.
        coerce_numbers_to_str=True,
    )


class Role(enum.StrEnum):
    INITIATOR = "initiator"
    ACCEPTOR = "acceptor"


class TimestampPrecision(enum.StrEnum):
    SECONDS = "seconds"
    MILLIS = "millis"
    MICROS = "micros"
    NANOS = "nanos"

    @property
    def digits(self) -> int:
        return {"seconds": 0, "millis": 3, "micros": 6, "nanos": 9}[self.value]


class Weekday(enum.StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"

    @property
    def number(self) -> int:
        """Monday is 0, as in ``datetime.weekday()``."""
        return list(Weekday).index(self)


class ScheduleSettings(_Model):
    """When the session may be logged on (QuickFIX's schedule settings).

    ``non_stop`` sessions never end.  Otherwise the session runs daily from
    ``start_time`` to ``end_time`` (crossing midnight when end < start; a
    24-hour session when they are equal, with a new period at that time),
    only on the ``weekdays`` listed when given (the day a session starts on
    counts), or weekly from ``start_day start_time`` to ``end_day end_time``
    when both days are given.  Times are in ``time_zone`` (an IANA name), or
    in the host's local zone with ``use_local_time``.
    """

    non_stop: bool = True
    start_time: dt.time | None = None
    end_time: dt.time | None = None
    start_day: Weekday | None = None
    end_day: Weekday | None = None
    weekdays: list[Weekday] | None = Field(
        default=None,
        max_length=7,
        description="daily sessions only on these days (the day a session starts on)",
    )
    time_zone: str = "UTC"
    use_local_time: bool = Field(
        default=False, description="the times are in the host's local zone (not timeZone)"
    )

    @model_validator(mode="after")
    def _check(self) -> ScheduleSettings:
        try:
            zoneinfo.ZoneInfo(self.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.time_zone!r}") from exc
        if (self.start_day is None) != (self.end_day is None):
            raise ValueError("startDay and endDay go together")
        if self.non_stop:
            return self
        # Each problem below names the settings: a schedule that can never
        # open (or means two things) is refused at load, never at logon.
        if self.start_time is None or self.end_time is None:
            raise ValueError("a schedule that is not nonStop needs startTime and endTime")
        if self.weekdays is not None:
            if not self.weekdays:
                raise ValueError("weekdays is empty: the session would never open")
            if self.start_day is not None:
                raise ValueError(
                    "weekdays (a daily session on some days) and startDay/endDay "
                    "(a weekly session) exclude each other"
                )
        if self.use_local_time and self.time_zone != "UTC":
            raise ValueError(
                f"useLocalTime and timeZone {self.time_zone!r} exclude each other"
            )
        return self


class ValidationSettings(_Model):
    """Data dictionary validation, with QuickFIX's option names in mind."""

    use_data_dictionary: bool = True
    #: Dictionary for FIX.4.x sessions (a path to a QuickFIX-format XML file).
    data_dictionary: str | None = None
    #: FIXT.1.1: the transport dictionary and the application dictionaries.
    transport_data_dictionary: str | None = None
    app_data_dictionary: list[str] = Field(default_factory=list)
    validate_fields_out_of_order: bool = True
    validate_fields_have_values: bool = True
    validate_user_defined_fields: bool = True
    validate_unordered_group_fields: bool = True
    allow_unknown_msg_fields: bool = False
    #: Reject messages whose SendingTime is further than ``max_latency`` seconds from now.
    check_latency: bool = True
    max_latency: Annotated[int, Field(ge=1)] = 120
    check_comp_id: bool = True


class TlsSettings(_Model):
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


class Endpoint(_Model):
    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)


class ReconnectSettings(_Model):
    """Initiator reconnect backoff: exponential with jitter, capped."""

    initial_delay: float = Field(default=1.0, gt=0)
    max_delay: float = Field(default=30.0, gt=0)
    multiplier: float = Field(default=2.0, ge=1)
    jitter: float = Field(default=0.2, ge=0, le=1)


#: Characters a CompID, SubID or LocationID from the wire may use when it
#: names a session that does not exist yet (dynamic sessions) or reaches a
#: log line: letters, digits and ``. _ - @ +``, 1 to 64 of them.
WIRE_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}\Z")

#: Prefix of a password hash made by ``fixplus auth hash-password``.
PASSWORD_HASH_PREFIX: Final = "scrypt$"


class CertificateIdentity(_Model):
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


class AuthenticationSettings(_Model):
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


class AcceptorLimits(_Model):
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


class SessionSettings(_Model):
    """One FIX session."""

    role: Role
    begin_string: BeginString
    sender_comp_id: CompID
    target_comp_id: CompID
    sender_sub_id: str | None = None
    sender_location_id: str | None = None
    target_sub_id: str | None = None
    target_location_id: str | None = None
    session_qualifier: str | None = None
    #: FIXT.1.1 only: FIX.5.0, FIX.5.0SP1 or FIX.5.0SP2 (or the code 7, 8, 9).
    default_appl_ver_id: str | None = None

    heartbeat_interval: Annotated[int, Field(ge=0)] = 30
    logon_timeout: Annotated[float, Field(gt=0)] = 10.0
    logout_timeout: Annotated[float, Field(gt=0)] = 2.0
    #: A TestRequest goes out after HeartBtInt * (1 + this) seconds without
    #: receiving anything (QuickFIX: 1.2 x HeartBtInt).
    test_request_delay_multiplier: Annotated[float, Field(ge=0)] = 0.2
    #: The connection is dropped after HeartBtInt * (1 + this) seconds without
    #: receiving anything, TestRequest or not (QuickFIX: 2.4 x HeartBtInt).
    heartbeat_timeout_multiplier: Annotated[float, Field(ge=0)] = 1.4

    reset_on_logon: bool = False
    reset_on_logout: bool = False
    reset_on_disconnect: bool = False
    refresh_on_logon: bool = False
    enable_next_expected_msg_seq_num: bool = False
    resend_request_chunk_size: Annotated[int, Field(ge=0)] = 0
    send_redundant_resend_requests: bool = False
    persist_messages: bool = True
    timestamp_precision: TimestampPrecision = TimestampPrecision.MILLIS
    #: Received application messages waiting for (or inside) ``from_app``
    #: at which the engine stops reading the connection until half of them
    #: are handled (back-pressure; docs/application-api.md).
    max_pending_deliveries: Annotated[int, Field(ge=1)] = 1000

    validation: ValidationSettings = Field(default_factory=ValidationSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)

    #: Initiator: where to connect, tried in turn (failover).
    connect: list[Endpoint] = Field(default_factory=list)
    reconnect: ReconnectSettings = Field(default_factory=ReconnectSettings)
    #: Acceptor: the port to listen on (shared by every acceptor session on it).
    accept_port: int | None = Field(default=None, ge=0, le=65535)
    accept_host: str = "0.0.0.0"
    tls: TlsSettings = Field(default_factory=TlsSettings)
    tcp_nodelay: bool = True
    tcp_keepalive: bool = True

    #: Logon credentials (Username 553 / Password 554) the initiator sends.
    username: str | None = None
    password: SecretStr | None = None
    #: Acceptor: how the counterparty's Logon is authenticated (required
    #: for acceptor sessions; ``mode: none`` to accept anyone).
    authentication: AuthenticationSettings | None = None
    #: Acceptor: the HeartBtInt(108) a counterparty may ask for (seconds);
    #: outside it the Logon is answered with a Logout saying why.
    min_heartbeat_interval: int = Field(default=1, ge=0)
    max_heartbeat_interval: int = Field(default=300, ge=1)
    #: The largest message accepted (BodyLength), in bytes.
    max_message_size: int = Field(default=1 << 20, ge=1024, le=64 << 20)
    #: Messages held above a sequence gap, and their total size in bytes
    #: (as received; held parsed, they take about twice that in memory);
    #: beyond either the session logs out ("too many messages queued")
    #: and the counterparty resends them after the next Logon.
    max_queued_messages: int = Field(default=10_000, ge=1)
    max_queued_bytes: int = Field(default=16 << 20, ge=1024)

    @field_validator("default_appl_ver_id")
    @classmethod
    def _appl_ver(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value in APPL_VER_IDS:
            return value
        by_code = {code: name for name, code in APPL_VER_IDS.items()}
        if value in by_code:
            return by_code[value]
        raise ValueError(f"unknown DefaultApplVerID {value!r}; use one of {sorted(APPL_VER_IDS)}")

    @model_validator(mode="after")
    def _check(self) -> SessionSettings:
        if self.begin_string == "FIXT.1.1" and self.default_appl_ver_id is None:
            raise ValueError("a FIXT.1.1 session needs defaultApplVerId")
        if self.begin_string != "FIXT.1.1" and self.default_appl_ver_id is not None:
            raise ValueError("defaultApplVerId is only for FIXT.1.1 sessions")
        if self.role is Role.INITIATOR and not self.connect:
            raise ValueError("an initiator session needs at least one connect endpoint")
        if self.role is Role.ACCEPTOR and self.accept_port is None:
            raise ValueError("an acceptor session needs acceptPort")
        if self.min_heartbeat_interval > self.max_heartbeat_interval:
            raise ValueError("minHeartbeatInterval is above maxHeartbeatInterval")
        return self

    @property
    def session_id(self) -> str:
        """``BEGINSTRING:SENDER->TARGET`` (with :QUALIFIER), as QuickFIX prints it."""
        text = f"{self.begin_string}:{self.sender_comp_id}->{self.target_comp_id}"
        return f"{text}:{self.session_qualifier}" if self.session_qualifier else text

    @property
    def appl_ver_id_code(self) -> str | None:
        return None if self.default_appl_ver_id is None else APPL_VER_IDS[self.default_appl_ver_id]


# ---------------------------------------------------------------------------
# Engine-level settings


class LoggingSettings(_Model):
    """Engine log output: level, and text or JSON lines."""

    level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    format: Literal["json", "text"] = "text"

    @field_validator("level", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value


#: Where a pod finds its service account token and the API server's CA.
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


class MetricsTlsSettings(_Model):
    """TLS of the metrics endpoint; the files are re-read when they change
    (a Secret volume swaps them in place)."""

    cert_file: str = Field(min_length=1)
    key_file: str = Field(min_length=1)
    min_version: Literal["TLSv1.2", "TLSv1.3"] = "TLSv1.2"


class TokenReviewSettings(_Model):
    """How ``authorization: tokenReview`` checks a bearer token: a Kubernetes
    TokenReview (is the token valid, and whose is it) and, when
    ``subjectAccessReview`` is on, a SubjectAccessReview (may that user
    ``get`` the non-resource URL of the metrics path).  Defaults fit a pod."""

    #: ``https://host:port``; default from KUBERNETES_SERVICE_HOST/PORT.
    api_server: str | None = Field(default=None, pattern=r"^https://[^/?#\s]+/?$")
    ca_file: str = f"{SERVICE_ACCOUNT_DIR}/ca.crt"
    #: The engine's own token, which the reviews are made with (re-read on use).
    token_file: str = f"{SERVICE_ACCOUNT_DIR}/token"
    subject_access_review: bool = True
    #: Audiences the token must be valid for (empty: the API server's own).
    audiences: list[str] = Field(default_factory=list, max_length=8)
    #: Seconds a verdict is cached (per token hash), and how many are kept.
    cache_ttl: float = Field(default=60.0, gt=0, le=600)
    cache_size: int = Field(default=256, ge=1, le=10000)
    #: Seconds one review may take.
    timeout: float = Field(default=5.0, gt=0, le=60)
    #: Reviews in flight at once; further requests wait (each a cache miss).
    max_concurrent: int = Field(default=4, ge=1, le=64)


class MetricsSettings(_Model):
    """The HTTP endpoint for Prometheus metrics (``path``) and the Kubernetes
    probes ``/healthz`` (liveness) and ``/readyz`` (readiness).

    It listens on ``host`` (127.0.0.1 by default: only the machine itself;
    the operator writes 0.0.0.0 for pods).  ``tls`` serves it over HTTPS and
    ``authorization: tokenReview`` asks a bearer token of every ``path``
    request (the probes stay open: they reveal nothing)."""

    enabled: bool = False
    host: str = Field(default="127.0.0.1", min_length=1)
    #: 0 picks a free port (tests).
    port: int = Field(default=9464, ge=0, le=65535)
    path: str = Field(default="/metrics", pattern=r"^/[A-Za-z0-9._~/-]*$", max_length=128)
    tls: MetricsTlsSettings | None = None
    authorization: Literal["none", "tokenReview"] = "none"
    token_review: TokenReviewSettings = Field(default_factory=TokenReviewSettings)
    #: Connections open at once; more are closed at once.
    max_connections: int = Field(default=32, ge=1, le=10000)
    #: Seconds a connection may take to send a request (TLS handshake
    #: included), counted again from the start of each request.
    request_timeout: float = Field(default=10.0, gt=0, le=300)

    @model_validator(mode="after")
    def _check(self) -> MetricsSettings:
        if self.path in ("/healthz", "/readyz"):
            raise ValueError(f"path {self.path} is a probe's path")
        if self.authorization == "tokenReview" and self.tls is None:
            raise ValueError("authorization tokenReview carries bearer tokens: it needs tls "
                             "(certFile, keyFile)")
        return self


class TracingSettings(_Model):
    """OpenTelemetry spans for application messages (off by default)."""

    enabled: bool = False
    #: OTLP/HTTP traces endpoint, e.g. ``http://otel-collector:4318/v1/traces``.
    otlp_endpoint: str | None = None
    service_name: str = "pyfixmsg-plus"
    #: Fraction of traces kept (0 to 1).
    sample_ratio: float = Field(default=1.0, ge=0, le=1)


#: Identifier fields of a dynamic session template that may be glob patterns.
TEMPLATE_PATTERN_FIELDS = (
    "sender_comp_id",
    "target_comp_id",
    "sender_sub_id",
    "sender_location_id",
    "target_sub_id",
    "target_location_id",
)


def _glob(pattern: str) -> re.Pattern[str]:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts) + r"\Z", re.DOTALL)


class DynamicSessionTemplate(_Model):
    """An acceptor session created when an unlisted counterparty logs on.

    The identifier fields of ``session`` (``senderCompId``, ``targetCompId``
    and the sub and location ids) may be glob patterns: ``*`` matches any
    text, ``?`` one character.  Ids are seen from our side: ``targetCompId``
    is the counterparty, i.e. the SenderCompID(49) of its Logon.  A Logon
    that arrives on ``session.acceptPort``, matches no configured session
    and matches the template creates a session from it.
    """

    session: SessionSettings
    #: At most this many sessions from the template at once (None: no limit).
    max_sessions: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _check(self) -> DynamicSessionTemplate:
        if self.session.role is not Role.ACCEPTOR:
            raise ValueError("a dynamic session template must have role: acceptor")
        return self

    def matches(
        self,
        begin_string: str,
        sender_comp_id: str,
        target_comp_id: str,
        **other_ids: str | None,
    ) -> bool:
        """Whether a Logon with these ids (our side's view) fits the template.

        ``other_ids`` are the optional ``sender_sub_id``, ``target_sub_id``,
        ``sender_location_id``, ``target_location_id``; a template field left
        unset accepts any value.
        """
        if begin_string != self.session.begin_string:
            return False
        ids: dict[str, str | None] = {
            "sender_comp_id": sender_comp_id,
            "target_comp_id": target_comp_id,
            **other_ids,
        }
        for name, value in ids.items():
            if name not in TEMPLATE_PATTERN_FIELDS:
                raise TypeError(f"unknown session id field {name!r}")
            pattern = getattr(self.session, name)
            if pattern is None:
                continue
            if value is None or not _glob(pattern).match(value):
                return False
        return True

    def instantiate(
        self, sender_comp_id: str, target_comp_id: str, **other_ids: str | None
    ) -> SessionSettings:
        """The concrete session for a matching Logon (patterns replaced by the ids)."""
        if not self.matches(self.session.begin_string, sender_comp_id, target_comp_id, **other_ids):
            raise ValueError("the ids do not match this template")
        update: dict[str, Any] = {
            "sender_comp_id": sender_comp_id,
            "target_comp_id": target_comp_id,
        }
        update.update({k: v for k, v in other_ids.items() if v is not None})
        return self.session.model_copy(update=update)


StoreUrl = Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z][A-Za-z0-9+.-]*:")]


class StoreFailureSettings(_Model):
    """What happens while the message store cannot be written (docs/stores.md).

    Outgoing messages are always held (never written to the socket) until
    their sequence numbers are durable.  ``wait``: the application's
    ``send()`` waits for the store to come back, at most ``waitTimeout``
    seconds of outage, then fails with ``StoreUnavailableError``.  ``fail``:
    ``send()`` fails at once while the store is down.  Either way the engine
    retries the store with exponential backoff and resumes by itself.
    """

    mode: Literal["wait", "fail"] = "wait"
    #: Seconds of outage after which waiting sends fail (mode ``wait``).
    wait_timeout: float = Field(default=30.0, gt=0)
    #: First and longest delay (seconds) between attempts to reach the store.
    retry_initial_delay: float = Field(default=0.05, gt=0)
    retry_max_delay: float = Field(default=2.0, gt=0)


class RetentionSettings(_Model):
    """Deleting old data from the message store (also ``fixplus store prune``)."""

    #: Delete stored messages sent more than this many days ago (None: keep).
    max_age_days: float | None = Field(default=None, gt=0)
    #: Delete whole sessions (state and messages) not updated for this many
    #: days; never a session this engine runs (None: keep).
    session_idle_days: float | None = Field(default=None, gt=0)
    #: Seconds between two prunes while the engine runs.
    interval: float = Field(default=3600.0, gt=0)


#: The largest ``busyPollUs`` accepted (10 ms): beyond it polling only burns CPU.
MAX_BUSY_POLL_US: Final = 10_000
#: Why ``busyPollUs`` and ``eventLoop: uvloop`` do not go together.
BUSY_POLL_NEEDS_ASYNCIO: Final = (
    "busyPollUs works with eventLoop: asyncio only (uvloop waits inside libuv); "
    "set busyPollUs: 0 or eventLoop: asyncio")


class EngineConfig(_Model):
    """The whole engine configuration file."""

    #: Message store URL, parsed by the store package (``sqlite:///path``,
    #: ``postgresql://…``, ``redis://…``, ``memory://``).
    store: StoreUrl = "sqlite:///fixplus.db"
    #: Session settings merged under every session and dynamic session
    #: template (like QuickFIX's [DEFAULT]); any SessionSettings key.
    defaults: dict[str, Any] = Field(default_factory=dict)
    sessions: list[SessionSettings] = Field(default_factory=list)
    dynamic_sessions: list[DynamicSessionTemplate] = Field(default_factory=list)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    tracing: TracingSettings = Field(default_factory=TracingSettings)
    #: Seconds a graceful stop waits for Logouts to be answered.
    shutdown_timeout: float = Field(default=10.0, gt=0)
    store_failure: StoreFailureSettings = Field(default_factory=StoreFailureSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    #: The event loop ``fixplus run`` uses: the standard library's, or uvloop
    #: (the ``uvloop`` extra; see docs/performance.md for when it helps).
    event_loop: Literal["asyncio", "uvloop"] = "asyncio"
    #: Microseconds the event loop polls its sockets before it sleeps
    #: (``eventLoop: asyncio`` only; 0: never polls).  Cuts round-trip
    #: latency on hosts where waking a sleeping process is slow, at the cost
    #: of CPU time; see docs/performance.md.
    busy_poll_us: int = Field(default=0, ge=0, le=MAX_BUSY_POLL_US)
    #: Bounds on what peers that have not logged on can make acceptors hold.
    limits: AcceptorLimits = Field(default_factory=AcceptorLimits)
    #: Vault: where, how to log in, dynamic store credentials (docs/security.md).
    vault: VaultSettings | None = None

    @model_validator(mode="before")
    @classmethod
    def _merge_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        problems: list[str] = []
        data = _canonical(EngineConfig, data, (), problems)
        if problems:
            raise ValueError("; ".join(problems))
        merged, _ = merge_defaults(data)
        return merged

    @field_validator("defaults")
    @classmethod
    def _known_defaults(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = [key for key in value if _lookup(SessionSettings, key) is None]
        if unknown:
            hints = [_unknown_key_hint(SessionSettings, str(key)) for key in unknown]
            raise ValueError("; ".join(hints))
        return value

    @field_validator("sessions")
    @classmethod
    def _unique_ids(cls, value: list[SessionSettings]) -> list[SessionSettings]:
        seen: dict[str, int] = {}
        for index, session in enumerate(value):
            first = seen.setdefault(session.session_id, index)
            if first != index:
                raise ValueError(
                    f"session id {session.session_id} is used by both "
                    f"sessions[{first}] and sessions[{index}]"
                )
        return value

    @model_validator(mode="after")
    def _check(self) -> EngineConfig:
        if self.busy_poll_us and self.event_loop == "uvloop":
            raise ValueError(BUSY_POLL_NEEDS_ASYNCIO)
        if not self.sessions and not self.dynamic_sessions:
            raise ValueError("no sessions: give at least one in sessions (or dynamicSessions)")
        listeners: dict[int, tuple[str, SessionSettings]] = {}
        acceptors = [
            (f"sessions[{i}]", s) for i, s in enumerate(self.sessions) if s.role is Role.ACCEPTOR
        ] + [
            (f"dynamicSessions[{i}].session", t.session)
            for i, t in enumerate(self.dynamic_sessions)
        ]
        unauthenticated = [f"{where} ({session.session_id})" for where, session in acceptors
                           if session.authentication is None]
        if unauthenticated:
            raise ValueError(
                f"acceptor session without authentication: {', '.join(unauthenticated)}; "
                "configure authentication (username with passwordHash or password, "
                "certificate, allowedAddresses; see docs/security.md), or write "
                "`authentication: {mode: none}` to accept any counterparty that knows the "
                "CompIDs")
        for where, session in acceptors:
            assert session.accept_port is not None  # checked by SessionSettings
            first = listeners.setdefault(session.accept_port, (where, session))
            other_where, other = first
            if other.tls != session.tls:
                raise ValueError(
                    f"{other_where} and {where} share acceptPort {session.accept_port} "
                    "but have different tls settings"
                )
            if other.accept_host != session.accept_host:
                raise ValueError(
                    f"{other_where} and {where} share acceptPort {session.accept_port} "
                    f"but have different acceptHost ({other.accept_host} and {session.accept_host})"
                )
        return self


def config_json_schema() -> dict[str, Any]:
    """JSON schema of :class:`EngineConfig` with the camelCase keys (for CRDs)."""
    return EngineConfig.model_json_schema(by_alias=True, mode="validation")


def dump_config(config: EngineConfig, *, reveal_secrets: bool = False) -> dict[str, Any]:
    """Plain data (camelCase keys) that :func:`parse_config` reads back.

    Secrets are masked as ``**********`` unless ``reveal_secrets``.
    """
    data = config.model_dump(mode="python", by_alias=True)
    plain = _plain(data, reveal_secrets)
    assert isinstance(plain, dict)
    return plain


def _plain(value: Any, reveal: bool) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v, reveal) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, reveal) for v in value]
    if isinstance(value, SecretStr):
        return value.get_secret_value() if reveal else str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.time):
        return value.isoformat()
    return value


# ---------------------------------------------------------------------------
# Loading pipeline

#: Prefix of environment variables that override settings.
ENV_PREFIX = "FIXPLUS__"

Loc = tuple[str | int, ...]


class InvalidConfigError(ConfigError):
    """The configuration has problems; ``problems`` holds one line for each."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.source = source
        self.problems = tuple(problems)


class _Loader(yaml.SafeLoader):
    """YAML 1.1 safe loader without sexagesimal numbers and timestamps.

    ``startTime: 13:30:00`` stays the string it looks like instead of the
    integer 48600, and dates stay strings.
    """


_Loader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag.rsplit(":", 1)[-1] not in ("int", "float", "timestamp")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0x[0-9a-fA-F_]+|[-+]?(?:0|[1-9][0-9_]*))$"),
    list("-+0123456789"),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?"
        r"|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def yaml_scalar(text: str) -> Any:
    """``text`` read as a YAML value, as environment overrides are."""
    return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass


def load_config(
    path: str | os.PathLike[str],
    *,
    environ: Mapping[str, str] | None = None,
    strict: bool = False,
) -> EngineConfig:
    """Read a YAML configuration file (or a QuickFIX ``.cfg`` file).

    ``environ`` (default :data:`os.environ`) supplies the ``FIXPLUS__…``
    overrides and the ``${ENV:NAME}`` secrets.  ``strict`` only matters for
    ``.cfg`` files: unknown keys are then errors instead of warnings.
    Raises :class:`~.errors.ConfigError` (an :class:`InvalidConfigError`
    listing every problem) and never a pydantic or YAML exception.
    """
    file = Path(path)
    env: Mapping[str, str] = os.environ if environ is None else environ
    if file.suffix.lower() == ".cfg":
        from . import cfgfile  # noqa: PLC0415 - only .cfg files need it

        return cfgfile.load_cfg(file, environ=env, strict=strict).config
    source = str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidConfigError(source, [f"{source}: cannot read the file: {exc}"]) from None
    data, lines = read_yaml(text, source)
    return parse_config(data, source=source, environ=env, locate=_yaml_locator(source, lines))


def read_yaml(text: str, source: str) -> tuple[dict[str, Any], dict[tuple[str, ...], int]]:
    """Parse YAML text into a mapping plus the line of every key path.

    Line paths use normalised keys (lowercase, no ``_``), list indexes as
    strings, so snake_case and camelCase spellings find the same line.
    """
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise InvalidConfigError(source, [f"{where}: YAML syntax error: {problem}"]) from None
    finally:
        loader.dispose()
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidConfigError(
            source, [f"{source}: the top level must be a mapping, not {type(data).__name__}"]
        )
    lines: dict[tuple[str, ...], int] = {}
    problems: list[str] = []
    if node is not None:
        _node_lines(node, (), lines, problems, source)
    if problems:
        raise InvalidConfigError(source, problems)
    return data, lines


def _norm(key: str | int) -> str:
    return str(key).replace("_", "").lower()


def _node_lines(
    node: yaml.Node,
    path: tuple[str, ...],
    lines: dict[tuple[str, ...], int],
    problems: list[str],
    source: str,
) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.value == "<<":
                continue
            key = _norm(key_node.value)
            if key in seen:
                problems.append(
                    f"{source}:{key_node.start_mark.line + 1}: "
                    f"{_format_loc(_as_loc((*path, key_node.value)))}: the key is given twice"
                )
            seen.add(key)
            lines[(*path, key)] = key_node.start_mark.line + 1
            _node_lines(value_node, (*path, key), lines, problems, source)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _node_lines(item, (*path, str(index)), lines, problems, source)


def _as_loc(path: tuple[str, ...]) -> Loc:
    return tuple(int(part) if part.isdigit() else part for part in path)


def _yaml_locator(source: str, lines: dict[tuple[str, ...], int]) -> Callable[[Loc], str | None]:
    def locate(loc: Loc) -> str | None:
        key = tuple(_norm(part) for part in loc)
        while key:
            if key in lines:
                return f"{source}:{lines[key]}"
            key = key[:-1]
        return None

    return locate


def parse_config(
    data: Mapping[str, Any],
    *,
    source: str = "<config>",
    environ: Mapping[str, str] | None = None,
    resolve_secrets: bool = True,
    locate: Callable[[Loc], str | None] | None = None,
) -> EngineConfig:
    """Validate plain configuration data (what a YAML file holds).

    ``environ`` supplies ``FIXPLUS__…`` overrides and ``${ENV:NAME}`` values;
    ``None`` means no overrides (and secrets from :data:`os.environ`).
    ``locate`` maps a setting path to a ``file:line`` for error messages.
    """
    problems: list[str] = []
    raw = _canonical(EngineConfig, dict(data), (), problems)
    from_env: dict[Loc, str] = {}
    if environ is not None:
        _apply_env(raw, environ, from_env, problems)
    # Secret references are checked always, resolved only when asked (the
    # operator validates configurations whose files exist in the pod only).
    env = os.environ if environ is None else environ
    raw = _resolve_secrets(
        raw, (), env, problems, resolve=resolve_secrets, from_env=from_env,
        vault=_vault_lookup(raw, env) if resolve_secrets else None,
    )
    if problems:
        raise InvalidConfigError(source, [f"{source}: {p}" for p in problems])
    merged, inherited = merge_defaults(raw)
    try:
        return EngineConfig.model_validate(merged)
    except ValidationError as exc:
        lines = _describe(exc, source, inherited, from_env, locate)
        raise InvalidConfigError(source, lines) from None


# -- key canonicalisation ----------------------------------------------------


def _field_index(model: type[BaseModel], fold_case: bool) -> dict[str, str]:
    """Accepted spellings (name and alias, lowercased if ``fold_case``) -> field name."""
    index: dict[str, str] = {}
    for name, info in model.model_fields.items():
        for spelling in (name, info.alias or name):
            index.setdefault(spelling.lower() if fold_case else spelling, name)
    return index


def _lookup(model: type[BaseModel], key: object, *, fold_case: bool = False) -> str | None:
    """The field ``key`` names: exactly (YAML) or ignoring case (environment)."""
    if not isinstance(key, str):
        return None
    return _field_index(model, fold_case).get(key.lower() if fold_case else key)


def _alias(model: type[BaseModel], name: str) -> str:
    return model.model_fields[name].alias or name


def _unwrap(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The model type inside ``annotation`` and whether it is a list of them."""
    origin = typing.get_origin(annotation)
    if origin is list:
        args = typing.get_args(annotation)
        return (_unwrap(args[0])[0], True) if args else (None, True)
    if origin is Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            model, is_list = _unwrap(arg)
            if model is not None or is_list:
                return model, is_list
        return None, False
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    return None, False


def _child(model: type[BaseModel], name: str) -> tuple[type[BaseModel] | None, bool]:
    if model is EngineConfig and name == "defaults":
        return SessionSettings, False  # a partial session
    return _unwrap(model.model_fields[name].annotation)


def _is_text(model: type[BaseModel], name: str) -> bool:
    """Whether a field holds free text (taken verbatim from the environment)."""
    annotation = model.model_fields[name].annotation
    is_union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    args = typing.get_args(annotation) if is_union else (annotation,)
    kinds = [arg for arg in args if arg is not type(None)]
    return bool(kinds) and all(kind in (str, SecretStr) for kind in kinds)


def _canonical(model: type[BaseModel], data: Any, path: Loc, problems: list[str]) -> Any:
    """Rename snake_case keys to their camelCase alias, recursively."""
    if isinstance(data, list):
        return [_canonical(model, item, (*path, i), problems) for i, item in enumerate(data)]
    if not isinstance(data, dict):
        return data
    out: dict[Any, Any] = {}
    spelled: dict[str, Any] = {}
    for key, value in data.items():
        name = _lookup(model, key)
        if name is None:
            out[key] = value
            continue
        alias = _alias(model, name)
        if alias in out:
            problems.append(
                f"{_format_loc((*path, alias))}: given twice (as {spelled[alias]} and {key})"
            )
            continue
        spelled[alias] = key
        child, _ = _child(model, name)
        out[alias] = _canonical(child, value, (*path, alias), problems) if child else value
    return out


# -- defaults -------------------------------------------------------------------


def merge_defaults(data: dict[str, Any]) -> tuple[dict[str, Any], set[Loc]]:
    """Merge ``defaults`` under each session and template (keys canonical).

    Returns the merged data and the paths whose value came from defaults.
    Mappings merge key by key; anything else (lists included) in a session
    replaces the default.
    """
    defaults = data.get("defaults")
    inherited: set[Loc] = set()
    if not isinstance(defaults, dict) or not defaults:
        return data, inherited
    out = dict(data)
    sessions = data.get("sessions")
    if isinstance(sessions, list):
        out["sessions"] = [
            _merge_under(defaults, s, ("sessions", i), inherited) if isinstance(s, dict) else s
            for i, s in enumerate(sessions)
        ]
    templates = data.get("dynamicSessions")
    if isinstance(templates, list):
        merged_templates: list[Any] = []
        for i, template in enumerate(templates):
            if isinstance(template, dict) and isinstance(template.get("session"), dict):
                where = ("dynamicSessions", i, "session")
                template = {
                    **template,
                    "session": _merge_under(defaults, template["session"], where, inherited),
                }
            merged_templates.append(template)
        out["dynamicSessions"] = merged_templates
    return out, inherited


def _merge_under(
    defaults: dict[str, Any], target: dict[str, Any], path: Loc, inherited: set[Loc]
) -> dict[str, Any]:
    out = dict(target)
    for key, value in defaults.items():
        if key not in out:
            out[key] = value
            inherited.add((*path, key))
        elif isinstance(value, dict) and isinstance(out[key], dict):
            out[key] = _merge_under(value, out[key], (*path, key), inherited)
    return out


# -- environment overrides --------------------------------------------------------


def _env_sort_key(item: tuple[str, list[str], str]) -> list[tuple[int, int, str]]:
    return [(0, int(s), "") if s.isdigit() else (1, 0, s.lower()) for s in item[1]]


def _apply_env(
    data: dict[str, Any], environ: Mapping[str, str], from_env: dict[Loc, str], problems: list[str]
) -> None:
    items = [
        (name, name[len(ENV_PREFIX) :].split("__"), value)
        for name, value in environ.items()
        if name.startswith(ENV_PREFIX)
    ]
    for name, segments, value in sorted(items, key=_env_sort_key):
        try:
            loc = _set_path(data, segments, value)
        except ValueError as exc:
            problems.append(f"environment variable {name}: {exc}")
        else:
            from_env[loc] = name


def _set_path(data: dict[str, Any], segments: list[str], value: str) -> Loc:
    model: type[BaseModel] = EngineConfig
    node: dict[str, Any] | list[Any] = data
    loc: list[str | int] = []
    for position, segment in enumerate(segments):
        last = position == len(segments) - 1
        if not segment:
            raise ValueError("empty path segment (three underscores in a row?)")
        if isinstance(node, list):
            if not segment.isdigit():
                raise ValueError(
                    f"{_format_loc(tuple(loc))} is a list: expected an index, got {segment!r}"
                )
            index = int(segment)
            if index > len(node):
                raise ValueError(
                    f"index {index} is out of range: {_format_loc(tuple(loc))} has {len(node)} "
                    f"entries (an override may add one at index {len(node)})"
                )
            loc.append(index)
            if last:
                parsed = _env_value(value)
                node[index : index + 1] = [parsed]
                return tuple(loc)
            if index == len(node):
                node.append({})
            elif not isinstance(node[index], dict):
                node[index] = {}
            item = node[index]
            assert isinstance(item, dict)
            node = item
            continue
        name = _lookup(model, segment, fold_case=True)
        if name is None:
            raise ValueError(_unknown_key_hint(model, segment, prefix=_format_loc(tuple(loc))))
        alias = _alias(model, name)
        loc.append(alias)
        child, is_list = _child(model, name)
        if last:
            node[alias] = value if _is_text(model, name) else _env_value(value)
            return tuple(loc)
        current = node.get(alias)
        if is_list:
            if not isinstance(current, list):
                current = []
                node[alias] = current
        elif child is not None:
            if not isinstance(current, dict):
                current = {}
                node[alias] = current
        else:
            following = segments[position + 1]
            raise ValueError(
                f"{_format_loc(tuple(loc))} is a single value, it has no {following!r}"
            )
        node = current
        if child is not None:
            model = child
    raise AssertionError("unreachable")  # pragma: no cover


def _env_value(text: str) -> Any:
    try:
        return yaml_scalar(text)
    except yaml.YAMLError:
        return text


# -- secrets ---------------------------------------------------------------------

_SECRET_REF = re.compile(r"\$(\$?)\{(ENV|FILE|VAULT):([^}]*)\}")

#: The settings of a session that are secrets: the only ones (besides the
#: user:password part of ``store``) where ``${ENV:…}`` and ``${FILE:…}``
#: references are resolved.  Paths are relative to a session, i.e. to
#: ``sessions[i]``, ``dynamicSessions[i].session`` and ``defaults``.
SECRET_SESSION_SETTINGS: Final = (
    ("password",),
    ("authentication", "password"),
    ("authentication", "passwordHash"),
    ("tls", "keyPassword"),
)
#: The secret settings, as error messages name them.
SECRET_SETTINGS_TEXT: Final = (
    "sessions[].password, sessions[].authentication.password, "
    "sessions[].authentication.passwordHash and sessions[].tls.keyPassword (also under defaults "
    "and dynamicSessions[].session), and the user:password part of store"
)


def _session_relative(loc: Loc) -> Loc | None:
    """``loc`` relative to the session (or defaults) it is in, if any."""
    if len(loc) >= 2 and loc[0] == "sessions" and isinstance(loc[1], int):
        return loc[2:]
    if len(loc) >= 3 and loc[0] == "dynamicSessions" and loc[2] == "session":
        return loc[3:]
    if loc and loc[0] == "defaults":
        return loc[1:]
    return None


def is_secret_setting(loc: Loc) -> bool:
    """Whether the setting at ``loc`` (canonical keys) takes secret references."""
    if loc == ("store",):
        return True
    relative = _session_relative(loc)
    if relative is None:
        return False
    wanted = tuple(_norm(part) for part in relative)
    return any(wanted == tuple(_norm(p) for p in s) for s in SECRET_SESSION_SETTINGS)


#: Makes the ``${VAULT:…}`` resolver of a configuration (its raw data and
#: environment); installed by :func:`.secrets.resolve.install` (``fixplus``
#: does it), so that this module never imports Vault code.
VaultResolverFactory = Callable[[Any, Mapping[str, str]], Callable[[str], str]]
_vault_resolver: list[VaultResolverFactory] = []


def install_vault_resolver(factory: VaultResolverFactory) -> None:
    """Resolve ``${VAULT:…}`` references with ``factory`` from now on."""
    _vault_resolver[:] = [factory]


def _vault_lookup(raw: Any, environ: Mapping[str, str]) -> Callable[[str], str]:
    """Resolves ``${VAULT:…}``; the resolver logs in at the first one only."""
    made: list[Callable[[str], str]] = []

    def lookup(ref: str) -> str:
        if not made:
            if not _vault_resolver:
                raise ConfigError(f"${{VAULT:{ref}}}: Vault references need "
                                  "pyfixmsg_plus.engine.secrets.resolve.install() first")
            made.append(_vault_resolver[0](raw, environ))
        return made[0](ref)

    return lookup


def _outside_userinfo(url: str) -> bool:
    """Whether a reference in a store URL lies outside its ``user:password@`` part."""
    scheme = url.find("://")
    if scheme < 0:
        return True
    rest = url[scheme + 3 :]
    # the authority ends at the first / ? # that is not inside a reference
    masked = _SECRET_REF.sub(lambda m: "x" * len(m.group(0)), rest)
    end = min((i for i in (masked.find(c) for c in "/?#") if i >= 0), default=len(rest))
    at = masked.rfind("@", 0, end)
    for match in _SECRET_REF.finditer(rest):
        if match.group(1):
            continue  # an escaped, literal $${...}
        if at < 0 or match.end() > at:
            return True
    return False


def _misplaced(path: Loc, value: str) -> bool:
    if not is_secret_setting(path):
        return any(not m.group(1) for m in _SECRET_REF.finditer(value))
    return path == ("store",) and _outside_userinfo(value)


def _resolve_secrets(
    value: Any,
    path: Loc,
    environ: Mapping[str, str],
    problems: list[str],
    *,
    resolve: bool = True,
    from_env: Mapping[Loc, str] | None = None,
    vault: Callable[[str], str] | None = None,
) -> Any:
    """Resolve the references of the secret settings; a reference anywhere
    else is a problem.  ``resolve`` False only checks where they are."""
    if isinstance(value, dict):
        return {
            k: _resolve_secrets(
                v, (*path, k), environ, problems, resolve=resolve, from_env=from_env, vault=vault
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [
            _resolve_secrets(v, (*path, i), environ, problems, resolve=resolve, from_env=from_env,
                             vault=vault)
            for i, v in enumerate(value)
        ]
    if not isinstance(value, str) or "${" not in value:
        return value
    if _misplaced(path, value):
        variable = (from_env or {}).get(path)
        problems.append(
            (f"environment variable {variable}: " if variable else "")
            + f"{_format_loc(path)}: ${{ENV:…}}, ${{FILE:…}} and ${{VAULT:…}} secret references "
            "are allowed "
            f"only in the secret settings ({SECRET_SETTINGS_TEXT}); write $${{ for a "
            "literal ${"
        )
        return value
    if not resolve:
        return value

    def replace(match: re.Match[str]) -> str:
        if match.group(1):  # $${...} is an escaped, literal ${...}
            return match.group(0)[1:]
        kind, ref = match.group(2), match.group(3).strip()
        if kind == "ENV":
            if ref not in environ:
                problems.append(f"{_format_loc(path)}: environment variable {ref} is not set")
                return ""
            return environ[ref]
        if kind == "VAULT":
            try:
                return vault(ref) if vault is not None else ""
            except ConfigError as exc:  # names the reference, never a value
                problems.append(f"{_format_loc(path)}: {exc}")
                return ""
        try:
            return Path(ref).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            problems.append(f"{_format_loc(path)}: cannot read secret file {ref}: {reason}")
            return ""

    return _SECRET_REF.sub(replace, value)


# -- error messages --------------------------------------------------------------


def _format_loc(loc: Loc) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


def _unknown_key_hint(model: type[BaseModel], key: str, prefix: str = "") -> str:
    where = f"{prefix}.{key}" if prefix and prefix != "(top level)" else key
    return f"unknown setting {where!r}{_suggestion(model, key)}"


def _suggestion(model: type[BaseModel], key: str) -> str:
    choices = {_alias(model, name).lower(): _alias(model, name) for name in model.model_fields}
    wanted = key.replace("_", "").lower()
    close = difflib.get_close_matches(wanted, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {choices[close[0]]!r}?" if close else ""


def _model_at(loc: Loc) -> type[BaseModel] | None:
    model: type[BaseModel] | None = EngineConfig
    for part in loc:
        if model is None:
            return None
        if isinstance(part, int):
            continue
        name = _lookup(model, part)
        if name is None:
            return None
        model = _child(model, name)[0]
    return model


def _describe(
    exc: ValidationError,
    source: str,
    inherited: set[Loc],
    from_env: dict[Loc, str],
    locate: Callable[[Loc], str | None] | None,
) -> list[str]:
    lines: list[str] = []
    for error in exc.errors(include_url=False):
        loc: Loc = tuple(error["loc"])
        kind = error["type"]
        message = str(error["msg"])
        if kind == "value_error":
            message = message.removeprefix("Value error, ")
        elif kind == "missing":
            message = "required setting is missing"
        elif kind == "extra_forbidden":
            parent = _model_at(loc[:-1])
            message = "unknown setting"
            if parent is not None and loc:
                message += _suggestion(parent, str(loc[-1]))
        elif not _is_secret(loc) and isinstance(error.get("input"), str | int | float | bool):
            message += f" (got {error['input']!r})"
        where = locate(loc) if locate is not None else None
        note = ""
        for length in range(len(loc), 0, -1):
            prefix = loc[:length]
            if prefix in from_env:
                where = f"environment variable {from_env[prefix]}"
                break
            if prefix in inherited:
                default_loc = ("defaults", *loc[_defaults_depth(prefix) :])
                note = f" (inherited from {_format_loc(default_loc)})"
                if locate is not None:
                    where = locate(default_loc) or where
                break
        lines.append(f"{where or source}: {_format_loc(loc)}: {message}{note}")
    return lines


def _defaults_depth(prefix: Loc) -> int:
    """Where the session-relative part of an inherited path starts."""
    return 2 if prefix[0] == "sessions" else 3


def _is_secret(loc: Loc) -> bool:
    """Whether a value at ``loc`` must not be quoted in an error message."""
    if is_secret_setting(loc):
        return True
    return bool(loc) and isinstance(loc[-1], str) and "password" in loc[-1].lower()
