"""EngineConfig: YAML loading, defaults, environment overrides, secrets, errors."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pyfixmsg_plus.engine.config import (
    EngineConfig,
    InvalidConfigError,
    Role,
    SessionSettings,
    TimestampPrecision,
    Weekday,
    config_json_schema,
    dump_config,
    is_secret_setting,
    load_config,
    parse_config,
)
from pyfixmsg_plus.engine.errors import ConfigError

MINIMAL = """
sessions:
  - role: initiator
    beginString: FIX.4.4
    senderCompId: CLIENT
    targetCompId: BROKER
    connect: [{host: fix.example.com, port: 9876}]
"""


def write(tmp_path: Path, text: str, name: str = "engine.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def problems(exc: pytest.ExceptionInfo[ConfigError]) -> list[str]:
    assert isinstance(exc.value, InvalidConfigError)
    return list(exc.value.problems)


# -- loading ---------------------------------------------------------------------


def test_minimal_yaml_takes_the_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL), environ={})
    assert config.store == "sqlite:///fixplus.db"
    assert config.shutdown_timeout == 10.0
    assert config.logging.level == "info"
    assert config.logging.format == "text"
    (session,) = config.sessions
    assert session.role is Role.INITIATOR
    assert session.session_id == "FIX.4.4:CLIENT->BROKER"
    assert session.connect[0].host == "fix.example.com"
    assert session.heartbeat_interval == 30


def test_camel_case_and_snake_case_keys_are_equivalent(tmp_path: Path) -> None:
    camel = """
    store: memory://
    shutdownTimeout: 3
    logging: {level: DEBUG, format: json}
    sessions:
      - role: acceptor
        beginString: FIX.4.2
        senderCompId: BROKER
        targetCompId: CLIENT
        acceptPort: 9000
        heartbeatInterval: 20
        resetOnLogon: true
        timestampPrecision: micros
        validation: {validateUserDefinedFields: false, maxLatency: 30}
        schedule: {nonStop: false, startTime: "08:00:00", endTime: 17:30:00, timeZone: Europe/London}
        tls: {enabled: true, certFile: /c.pem, keyFile: /k.pem, requireClientCert: true}
        authentication: {mode: none}
    """
    snake = """
    store: memory://
    shutdown_timeout: 3
    logging: {level: debug, format: json}
    sessions:
      - role: acceptor
        begin_string: FIX.4.2
        sender_comp_id: BROKER
        target_comp_id: CLIENT
        accept_port: 9000
        heartbeat_interval: 20
        reset_on_logon: true
        timestamp_precision: micros
        validation: {validate_user_defined_fields: false, max_latency: 30}
        schedule: {non_stop: false, start_time: "08:00:00", end_time: 17:30:00, time_zone: Europe/London}
        tls: {enabled: true, cert_file: /c.pem, key_file: /k.pem, require_client_cert: true}
        authentication: {mode: none}
    """
    a = load_config(write(tmp_path, camel, "a.yaml"), environ={})
    b = load_config(write(tmp_path, snake, "b.yaml"), environ={})
    assert a == b
    session = a.sessions[0]
    assert session.schedule.end_time == dt.time(17, 30)  # not the YAML 1.1 number 63000
    assert session.timestamp_precision is TimestampPrecision.MICROS
    assert session.validation.max_latency == 30
    assert session.tls.require_client_cert


def test_the_same_key_in_both_spellings_is_an_error() -> None:
    data: dict[str, Any] = yaml.safe_load(MINIMAL)
    data["sessions"][0]["heartbeat_interval"] = 10
    data["sessions"][0]["heartbeatInterval"] = 20
    with pytest.raises(ConfigError) as exc:
        parse_config(data, source="x.yaml")
    assert "sessions[0].heartbeatInterval: given twice" in str(exc.value)


def test_numbers_are_accepted_for_string_settings(tmp_path: Path) -> None:
    text = MINIMAL.replace("senderCompId: CLIENT", "senderCompId: 12345") + "    password: 4321\n"
    session = load_config(write(tmp_path, text), environ={}).sessions[0]
    assert session.sender_comp_id == "12345"
    assert session.password is not None and session.password.get_secret_value() == "4321"


def test_empty_file_is_an_error_naming_the_missing_sessions(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, ""), environ={})
    assert "no sessions" in str(exc.value)


# -- defaults --------------------------------------------------------------------


def test_defaults_supply_required_fields_and_merge_nested_mappings(tmp_path: Path) -> None:
    text = """
    defaults:
      role: initiator
      beginString: FIX.4.4
      senderCompId: CLIENT
      heartbeatInterval: 15
      schedule: {timeZone: America/New_York, nonStop: false, startTime: "09:00:00", endTime: "16:00:00"}
      connect: [{host: primary, port: 1}]
    sessions:
      - targetCompId: BROKER1
      - targetCompId: BROKER2
        heartbeat_interval: 60
        schedule: {endTime: "17:00:00"}
        connect: [{host: other, port: 2}]
    """
    config = load_config(write(tmp_path, text), environ={})
    first, second = config.sessions
    assert first.heartbeat_interval == 15
    assert first.connect[0].host == "primary"
    assert second.heartbeat_interval == 60
    assert second.schedule.time_zone == "America/New_York"  # merged key by key
    assert second.schedule.start_time == dt.time(9)
    assert second.schedule.end_time == dt.time(17)
    assert [e.host for e in second.connect] == ["other"]  # lists replace
    assert config.defaults["heartbeatInterval"] == 15


def test_defaults_apply_when_constructing_from_python() -> None:
    config = EngineConfig.model_validate(
        {
            "defaults": {"role": "acceptor", "begin_string": "FIX.4.4", "accept_port": 5001,
                         "authentication": {"mode": "none"}},
            "sessions": [{"sender_comp_id": "S", "target_comp_id": "T"}],
        }
    )
    assert config.sessions[0].accept_port == 5001


def test_unknown_key_in_defaults_is_an_error() -> None:
    data = yaml.safe_load(MINIMAL)
    data["defaults"] = {"heartbeatIntervall": 5}
    with pytest.raises(ConfigError) as exc:
        parse_config(data, source="x.yaml")
    assert "unknown setting 'heartbeatIntervall'; did you mean 'heartbeatInterval'?" in str(
        exc.value
    )


def test_an_error_in_defaults_says_so(tmp_path: Path) -> None:
    text = "defaults:\n  heartbeatInterval: -1\n" + MINIMAL
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, text), environ={})
    (line,) = problems(exc)
    assert line.startswith(f"{tmp_path / 'engine.yaml'}:2: sessions[0].heartbeatInterval: ")
    assert line.endswith("(inherited from defaults.heartbeatInterval)")


# -- environment overrides ----------------------------------------------------------


def test_environment_overrides(tmp_path: Path) -> None:
    env = {
        "FIXPLUS__STORE": "postgresql://fix@db/fix",
        "FIXPLUS__DEFAULTS__HEARTBEAT_INTERVAL": "10",
        "FIXPLUS__SESSIONS__0__PASSWORD": "yes",  # a string setting: taken verbatim
        "FIXPLUS__SESSIONS__0__RESETONLOGON": "true",
        "FIXPLUS__SESSIONS__0__CONNECT__0__PORT": "9999",
        "FIXPLUS__SESSIONS__0__CONNECT__1": "{host: backup, port: 9998}",
        "FIXPLUS__SESSIONS__0__schedule__startTime": "13:30:00",
        "FIXPLUS__SESSIONS__0__schedule__endTime": "14:00:00",
        "FIXPLUS__SESSIONS__0__schedule__nonStop": "N",
        "FIXPLUS__LOGGING__FORMAT": "json",
        "FIXPLUS_SPEC_DIR": "/not/an/override",
    }
    config = load_config(write(tmp_path, MINIMAL), environ=env)
    session = config.sessions[0]
    assert config.store == "postgresql://fix@db/fix"
    assert session.heartbeat_interval == 10
    assert session.password is not None and session.password.get_secret_value() == "yes"
    assert session.reset_on_logon is True
    assert [(e.host, e.port) for e in session.connect] == [
        ("fix.example.com", 9999),
        ("backup", 9998),
    ]
    assert session.schedule.start_time == dt.time(13, 30)
    assert not session.schedule.non_stop
    assert config.logging.format == "json"


def test_environment_override_can_add_a_session(tmp_path: Path) -> None:
    env = {
        "FIXPLUS__SESSIONS__1__ROLE": "acceptor",
        "FIXPLUS__SESSIONS__1__BEGIN_STRING": "FIX.4.4",
        "FIXPLUS__SESSIONS__1__SENDER_COMP_ID": "B",
        "FIXPLUS__SESSIONS__1__TARGET_COMP_ID": "C",
        "FIXPLUS__SESSIONS__1__ACCEPT_PORT": "7000",
        "FIXPLUS__SESSIONS__1__AUTHENTICATION__MODE": "none",
    }
    config = load_config(write(tmp_path, MINIMAL), environ=env)
    assert config.sessions[1].accept_port == 7000


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "FIXPLUS__SESSIONS__0__HEARTBEAT",
            "environment variable FIXPLUS__SESSIONS__0__HEARTBEAT: unknown setting "
            "'sessions[0].HEARTBEAT'; did you mean 'heartbeatInterval'?",
        ),
        ("FIXPLUS__SESSIONS__5__PASSWORD", "index 5 is out of range: sessions has 1 entries"),
        ("FIXPLUS__SESSIONS__X", "sessions is a list: expected an index, got 'X'"),
        ("FIXPLUS__STORE__HOST", "store is a single value, it has no 'HOST'"),
    ],
)
def test_bad_environment_override_names_the_variable(
    tmp_path: Path, name: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, MINIMAL), environ={name: "1"})
    assert expected in str(exc.value)


def test_error_in_an_overridden_value_names_the_variable(tmp_path: Path) -> None:
    env = {"FIXPLUS__SESSIONS__0__HEARTBEAT_INTERVAL": "-5"}
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, MINIMAL), environ=env)
    assert problems(exc) == [
        "environment variable FIXPLUS__SESSIONS__0__HEARTBEAT_INTERVAL: "
        "sessions[0].heartbeatInterval: Input should be greater than or equal to 0 (got -5)"
    ]


def test_parse_config_applies_no_overrides_by_default() -> None:
    config = parse_config(yaml.safe_load(MINIMAL))
    assert config.store == "sqlite:///fixplus.db"


# -- secrets -------------------------------------------------------------------------


def test_secrets_from_environment_and_files(tmp_path: Path) -> None:
    secret_file = tmp_path / "password"
    secret_file.write_text("s3cr3t\n")
    text = MINIMAL + f"    password: ${{FILE:{secret_file}}}\n    username: trader\n"
    text += "store: postgresql://fix:${ENV:PGPASS}@db/fix?note=$${ENV:literal}\n"
    env = {"PGPASS": "pg"}
    config = load_config(write(tmp_path, text), environ=env)
    session = config.sessions[0]
    assert session.password is not None and session.password.get_secret_value() == "s3cr3t"
    assert session.username == "trader"
    assert config.store == "postgresql://fix:pg@db/fix?note=${ENV:literal}"
    assert "s3cr3t" not in repr(config)


def test_missing_secrets_are_reported_with_their_paths(tmp_path: Path) -> None:
    text = MINIMAL + "    password: ${FILE:/nonexistent/secret}\n"
    text += "store: postgresql://${ENV:NOPE}@db/fix\n"
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, text), environ={})
    source = tmp_path / "engine.yaml"
    assert problems(exc) == [
        f"{source}: sessions[0].password: cannot read secret file /nonexistent/secret: "
        "No such file or directory",
        f"{source}: store: environment variable NOPE is not set",
    ]


SECRET_SETTINGS = (
    "sessions[].password, sessions[].authentication.password, "
    "sessions[].authentication.passwordHash and sessions[].tls.keyPassword (also under defaults "
    "and dynamicSessions[].session), and the user:password part of store"
)


def _misplaced(path: str) -> str:
    return (f"{path}: ${{ENV:…}}, ${{FILE:…}} and ${{VAULT:…}} secret references are allowed "
            "only in the "
            f"secret settings ({SECRET_SETTINGS}); write $${{ for a literal ${{")


def test_secret_references_only_in_secret_settings(tmp_path: Path) -> None:
    secret_file = tmp_path / "password"
    secret_file.write_text("s3cr3t\n")
    text = MINIMAL + f"    sessionQualifier: ${{FILE:{secret_file}}}\n"
    text += "    username: ${ENV:FIX_USER}\n"
    text += "store: postgresql://db/fix?password=${ENV:PGPASS}\n"
    text += "tracing:\n  serviceName: x-${ENV:FIX_USER}\n"
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, text), environ={"FIX_USER": "u", "PGPASS": "p"})
    source = tmp_path / "engine.yaml"
    assert sorted(problems(exc)) == sorted([
        f"{source}: {_misplaced('store')}",
        f"{source}: {_misplaced('sessions[0].sessionQualifier')}",
        f"{source}: {_misplaced('sessions[0].username')}",
        f"{source}: {_misplaced('tracing.serviceName')}",
    ])
    assert "s3cr3t" not in str(exc.value)


def test_secret_references_are_checked_without_being_resolved() -> None:
    data = yaml.safe_load(MINIMAL)
    data["sessions"][0]["password"] = "${FILE:/not/in/this/host}"
    config = parse_config(data, resolve_secrets=False)
    password = config.sessions[0].password
    assert password is not None and password.get_secret_value() == "${FILE:/not/in/this/host}"
    data["sessions"][0]["session_qualifier"] = "${FILE:/x}"
    with pytest.raises(ConfigError) as exc:
        parse_config(data, resolve_secrets=False, source="rendered")
    assert problems(exc) == [f"rendered: {_misplaced('sessions[0].sessionQualifier')}"]


def test_secret_references_from_overrides_and_defaults(tmp_path: Path) -> None:
    secret_file = tmp_path / "password"
    secret_file.write_text("pw\n")
    text = MINIMAL + f"defaults:\n  password: ${{FILE:{secret_file}}}\n"
    config = load_config(write(tmp_path, text), environ={})
    assert config.sessions[0].password is not None
    assert config.sessions[0].password.get_secret_value() == "pw"
    env = {"FIXPLUS__SESSIONS__0__TARGET_SUB_ID": "${ENV:HOME}", "HOME": "/root"}
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, MINIMAL), environ=env)
    assert problems(exc) == [f"{tmp_path / 'engine.yaml'}: environment variable "
                             f"FIXPLUS__SESSIONS__0__TARGET_SUB_ID: "
                             f"{_misplaced('sessions[0].targetSubId')}"]


def test_escaped_references_are_literal_text_anywhere(tmp_path: Path) -> None:
    text = MINIMAL + "    sessionQualifier: $${ENV:HOME}\n"
    config = load_config(write(tmp_path, text), environ={})
    assert config.sessions[0].session_qualifier == "${ENV:HOME}"


@pytest.mark.parametrize(("url", "ok"), [
    ("postgresql://fix:${ENV:P}@db/fix", True),
    ("postgresql://${ENV:U}:${FILE:/run/pw}@db:5432/fix?sslmode=require", True),
    ("redis://:${FILE:/run/secrets/redis/password}@h:6379/0", True),
    ("postgresql://fix@${ENV:HOST}/fix", False),
    ("postgresql://fix:pw@db/${ENV:DB}", False),
    ("redis://h:6379/0?password=${ENV:P}", False),
    ("sqlite:///${ENV:HOME}/fix.db", False),
    ("memory://", True),
])
def test_store_url_takes_references_in_its_credentials_only(url: str, ok: bool) -> None:
    assert is_secret_setting(("store",))
    data = {**yaml.safe_load(MINIMAL), "store": url}
    if ok:
        assert parse_config(data, resolve_secrets=False).store == url
    else:
        with pytest.raises(ConfigError, match="allowed only in the secret settings"):
            parse_config(data, resolve_secrets=False)


def test_the_secret_settings() -> None:
    for loc in (("sessions", 0, "password"), ("defaults", "password"),
                ("dynamicSessions", 1, "session", "password"),
                ("sessions", 2, "authentication", "passwordHash"),
                ("sessions", 2, "authentication", "password_hash"),
                ("defaults", "authentication", "password")):
        assert is_secret_setting(loc), loc
    for loc in (("sessions", 0, "username"), ("sessions", 0, "authentication", "username"),
                ("metrics", "path"), ("password",), ("dynamicSessions", 0, "maxSessions")):
        assert not is_secret_setting(loc), loc


# -- errors ---------------------------------------------------------------------------


def test_negative_heartbeat_names_file_line_path_and_problem(tmp_path: Path) -> None:
    text = (
        MINIMAL
        + """
  - role: acceptor
    beginString: FIX.4.4
    senderCompId: BROKER
    targetCompId: CLIENT
    acceptPort: 9000
    heartbeatInterval: -30
