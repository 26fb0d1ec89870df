from __future__ import annotations

import io
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from pyfixmsg_plus.engine.cli.main import main

LOGON = "8=FIX.4.4|9=67|35=A|34=1|49=CLIENT|52=20261121-05:40:04.615|56=BROKER|98=0|108=30|10=127|"


def test_decode_prints_fields(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", LOGON]) == 0
    out = capsys.readouterr().out
    assert "header      35 = A" in out
    assert "body       108 = 30" in out
    assert "trailer     10 = 127" in out


def test_decode_reports_garbled(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", LOGON.replace("10=127", "10=128")]) == 1
    assert "CheckSum(10) is wrong" in capsys.readouterr().out


def _log(tmp_path: Path) -> Path:
    """A QuickFIX message log: timestamped lines, two messages on one line
    (the second with a wrong CheckSum), SOH separators, an event line."""
    soh = LOGON.replace("|", "\x01")
    bad = soh.replace("10=127", "10=128")
    path = tmp_path / "FIX.4.4-CLIENT-BROKER.messages.current.log"
    path.write_bytes(
        f"20261121-05:40:04.615 : {soh}{bad}\n"
        "20261121-05:40:04.700 : Created session\n"
        f"20261121-05:40:05.000 : {soh}\n".encode())
    return path


def test_decode_reads_a_quickfix_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", str(_log(tmp_path))]) == 1  # one garbled message
    out = capsys.readouterr().out
    assert out.count("# 20261121-05:40:04.615") == 2
    assert "# 20261121-05:40:05.000" in out
    assert out.count("header      35 = A") == 2
    assert "garbled: CheckSum(10) is wrong" in out


def test_decode_lenient_decodes_bad_checksums(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", "--lenient", str(_log(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert out.count("header      35 = A") == 3
    assert "lenient: CheckSum(10) is wrong (computed 127)" in out


def test_decode_names_fields_and_values(capsys: pytest.CaptureFixture[str]) -> None:
    from .test_dictionary_common import spec_dir

    assert main(["decode", "--spec-dir", str(spec_dir()), LOGON]) == 0
    out = capsys.readouterr().out
    assert re.search(r"header +35 MsgType +=  ?A \(LOGON\)", out), out
    assert re.search(r"body +98 EncryptMethod +=  ?0 \(NONE\)", out), out
    assert main(["decode", "--dict", str(spec_dir() / "FIX44.xml"), LOGON]) == 0
    assert "HeartBtInt" in capsys.readouterr().out


def test_decode_from_stdin_and_a_missing_file(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(LOGON.encode())))
    assert main(["decode"]) == 0
    assert "body       108 = 30" in capsys.readouterr().out
    assert main(["decode", "no-such.log"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_decode_under_head_has_no_traceback(tmp_path: Path) -> None:
    big = tmp_path / "big.log"
    big.write_bytes(_log(tmp_path).read_bytes() * 3000)
    script = "import sys; from pyfixmsg_plus.engine.cli.main import main; sys.exit(main(sys.argv[1:]))"
    head = subprocess.run(
        f"{shlex.quote(sys.executable)} -c {shlex.quote(script)} decode {shlex.quote(str(big))}"
        " | head -3", shell=True, capture_output=True, text=True, check=False)
    assert len(head.stdout.splitlines()) == 3
    assert "Traceback" not in head.stderr and "BrokenPipe" not in head.stderr, head.stderr


def test_app_is_imported_from_the_working_directory(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from pyfixmsg_plus.engine.application import Application
    from pyfixmsg_plus.engine.cli.main import _load_app
    from pyfixmsg_plus.engine.config import SessionSettings
    from pyfixmsg_plus.engine.errors import ConfigError

    (tmp_path / "typedapp_here.py").write_text(
        "from pyfixmsg_plus.engine.application import Application\n"
        "class Plain(Application):\n    pass\n"
        "class PerSession(Application):\n"
        "    def __init__(self, settings):\n        self.settings = settings\n"
        "def factory(settings):\n    return PerSession(settings)\n"
        "def broken(settings):\n    return 42\n"
        "shared = Plain()\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.path", [p for p in sys.path if p not in ("", str(tmp_path))])
    settings = SessionSettings.model_validate({
        "role": "acceptor", "beginString": "FIX.4.4", "senderCompId": "A",
        "targetCompId": "B", "acceptPort": 1, "authentication": {"mode": "none"}})
    plain = _load_app("typedapp_here:Plain")
    assert isinstance(plain, Application)
    assert _load_app("typedapp_here:shared") is _load_app("typedapp_here:shared")
    for name in ("factory", "PerSession"):
        made = _load_app(f"typedapp_here:{name}")
        assert not isinstance(made, Application)
        app = made(settings)
        assert isinstance(app, Application) and app.settings is settings  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="not an Application"):
        made = _load_app("typedapp_here:broken")
        assert not isinstance(made, Application)
        made(settings)
    with pytest.raises(ConfigError, match="module:Name"):
        _load_app("typedapp_here")
