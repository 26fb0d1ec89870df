"""Operational events in the log: failures at WARNING with a reason, each
event once."""

from __future__ import annotations

import logging
import socket
import ssl

import pytest
from pyfixmsg_plus.engine.application import LoggingApplication
from pyfixmsg_plus.engine.transport.initiator import error_reason
from pyfixmsg_plus.engine.transport.levels import operational_level

from tests.integration.conftest import Engines, acceptor, initiator, port_of, wait_until

pytestmark = pytest.mark.integration
CLIENT = "FIX.4.4:CLIENT->BROKER"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_connect_failure_is_a_warning(engines: Engines,
                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    port = _closed_port()
    await engines.start("memory://", LoggingApplication(), [initiator(port)])
    await wait_until(lambda: any("cannot connect" in r.getMessage() for r in caplog.records),
                     5, "a connect failure")
    failure = next(r for r in caplog.records if "cannot connect" in r.getMessage())
    assert failure.levelno == logging.WARNING
    assert failure.getMessage().rstrip().split(": ")[-1]  # a reason, never empty


async def test_logged_on_is_logged_once(engines: Engines,
                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    acc = await engines.start("memory://", LoggingApplication(), [acceptor()])
    ini = await engines.start("memory://", LoggingApplication(), [initiator(port_of(acc))])
    await ini.wait_logged_on(CLIENT, 5)
    await wait_until(lambda: sum("logged on" in r.getMessage() for r in caplog.records) >= 2,
                     5, "both logons")
    for sid in (CLIENT, "FIX.4.4:BROKER->CLIENT"):
        lines = [r for r in caplog.records if r.getMessage() == f"{sid}: logged on"]
        assert len(lines) == 1, [r.getMessage() for r in caplog.records]


def test_failure_reasons_are_warnings() -> None:
    assert operational_level(
        "MsgSeqNum too low, expecting 10 but received 3") == logging.WARNING
    assert operational_level(
        "logout: MsgSeqNum too low, expecting 10 but received 3") == logging.WARNING
    assert operational_level("Timed out waiting for heartbeat") == logging.WARNING
    assert operational_level("logout") == logging.INFO
    assert operational_level("outside the session schedule") == logging.INFO


def test_error_reasons_are_never_empty() -> None:
    assert error_reason(TimeoutError()) == "TimeoutError"
    assert error_reason(ConnectionRefusedError(111, "Connection refused")) == \
        "[Errno 111] Connection refused"
    verify = ssl.SSLCertVerificationError(1, "certificate verify failed")
    verify.verify_message = "self-signed certificate"
    assert error_reason(verify) == "certificate verify failed: self-signed certificate"
    eof = ssl.SSLEOFError()
    assert error_reason(eof) == "SSLEOFError"
