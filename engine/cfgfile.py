"""Read QuickFIX-style settings files (``.cfg``) into an :class:`EngineConfig`.

A QuickFIX settings file has a ``[DEFAULT]`` section and ``[SESSION]``
sections of ``Key=Value`` lines; ``#`` starts a comment line.  Every session
inherits the ``[DEFAULT]`` keys it does not set itself.  Keys from QuickFIX
C++ and QuickFIX/J are both understood (matched case-insensitively); see
``docs/migrating-from-quickfix.md`` for the mapping table.

Conversion works on the flat keys of each session (after inheritance) and
builds the nested mapping :func:`.config.parse_config` validates, recording
for every setting the file line it came from, so that an error reads
``app.cfg:12 (HeartBtInt): sessions[0].heartbeatInterval: ...``.

Keys this engine does not know are returned as warnings (and logged), not
errors, unless ``strict=True``.  Keys it knows but cannot honour (log file
options, Java key stores, …) are always warnings.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from .config import EngineConfig, InvalidConfigError, Loc, parse_config

__all__ = [
    "SIMPLE_KEYS",
    "UNSUPPORTED_KEYS",
    "CfgResult",
    "CfgWarning",
    "Section",
    "Setting",
    "cfg_to_mapping",
    "load_cfg",
    "parse_cfg",
    "parse_sections",
]

_log = logging.getLogger(__name__)

WarningKind = Literal["unknown", "unsupported", "note"]


@dataclasses.dataclass(frozen=True)
class Setting:
    key: str  #: as spelled in the file
    value: str
    line: int


@dataclasses.dataclass
class Section:
    name: str  #: ``DEFAULT`` or ``SESSION``
    line: int
    settings: dict[str, Setting] = dataclasses.field(default_factory=dict)  #: by lowercased key


@dataclasses.dataclass(frozen=True)
class CfgWarning:
    file: str
    line: int
    key: str
    message: str
    kind: WarningKind = "unknown"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.key}: {self.message}"


@dataclasses.dataclass(frozen=True)
class CfgResult:
    config: EngineConfig
    warnings: list[CfgWarning]


def _text(value: str) -> str:
    return value


#: Keys that map one to one onto a session setting: key -> (path, kind).
SIMPLE_KEYS: dict[str, tuple[tuple[str, ...], str]] = {
    "BeginString": (("beginString",), "str"),
    "SenderCompID": (("senderCompId",), "str"),
    "TargetCompID": (("targetCompId",), "str"),
    "SenderSubID": (("senderSubId",), "str"),
    "SenderLocationID": (("senderLocationId",), "str"),
    "TargetSubID": (("targetSubId",), "str"),
    "TargetLocationID": (("targetLocationId",), "str"),
    "SessionQualifier": (("sessionQualifier",), "str"),
    "DefaultApplVerID": (("defaultApplVerId",), "str"),
    "HeartBtInt": (("heartbeatInterval",), "int"),
    "LogonTimeout": (("logonTimeout",), "float"),
    "LogoutTimeout": (("logoutTimeout",), "float"),
    "ResetOnLogon": (("resetOnLogon",), "bool"),
    "ResetOnLogout": (("resetOnLogout",), "bool"),
    "ResetOnDisconnect": (("resetOnDisconnect",), "bool"),
    "RefreshOnLogon": (("refreshOnLogon",), "bool"),
    "EnableNextExpectedMsgSeqNum": (("enableNextExpectedMsgSeqNum",), "bool"),
    "ResendRequestChunkSize": (("resendRequestChunkSize",), "int"),
    "SendRedundantResendRequests": (("sendRedundantResendRequests",), "bool"),
    "PersistMessages": (("persistMessages",), "bool"),
    "TestRequestDelayMultiplier": (("testRequestDelayMultiplier",), "float"),
    "HeartBeatTimeoutMultiplier": (("heartbeatTimeoutMultiplier",), "float"),
    "UseDataDictionary": (("validation", "useDataDictionary"), "bool"),
    "DataDictionary": (("validation", "dataDictionary"), "str"),
    "TransportDataDictionary": (("validation", "transportDataDictionary"), "str"),
    "ValidateFieldsOutOfOrder": (("validation", "validateFieldsOutOfOrder"), "bool"),
    "ValidateFieldsHaveValues": (("validation", "validateFieldsHaveValues"), "bool"),
    "ValidateUserDefinedFields": (("validation", "validateUserDefinedFields"), "bool"),
    "ValidateUnorderedGroupFields": (("validation", "validateUnorderedGroupFields"), "bool"),
    "AllowUnknownMsgFields": (("validation", "allowUnknownMsgFields"), "bool"),
    "CheckLatency": (("validation", "checkLatency"), "bool"),
    "MaxLatency": (("validation", "maxLatency"), "int"),
    "CheckCompID": (("validation", "checkCompId"), "bool"),
    "SocketNodelay": (("tcpNodelay",), "bool"),
    "SocketTcpNoDelay": (("tcpNodelay",), "bool"),
    "SocketKeepAlive": (("tcpKeepalive",), "bool"),
    "TimeZone": (("schedule", "timeZone"), "str"),
    "UseLocalTime": (("schedule", "useLocalTime"), "bool"),
    "Username": (("username",), "str"),
    "Password": (("password",), "str"),
    # Acceptor authentication (this engine's keys; QuickFIX has none but
    # AllowedRemoteAddresses): see docs/security.md.
    "AuthenticationMode": (("authentication", "mode"), "str"),
    "ExpectedUsername": (("authentication", "username"), "str"),
    "ExpectedPasswordHash": (("authentication", "passwordHash"), "str"),
    "ExpectedPassword": (("authentication", "password"), "str"),
    "ClientCertificateSubject": (("authentication", "certificate", "subject"), "str"),
    "ClientCertificateDNSNames": (("authentication", "certificate", "dnsNames"), "list"),
    "AllowedRemoteAddresses": (("authentication", "allowedAddresses"), "list"),
    "CertificateRevocationListFile": (("tls", "crlFile"), "str"),
    "SSLCertificate": (("tls", "certFile"), "str"),
    "ServerCertificateFile": (("tls", "certFile"), "str"),
    "ClientCertificateFile": (("tls", "certFile"), "str"),
    "SSLPrivateKey": (("tls", "keyFile"), "str"),
    "ServerCertificateKeyFile": (("tls", "keyFile"), "str"),
    "ClientCertificateKeyFile": (("tls", "keyFile"), "str"),
    "SSLCACertificate": (("tls", "caFile"), "str"),
    "CACertificateFile": (("tls", "caFile"), "str"),
    "CertificationAuthoritiesFile": (("tls", "caFile"), "str"),
    "SSLCipherSuites": (("tls", "ciphers"), "str"),
    "SSLCipherSuite": (("tls", "ciphers"), "str"),
    "CipherSuites": (("tls", "ciphers"), "str"),
    "SSLValidateCertificates": (("tls", "verify"), "bool"),
    "SNIHostName": (("tls", "serverName"), "str"),
    "NeedClientAuth": (("tls", "requireClientCert"), "bool"),
}

#: Keys handled by code below (several keys combine into one setting).
COMPOSITE_KEYS = (
    "ConnectionType",
    "AcceptorTemplate",
    "SocketConnectHost",
    "SocketConnectPort",
    "SocketConnectHost<n>",
    "SocketConnectPort<n>",
    "SocketAcceptPort",
    "SocketAcceptAddress",
    "ReconnectInterval",
    "TimeStampPrecision",
    "MillisecondsInTimeStamp",
    "StartTime",
    "EndTime",
    "StartDay",
    "EndDay",
    "Weekdays",
    "NonStopSession",
    "AppDataDictionary",
    "AppDataDictionary.<suffix>",
    "SocketUseSSL",
    "SSLProtocols",
    "SSLProtocol",
    "EnabledProtocols",
    "CertificateVerifyLevel",
    "FileStorePath",
    "JdbcURL",
    "JdbcUser",
    "JdbcPassword",
    "PostgreSQLStoreDatabase",
    "PostgreSQLStoreUser",
    "PostgreSQLStorePassword",
    "PostgreSQLStoreHost",
    "PostgreSQLStorePort",
)

#: Keys known from QuickFIX that have no equivalent here, with the reason.
UNSUPPORTED_KEYS: dict[str, str] = {
    "FileLogPath": "the engine logs to stdout (see logging); no file log",
    "FileLogBackupPath": "the engine logs to stdout; no file log",
    "FileIncludeMilliseconds": "the engine logs to stdout; no file log",
    "FileIncludeTimeStampForMessages": "the engine logs to stdout; no file log",
    "FileLogHeartbeats": "the engine logs to stdout; no file log",
    "ScreenLogShowIncoming": "the engine logs to stdout (see logging)",
    "ScreenLogShowOutgoing": "the engine logs to stdout (see logging)",
    "ScreenLogShowEvents": "the engine logs to stdout (see logging)",
    "ScreenLogShowHeartBeats": "the engine logs to stdout (see logging)",
    "ScreenIncludeMilliseconds": "the engine logs to stdout (see logging)",
    "FileStoreSync": "the store syncs every write",
    "FileStoreMaxCachedMsgs": "no message cache setting",
    "JdbcDriver": "the store URL chooses the driver",
    "JdbcDataSourceName": "use a store URL",
    "JdbcStoreMessagesTableName": "table names are fixed",
    "JdbcStoreSessionsTableName": "table names are fixed",
    "SocketKeyStore": "Java key stores are not read; use SSLCertificate/SSLPrivateKey (PEM)",
    "SocketKeyStorePassword": "Java key stores are not read",
    "SocketTrustStore": "Java trust stores are not read; use SSLCACertificate (PEM)",
    "SocketTrustStorePassword": "Java trust stores are not read",
    "KeyStoreType": "Java key stores are not read",
    "TrustStoreType": "Java trust stores are not read",
    "CertificateRevocationListPath": "use CertificateRevocationListFile (one PEM file)",
    "SocketConnectProtocol": "only TCP",
    "SocketAcceptProtocol": "only TCP",
    "SocketReuseAddress": "the listener always reuses the address",
    "SocketSendBufferSize": "operating system default",
    "SocketReceiveBufferSize": "operating system default",
    "SocketTrafficClass": "not supported",
    "SocketLinger": "not supported",
    "SocketSynchronousWrites": "writes are asynchronous",
    "SocketSynchronousWriteTimeout": "writes are asynchronous",
    "ContinueInitializationOnError": "configuration errors always stop the engine",
    "ForceResendWhenCorruptedStore": "not supported",
    "RejectInvalidMessage": "invalid messages are always rejected",
    "RejectMessageOnUnhandledException": "not supported",
    "RequiresOrigSendingTime": "not configurable",
    "ValidateSequenceNumbers": "sequence numbers are always checked",
    "ValidateIncomingMessage": "use UseDataDictionary",
    "DisconnectOnError": "not configurable",
    "ResetOnError": "not configurable",
    "ClosedResendInterval": "not supported",
    "LogonTag": "use Username/Password (or the to_admin callback)",
    "LogMessageWhenRejected": "not configurable",
    "MaxMessagesInResendRequest": "use ResendRequestChunkSize",
    "DisableHeartBeatCheck": "not supported",
    "HttpAcceptPort": "not supported",
    "SocketLocalHost": "not supported",
    "SocketLocalPort": "not supported",
}

_KNOWN_SIMPLE = {key.lower(): key for key in SIMPLE_KEYS}
_KNOWN_UNSUPPORTED = {key.lower(): key for key in UNSUPPORTED_KEYS}
_COMPOSITE = {key.lower() for key in COMPOSITE_KEYS if "<" not in key}
_FAILOVER = re.compile(r"^socketconnect(host|port)(\d+)$")
_TIME = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})(?:\s+(\S+))?$")
_DAYS = {"su": "sun", "mo": "mon", "tu": "tue", "we": "wed", "th": "thu", "fr": "fri", "sa": "sat"}
_DAY_NUMBERS = {"1": "sun", "2": "mon", "3": "tue", "4": "wed", "5": "thu", "6": "fri", "7": "sat"}
_PRECISION_NAMES = {"seconds", "millis", "micros", "nanos"}
_TLS_VERSIONS = ("SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")


# ---------------------------------------------------------------------------
# Reading sections


def parse_sections(text: str, source: str) -> list[Section]:
    """Split a settings file into sections; raises on malformed lines."""
    sections: list[Section] = []
    problems: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            name = line[1:-1].strip().upper() if line.endswith("]") else ""
            if name not in ("DEFAULT", "SESSION"):
                problems.append(
                    f"{source}:{number}: unknown section {line!r}; expected [DEFAULT] or [SESSION]"
                )
                name = "SESSION"
            sections.append(Section(name, number))
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key:
            problems.append(f"{source}:{number}: expected Key=Value, got {line!r}")
            continue
        if not sections:
            problems.append(f"{source}:{number}: {key}: setting outside a [DEFAULT] or [SESSION]")
            continue
        section = sections[-1]
        previous = section.settings.get(key.lower())
        if previous is not None:
            problems.append(
                f"{source}:{number}: {key}: given twice in one section (first on line "
                f"{previous.line})"
            )
        section.settings[key.lower()] = Setting(key, value.strip(), number)
    if problems:
        raise InvalidConfigError(source, problems)
    return sections


# ---------------------------------------------------------------------------
# Converting


@dataclasses.dataclass
class _Session:
    """One session being converted: flat settings in, nested mapping out."""

    source: str
    header: int
    settings: dict[str, Setting]
    problems: list[str]
    warnings: list[CfgWarning]
    data: dict[str, Any] = dataclasses.field(default_factory=dict)
    locations: dict[Loc, str] = dataclasses.field(default_factory=dict)
    used: set[str] = dataclasses.field(default_factory=set)

    def get(self, key: str) -> Setting | None:
        setting = self.settings.get(key.lower())
        if setting is not None:
            self.used.add(key.lower())
        return setting

    def where(self, setting: Setting) -> str:
        return f"{self.source}:{setting.line} ({setting.key})"

    def fail(self, setting: Setting, message: str) -> None:
        self.problems.append(f"{self.source}:{setting.line}: {setting.key}: {message}")

    def warn(self, setting: Setting, message: str, kind: WarningKind) -> None:
        self.warnings.append(CfgWarning(self.source, setting.line, setting.key, message, kind))

    def put(self, path: tuple[str, ...], value: Any, setting: Setting) -> None:
        node = self.data
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
        self.locations[path] = self.where(setting)

    def convert(self, setting: Setting, kind: str) -> Any:
        converters: dict[str, Callable[[str], Any]] = {
            "str": _text,
            "int": int,
            "float": float,
            "bool": _bool,
            "list": _list,
        }
        converter = converters[kind]
        try:
            return converter(setting.value)
        except ValueError:
            expected = {"int": "an integer", "float": "a number", "bool": "Y or N"}[kind]
            self.fail(setting, f"expected {expected}, got {setting.value!r}")
            return None

    def simple(self, key: str) -> Any:
        """Convert a SIMPLE_KEYS key if present (and put it); returns the value."""
        setting = self.get(key)
        if setting is None:
            return None
        path, kind = SIMPLE_KEYS[key]
        value = self.convert(setting, kind)
        if value is not None:
            self.put(path, value, setting)
        return value


def _list(value: str) -> list[str]:
    """A comma (or space) separated list, as QuickFIX/J writes AllowedRemoteAddresses."""
    return [item for item in re.split(r"[\s,]+", value.strip()) if item]


def _bool(value: str) -> bool:
    text = value.strip().lower()
    if text in ("y", "yes", "true"):
        return True
    if text in ("n", "no", "false"):
        return False
    raise ValueError(value)


def cfg_to_mapping(
    sections: list[Section], source: str, *, strict: bool = False
) -> tuple[dict[str, Any], dict[Loc, str], list[CfgWarning]]:
    """Plain configuration data, the line of each setting, and warnings."""
    defaults = Section("DEFAULT", 0)
    for section in sections:
        if section.name == "DEFAULT":
            defaults.settings.update(section.settings)
    problems: list[str] = []
    warnings: list[CfgWarning] = []
    sessions: list[dict[str, Any]] = []
    templates: list[dict[str, Any]] = []
    locations: dict[Loc, str] = {}
    stores: list[tuple[str, str]] = []
    reported: set[int] = set()  # lines of [DEFAULT] keys already warned about
    session_sections = [s for s in sections if s.name == "SESSION"]
    if not session_sections:
        problems.append(f"{source}: no [SESSION] section")
    for section in session_sections:
        merged = {**defaults.settings, **section.settings}
        session = _Session(source, section.line, merged, problems, [])
        template = _convert_session(session, stores)
        for key, setting in merged.items():
            if key in session.used or _FAILOVER.match(key) or key.startswith("appdatadictionary."):
                continue
            if _is_custom(key):  # the application reads it: session.settings.custom
                session.put(("custom", setting.key), setting.value, setting)
            if setting.line in reported:
                continue
            reported.add(setting.line)
            _report_unused(session, setting, key)
        for warning in session.warnings:
            if warning not in warnings:
                warnings.append(warning)
        if template:
            base: Loc = ("dynamicSessions", len(templates), "session")
            templates.append({"session": session.data})
        else:
            base = ("sessions", len(sessions))
            sessions.append(session.data)
        locations[base] = f"{source}:{section.line} ([SESSION])"
        for path, where in session.locations.items():
            locations[(*base, *path)] = where
    if strict:
        problems.extend(
            f"{w.file}:{w.line}: {w.key}: unknown key (strict mode)"
            for w in warnings
            if w.kind == "unknown"
        )
    if problems:
        raise InvalidConfigError(source, list(dict.fromkeys(problems)))
    data: dict[str, Any] = {"sessions": sessions}
    if templates:
        data["dynamicSessions"] = templates
    if stores:
        url, where = stores[0]
        data["store"] = url
        locations[("store",)] = where
        for other, other_where in stores[1:]:
            if other != url:
                warnings.append(
                    CfgWarning(
                        source,
                        int(other_where.split(":")[-1].split(" ")[0]),
                        "store",
                        f"one store serves every session; using {url} (from {where}), not {other}",
                        "note",
                    )
                )
                break
    return data, locations, warnings


def _report_unused(session: _Session, setting: Setting, key: str) -> None:
    if key in _KNOWN_UNSUPPORTED:
        session.warn(
            setting, f"not supported: {UNSUPPORTED_KEYS[_KNOWN_UNSUPPORTED[key]]}", "unsupported"
        )
    elif key in _KNOWN_SIMPLE or key in _COMPOSITE:
        pass  # a key for the other role (e.g. SocketAcceptPort on an initiator)
    else:
        session.warn(setting, "unknown key: kept for the application in settings.custom",
                     "unknown")


def _is_custom(key: str) -> bool:
    """A key the engine does not know: kept for the application."""
    return not (key in _KNOWN_UNSUPPORTED or key in _KNOWN_SIMPLE or key in _COMPOSITE)


def _convert_session(s: _Session, stores: list[tuple[str, str]]) -> bool:
    """Fill ``s.data``; returns whether the session is an acceptor template."""
    role = None
    connection = s.get("ConnectionType")
    if connection is None:
        s.problems.append(f"{s.source}:{s.header}: [SESSION]: ConnectionType is missing")
    elif connection.value.lower() in ("initiator", "acceptor"):
        role = connection.value.lower()
        s.put(("role",), role, connection)
    else:
        s.fail(connection, f"expected initiator or acceptor, got {connection.value!r}")
    for key in SIMPLE_KEYS:
        s.simple(key)
    if role == "initiator":
        _connect(s)
    elif role == "acceptor":
        for key, path, kind in (
            ("SocketAcceptPort", ("acceptPort",), "int"),
            ("SocketAcceptAddress", ("acceptHost",), "str"),
        ):
            setting = s.get(key)
            if setting is not None:
                value = s.convert(setting, kind)
                if value is not None:
                    s.put(path, value, setting)
    _precision(s)
    _schedule(s)
    _app_dictionaries(s)
    _tls(s, role)
    _store(s, stores)
    template = s.get("AcceptorTemplate")
    is_template = template is not None and bool(s.convert(template, "bool"))
    if is_template and role != "acceptor" and template is not None:
        s.fail(template, "only acceptor sessions can be templates")
    return is_template


def _connect(s: _Session) -> None:
    endpoints: list[dict[str, Any]] = []
    numbers = {m.group(2) for key in s.settings if (m := _FAILOVER.match(key))}
    suffixes = ["", *sorted(numbers, key=int)]
    for suffix in suffixes:
        host = s.get(f"SocketConnectHost{suffix}")
        port = s.get(f"SocketConnectPort{suffix}")
        if host is None and port is None:
            continue
        if host is None or port is None:
            present = host or port
            assert present is not None
            missing = "SocketConnectPort" if host is not None else "SocketConnectHost"
            s.fail(present, f"{missing}{suffix} is missing")
            continue
        number = s.convert(port, "int")
        if number is None:
            continue
        s.locations[("connect", len(endpoints))] = s.where(host)
        s.locations[("connect", len(endpoints), "port")] = s.where(port)
        endpoints.append({"host": host.value, "port": number})
    if endpoints:
        s.data["connect"] = endpoints
    interval = s.get("ReconnectInterval")
    if interval is not None:
        seconds = s.convert(interval, "float")
        if seconds is not None:
            if seconds <= 0:
                s.fail(interval, f"must be a positive number of seconds, got {interval.value!r}")
            else:
                # QuickFIX retries at a fixed interval: no growth.
                s.put(("reconnect", "initialDelay"), seconds, interval)
                s.put(("reconnect", "maxDelay"), seconds, interval)
                s.put(("reconnect", "multiplier"), 1.0, interval)


def _precision(s: _Session) -> None:
    precision = s.get("TimeStampPrecision")  # also C++ TimestampPrecision (digits)
    millis = s.get("MillisecondsInTimeStamp")
    if precision is not None:
        text = precision.value.strip()
        if text.lower() in _PRECISION_NAMES:
            s.put(("timestampPrecision",), text.lower(), precision)
        elif text.isdigit() and int(text) <= 9:
            digits = int(text)
            name = (
                "seconds"
                if digits == 0
                else "millis"
                if digits <= 3
                else "micros"
                if digits <= 6
                else "nanos"
            )
            if digits not in (0, 3, 6, 9):
                s.warn(precision, f"{digits} digits rounded up to {name}", "note")
            s.put(("timestampPrecision",), name, precision)
        else:
            s.fail(precision, f"expected SECONDS, MILLIS, MICROS, NANOS or 0-9, got {text!r}")
    elif millis is not None:
        value = s.convert(millis, "bool")
        if value is not None:
            s.put(("timestampPrecision",), "millis" if value else "seconds", millis)


def _day_name(text: str) -> str | None:
    """``mon`` ... ``sun`` for a QuickFIX day (a name, its first two letters
    or more, or 1-7 from Sunday), else None."""
    text = text.strip().lower()
    return _DAY_NUMBERS.get(text) or (_DAYS.get(text[:2]) if len(text) >= 2 else None)


def _schedule(s: _Session) -> None:
    non_stop = s.get("NonStopSession")
    start, end = s.get("StartTime"), s.get("EndTime")
    if non_stop is not None:
        value = s.convert(non_stop, "bool")
        if value is not None:
            s.put(("schedule", "nonStop"), value, non_stop)
        if value:
            return
    if start is None and end is None:
        for key in ("StartDay", "EndDay", "Weekdays"):
            day = s.get(key)
            if day is not None:
                s.fail(day, "needs StartTime and EndTime")
        return
    anchor = start if start is not None else end
    assert anchor is not None
    s.put(("schedule", "nonStop"), False, anchor)
    for setting, field in ((start, "startTime"), (end, "endTime")):
        if setting is None:
            continue
        match = _TIME.match(setting.value.strip())
        if not match or int(match[1]) > 23 or int(match[2]) > 59 or int(match[3]) > 59:
            s.fail(setting, f"expected a time HH:MM:SS, got {setting.value!r}")
            continue
        s.put(("schedule", field), f"{int(match[1]):02}:{match[2]}:{match[3]}", setting)
        if match[4] and s.get("TimeZone") is None:
            s.put(("schedule", "timeZone"), match[4], setting)
    for key, field in (("StartDay", "startDay"), ("EndDay", "endDay")):
        day = s.get(key)
        if day is None:
            continue
        name = _day_name(day.value)
        if name is None:
            s.fail(day, f"expected a day of the week, got {day.value!r}")
        else:
            s.put(("schedule", field), name, day)
    weekdays = s.get("Weekdays")
    if weekdays is not None:
        # QuickFIX/J: a comma-separated list of days; an empty list is kept
        # (and refused by validation: the session would never open).
        names = [part for part in weekdays.value.split(",") if part.strip()]
        days = [_day_name(part) for part in names]
        unknown = [part.strip() for part, day in zip(names, days, strict=True) if day is None]
        if unknown:
            s.fail(weekdays, f"expected days of the week, got {', '.join(map(repr, unknown))}")
        else:
            s.put(("schedule", "weekdays"), list(dict.fromkeys(days)), weekdays)
    # A problem with the schedule as a whole (weekdays empty, weekdays with
    # StartDay/EndDay, UseLocalTime with TimeZone) points at the keys that
    # can cause it.
    keys = [s.settings.get(k.lower()) for k in ("Weekdays", "StartDay", "EndDay", "UseLocalTime",
                                              "TimeZone")]
    present = [setting for setting in keys if setting is not None] or [anchor]
    s.locations[("schedule",)] = ", ".join(s.where(setting) for setting in present)


def _app_dictionaries(s: _Session) -> None:
    found = [
        setting
        for key, setting in s.settings.items()
        if key == "appdatadictionary" or key.startswith("appdatadictionary.")
    ]
    found.sort(key=lambda setting: (setting.key.lower() != "appdatadictionary", setting.line))
    for setting in found:
        s.used.add(setting.key.lower())
    if found:
        s.data.setdefault("validation", {})["appDataDictionary"] = [x.value for x in found]
        s.locations[("validation", "appDataDictionary")] = s.where(found[0])
        for index, setting in enumerate(found):
            s.locations[("validation", "appDataDictionary", index)] = s.where(setting)


def _tls(s: _Session, role: str | None) -> None:
    use_ssl = s.get("SocketUseSSL")
    tls = s.data.get("tls", {})
    if use_ssl is not None:
        enabled = s.convert(use_ssl, "bool")
        if enabled is not None:
            s.put(("tls", "enabled"), enabled, use_ssl)
    elif any(k in tls for k in ("certFile", "keyFile", "caFile")):
        first = next(
            s.settings[k.lower()]
            for k in SIMPLE_KEYS
            if SIMPLE_KEYS[k][0][0] == "tls" and k.lower() in s.settings
        )
        s.put(("tls", "enabled"), True, first)
    protocols = s.get("SSLProtocols") or s.get("SSLProtocol") or s.get("EnabledProtocols")
    if protocols is not None:
        enabled_versions: set[str] = set()
        for token in re.split(r"[\s,]+", protocols.value.strip()):
            if not token:
                continue
            sign, name = (token[0], token[1:]) if token[0] in "+-" else ("+", token)
            lookup = {v.lower(): v for v in _TLS_VERSIONS}
            names = set(_TLS_VERSIONS) if name.lower() == "all" else {lookup.get(name.lower(), "")}
            if "" in names:
                s.fail(protocols, f"unknown protocol {name!r}")
                return
            enabled_versions = enabled_versions - names if sign == "-" else enabled_versions | names
        if "TLSv1.2" in enabled_versions:
            s.put(("tls", "minVersion"), "TLSv1.2", protocols)
        elif "TLSv1.3" in enabled_versions:
            s.put(("tls", "minVersion"), "TLSv1.3", protocols)
        else:
            s.fail(protocols, "no TLSv1.2 or TLSv1.3 left; older protocols are not supported")
            return
        older = sorted(enabled_versions - {"TLSv1.2", "TLSv1.3"}, key=_TLS_VERSIONS.index)
        if older:
            s.warn(protocols, f"{', '.join(older)} not supported, left out", "note")
    level = s.get("CertificateVerifyLevel")
    if level is not None:
        number = s.convert(level, "int")
        if number is not None:
            if role == "acceptor":
                s.put(("tls", "requireClientCert"), number > 0, level)
            else:
                s.put(("tls", "verify"), number > 0, level)


_STORE_DETAIL_KEYS = (
    "JdbcUser",
    "JdbcPassword",
    "PostgreSQLStoreUser",
    "PostgreSQLStorePassword",
    "PostgreSQLStoreHost",
    "PostgreSQLStorePort",
)


def _store(s: _Session, stores: list[tuple[str, str]]) -> None:
    jdbc = s.get("JdbcURL")
    pg_db = s.get("PostgreSQLStoreDatabase")
    path = s.get("FileStorePath")
    for key in _STORE_DETAIL_KEYS:
        s.get(key)
    if jdbc is not None:
        match = re.match(r"^jdbc:(postgresql)://(.*)$", jdbc.value.strip())
        if not match:
            s.warn(jdbc, "only jdbc:postgresql:// URLs are converted; store not set", "unsupported")
        else:
            user = s.settings.get("jdbcuser")
            password = s.settings.get("jdbcpassword")
            stores.append((f"postgresql://{_userinfo(user, password)}{match[2]}", s.where(jdbc)))
        return
    if pg_db is not None:
        user = s.settings.get("postgresqlstoreuser")
        password = s.settings.get("postgresqlstorepassword")
        host = s.settings.get("postgresqlstorehost")
        port = s.settings.get("postgresqlstoreport")
        netloc = (host.value if host else "localhost") + (f":{port.value}" if port else "")
        url = f"postgresql://{_userinfo(user, password)}{netloc}/{pg_db.value}"
        stores.append((url, s.where(pg_db)))
        return
    if path is not None:
        directory = path.value.strip().rstrip("/") or "."
        url = f"sqlite:///{directory}/fixplus.db"
        if (url, s.where(path)) not in stores:
            stores.append((url, s.where(path)))
            s.warn(
                path,
                f"store becomes {url}: one SQLite database for every session; QuickFIX "
                "store files there are not read, sequence numbers start afresh",
                "note",
            )


def _userinfo(user: Setting | None, password: Setting | None) -> str:
    if user is None:
        return ""
    return f"{user.value}:{password.value}@" if password is not None else f"{user.value}@"


# ---------------------------------------------------------------------------
# Entry points


def parse_cfg(
    text: str,
    *,
    source: str = "<cfg>",
    environ: Mapping[str, str] | None = None,
    strict: bool = False,
) -> CfgResult:
    """Convert settings file text; ``environ`` as for :func:`.config.parse_config`."""
    sections = parse_sections(text, source)
    data, locations, warnings = cfg_to_mapping(sections, source, strict=strict)

    def locate(loc: Loc) -> str | None:
        for length in range(len(loc), 0, -1):
            where = locations.get(loc[:length])
            if where is not None:
                return where
        return None

    config = parse_config(data, source=source, environ=environ, locate=locate)
    return CfgResult(config, warnings)


def load_cfg(
    path: str | os.PathLike[str],
    *,
    environ: Mapping[str, str] | None = None,
    strict: bool = False,
) -> CfgResult:
    """Read a settings file; warnings are returned and logged."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidConfigError(source, [f"{source}: cannot read the file: {exc}"]) from None
    result = parse_cfg(text, source=source, environ=environ, strict=strict)
    for warning in result.warnings:
        _log.warning("%s", warning)
    return result
