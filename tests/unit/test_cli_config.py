"""``fixplus config check``, ``fixplus config convert`` and ``fixplus run --strict``."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml
from pyfixmsg_plus.engine.cli.main import main
from pyfixmsg_plus.engine.config import load_config, parse_config
from pyfixmsg_plus.engine.config.cfgfile import did_you_mean, parse_cfg
from pyfixmsg_plus.engine.config.cfgkeys import REFUSED_KEYS
from pyfixmsg_plus.engine.errors import ConfigError

EXECUTOR = textwrap.dedent("""\
    [DEFAULT]
    ConnectionType=acceptor
    FileStorePath=store
    FileLogPath=log
    StartTime=17:00:00
    EndTime=17:00:00
    HeartBtInt=30
    SenderCompID=EXEC
    TargetCompID=BANZAI
    AuthenticationMode=none
    FileLogHeartbeats=N
    FileIncludeMilliseconds=Y
    ReconectInterval=5

    [SESSION]
    BeginString=FIX.4.4
    SocketAcceptPort=9880
    Password=plain-secret
    ValidateSequenceNumbers=Y
    """)


@pytest.fixture
def executor(tmp_path: Path) -> Path:
    path = tmp_path / "executor.cfg"
    path.write_text(EXECUTOR)
    return path


def test_check_says_what_every_key_became(executor: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", str(executor)]) == 0
    out = capsys.readouterr().out
    assert f"{executor}:7: HeartBtInt=30 -> sessions[0].heartbeatInterval" in out
    assert f"{executor}:4: FileLogPath=log -> messageLog.path" in out
    assert f"{executor}:11: FileLogHeartbeats=N -> messageLog.heartbeats" in out
    assert f"{executor}:3: FileStorePath=store -> store" in out
    assert "(did you mean ReconnectInterval?)" in out
    assert f"{executor}:18: Password=*** -> sessions[0].password" in out
    assert "plain-secret" not in out
    assert "ValidateSequenceNumbers=Y: note: Y: what this engine does" in out
    assert out.rstrip().endswith("OK, 1 session(s), 3 warning(s)")


def test_check_strict_refuses_unknown_keys(executor: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", "--strict", str(executor)]) == 2
    err = capsys.readouterr().err
    assert (f"{executor}:13: ReconectInterval: unknown key: kept for the application in settings.custom (did you mean "
            "ReconnectInterval?) (strict mode)") in err


def test_run_strict_stops_before_starting(executor: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--strict", "-c", str(executor)]) == 2
    assert "ReconectInterval" in capsys.readouterr().err


@pytest.mark.parametrize(("key", "value"), [
    ("ValidateSequenceNumbers", "N"), ("RejectInvalidMessage", "no"),
    ("DisconnectOnError", "Y"), ("LogonTag", "96=x"), ("SocketLocalPort", "5000"),
    ("ProxyHost", "proxy"), ("SocketConnectProtocol", "VM_PIPE")])
def test_behaviour_changing_keys_are_refused_naming_the_key(
        executor: Path, key: str, value: str) -> None:
    executor.write_text(EXECUTOR.replace("ValidateSequenceNumbers=Y", f"{key}={value}"))
    with pytest.raises(ConfigError, match=rf"executor.cfg:19: {key}: not implemented, refused"):
        load_config(executor)


def test_every_refused_key_has_a_reason() -> None:
    for key, (accepted, reason) in REFUSED_KEYS.items():
        assert reason, key
        assert accepted is None or accepted <= {"y", "n", "tcp"}


def test_did_you_mean() -> None:
    assert did_you_mean("ReconectInterval") == "ReconnectInterval"
    assert did_you_mean("heartbtint") == "HeartBtInt"
    assert did_you_mean("FileLogPth") == "FileLogPath"
    assert did_you_mean("ValidOrderTypes") is None


def test_validation_left_off_is_a_warning() -> None:
    base = textwrap.dedent("""\
        [SESSION]
        ConnectionType=initiator
        SenderCompID=A
        TargetCompID=B
        SocketConnectHost=h
        SocketConnectPort=1
        UseDataDictionary=Y
        """)
    result = parse_cfg(base + "BeginString=FIX.4.4\n", source="a.cfg", environ={})
    assert [str(w) for w in result.warnings] == [
        "a.cfg:7: UseDataDictionary: Y, but no DataDictionary: messages would not be validated"]
    fixt = base + "BeginString=FIXT.1.1\nDefaultApplVerID=9\nDataDictionary=FIX50SP2.xml\n"
    result = parse_cfg(fixt, source="a.cfg", environ={})
    assert {w.key for w in result.warnings} == {"UseDataDictionary", "DataDictionary"}
    with pytest.raises(ConfigError, match=r"a\.cfg:10: DataDictionary: not used by a FIXT\.1\.1"):
        parse_cfg(fixt, source="a.cfg", environ={}, strict=True)


def test_convert_writes_yaml_that_loads_to_the_same_configuration(
        executor: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "convert", str(executor)]) == 0
    captured = capsys.readouterr()
    assert "plain-secret" not in captured.out
    assert "FIXPLUS_SESSIONS_0_PASSWORD" in captured.err
    data = yaml.safe_load(captured.out)
    assert data["sessions"][0]["schedule"]["startTime"] == "17:00:00"
    env = {"FIXPLUS_SESSIONS_0_PASSWORD": "plain-secret"}
    converted = parse_config(data, environ=env)
    original = load_config(executor, environ=env)
    assert converted == original
    assert converted.message_log.heartbeats is False
    assert converted.message_log.timestamp_precision == "millis"
    # Only what the file sets: no defaults spelled out.
    assert "logonTimeout" not in data["sessions"][0]
    assert set(data) == {"sessions", "messageLog", "store"}


def test_convert_output_file(executor: Path, tmp_path: Path) -> None:
    out = tmp_path / "executor.yaml"
    assert main(["config", "convert", str(executor), "-o", str(out)]) == 0
    config = load_config(out, environ={"FIXPLUS_SESSIONS_0_PASSWORD": "x"})
    assert config.sessions[0].sender_comp_id == "EXEC"


def test_check_reads_yaml_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "e.yaml"
    path.write_text("sessions: [{role: initiator, beginString: FIX.4.4, senderCompId: A, "
                    "targetCompId: B, connect: [{host: h, port: 1}]}]\n")
    assert main(["config", "check", str(path)]) == 0
    assert "OK, 1 session(s)" in capsys.readouterr().out
    path.write_text("sessions: [{role: initiator, heartbeatInterva: 3}]\n")
    assert main(["config", "check", str(path)]) == 2
