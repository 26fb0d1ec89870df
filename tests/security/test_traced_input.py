"""With tracing on, a hostile application message is answered, not fatal.

The receive span reads MsgType and MsgSeqNum before the session validated
them: a MsgSeqNum that is not a number or a MsgType that is not UTF-8 must
give the usual Reject, not an exception that drops the connection.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pyfixmsg_plus.engine.codec import Framer, decode
from pyfixmsg_plus.engine.codec.values import TimePrecision, format_utc_timestamp
from pyfixmsg_plus.engine.config import TracingSettings
from pyfixmsg_plus.engine.observability.tracing import build_tracer

from tests.integration.conftest import Engines, RecordingApp, acceptor, port_of
from tests.security.fuzz import envelope


@pytest.fixture
async def engines() -> AsyncIterator[Engines]:
    e = Engines()
    try:
        yield e
    finally:
        await e.stop_all()


def _msg(msg_type: bytes, seq: bytes, body: bytes = b"") -> bytes:
    now = format_utc_timestamp(time.time_ns(), TimePrecision.MILLIS)
    return envelope(b"35=" + msg_type + b"\x0149=CLIENT\x0156=BROKER\x0134=" + seq
                    + b"\x0152=" + now + b"\x01" + body)


async def _read_until(reader: asyncio.StreamReader, framer: Framer, msg_type: bytes) -> bytes:
    async with asyncio.timeout(5):
        while True:
            data = await reader.read(65536)
            assert data, "the engine closed the connection"
            for frame in framer.feed_and_drain(data):
                assert isinstance(frame, bytes)
                if decode(frame).msg_type == msg_type:
                    return frame


async def test_bad_seq_num_and_msg_type_under_tracing(engines: Engines) -> None:
    app = RecordingApp("broker", broker=True)
    traced = build_tracer(TracingSettings(enabled=True), InMemorySpanExporter())
    assert traced is not None
    broker = await engines.start("memory://", app, [acceptor()])
    broker._tracer, broker.tracer_provider = traced
    for driver in broker.drivers.values():
        driver.tracer = traced[0]
    reader, writer = await asyncio.open_connection("127.0.0.1", port_of(broker))
    framer = Framer()
    writer.write(_msg(b"A", b"1", b"98=0\x01108=30\x01"))
    await _read_until(reader, framer, b"A")
    writer.write(_msg(b"D", b"abc", b"11=o1\x0155=X\x01"))
    reject = decode(await _read_until(reader, framer, b"3"))
    assert (reject.get(373), reject.get(371)) == (b"6", b"34")
    writer.write(_msg(b"\xff\xfe", b"2", b"11=o2\x01"))
    writer.write(_msg(b"0", b"3"))
    writer.write(_msg(b"1", b"4", b"112=ping\x01"))
    heartbeat = decode(await _read_until(reader, framer, b"0"))
    assert heartbeat.get(112) == b"ping"  # still connected and in sequence
    writer.close()
