"""The keys of QuickFIX settings files: which setting each one becomes, the
keys several of which make one setting, the keys known but not supported,
and the parsers of their values (``Y``/``N``, lists)."""

from __future__ import annotations

import dataclasses
import re
from typing import Literal

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


def parse_text(value: str) -> str:
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
    "MaxMessagesInResendRequest": (("resendRequestChunkSize",), "int"),
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
    "MySQLStoreDatabase",
    "MySQLStoreUser",
    "MySQLStorePassword",
    "MySQLStoreHost",
    "MySQLStorePort",
)

#: Keys of the message and event logs (QuickFIX's FileLog and ScreenLog),
#: engine-wide here: ``messageLog``.  Key -> (path under messageLog, kind).
LOG_KEYS: dict[str, tuple[tuple[str, ...], str]] = {
    "FileLogPath": (("path",), "str"),
    "FileLogBackupPath": (("backupPath",), "str"),
    "FileLogHeartbeats": (("heartbeats",), "bool"),
    "FileIncludeMilliseconds": (("timestampPrecision",), "millis"),
    "ScreenLogShowIncoming": (("screen", "incoming"), "bool"),
    "ScreenLogShowOutgoing": (("screen", "outgoing"), "bool"),
    "ScreenLogShowEvents": (("screen", "events"), "bool"),
    "ScreenLogShowHeartBeats": (("screen", "heartbeats"), "bool"),
}

#: Keys known from QuickFIX that change nothing this engine does (tuning of
#: another implementation, or what this engine always does): a warning,
#: an error in strict mode.
IGNORED_KEYS: dict[str, str] = {
    "FileIncludeTimeStampForMessages": "message log lines always start with their time",
    "ScreenIncludeMilliseconds": "screen log times always have milliseconds",
    "LogMessageWhenRejected": "rejected messages are always in the message log",
    "FileStoreSync": "the store syncs every write",
    "FileStoreMaxCachedMsgs": "no message cache setting",
    "JdbcDriver": "the store URL chooses the driver",
    "JdbcConnectionTestQuery": "the store checks its connections itself",
    "JdbcMaxActiveConnection": "the store sizes its connection pool itself",
    "JdbcMinIdleConnection": "the store sizes its connection pool itself",
    "JdbcMaxIdleTime": "the store sizes its connection pool itself",
    "JdbcMaxConnectionLifeTime": "the store sizes its connection pool itself",
    "JdbcSessionIdDefaultPropertyValue": "session ids are stored whole",
    "MySQLStoreUseConnectionPool": "the store sizes its connection pool itself",
    "PostgreSQLStoreUseConnectionPool": "the store sizes its connection pool itself",
    "SocketReuseAddress": "the listener always reuses the address",
    "SocketSendBufferSize": "operating system default",
    "SocketReceiveBufferSize": "operating system default",
    "SocketTrafficClass": "operating system default",
    "SocketLinger": "operating system default",
    "SocketOobInline": "no out-of-band data in FIX",
    "SocketSynchronousWrites": "writes are asynchronous and bounded",
    "SocketSynchronousWriteTimeout": "writes are asynchronous and bounded",
    "MaxScheduledWriteRequests": "writes are bounded by the engine",
    "KeyManagerFactoryAlgorithm": "OpenSSL, PEM files",
    "TrustManagerFactoryAlgorithm": "OpenSSL, PEM files",
    "UseSNI": "an initiator always sends SNI (SNIHostName, or the host it connects to)",
    "EndpointIdentificationAlgorithm": "host names are checked when SSLValidateCertificates=Y",
    "PreserveMessageFieldsOrder": "fields are always kept in the order received",
    "FirstFieldInGroupIsDelimiter": "groups are read with the dictionary's first field",
    "SLF4JLogEventCategory": "no SLF4J: see messageLog and logging",
    "SLF4JLogIncomingMessageCategory": "no SLF4J: see messageLog and logging",
    "SLF4JLogOutgoingMessageCategory": "no SLF4J: see messageLog and logging",
    "SLF4JLogPrependSessionID": "no SLF4J: see messageLog and logging",
    "SLF4JLogHeartbeats": "no SLF4J: use FileLogHeartbeats",
}

