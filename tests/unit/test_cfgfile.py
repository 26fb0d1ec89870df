"""QuickFIX settings files (.cfg) converted to EngineConfig."""

from __future__ import annotations

import datetime as dt
import logging
import textwrap
from pathlib import Path

import pytest
from pyfixmsg_plus.engine.config import (
    InvalidConfigError,
    Role,
    TimestampPrecision,
    Weekday,
    load_config,
)
from pyfixmsg_plus.engine.config.cfgfile import (
    CfgResult,
    load_cfg,
    parse_cfg,
    parse_sections,
)
from pyfixmsg_plus.engine.config.cfgkeys import SIMPLE_KEYS, UNSUPPORTED_KEYS
from pyfixmsg_plus.engine.errors import ConfigError

QFJ_BANZAI = """\
# QuickFIX/J Banzai-style initiator settings
[DEFAULT]
ConnectionType=initiator
FileStorePath=target/data/banzai
FileLogPath=target/data/banzai/log
SenderCompID=BANZAI
StartTime=00:00:00
EndTime=00:00:00
HeartBtInt=30
ReconnectInterval=5
UseDataDictionary=Y
ValidateUserDefinedFields=N
CheckLatency=N
SocketConnectHost=localhost
TimeStampPrecision=MICROS
EnableNextExpectedMsgSeqNum=Y
ResetOnLogon=Y
ScreenLogShowHeartBeats=Y

[SESSION]
BeginString=FIX.4.2
TargetCompID=EXEC
SocketConnectPort=9877
DataDictionary=FIX42.xml

[SESSION]
BeginString=FIX.4.4
TargetCompID=EXEC
SessionQualifier=Q2
SocketConnectPort=9880
SocketConnectHost1=backup1.example.com
SocketConnectPort1=9881
SocketConnectHost2=backup2.example.com
SocketConnectPort2=9882
DataDictionary=FIX44.xml
HeartBtInt=15
Username=banzai
Password=${ENV:BANZAI_PASSWORD}

[SESSION]
BeginString=FIXT.1.1
TargetCompID=EXEC
DefaultApplVerID=FIX.5.0SP2
TransportDataDictionary=FIXT11.xml
AppDataDictionary=FIX50SP2.xml
AppDataDictionary.FIX.4.4=FIX44.xml
SocketConnectPort=9881
"""

CPP_EXECUTOR = """\
# QuickFIX C++ executor-style acceptor settings, TLS
[DEFAULT]
ConnectionType=acceptor
SocketAcceptPort=5001
SocketAcceptAddress=127.0.0.1
AllowedRemoteAddresses=10.1.0.0/16, 192.0.2.7
SocketReuseAddress=Y
StartTime=08:30:00
EndTime=17:00:00
StartDay=Sunday
EndDay=fri
TimeZone=America/Chicago
SenderCompID=EXECUTOR
DataDictionary=spec/FIX44.xml
ServerCertificateFile=certs/server.pem
ServerCertificateKeyFile=certs/server.key
CertificationAuthoritiesFile=certs/ca.pem
SSLProtocol=all -SSLv2 -SSLv3 -TLSv1 -TLSv1.1
SSLCipherSuite=HIGH:!aNULL
CertificateVerifyLevel=1
TimestampPrecision=6
PostgreSQLStoreDatabase=quickfix
PostgreSQLStoreUser=fix
PostgreSQLStorePassword=${ENV:PGPASSWORD}
PostgreSQLStoreHost=db.internal
PostgreSQLStorePort=5432
ResetOnDisconnect=Y
SocketNodelay=N
ValidateFieldsOutOfOrder=N

[SESSION]
BeginString=FIX.4.4
TargetCompID=CLIENT1

[SESSION]
BeginString=FIX.4.4
TargetCompID=CLIENT2
HeartBtInt=60
MillisecondsInTimeStamp=N
"""


def cfg(text: str, *, strict: bool = False, environ: dict[str, str] | None = None) -> CfgResult:
    return parse_cfg(textwrap.dedent(text), source="app.cfg", environ=environ or {},
                     strict=strict)


