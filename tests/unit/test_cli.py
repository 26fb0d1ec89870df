from __future__ import annotations

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
