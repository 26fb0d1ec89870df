"""The settings of one FIX session."""

from __future__ import annotations

import enum
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from ..codec.versions import APPL_VER_IDS, BeginString
from .auth import AuthenticationSettings
from .base import CompID, ConfigModel
from .schedule import ScheduleSettings
from .transport import Endpoint, ReconnectSettings, TlsSettings


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


class ValidationSettings(ConfigModel):
    """Data dictionary validation, with QuickFIX's option names in mind."""

    # The one options type: the dictionary's validator takes these settings
    # as they are (the dictionary paths are for the runtime, which loads
    # them; check_latency, max_latency and check_comp_id for the session).

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
    #: Not a QuickFIX setting: reject a positive tag the dictionary does not
    #: define with 3 "Undefined Tag" (the FIX specification's distinction)
    #: instead of QuickFIX's 0 "Invalid tag number".
    distinguish_undefined_tags: bool = False


class SessionSettings(ConfigModel):
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
    #: FIXT.1.1: where a BusinessMessageReject names the application version:
    #: ``header`` (ApplVerID(1128), valid for every dictionary) or ``body``
    #: (DefaultApplVerID(1137), as QuickFIX C++ writes it and its acceptance
    #: definitions expect; QuickFIX/J and this engine refuse such a reject).
    business_reject_appl_ver_id: Literal["header", "body"] = "header"

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
    #: Settings of the application's own (QuickFIX .cfg keys the engine does
    #: not know, e.g. ValidOrderTypes), as written: ``session.settings.custom``.
    custom: dict[str, str] = Field(
        default_factory=dict,
        description="the application's own settings (e.g. ValidOrderTypes), read as "
                    "session.settings.custom")
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