#: Keys known from QuickFIX whose other values change behaviour this engine
#: does not have: key -> (the values that describe what it does, or None
#: when no value does, and why).  Any other value is an error.
REFUSED_KEYS: dict[str, tuple[frozenset[str] | None, str]] = {
    "ValidateSequenceNumbers": (frozenset({"y"}), "sequence numbers are always checked"),
    "RejectInvalidMessage": (frozenset({"y"}), "invalid messages are always rejected"),
    "RequiresOrigSendingTime": (
        frozenset({"y"}), "a PossDupFlag=Y message without OrigSendingTime is rejected"),
    "ValidateIncomingMessage": (
        frozenset({"y"}), "use UseDataDictionary=N to receive messages unvalidated"),
    "ValidateChecksum": (frozenset({"y"}), "checksums are always checked"),
    "ValidateLengthAndChecksum": (frozenset({"y"}), "BodyLength and CheckSum are always checked"),
    "RejectGarbledMessage": (frozenset({"n"}), "garbled messages are dropped, as FIX says"),
    "DisconnectOnError": (frozenset({"n"}), "a rejected message is answered with a Reject"),
    "ResetOnError": (frozenset({"n"}), "sequence numbers are reset only as configured"),
    "ForceResendWhenCorruptedStore": (frozenset({"n"}), "not supported"),
    "RejectMessageOnUnhandledException": (
        frozenset({"n"}), "an exception in from_app is logged and the message counts as handled "
        "(raise BusinessReject or the reject exceptions to reject it)"),
    "DisableHeartBeatCheck": (frozenset({"n"}), "the heartbeat check is always on"),
    "ContinueInitializationOnError": (
        frozenset({"n"}), "configuration errors always stop the engine"),
    "EnableLastMsgSeqNumProcessed": (frozenset({"n"}), "LastMsgSeqNumProcessed(369) is not sent"),
    "SendLogoutBeforeDisconnectFromTimeout": (frozenset({"n"}), "not supported"),
    "ClosedResendInterval": (frozenset({"n"}), "not supported"),
    "SocketConnectProtocol": (frozenset({"tcp"}), "only TCP"),
    "SocketAcceptProtocol": (frozenset({"tcp"}), "only TCP"),
    "LogonTag": (None, "use Username/Password (or the to_admin callback)"),
    "SocketLocalHost": (None, "the source address of a connection is not configurable"),
    "SocketLocalPort": (None, "the source port of a connection is not configurable"),
    "SocketConnectSourceHost": (None, "the source address of a connection is not configurable"),
    "SocketConnectSourcePort": (None, "the source port of a connection is not configurable"),
    "ProxyType": (None, "no proxy support"),
    "ProxyVersion": (None, "no proxy support"),
    "ProxyHost": (None, "no proxy support"),
    "ProxyPort": (None, "no proxy support"),
    "ProxyUser": (None, "no proxy support"),
    "ProxyPassword": (None, "no proxy support"),
    "ProxyDomain": (None, "no proxy support"),
    "ProxyWorkstation": (None, "no proxy support"),
    "SocketKeyStore": (
        None, "Java key stores are not read; use SSLCertificate/SSLPrivateKey (PEM)"),
    "SocketKeyStorePassword": (None, "Java key stores are not read"),
    "SocketTrustStore": (None, "Java trust stores are not read; use SSLCACertificate (PEM)"),
    "SocketTrustStorePassword": (None, "Java trust stores are not read"),
    "KeyStoreType": (None, "Java key stores are not read"),
    "TrustStoreType": (None, "Java trust stores are not read"),
    "CertificateRevocationListPath": (
        None, "use CertificateRevocationListFile (one PEM file)"),
    "CertificateRevocationListDirectory": (
        None, "use CertificateRevocationListFile (one PEM file)"),
    "CertificationAuthoritiesDirectory": (None, "use CertificationAuthoritiesFile (PEM)"),
    "JdbcDataSourceName": (None, "use JdbcURL"),
    "JdbcStoreMessagesTableName": (None, "table names are fixed"),
    "JdbcStoreSessionsTableName": (None, "table names are fixed"),
    "JdbcLogHeartBeats": (None, "no database log: FileLogPath"),
    "JdbcLogIncomingTable": (None, "no database log: FileLogPath"),
    "JdbcLogOutgoingTable": (None, "no database log: FileLogPath"),
    "JdbcLogEventTable": (None, "no database log: FileLogPath"),
    "MySQLLogDatabase": (None, "no database log: FileLogPath"),
    "PostgreSQLLogDatabase": (None, "no database log: FileLogPath"),
    "OdbcLogConnectionString": (None, "no database log: FileLogPath"),
    "OdbcStoreConnectionString": (None, "no ODBC store: a store URL"),
    "SleepycatDatabaseDir": (None, "no Berkeley DB store: a store URL"),
    "MySQLLogUser": (None, "no database log: FileLogPath"),
    "MySQLLogPassword": (None, "no database log: FileLogPath"),
    "MySQLLogHost": (None, "no database log: FileLogPath"),
    "MySQLLogPort": (None, "no database log: FileLogPath"),
    "MySQLLogUseConnectionPool": (None, "no database log: FileLogPath"),
    "MySQLLogIncomingTable": (None, "no database log: FileLogPath"),
    "MySQLLogOutgoingTable": (None, "no database log: FileLogPath"),
    "MySQLLogEventTable": (None, "no database log: FileLogPath"),
    "PostgreSQLLogUser": (None, "no database log: FileLogPath"),
    "PostgreSQLLogPassword": (None, "no database log: FileLogPath"),
    "PostgreSQLLogHost": (None, "no database log: FileLogPath"),
    "PostgreSQLLogPort": (None, "no database log: FileLogPath"),
    "PostgreSQLLogUseConnectionPool": (None, "no database log: FileLogPath"),
    "PostgreSQLLogIncomingTable": (None, "no database log: FileLogPath"),
    "PostgreSQLLogOutgoingTable": (None, "no database log: FileLogPath"),
    "PostgreSQLLogEventTable": (None, "no database log: FileLogPath"),
    "OdbcLogUser": (None, "no database log: FileLogPath"),
    "OdbcLogPassword": (None, "no database log: FileLogPath"),
    "OdbcLogIncomingTable": (None, "no database log: FileLogPath"),
    "OdbcLogOutgoingTable": (None, "no database log: FileLogPath"),
    "OdbcLogEventTable": (None, "no database log: FileLogPath"),
    "OdbcStoreUser": (None, "no ODBC store: a store URL"),
    "OdbcStorePassword": (None, "no ODBC store: a store URL"),
    "SleepycatSequenceDbName": (None, "no Berkeley DB store: a store URL"),
    "SleepycatMessageDbName": (None, "no Berkeley DB store: a store URL"),
    "HttpAcceptPort": (None, "no HTTP admin page (see metrics)"),
}

