"""The executor of docs/quickfixj-api.md, run as the page says: its
``executor.py`` and ``executor.cfg`` written out as shown (only the port
changed), ``fixplus run -c executor.cfg --app executor:Executor`` in that
folder, and a client engine that validates with FIX44.xml sending orders."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pyfixmsg_plus.engine.application import Application, SessionHandle
from pyfixmsg_plus.engine.codec import Message

from tests.integration.conftest import Engines, initiator, wait_until
from tests.unit.test_dictionary_common import spec_dir
from tests.unit.test_docs import DOCS, blocks

pytestmark = pytest.mark.integration


class Banzai(Application):
    def __init__(self) -> None:
        self.received: list[Message] = []
        self.rejects: list[Message] = []

    async def from_app(self, msg: Message, session: SessionHandle) -> None:
        self.received.append(msg)

    async def from_admin(self, msg: Message, session: SessionHandle) -> None:
        if msg.msg_type == b"3":
            self.rejects.append(msg)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _wait_port(port: int, proc: subprocess.Popen[str]) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            raise AssertionError(f"fixplus run exited: {proc.stdout.read() if proc.stdout else ''}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise AssertionError("fixplus run never listened")


async def test_the_documented_executor_runs(tmp_path: Path, engines: Engines) -> None:
    (tmp_path / "shared").symlink_to(spec_dir().parent, target_is_directory=True)
    repo = tmp_path / "repo"
    repo.mkdir()
    code = next(b for b in blocks(DOCS / "quickfixj-api.md", "python")
                if b.startswith("# executor.py"))
    cfg = next(b for b in blocks(DOCS / "quickfixj-api.md", "ini")
               if b.startswith("# executor.cfg"))
    port = _free_port()
    (repo / "executor.py").write_text(code)
    (repo / "executor.cfg").write_text(cfg.replace("SocketAcceptPort=9880",
                                                   f"SocketAcceptPort={port}"))
    command = next(line for b in blocks(DOCS / "quickfixj-api.md", "")
                   for line in b.splitlines() if line.startswith("fixplus run"))
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    proc = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=repo, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        await _wait_port(port, proc)
        app = Banzai()
        client: dict[str, Any] = initiator(
            port, sender="BANZAI", target="EXEC",
            validation={"dataDictionary": str(spec_dir() / "FIX44.xml")})
        ini = await engines.start("memory://", app, [client])
        sid = "FIX.4.4:BANZAI->EXEC"
        await ini.wait_logged_on(sid, 10)
        for n, ord_type in enumerate(("2", "1", "3")):
            await ini.driver(sid).send(Message.new("FIX.4.4", "D", [
                (11, f"A{n}"), (21, "1"), (55, "EUR/USD"), (54, "1"),
                (60, "20260101-12:00:00.000"), (38, "100"), (40, ord_type), (44, "1.085")]))
        await wait_until(lambda: len(app.received) >= 2 and len(app.rejects) >= 1, 10,
                         "two reports and a reject")
        assert [m.get(11) for m in app.received] == [b"A0", b"A1"]
        assert all(m.msg_type == b"8" and m.get(39) == b"2" for m in app.received)
        (reject,) = app.rejects  # OrdType 3 is not in ValidOrderTypes=1,2,F
        assert reject.get(371) == b"40"
        await engines.stop(ini)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    assert "Traceback" not in out, out
    assert out.count("FIX.4.4:EXEC->BANZAI: logged on") == 1, out


def _written(repo: Path, name: str, lang: str, port: int) -> None:
    text = next(b for b in blocks(DOCS / "quickfixj-api.md", lang) if b.startswith(f"# {name}"))
    for key in ("SocketAcceptPort", "SocketConnectPort"):
        text = text.replace(f"{key}=9880", f"{key}={port}")
    (repo / name).write_text(text)


async def test_the_documented_executor_and_banzai_run_against_each_other(
        tmp_path: Path) -> None:
    (tmp_path / "shared").symlink_to(spec_dir().parent, target_is_directory=True)
    repo = tmp_path / "repo"
    repo.mkdir()
    port = _free_port()
    for name, lang in (("executor.py", "python"), ("executor.cfg", "ini"),
                       ("banzai.py", "python"), ("banzai.cfg", "ini")):
        _written(repo, name, lang, port)
    runs = [line for b in blocks(DOCS / "quickfixj-api.md", "") for line in b.splitlines()
            if line.startswith("fixplus run")]
    assert len(runs) == 2
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    procs = []
    try:
        for command in runs:
            procs.append(subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=repo,
                                          env=env, stdout=subprocess.PIPE,
                                          stderr=subprocess.STDOUT, text=True))
            if len(procs) == 1:
                await _wait_port(port, procs[0])
        banzai = procs[1]
        assert banzai.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(_line_with, banzai, "ORD-1"), 30)
        assert line.strip() == "ORD-1: OrdStatus 2, 100 at 1.0850"
    finally:
        outs = []
        for proc in reversed(procs):
            proc.send_signal(signal.SIGTERM)
            outs.append(proc.communicate(timeout=20)[0])
    for out in outs:
        assert "Traceback" not in out and " ERROR " not in out, out


def _line_with(proc: subprocess.Popen[str], text: str) -> str:
    assert proc.stdout is not None
    for line in proc.stdout:
        if text in line:
            return line
    raise AssertionError(f"fixplus run ended without printing {text!r}")
