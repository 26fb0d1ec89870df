"""Converting one ``[SESSION]`` (after ``[DEFAULT]`` inheritance) of a
QuickFIX settings file into session settings, recording the file line of
every setting it writes."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

from .base import Loc
from .cfgkeys import (
    FAILOVER_KEY,
    LOG_KEYS,
    SIMPLE_KEYS,
    CfgWarning,
    Setting,
    WarningKind,
    parse_bool,
    parse_list,
    parse_text,
)

_TIME = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})(?:\s+(\S+))?$")
_DAYS = {"su": "sun", "mo": "mon", "tu": "tue", "we": "wed", "th": "thu", "fr": "fri", "sa": "sat"}
_DAY_NUMBERS = {"1": "sun", "2": "mon", "3": "tue", "4": "wed", "5": "thu", "6": "fri", "7": "sat"}
_PRECISION_NAMES = {"seconds", "millis", "micros", "nanos"}
_TLS_VERSIONS = ("SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")


@dataclasses.dataclass
class SessionConverter:
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
            "str": parse_text,
            "int": int,
            "float": float,
            "bool": parse_bool,
            "list": parse_list,
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


@dataclasses.dataclass
class LogChoice:
    """The messageLog settings one session's keys give, and where each came from."""

    data: dict[str, Any]
    locations: dict[Loc, str]


def convert_session(s: SessionConverter, stores: list[tuple[str, str]],
                    logs: list[LogChoice] | None = None) -> bool:
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
    _dictionary_warnings(s)
    if logs is not None:
        _message_log(s, logs)
    template = s.get("AcceptorTemplate")
    is_template = template is not None and bool(s.convert(template, "bool"))
    if is_template and role != "acceptor" and template is not None:
        s.fail(template, "only acceptor sessions can be templates")
    return is_template


def _connect(s: SessionConverter) -> None:
    endpoints: list[dict[str, Any]] = []
    numbers = {m.group(2) for key in s.settings if (m := FAILOVER_KEY.match(key))}
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


def _precision(s: SessionConverter) -> None:
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


def _schedule(s: SessionConverter) -> None:
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


def _app_dictionaries(s: SessionConverter) -> None:
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


def _tls(s: SessionConverter, role: str | None) -> None:
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


def _store(s: SessionConverter, stores: list[tuple[str, str]]) -> None:
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
    mysql_db = s.get("MySQLStoreDatabase")
    for key in ("MySQLStoreUser", "MySQLStorePassword", "MySQLStoreHost", "MySQLStorePort"):
        s.get(key)
    if mysql_db is not None and pg_db is None:
        user = s.settings.get("mysqlstoreuser")
        password = s.settings.get("mysqlstorepassword")
        host = s.settings.get("mysqlstorehost")
        port = s.settings.get("mysqlstoreport")
        netloc = (host.value if host else "localhost") + (f":{port.value}" if port else "")
        stores.append((f"mysql://{_userinfo(user, password)}{netloc}/{mysql_db.value}",
                       s.where(mysql_db)))
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


def _message_log(s: SessionConverter, logs: list[LogChoice]) -> None:
    choice = LogChoice({}, {})
    for key, (path, kind) in LOG_KEYS.items():
        setting = s.get(key)
        if setting is None:
            continue
        if kind == "millis":
            flag = s.convert(setting, "bool")
            value: Any = None if flag is None else "millis" if flag else "seconds"
        else:
            value = s.convert(setting, kind)
        if value is None:
            continue
        node = choice.data
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
        choice.locations[("messageLog", *path)] = s.where(setting)
    screen = choice.data.get("screen")
    if screen is not None:
        # QuickFIX's screen log shows incoming, outgoing and events unless told not to.
        for part in ("incoming", "outgoing", "events"):
            screen.setdefault(part, True)
    if choice.data:
        logs.append(choice)


def _dictionary_warnings(s: SessionConverter) -> None:
    """UseDataDictionary=Y that leaves no validator, and a DataDictionary a
    FIXT.1.1 session does not use: validation would be silently off."""
    use = s.settings.get("usedatadictionary")
    if use is None:
        return
    try:
        if not parse_bool(use.value):
            return
    except ValueError:
        return
    begin = s.settings.get("beginstring")
    validation = s.data.get("validation", {})
    if begin is not None and begin.value.strip() == "FIXT.1.1":
        given = s.settings.get("datadictionary")
        if given is not None:
            s.warn(given, "not used by a FIXT.1.1 session: give TransportDataDictionary and "
                   "AppDataDictionary", "unsupported")
        if not validation.get("transportDataDictionary") or not validation.get(
                "appDataDictionary"):
            s.warn(use, "Y, but TransportDataDictionary or AppDataDictionary is missing: "
                   "messages would not be validated", "unsupported")
    elif not validation.get("dataDictionary"):
        s.warn(use, "Y, but no DataDictionary: messages would not be validated",
               "unsupported")


def _userinfo(user: Setting | None, password: Setting | None) -> str:
    if user is None:
        return ""
    return f"{user.value}:{password.value}@" if password is not None else f"{user.value}@"
