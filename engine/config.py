"""Typed engine configuration (pydantic v2).

These models are the single source of truth for settings: the engine reads
them from YAML (or QuickFIX ``.cfg`` files, see :mod:`.cfgfile`), and the
operator writes the very same schema into its CRDs and ConfigMaps.

Field names are snake_case in Python and camelCase in YAML/JSON (both are
accepted on input).  Every model forbids unknown keys so that a typo is a
precise error instead of a silently ignored setting.
"""

from __future__ import annotations

import datetime as dt
import enum
import zoneinfo
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic.alias_generators import to_camel

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
    """When the session may be logged on.

    ``non_stop`` sessions never end.  Otherwise the session runs daily from
    ``start_time`` to ``end_time`` (crossing midnight when end < start), or
    weekly from ``start_day start_time`` to ``end_day end_time`` when both
    days are given.  Times are in ``time_zone`` (an IANA name).
    """

    non_stop: bool = True
    start_time: dt.time | None = None
    end_time: dt.time | None = None
    start_day: Weekday | None = None
    end_day: Weekday | None = None
    time_zone: str = "UTC"

    @model_validator(mode="after")
    def _check(self) -> ScheduleSettings:
        if not self.non_stop and (self.start_time is None or self.end_time is None):
            raise ValueError("a schedule that is not nonStop needs startTime and endTime")
        if (self.start_day is None) != (self.end_day is None):
            raise ValueError("startDay and endDay go together")
        try:
            zoneinfo.ZoneInfo(self.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.time_zone!r}") from exc
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
    #: A TestRequest goes out after HeartBtInt * (1 + this) seconds of silence.
    test_request_delay_multiplier: Annotated[float, Field(ge=0)] = 0.5
    #: The session is dropped after HeartBtInt * (1 + this) more seconds
    #: without an answer to the TestRequest.
    heartbeat_timeout_multiplier: Annotated[float, Field(ge=0)] = 1.0

    reset_on_logon: bool = False
    reset_on_logout: bool = False
    reset_on_disconnect: bool = False
    refresh_on_logon: bool = False
    enable_next_expected_msg_seq_num: bool = False
    resend_request_chunk_size: Annotated[int, Field(ge=0)] = 0
    send_redundant_resend_requests: bool = False
    persist_messages: bool = True
    timestamp_precision: TimestampPrecision = TimestampPrecision.MILLIS

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
        return self

    @property
    def session_id(self) -> str:
        """``BEGINSTRING:SENDER->TARGET`` (with :QUALIFIER), as QuickFIX prints it."""
        text = f"{self.begin_string}:{self.sender_comp_id}->{self.target_comp_id}"
        return f"{text}:{self.session_qualifier}" if self.session_qualifier else text

    @property
    def appl_ver_id_code(self) -> str | None:
        return None if self.default_appl_ver_id is None else APPL_VER_IDS[self.default_appl_ver_id]