def test_quickfixj_initiator_file() -> None:
    result = parse_cfg(QFJ_BANZAI, source="banzai.cfg", environ={"BANZAI_PASSWORD": "pw"})
    config = result.config
    assert config.store == "sqlite:///target/data/banzai/fixplus.db"
    fix42, fix44, fixt = config.sessions
    assert [s.session_id for s in config.sessions] == [
        "FIX.4.2:BANZAI->EXEC",
        "FIX.4.4:BANZAI->EXEC:Q2",
        "FIXT.1.1:BANZAI->EXEC",
    ]
    for session in config.sessions:
        assert session.role is Role.INITIATOR
        assert session.reset_on_logon
        assert session.enable_next_expected_msg_seq_num
        assert session.timestamp_precision is TimestampPrecision.MICROS
        assert not session.validation.validate_user_defined_fields
        assert not session.validation.check_latency
        assert not session.schedule.non_stop
        assert session.schedule.start_time == session.schedule.end_time == dt.time(0)
        assert session.reconnect.initial_delay == session.reconnect.max_delay == 5
        assert session.reconnect.multiplier == 1
    assert fix42.heartbeat_interval == 30
    assert fix42.validation.data_dictionary == "FIX42.xml"
    assert [(e.host, e.port) for e in fix42.connect] == [("localhost", 9877)]
    assert fix44.heartbeat_interval == 15
    assert fix44.username == "banzai"
    assert fix44.password is not None and fix44.password.get_secret_value() == "pw"
    assert fixt.default_appl_ver_id == "FIX.5.0SP2"
    assert fixt.appl_ver_id_code == "9"
    assert fixt.validation.transport_data_dictionary == "FIXT11.xml"
    assert fixt.validation.app_data_dictionary == ["FIX50SP2.xml", "FIX44.xml"]
    assert {(w.key, w.kind) for w in result.warnings} == {("FileStorePath", "note")}
    log = result.config.message_log
    assert log.path == "target/data/banzai/log"
    # A screen log key: QuickFIX's screen log shows messages and events unless told not to.
    assert (log.screen.incoming, log.screen.outgoing, log.screen.events,
            log.screen.heartbeats) == (True, True, True, True)
    assert all(w.file == "banzai.cfg" for w in result.warnings)


def test_failover_hosts_in_order() -> None:
    config = parse_cfg(QFJ_BANZAI, source="b.cfg", environ={"BANZAI_PASSWORD": "x"}).config
    assert [(e.host, e.port) for e in config.sessions[1].connect] == [
        ("localhost", 9880),
        ("backup1.example.com", 9881),
        ("backup2.example.com", 9882),
    ]


def test_failover_host_without_port_is_an_error() -> None:
    text = """\
    [SESSION]
    ConnectionType=initiator
    BeginString=FIX.4.4
    SenderCompID=A
    TargetCompID=B
    SocketConnectHost=h
    SocketConnectPort=1
    SocketConnectHost1=h1
    """
    with pytest.raises(ConfigError) as exc:
        cfg(text)
    assert str(exc.value) == "app.cfg:8: SocketConnectHost1: SocketConnectPort1 is missing"


def test_quickfix_cpp_acceptor_file() -> None:
    result = parse_cfg(CPP_EXECUTOR, source="executor.cfg", environ={"PGPASSWORD": "pg"})
    config = result.config
    assert config.store == "postgresql://fix:pg@db.internal:5432/quickfix"
    first, second = config.sessions
    for session in config.sessions:
        assert session.role is Role.ACCEPTOR
        assert session.accept_port == 5001
        assert session.accept_host == "127.0.0.1"
        assert session.reset_on_disconnect
        assert not session.tcp_nodelay
        assert not session.validation.validate_fields_out_of_order
        assert session.validation.data_dictionary == "spec/FIX44.xml"
        assert session.authentication is not None
        assert session.authentication.allowed_addresses == ["10.1.0.0/16", "192.0.2.7"]
        tls = session.tls
        assert tls.enabled
        assert (tls.cert_file, tls.key_file, tls.ca_file) == (
            "certs/server.pem",
            "certs/server.key",
            "certs/ca.pem",
        )
        assert tls.min_version == "TLSv1.2"
        assert tls.ciphers == "HIGH:!aNULL"
        assert tls.require_client_cert
    assert first.timestamp_precision is TimestampPrecision.MICROS
    assert second.timestamp_precision is TimestampPrecision.MICROS  # TimestampPrecision wins
    assert second.heartbeat_interval == 60
    schedule = first.schedule
    assert not schedule.non_stop
    assert (schedule.start_day, schedule.end_day) == (Weekday.SUN, Weekday.FRI)
    assert (schedule.start_time, schedule.end_time) == (dt.time(8, 30), dt.time(17))
    assert schedule.time_zone == "America/Chicago"
    assert [(w.line, w.key, w.kind) for w in result.warnings] == [
        (7, "SocketReuseAddress", "unsupported")
    ]


