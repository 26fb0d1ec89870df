"""The docs are tested as written: every FIX message they show is valid for
its dictionary, the Python examples build valid messages, and the command
lines run (in a folder laid out as the docs assume: the repository beside
``../shared``)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pyfixmsg_plus.engine.codec import Framer, Garbled, Message, decode, encode, parse
from pyfixmsg_plus.engine.dictionary import SessionDictionaries, validate

from .test_dictionary_common import REPO_ROOT, spec, spec_dir

DOCS = REPO_ROOT / "docs"
WIRE = re.compile(r"8=FIXT?\.\d\.\d\|[^\s`'\"]*?\|10=\d{3}\|")
#: Pages whose messages are not FIX messages to validate, and why.
NOT_MESSAGES = {
    "script-test.md": "acceptance-script lines: placeholder times, deliberately garbled input",
}
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.DOTALL | re.MULTILINE)


def pages() -> list[Path]:
    return sorted(DOCS.glob("*.md"))


def blocks(page: Path, lang: str | None = None) -> list[str]:
    return [m.group(2) for m in FENCE.finditer(page.read_text())
            if lang is None or m.group(1) == lang]


def dictionary_for(msg: Message) -> Any:
    begin = msg.begin_string
    if begin == b"FIXT.1.1":
        return SessionDictionaries(spec("FIXT11.xml"), [spec("FIX50SP2.xml")])
    return spec(begin.decode().replace(".", "").replace("FIX", "FIX") + ".xml")


def complete(msg: Message, sender: str = "BANZAI", target: str = "EXEC") -> Message:
    """``msg`` with the header a session adds, through the wire and back."""
    for tag, value in ((49, sender), (56, target), (34, "2"), (52, "20260101-12:00:00.000")):
        if tag not in msg:
            msg.set(tag, value)
    return parse(encode(msg))


def test_every_fix_message_shown_is_valid() -> None:
    found = 0
    for page in pages():
        if page.name in NOT_MESSAGES:
            continue
        for text in WIRE.findall(page.read_text()):
            data = text.replace("|", "\x01").encode()
            frames = Framer().feed_and_drain(data)
            assert len(frames) == 1 and not isinstance(frames[0], Garbled), (page.name, text)
            msg = decode(frames[0])  # type: ignore[arg-type]
            reject = validate(msg, dictionary_for(msg))
            assert reject is None, (page.name, text, reject)
            found += 1
    assert found >= 1


class FakeSession:
    """What the documented handlers use of a session handle."""

    def __init__(self, **custom: str) -> None:
        self.sent: list[Message] = []
        self.settings = SimpleNamespace(custom=custom)
        self.session_id = "FIX.4.4:EXEC->BANZAI"
        self.default_appl_ver_id = None
        self.dictionaries = spec("FIX44.xml")

    async def send(self, msg: Message) -> int:
        self.sent.append(msg)
        return len(self.sent)


def order(ord_type: str = "2") -> Message:
    return complete(Message.new("FIX.4.4", "D", [
        (11, "A1"), (21, "1"), (55, "EUR/USD"), (54, "1"), (60, "20260101-12:00:00.000"),
        (38, "100"), (40, ord_type), (44, "1.085")]))


async def test_application_api_broker_example_answers_with_a_valid_report() -> None:
    code = next(b for b in blocks(DOCS / "application-api.md", "python")
                if "class Broker(Application)" in b)
    code = code[:code.index("\nengine = Engine")]
    scope: dict[str, Any] = {}
    exec(compile(code, "application-api.md", "exec"), scope)
    session = FakeSession()
    await scope["Broker"]().from_app(order(), session)
    (report,) = session.sent
    assert validate(complete(report, "EXEC", "BANZAI"), spec("FIX44.xml")) is None


async def test_quickfixj_executor_example_answers_with_a_valid_report(tmp_path: Path) -> None:
    code = next(b for b in blocks(DOCS / "quickfixj-api.md", "python")
                if b.startswith("# executor.py"))
    scope: dict[str, Any] = {}
    exec(compile(code, "executor.py", "exec"), scope)
    executor = scope["Executor"]()
    session = FakeSession(ValidOrderTypes="1,2,F")
    await executor.from_app(order(), session)
    (report,) = session.sent
    assert validate(complete(report, "EXEC", "BANZAI"), spec("FIX44.xml")) is None
    with pytest.raises(Exception, match="incorrect value for tag 40"):
        await executor.from_app(order("3"), session)


def test_quickfixj_typed_order_example_is_valid() -> None:
    code = next(b for b in blocks(DOCS / "quickfixj-api.md", "python")
                if "order = fix44.NewOrderSingle()" in b and not b.startswith("# "))
    scope: dict[str, Any] = {}
    exec(compile(code, "quickfixj-api.md", "exec"), scope)
    assert validate(complete(scope["order"]), spec("FIX44.xml")) is None


# -- command lines ---------------------------------------------------------------------

#: Commands the docs show that this test does not run, and why.
NOT_RUN = {
    "run": "runs until stopped: tests/integration/test_docs_executor.py runs the documented one",
    "demo": "minutes of work: `make demo`",
    "healthcheck": "needs a running engine's HTTP endpoint",
    "acceptance-server": "runs until stopped: tests/conformance starts it",
    "script-test": "needs an acceptor: tests/conformance runs it",
    "keys": "needs an encrypted store: tests/integration/test_keys_cli.py runs these commands",
}
SERVERS = ("postgresql://", "redis://", "mysql://", "mongodb://")


def commands() -> list[tuple[str, str]]:
    """(page, command line) of every shell line of the docs that calls fixplus."""
    found = []
    for page in pages():
        for block in blocks(page):
            for line in block.splitlines():
                words = line.split()
                if "fixplus" in words and (words[0] == "fixplus" or "|" in words):
                    found.append((page.name, line.strip()))
    return found


def _workdir(tmp_path: Path) -> Path:
    """``tmp/repo`` (the working directory) beside ``tmp/shared``."""
    (tmp_path / "shared").symlink_to(spec_dir().parent, target_is_directory=True)
    repo = tmp_path / "repo"
    (repo / "log").mkdir(parents=True)
    # the settings file docs/migrating-from-quickfix.md checks and converts
    (repo / "executor.cfg").write_text(
        "[DEFAULT]\nConnectionType=acceptor\nSocketAcceptPort=9880\nStartTime=00:00:00\n"
        "EndTime=00:00:00\nFileStorePath=store\nAllowedRemoteAddresses=127.0.0.1\n\n"
        "[SESSION]\nBeginString=FIX.4.4\nSenderCompID=EXEC\nTargetCompID=BANZAI\n"
        "HeartBtInt=30\n")
    (repo / "engine.yaml").write_text(
        "store: sqlite:///fix.db\nretention: {}\nsessions:\n  - role: acceptor\n"
        "    beginString: FIX.4.4\n    senderCompId: BANK\n    targetCompId: BROKER\n"
        "    acceptPort: 0\n    authentication: {mode: none}\n")
    script = ("import asyncio\n"
              "from pyfixmsg_plus.engine.store.url import open_store\n"
              "from pyfixmsg_plus.engine.store.base import SessionKey\n"
              "async def main():\n"
              "    store = await open_store('sqlite:///fix.db')\n"
              "    s = await store.open(SessionKey('FIX.4.4:BANK->BROKER'))\n"
              "    await s.save_outbound([(i, b'8=FIX.4.4\\x0135=D\\x0111=%d\\x01' % i)"
              " for i in range(1, 301)])\n"
              "    await store.close()\n"
              "asyncio.run(main())\n")
    subprocess.run([sys.executable, "-c", script], cwd=repo, check=True)
    logon = encode(Message([(8, b"FIX.4.4"), (35, b"A"), (34, b"1"), (49, b"BANZAI"),
                            (52, b"20261121-05:40:04.615"), (56, b"EXEC")],
                           [(98, b"0"), (108, b"30")]))
    (repo / "log" / "FIX.4.4-BANZAI-EXEC.messages.current.log").write_bytes(
        b"20261121-05:40:04.615 : " + logon * 2 + b"\n" * 1 + b"20261121-05:40:04.700 : " +
        logon + b"\n")
    return repo


def test_command_lines_of_the_docs_run(tmp_path: Path) -> None:
    repo = _workdir(tmp_path)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",
               CLIENT1_PASSWORD="a password")
    ran, skipped = [], []
    before = {p.name for p in repo.iterdir()}
    for page, line in commands():
        words = line.split()
        sub = words[words.index("fixplus") + 1]
        if sub in NOT_RUN or any(s in line for s in SERVERS):
            skipped.append(line)
            continue
        proc = subprocess.run(["bash", "-c", line], cwd=repo, env=env, capture_output=True,
                              text=True, timeout=120, check=False)
        assert proc.returncode == 0, f"{page}: {line}\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
        assert "Traceback" not in proc.stderr, f"{page}: {line}\n{proc.stderr}"
        ran.append(line)
    made = {p.name for p in repo.iterdir()} - before - {"fix.db-wal", "fix.db-shm",
                                                         "executor.yaml"}
    assert not made, f"the commands wrote {made} (a shell redirect in a session id?)"
    assert any("decode" in line for line in ran) and any("store" in line for line in ran)
    assert len(ran) >= 8, (ran, skipped)


def test_documented_command_lines_parse() -> None:
    """Even those not run: the options they give exist."""
    from pyfixmsg_plus.engine.cli.main import build_parser

    parser = build_parser()
    for page, line in commands():
        words = shlex.split(line, comments=True)
        if "|" in words:  # a pipeline: the fixplus part
            words = words[words.index("|") + 1:] if words[0] != "fixplus" else \
                words[:words.index("|")]
        args = words[words.index("fixplus") + 1:]
        if args[0] == "script-test":
            continue  # its options are the runner's (tests/unit/test_scripttest_*)
        try:
            parser.parse_args(args)
        except SystemExit as exc:
            pytest.fail(f"{page}: {line}: refused ({exc})")
