from __future__ import annotations

import pytest
from pyfixmsg_plus.engine.cli import main

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


def test_event_loop_setting_picks_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio
    import builtins

    from pyfixmsg_plus.engine.cli import _loop_factory
    from pyfixmsg_plus.engine.errors import ConfigError

    assert _loop_factory("asyncio") is None
    import uvloop  # a dev dependency
    factory = _loop_factory("uvloop")
    assert factory is uvloop.new_event_loop
    loop = factory()
    try:
        assert isinstance(loop, asyncio.AbstractEventLoop) and "uvloop" in type(loop).__module__
    finally:
        loop.close()

    real_import = builtins.__import__

    def no_uvloop(name: str, *args: object, **kwargs: object) -> object:
        if name == "uvloop":
            raise ImportError("No module named 'uvloop'")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_uvloop)
    with pytest.raises(ConfigError, match=r"eventLoop: uvloop is not installed .*\[uvloop\]"):
        _loop_factory("uvloop")