def test_daily_schedule_with_zone_after_the_time() -> None:
    text = """\
    [SESSION]
    ConnectionType=acceptor
    BeginString=FIX.4.2
    SenderCompID=A
    TargetCompID=B
    SocketAcceptPort=7000
    AuthenticationMode=none
    StartTime=22:00:00 Asia/Tokyo
    EndTime=6:00:00
    """
    schedule = cfg(text).config.sessions[0].schedule
    assert not schedule.non_stop
    assert (schedule.start_time, schedule.end_time) == (dt.time(22), dt.time(6))
    assert schedule.start_day is None
    assert schedule.time_zone == "Asia/Tokyo"


def test_non_stop_session_ignores_times() -> None:
    text = """\
    [SESSION]
    ConnectionType=acceptor
    BeginString=FIX.4.2
    SenderCompID=A
    TargetCompID=B
    SocketAcceptPort=7000
    AuthenticationMode=none
    NonStopSession=Y
    StartTime=nonsense
    """
    assert cfg(text).config.sessions[0].schedule.non_stop


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("StartTime=25:00:00", "app.cfg:7: StartTime: expected a time HH:MM:SS, got '25:00:00'"),
        ("StartDay=Funday", "app.cfg:7: StartDay: expected a day of the week, got 'Funday'"),
        ("ResetOnLogon=maybe", "app.cfg:7: ResetOnLogon: expected Y or N, got 'maybe'"),
        ("HeartBtInt=thirty", "app.cfg:7: HeartBtInt: expected an integer, got 'thirty'"),
        ("SSLProtocols=SSLv3", "app.cfg:7: SSLProtocols: no TLSv1.2 or TLSv1.3 left"),
        ("TimeStampPrecision=PICOS", "app.cfg:7: TimeStampPrecision: expected SECONDS"),
    ],
)
def test_value_errors_name_file_line_and_key(line: str, expected: str) -> None:
    text = f"""\
    [SESSION]
    ConnectionType=acceptor
    BeginString=FIX.4.4
    SenderCompID=A
    TargetCompID=B
    SocketAcceptPort=7000
    {line}
    EndTime=10:00:00
    """
    with pytest.raises(ConfigError) as exc:
        cfg(text)
    assert str(exc.value).startswith(expected)


def test_validation_keys_become_the_validation_settings() -> None:
    """The one reader of QuickFIX validation keys: Y/N flags and MaxLatency
    land in the settings the dictionary's validator takes as they are."""
    result = cfg("""\
    [SESSION]
    ConnectionType=acceptor
    BeginString=FIX.4.4
    SenderCompID=A
    TargetCompID=B
    SocketAcceptPort=7000
    AuthenticationMode=none
    ValidateFieldsHaveValues=N
    CheckLatency=no
    MaxLatency=30
    """)
    validation = result.config.sessions[0].validation
    assert not validation.validate_fields_have_values and validation.max_latency == 30
    assert not validation.check_latency and validation.validate_fields_out_of_order


@pytest.mark.parametrize(("line", "expected"), [
    ("ValidateUserDefinedFields=maybe",
     "app.cfg:7: ValidateUserDefinedFields: expected Y or N, got 'maybe'"),
    ("MaxLatency=soon", "app.cfg:7: MaxLatency: expected an integer, got 'soon'"),
])
def test_malformed_validation_keys_name_the_key(line: str, expected: str) -> None:
    with pytest.raises(ConfigError) as exc:
        cfg(f"""\
        [SESSION]
        ConnectionType=acceptor
        BeginString=FIX.4.4
        SenderCompID=A
        TargetCompID=B
        SocketAcceptPort=7000
        {line}
        """)
    assert str(exc.value).startswith(expected)


def test_negative_heartbeat_is_a_clear_error() -> None:
    text = """\
    [DEFAULT]
    ConnectionType=initiator
    HeartBtInt=-5
    [SESSION]
    BeginString=FIX.4.4
    SenderCompID=A
    TargetCompID=B
    SocketConnectHost=h
    SocketConnectPort=1
    """
    with pytest.raises(ConfigError) as exc:
        cfg(text)
    assert str(exc.value) == (
        "app.cfg:3 (HeartBtInt): sessions[0].heartbeatInterval: "
        "Input should be greater than or equal to 0 (got -5)"
    )


