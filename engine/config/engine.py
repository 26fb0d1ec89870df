"""The whole engine configuration file, and its plain-data form."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any, ClassVar, Final, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

from .base import ConfigModel
from .dynamic import DynamicSessionTemplate
from .keys import canonical_keys, lookup_field, merge_defaults, unknown_key_hint
from .observability import (
    LoggingSettings,
    MessageLogSettings,
    MetricsSettings,
    TracingSettings,
)
from .session import Role, SessionSettings
from .store import (
    AuditSettings,
    EncryptionSettings,
    RetentionSettings,
    StoreFailureSettings,
    StoreUrl,
)
from .transport import AcceptorLimits
from .vault import VaultSettings

#: The largest ``busyPollUs`` accepted (10 ms): beyond it polling only burns CPU.
MAX_BUSY_POLL_US: Final = 10_000
#: Why ``busyPollUs`` and ``eventLoop: uvloop`` do not go together.
BUSY_POLL_NEEDS_ASYNCIO: Final = (
    "busyPollUs works with eventLoop: asyncio only (uvloop waits inside libuv); "
    "set busyPollUs: 0 or eventLoop: asyncio")


class EngineConfig(ConfigModel):
    """The whole engine configuration file."""

    #: Settings that hold a partial model: ``defaults`` takes any session key.
    PARTIAL_CHILDREN: ClassVar[dict[str, type[BaseModel]]] = {"defaults": SessionSettings}

    #: Message store URL, parsed by the store package (``sqlite:///path``,
    #: ``postgresql://…``, ``redis://…``, ``memory://``).
    store: StoreUrl = "sqlite:///fixplus.db"
    #: Session settings merged under every session and dynamic session
    #: template (like QuickFIX's [DEFAULT]); any SessionSettings key.
    defaults: dict[str, Any] = Field(default_factory=dict)
    sessions: list[SessionSettings] = Field(default_factory=list)
    dynamic_sessions: list[DynamicSessionTemplate] = Field(default_factory=list)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    #: Per-session message and event logs, screen log (docs/logs.md).
    message_log: MessageLogSettings = Field(default_factory=MessageLogSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    tracing: TracingSettings = Field(default_factory=TracingSettings)
    #: Seconds a graceful stop waits for Logouts to be answered.
    shutdown_timeout: float = Field(default=10.0, gt=0)
    store_failure: StoreFailureSettings = Field(default_factory=StoreFailureSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    #: Encryption at rest of the store's message bodies (None: off).
    encryption: EncryptionSettings | None = None
    #: The signed audit trail in the store.
    audit: AuditSettings = Field(default_factory=AuditSettings)
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
        data = canonical_keys(EngineConfig, data, (), problems)
        if problems:
            raise ValueError("; ".join(problems))
        merged, _ = merge_defaults(data)
        return merged

    @field_validator("defaults")
    @classmethod
    def _known_defaults(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = [key for key in value if lookup_field(SessionSettings, key) is None]
        if unknown:
            hints = [unknown_key_hint(SessionSettings, str(key)) for key in unknown]
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
