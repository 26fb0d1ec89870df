"""``Connection.peer_gone``: whether the peer of an attached connection has
already closed its side, found without taking a byte from the session's
stream (real TCP sockets on the loopback interface)."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from pyfixmsg_plus.engine.config import SessionSettings
from pyfixmsg_plus.engine.session import Session
from pyfixmsg_plus.engine.transport.connection import Connection
from pyfixmsg_plus.engine.transport.delivery import Deliverer, Deliveries


@dataclass
class Pair:
    conn: Connection
    server_reader: asyncio.StreamReader
    client: socket.socket


async def _nothing() -> None:
    return None


@pytest.fixture
async def pair() -> AsyncIterator[Pair]:
    accepted: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
        asyncio.get_running_loop().create_future())

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set_result((reader, writer))

    server = await asyncio.start_server(on_client, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    reader, writer = await asyncio.wait_for(accepted, 5)
    settings = SessionSettings(role="acceptor", begin_string="FIX.4.4", sender_comp_id="S",
                               target_comp_id="T", accept_port=1)
    deliveries = Deliveries(settings.max_pending_deliveries)
    conn = Connection(
        reader, writer, Session(settings), clock=lambda: 0, pump=_nothing,
        deliveries=deliveries,
        deliverer=Deliverer("test", lambda kind, payload: _nothing(), _nothing,
                            from_app=lambda msg, handle: _nothing(), handle=None,
                            rejected=lambda msg, exc: None, handled=lambda msg: None),
        resume=asyncio.Event(), max_message_size=1 << 16,
        span_attributes=lambda msg, seq: {}, tracer=None)
    try:
        yield Pair(conn, reader, client)
    finally:
        conn.close()
        client.close()
        server.close()
        await server.wait_closed()


async def _settle() -> None:
    """Let the kernel and the loop move the bytes just sent."""
    for _ in range(5):
        await asyncio.sleep(0.01)


async def test_a_live_idle_peer_is_not_gone(pair: Pair) -> None:
    await _settle()
    assert not pair.conn.peer_gone()


async def test_unread_bytes_prove_nothing_and_stay_for_the_reader(pair: Pair) -> None:
    pair.conn.writer.transport.pause_reading()  # the engine is busy elsewhere
    pair.client.sendall(b"8=FIX.4.4\x01")
    await _settle()
    assert not pair.conn.peer_gone()
    pair.conn.writer.transport.resume_reading()
    assert await asyncio.wait_for(pair.server_reader.readexactly(10), 5) == b"8=FIX.4.4\x01"


async def test_a_fin_the_engine_has_not_read_yet(pair: Pair) -> None:
    pair.conn.writer.transport.pause_reading()
    pair.client.close()  # the peer closes; the engine has not noticed
    await _settle()
    assert not pair.server_reader.at_eof()
    assert pair.conn.peer_gone()


async def test_a_fin_behind_bytes_not_yet_handled(pair: Pair) -> None:
    pair.client.sendall(b"8=FIX.4.4\x01")
    pair.client.close()
    await _settle()
    # the stream reader holds the bytes and the end of stream: not at_eof
    assert not pair.server_reader.at_eof()
    assert pair.conn.peer_gone()


@pytest.mark.skipif(not hasattr(socket, "TCP_INFO"), reason="the TCP state is read on Linux")
async def test_a_fin_behind_bytes_the_engine_has_not_read(pair: Pair) -> None:
    """The TCP state tells (TLS has its close_notify there)."""
    pair.conn.writer.transport.pause_reading()
    pair.client.sendall(b"8=FIX.4.4\x01")
    pair.client.close()
    await _settle()
    assert pair.conn.peer_gone()
    # nothing was taken: the bytes are still there for the reader
    pair.conn.writer.transport.resume_reading()
    assert await asyncio.wait_for(pair.server_reader.read(), 5) == b"8=FIX.4.4\x01"


async def test_end_of_stream_already_read(pair: Pair) -> None:
    pair.client.close()
    assert await asyncio.wait_for(pair.server_reader.read(10), 5) == b""
    assert pair.conn.peer_gone()


async def test_a_reset_peer_is_gone(pair: Pair) -> None:
    pair.conn.writer.transport.pause_reading()
    pair.client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    pair.client.close()  # RST
    await _settle()
    assert pair.conn.peer_gone()


async def test_a_closed_connection_is_gone(pair: Pair) -> None:
    pair.conn.close()
    assert pair.conn.peer_gone()


async def test_without_the_tcp_state_a_peek_finds_the_fin(pair: Pair,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(socket, "TCP_INFO", raising=False)
    pair.conn.writer.transport.pause_reading()
    assert not pair.conn.peer_gone()
    pair.client.close()
    await _settle()
    assert pair.conn.peer_gone()