"""
    )
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_config(path, environ={})
    assert str(exc.value) == (
        f"{path}:14: sessions[1].heartbeatInterval: "
        "Input should be greater than or equal to 0 (got -30)"
    )
    assert "Traceback" not in str(exc.value)


def test_every_problem_gets_its_own_line(tmp_path: Path) -> None:
    text = """
    sessions:
      - role: initiater
        beginString: FIX.4.9
        senderCompId: A
        connect: [{host: h, port: 70000}]
        heartbeatIntreval: 5
    """
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_config(path, environ={})
    lines = problems(exc)
    assert str(exc.value).splitlines() == lines
    assert (
        f"{path}:3: sessions[0].role: Input should be 'initiator' or 'acceptor' (got 'initiater')"
        in lines
    )
    assert any(
        line.startswith(f"{path}:4: sessions[0].beginString: Input should be") for line in lines
    )
    assert f"{path}:3: sessions[0].targetCompId: required setting is missing" in lines
    assert (
        f"{path}:6: sessions[0].connect[0].port: Input should be less than or equal to 65535 (got 70000)"
        in lines
    )
    assert (
        f"{path}:7: sessions[0].heartbeatIntreval: unknown setting; did you mean 'heartbeatInterval'?"
        in lines
    )


def test_model_rule_errors_name_the_session(tmp_path: Path) -> None:
    text = """
    sessions:
      - role: initiator
        beginString: FIXT.1.1
        senderCompId: A
        targetCompId: B
        connect: [{host: h, port: 1}]
    """
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, text), environ={})
    assert problems(exc) == [
        f"{tmp_path / 'engine.yaml'}:3: sessions[0]: a FIXT.1.1 session needs defaultApplVerId"
    ]


def test_passwords_are_not_echoed_in_errors() -> None:
    data = yaml.safe_load(MINIMAL)
    data["sessions"][0]["password"] = ["hunter2"]
    with pytest.raises(ConfigError) as exc:
        parse_config(data)
    assert "hunter2" not in str(exc.value)


def test_yaml_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "sessions:\n  - role: [initiator\n")
    with pytest.raises(ConfigError) as exc:
        load_config(path, environ={})
    assert str(exc.value).startswith(f"{path}:3:1: YAML syntax error:")


def test_duplicate_yaml_keys_are_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "    heartbeatInterval: 1\n    heartbeat_interval: 2\n")
    with pytest.raises(ConfigError) as exc:
        load_config(path, environ={})
    assert f"{path}:9: sessions[0].heartbeat_interval: the key is given twice" in str(exc.value)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_config(tmp_path / "missing.yaml", environ={})


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="the top level must be a mapping"):
        load_config(write(tmp_path, "- a\n- b\n"), environ={})


def test_session_ids_must_be_unique() -> None:
    data = yaml.safe_load(MINIMAL)
    data["sessions"].append(dict(data["sessions"][0]))
    with pytest.raises(ConfigError) as exc:
        parse_config(data, source="x.yaml")
    assert str(exc.value) == (
        "x.yaml: sessions: session id FIX.4.4:CLIENT->BROKER is used by both "
        "sessions[0] and sessions[1]"
    )


def test_acceptors_sharing_a_port_must_agree_on_tls() -> None:
    acceptor = {
        "role": "acceptor",
        "beginString": "FIX.4.4",
        "senderCompId": "B",
        "acceptPort": 9000,
        "authentication": {"mode": "none"},
    }
    data = {
        "sessions": [
            {**acceptor, "targetCompId": "C1"},
            {**acceptor, "targetCompId": "C2", "tls": {"enabled": True, "certFile": "/c"}},
        ]
    }
    with pytest.raises(ConfigError) as exc:
        parse_config(data, source="x.yaml")
    assert str(exc.value) == (
        "x.yaml: (top level): sessions[0] and sessions[1] share acceptPort 9000 "
        "but have different tls settings"
    )
    data["sessions"][1]["tls"] = {}
    data["sessions"][1]["acceptPort"] = 9001
    assert len(parse_config(data).sessions) == 2


def test_store_must_look_like_a_url() -> None:
    data = yaml.safe_load(MINIMAL)
    data["store"] = "fixplus.db"
    with pytest.raises(ConfigError, match=r"x.yaml: store: String should match pattern"):
        parse_config(data, source="x.yaml")


# -- dynamic sessions -----------------------------------------------------------------------


def test_dynamic_session_templates(tmp_path: Path) -> None:
    text = """
    defaults: {heartbeatInterval: 45}
    dynamicSessions:
      - maxSessions: 50
        session:
          role: acceptor
          beginString: FIX.4.4
          senderCompId: BROKER
          targetCompId: "CLIENT_*"
          acceptPort: 9880
          authentication: {mode: none}
    """
    config = load_config(write(tmp_path, text), environ={})
    assert config.sessions == []
    (template,) = config.dynamic_sessions
    assert template.max_sessions == 50
    assert template.session.heartbeat_interval == 45
    assert template.matches("FIX.4.4", "BROKER", "CLIENT_7")
    assert not template.matches("FIX.4.4", "BROKER", "OTHER")
    assert not template.matches("FIX.4.2", "BROKER", "CLIENT_7")
    assert template.matches("FIX.4.4", "BROKER", "CLIENT_7", target_sub_id="DESK")
    session = template.instantiate("BROKER", "CLIENT_7")
    assert session.target_comp_id == "CLIENT_7"
    assert session.session_id == "FIX.4.4:BROKER->CLIENT_7"
    with pytest.raises(ValueError, match="do not match"):
        template.instantiate("BROKER", "X")


def test_dynamic_session_template_must_be_an_acceptor() -> None:
    with pytest.raises(ConfigError, match=r"dynamicSessions\[0\]: a dynamic session template"):
        parse_config(
            {
                "dynamicSessions": [
                    {
                        "session": {
                            "role": "initiator",
                            "beginString": "FIX.4.4",
                            "senderCompId": "A",
                            "targetCompId": "*",
                            "connect": [{"host": "h", "port": 1}],
                        }
                    }
                ]
            }
        )


# -- schema and round trip --------------------------------------------------------------------


def test_json_schema_uses_camel_case() -> None:
    schema = config_json_schema()
    assert set(schema["properties"]) >= {
        "store",
        "defaults",
        "sessions",
        "dynamicSessions",
        "logging",
        "metrics",
        "shutdownTimeout",
    }
    session = schema["$defs"]["SessionSettings"]
    assert "heartbeatInterval" in session["properties"]
    assert set(session["required"]) == {"role", "beginString", "senderCompId", "targetCompId"}


def test_dump_masks_secrets_unless_asked() -> None:
    data = yaml.safe_load(MINIMAL)
    data["sessions"][0]["password"] = "pw"
    config = parse_config(data)
    assert dump_config(config)["sessions"][0]["password"] == "**********"
    assert dump_config(config, reveal_secrets=True)["sessions"][0]["password"] == "pw"


comp_ids = st.text(
    alphabet=st.characters(codec="ascii", exclude_characters="=|", min_codepoint=33),
    min_size=1,
    max_size=12,
)
times = st.times().map(lambda t: t.replace(microsecond=0))


@st.composite
def sessions(draw: st.DrawFn, index: int) -> SessionSettings:
    role = draw(st.sampled_from(list(Role)))
    begin = draw(st.sampled_from(["FIX.4.2", "FIX.4.4", "FIXT.1.1"]))
    data: dict[str, Any] = {
        "role": role,
        "begin_string": begin,
        "sender_comp_id": draw(comp_ids),
        "target_comp_id": f"T{index}",
        "heartbeat_interval": draw(st.integers(0, 3600)),
        "logon_timeout": draw(st.floats(0.5, 100)),
        "reset_on_logon": draw(st.booleans()),
        "timestamp_precision": draw(st.sampled_from(list(TimestampPrecision))),
        "password": draw(st.none() | st.text(min_size=1, max_size=10)),
        "session_qualifier": draw(st.none() | comp_ids),
    }
    if begin == "FIXT.1.1":
        data["default_appl_ver_id"] = draw(st.sampled_from(["FIX.5.0", "FIX.5.0SP2"]))
        data["validation"] = {"app_data_dictionary": draw(st.lists(comp_ids, max_size=3))}
    if role is Role.ACCEPTOR:
        data["accept_port"] = 10000 + index  # a port each: no TLS agreement needed
        data["authentication"] = {"mode": "none"}
    else:
        data["connect"] = draw(
            st.lists(
                st.builds(dict, host=comp_ids, port=st.integers(1, 65535)), min_size=1, max_size=3
            )
        )
    if draw(st.booleans()):
        data["schedule"] = {
            "non_stop": False,
            "start_time": draw(times),
            "end_time": draw(times),
            "start_day": draw(st.sampled_from(list(Weekday))),
            "end_day": draw(st.sampled_from(list(Weekday))),
            "time_zone": draw(st.sampled_from(["UTC", "Europe/London", "Asia/Tokyo"])),
        }
    return SessionSettings.model_validate(data)


@st.composite
def engine_configs(draw: st.DrawFn) -> EngineConfig:
    count = draw(st.integers(1, 4))
    return EngineConfig(
        store=draw(st.sampled_from(["memory://", "sqlite:///x.db", "postgresql://u@h/db"])),
        sessions=[draw(sessions(i)) for i in range(count)],
        shutdown_timeout=draw(st.floats(0.1, 600)),
    )


@given(engine_configs())
def test_round_trip_through_yaml(config: EngineConfig) -> None:
    text = yaml.safe_dump(dump_config(config, reveal_secrets=True))
    assert parse_config(yaml.safe_load(text)) == config


@given(engine_configs())
def test_round_trip_through_a_file(
    tmp_path_factory: pytest.TempPathFactory, config: EngineConfig
) -> None:
    path = tmp_path_factory.mktemp("rt") / "engine.yaml"
    path.write_text(yaml.safe_dump(dump_config(config, reveal_secrets=True)))
    assert load_config(path, environ={}) == config


def test_reference_documents_every_setting() -> None:
    from pydantic import BaseModel
    from pyfixmsg_plus.engine import config as module

    reference = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()
    models = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, BaseModel)
        and value.__module__.startswith(module.__name__ + ".")
        and not value.__name__.startswith("_")
    ]
    assert len(models) >= 10
    for model in models:
        for name, field in model.model_fields.items():
            assert f"| `{field.alias or name}` |" in reference, (model.__name__, name)


def test_file_keys_are_case_sensitive() -> None:
    data = yaml.safe_load(MINIMAL)
    data["sessions"][0]["HeartbeatInterval"] = 5
    with pytest.raises(ConfigError, match=r"sessions\[0\]\.HeartbeatInterval: unknown setting"):
        parse_config(data)