#: Every known key that has no setting of its own, with the reason.
UNSUPPORTED_KEYS: dict[str, str] = {
    **IGNORED_KEYS, **{key: reason for key, (_, reason) in REFUSED_KEYS.items()}}

KNOWN_SIMPLE = {key.lower(): key for key in SIMPLE_KEYS}
KNOWN_UNSUPPORTED = {key.lower(): key for key in UNSUPPORTED_KEYS}
KNOWN_IGNORED = {key.lower(): key for key in IGNORED_KEYS}
KNOWN_REFUSED = {key.lower(): key for key in REFUSED_KEYS}
KNOWN_LOG = {key.lower(): key for key in LOG_KEYS}
#: Every key this engine knows, lowercased -> as spelled ("did you mean").
ALL_KEYS = {
    **KNOWN_SIMPLE, **KNOWN_UNSUPPORTED, **KNOWN_LOG,
    **{key.lower(): key for key in COMPOSITE_KEYS if "<" not in key},
}
COMPOSITE = {key.lower() for key in COMPOSITE_KEYS if "<" not in key}
FAILOVER_KEY = re.compile(r"^socketconnect(host|port)(\d+)$")


def parse_list(value: str) -> list[str]:
    """A comma (or space) separated list, as QuickFIX/J writes AllowedRemoteAddresses."""
    return [item for item in re.split(r"[\s,]+", value.strip()) if item]


def parse_bool(value: str) -> bool:
    text = value.strip().lower()
    if text in ("y", "yes", "true"):
        return True
    if text in ("n", "no", "false"):
        return False
    raise ValueError(value)
