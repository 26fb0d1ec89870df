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

KNOWN_SIMPLE = {key.lower(): key for key in SIMPLE_KEYS}
KNOWN_UNSUPPORTED = {key.lower(): key for key in UNSUPPORTED_KEYS}
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
