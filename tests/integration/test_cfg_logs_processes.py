"""QuickFIX-style executor and banzai settings files run by ``fixplus run``
in two processes: the message logs and store folders appear where the
settings say, relative to each file's folder, and ``fixplus log`` reads them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pyfixmsg_plus.engine.cli.main import main

from tests.integration.zeroloss import free_port

pytestmark = pytest.mark.integration

EXECUTOR = """\
[DEFAULT]
ConnectionType=acceptor
FileStorePath=data/store
FileLogPath=data/log
StartTime=00:00:00
EndTime=00:00:00
HeartBtInt=30
AllowedRemoteAddresses=127.0.0.1
SenderCompID=EXEC
TargetCompID=BANZAI

[SESSION]
BeginString=FIX.4.4
SocketAcceptPort={port}
"""

BANZAI = """\
[DEFAULT]
ConnectionType=initiator
FileStorePath=data/store
FileLogPath=data/log
FileLogHeartbeats=N
StartTime=00:00:00
EndTime=00:00:00
HeartBtInt=30
ReconnectInterval=1
SenderCompID=BANZAI
TargetCompID=EXEC
SocketConnectHost=127.0.0.1
Password=banzai-secret

[SESSION]
BeginString=FIX.4.4
SocketConnectPort={port}
"""


def wait_for(path: Path, text: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text():
            return
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not in {path} after {timeout} s")


def start(cfg: Path, cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "pyfixmsg_plus.engine.cli.main", "run", "-c", str(cfg),
         "--log-level", "warning"],
        cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})


def test_executor_and_banzai_write_quickfix_logs(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    executor_dir, banzai_dir, cwd = tmp_path / "executor", tmp_path / "banzai", tmp_path / "cwd"
    for folder in (executor_dir, banzai_dir, cwd):
        folder.mkdir()
    (executor_dir / "executor.cfg").write_text(EXECUTOR.format(port=port))
    (banzai_dir / "banzai.cfg").write_text(BANZAI.format(port=port))
    executor = start(executor_dir / "executor.cfg", cwd)
    banzai = start(banzai_dir / "banzai.cfg", cwd)
    banzai_log = banzai_dir / "data" / "log" / "FIX.4.4-BANZAI-EXEC.messages.current.log"
    executor_log = executor_dir / "data" / "log" / "FIX.4.4-EXEC-BANZAI.messages.current.log"
    try:
        wait_for(banzai_log, "|35=A|")
        wait_for(executor_log, "|35=A|")
    finally:
        for process in (banzai, executor):
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    assert banzai.returncode == 0, banzai.stderr.read() if banzai.stderr else ""
    assert executor.returncode == 0, executor.stderr.read() if executor.stderr else ""
    for folder in (executor_dir, banzai_dir):
        assert (folder / "data" / "store" / "fixplus.db").is_file()
    assert os.listdir(cwd) == []
    lines = banzai_log.read_text().splitlines()
    assert lines[0].split()[1] == "OUT" and "|35=A|" in lines[0]  # the Logon sent first
    assert "554=***|" in lines[0]
    text = banzai_log.read_text() + executor_log.read_text()
    assert "banzai-secret" not in text
    assert "|35=5|" in text  # the logout on SIGTERM
    assert main(["log", str(executor_dir / "data" / "log"), "-d", "in", "-t", "A"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and "FIX.4.4-EXEC-BANZAI in" in out[0] and "554=***" in out[0]