def test_model_errors_point_at_the_session_header() -> None:
    text = """\
    [DEFAULT]
    ConnectionType=initiator

    [SESSION]
    BeginString=FIXT.1.1
    SenderCompID=A
    TargetCompID=B
    SocketConnectHost=h
    SocketConnectPort=1
    """
    with pytest.raises(ConfigError) as exc:
        cfg(text)
    assert str(exc.value) == (
        "app.cfg:4 ([SESSION]): sessions[0]: a FIXT.1.1 session needs defaultApplVerId"
    )


def test_unknown_keys_are_warnings_unless_strict(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    text = textwrap.dedent(
        """\
        [DEFAULT]
        ConnectionType=initiator
        MyCustomKey=1
        [SESSION]
        BeginString=FIX.4.4
        SenderCompID=A
        TargetCompID=B
        SocketConnectHost=h
        SocketConnectPort=1
        OtherCustomKey=2
        FileStoreSync=Y
        [SESSION]
        BeginString=FIX.4.2
        SenderCompID=A
        TargetCompID=B
        SocketConnectHost=h
        SocketConnectPort=1
        """
    )
    path = tmp_path / "app.cfg"
    path.write_text(text)
    with caplog.at_level(logging.WARNING):
        result = load_cfg(path, environ={})
    assert [str(w) for w in result.warnings] == [
        f"{path}:3: MyCustomKey: unknown key: kept for the application in settings.custom",
        f"{path}:10: OtherCustomKey: unknown key: kept for the application in settings.custom",
        f"{path}:11: FileStoreSync: ignored: the store syncs every write",
    ]
    assert f"{path}:3: MyCustomKey: unknown key: kept for the application in settings.custom" in caplog.messages
    first, second = result.config.sessions
    assert first.custom == {"MyCustomKey": "1", "OtherCustomKey": "2"}
    assert second.custom == {"MyCustomKey": "1"}
    with pytest.raises(ConfigError) as exc:
        load_cfg(path, environ={}, strict=True)
    assert str(exc.value).splitlines() == [
        f"{path}:3: MyCustomKey: unknown key: kept for the application in settings.custom (strict mode)",
        f"{path}:10: OtherCustomKey: unknown key: kept for the application in settings.custom (strict mode)",
        f"{path}:11: FileStoreSync: ignored: the store syncs every write (strict mode)",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Key=1\n", "app.cfg:1: Key: setting outside a [DEFAULT] or [SESSION]"),
        ("[SESSION]\nnot a setting\n", "app.cfg:2: expected Key=Value, got 'not a setting'"),
        ("[SESSIONS]\n", "app.cfg:1: unknown section '[SESSIONS]'"),
        ("[SESSION]\nA=1\nA=2\n", "app.cfg:3: A: given twice in one section (first on line 2)"),
        ("[DEFAULT]\nHeartBtInt=1\n", "app.cfg: no [SESSION] section"),
        ("[SESSION]\nBeginString=FIX.4.4\n", "app.cfg:1: [SESSION]: ConnectionType is missing"),
    ],
)
def test_structure_errors(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as exc:
        cfg(text)
    assert str(exc.value).startswith(expected)


def test_comments_blank_lines_and_spaces_around_equals() -> None:
    sections = parse_sections(
        "# comment\n\n[default]\n  HeartBtInt = 10  \n; also a comment\n[Session]\nX=a=b\n", "f"
    )
    assert [(s.name, s.line) for s in sections] == [("DEFAULT", 3), ("SESSION", 6)]
    assert sections[0].settings["heartbtint"].value == "10"
    assert sections[1].settings["x"].value == "a=b"


def test_acceptor_template_becomes_a_dynamic_session() -> None:
    text = """\
    [DEFAULT]
    ConnectionType=acceptor
    SocketAcceptPort=9880
    SenderCompID=BROKER
    AuthenticationMode=none
    [SESSION]
    BeginString=FIX.4.4
    TargetCompID=KNOWN
    [SESSION]
    AcceptorTemplate=Y
    BeginString=FIX.4.4
    TargetCompID=*
    """
    config = cfg(text).config
    assert [s.target_comp_id for s in config.sessions] == ["KNOWN"]
    (template,) = config.dynamic_sessions
    assert template.matches("FIX.4.4", "BROKER", "ANYONE")


def test_quickfixj_tls_keys() -> None:
    text = """\
    [SESSION]
    ConnectionType=initiator
    BeginString=FIX.4.4
    SenderCompID=A
    TargetCompID=B
    SocketConnectHost=h
    SocketConnectPort=1
    SocketUseSSL=Y
    EnabledProtocols=TLSv1.3
    CipherSuites=TLS_AES_256_GCM_SHA384
    SNIHostName=fix.example.com
    SSLValidateCertificates=N
    SocketKeyStore=keystore.jks
    """
    with pytest.raises(ConfigError, match=r"app.cfg:13: SocketKeyStore: not implemented, refused "
                       r"\(it would change behaviour\): Java key stores are not read"):
        cfg(text)
    result = cfg(text.replace("    SocketKeyStore=keystore.jks\n", ""))
    tls = result.config.sessions[0].tls
    assert tls.enabled and tls.min_version == "TLSv1.3"
    assert tls.server_name == "fix.example.com"
    assert not tls.verify
    assert result.warnings == []


def test_jdbc_store_url_and_milliseconds_flag() -> None:
    text = """\
    [SESSION]
    ConnectionType=initiator
    BeginString=FIX.4.4
    SenderCompID=A
    TargetCompID=B
    SocketConnectHost=h
    SocketConnectPort=1
    JdbcURL=jdbc:postgresql://db:5432/fix
    JdbcUser=u
    JdbcPassword=p
    JdbcDriver=org.postgresql.Driver
    MillisecondsInTimeStamp=N
    """
    config = cfg(text).config
    assert config.store == "postgresql://u:p@db:5432/fix"
    assert config.sessions[0].timestamp_precision is TimestampPrecision.SECONDS


def test_environment_overrides_apply_to_cfg_files(tmp_path: Path) -> None:
    path = tmp_path / "banzai.cfg"
    path.write_text(QFJ_BANZAI)
    config = load_config(
        path,
        environ={"BANZAI_PASSWORD": "pw", "FIXPLUS__SESSIONS__0__HEARTBEAT_INTERVAL": "99"},
    )
    assert config.sessions[0].heartbeat_interval == 99
    with pytest.raises(InvalidConfigError) as exc:
        load_config(path, environ={})
    assert str(exc.value) == (
        f"{path}: sessions[1].password: environment variable BANZAI_PASSWORD is not set"
    )


def test_tables_do_not_overlap() -> None:
    assert not {k.lower() for k in SIMPLE_KEYS} & {k.lower() for k in UNSUPPORTED_KEYS}


DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_migration_guide_lists_every_key() -> None:
    from pyfixmsg_plus.engine.config.cfgkeys import COMPOSITE_KEYS, LOG_KEYS

    guide = (DOCS / "migrating-from-quickfix.md").read_text()
    for key in [*SIMPLE_KEYS, *UNSUPPORTED_KEYS, *COMPOSITE_KEYS, *LOG_KEYS]:
        name = key.replace("<n>", "").replace(".<suffix>", "")
        assert f"`{name}" in guide, key


def test_migration_guide_worked_example_is_right() -> None:
    import re

    import yaml
    from pyfixmsg_plus.engine.config import parse_config

    guide = (DOCS / "migrating-from-quickfix.md").read_text()
    example = guide[guide.index("## Worked example") :]
    ini = re.search(r"```ini\n(.*?)```", example, re.DOTALL)
    yml = re.search(r"```yaml\n(.*?)```", example, re.DOTALL)
    assert ini and yml
    converted = parse_cfg(ini[1], source="example.cfg", environ={}).config
    assert converted == parse_config(yaml.safe_load(yml[1]))


def test_acceptor_without_authentication_is_refused_with_the_keys_to_use() -> None:
    text = """\
    [SESSION]
    ConnectionType=acceptor
    BeginString=FIX.4.2
    SenderCompID=A
    TargetCompID=B
    SocketAcceptPort=7000
    """
    with pytest.raises(ConfigError, match="acceptor session without authentication"):
        cfg(text)


def test_acceptor_authentication_keys() -> None:
    text = """\
    [SESSION]
    ConnectionType=acceptor
    BeginString=FIX.4.2
    SenderCompID=A
    TargetCompID=B
    SocketAcceptPort=7000
    ExpectedUsername=b-user
    ExpectedPassword=${ENV:B_PASSWORD}
    ClientCertificateSubject=CN=b,O=Example
    ClientCertificateDNSNames=b.example, b2.example
    """
    auth = cfg(text, environ={"B_PASSWORD": "pw"}).config.sessions[0].authentication
    assert auth is not None and auth.username == "b-user"
    assert auth.password is not None and auth.password.get_secret_value() == "pw"
    assert auth.certificate is not None
    assert auth.certificate.subject == "CN=b,O=Example"
    assert auth.certificate.dns_names == ["b.example", "b2.example"]
