"""A hostile first message cannot forge or flood the engine's log lines."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

import pytest
from pyfixmsg_plus.engine.observability.logs import MAX_MESSAGE_CHARS, JsonFormatter, TextFormatter

from tests.integration.conftest import Engines, RecordingApp, acceptor, port_of
from tests.security.fuzz import envelope


@pytest.fixture
async def engines() -> AsyncIterator[Engines]:
    e = Engines()
    try:
        yield e
    finally:
        await e.stop_all()


async def test_a_huge_comp_id_with_line_breaks_stays_one_bounded_line(
        engines: Engines, caplog: pytest.LogCaptureFixture) -> None:
    # (a Logon this long only gets past the default maxLogonBytes when raised)
    broker = await engines.start("memory://", RecordingApp("broker", broker=True), [acceptor()],
                                 limits={"maxLogonBytes": 1 << 20})
    comp_id = b"EVIL\r\n2026-01-01 00:00:00 INFO pyfixmsg_plus: logged on\x1b[2J" + b"X" * 100_000
    logon = envelope(b"35=A\x0149=" + comp_id + b"\x0156=BROKER\x0134=1\x01"
                     b"52=20260101-00:00:00.000\x0198=0\x01108=30\x01")
    caplog.set_level(logging.INFO, logger="pyfixmsg_plus")
    reader, writer = await asyncio.open_connection("127.0.0.1", port_of(broker))
    writer.write(logon)
    await writer.drain()
    async with asyncio.timeout(5):
        assert await reader.read() == b""  # the acceptor closes the connection
    writer.close()
    records = [r for r in caplog.records if "EVIL" in r.getMessage()]
    assert records, [r.getMessage()[:100] for r in caplog.records]
    for record in records:
        for formatter in (TextFormatter("%(levelname)s %(name)s %(message)s"), JsonFormatter()):
            line = formatter.format(record)
            assert "\n" not in line and "\r" not in line and "\x1b" not in line
            assert len(line) < MAX_MESSAGE_CHARS + 200
        json.loads(JsonFormatter().format(record))
