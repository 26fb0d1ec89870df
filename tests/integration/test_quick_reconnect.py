"""A quick reconnect inside one process: the counterparty closes its
connection and logs on again before the engine has acted on the close.  The
new Logon is served (the old connection is closed the ordinary way first);
a second connection while the first one's peer is alive is still refused."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ssl
import time
from pathlib import Path
from typing import Any

import pytest
from pyfixmsg_plus.engine.codec import Message, encode, format_utc_timestamp
from pyfixmsg_plus.engine.codec.values import TimePrecision
from pyfixmsg_plus.engine.runtime import Engine
from pyfixmsg_plus.engine.transport.driver import SessionDriver

from tests.integration.conftest import Engines, RecordingApp, acceptor, port_of, wait_until

pytestmark = pytest.mark.integration

SID = "FIX.4.4:BROKER->CLIENT"


def _message(msg_type: str, seq: int, fields: list[tuple[int, str]],
             sender: str = "CLIENT") -> bytes:
    msg = Message.new("FIX.4.4", msg_type, fields)
    msg.set(49, sender)
    msg.set(56, "BROKER")
    msg.set(34, str(seq))
    msg.set(52, format_utc_timestamp(time.time_ns(), TimePrecision.MILLIS))
    return encode(msg)


def logon(seq: int, sender: str = "CLIENT") -> bytes:
    return _message("A", seq, [(98, "0"), (108, "30")], sender)


class Peer:
    """A raw counterparty connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.received = b""

    @classmethod
    async def connect(cls, port: int, tls: ssl.SSLContext | None = None) -> Peer:
        return cls(*await asyncio.open_connection("127.0.0.1", port, ssl=tls))

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def expect(self, marker: bytes, timeout: float = 5.0) -> bytes:
        """Read until ``marker`` arrived; b"" if the acceptor closed first."""
        async with asyncio.timeout(timeout):
            while marker not in self.received:
                chunk = await self.reader.read(4096)
                if not chunk:
                    return b""
                self.received += chunk
        return self.received

    def close(self) -> None:
        self.writer.close()


def _self_signed(tmp_path: Path) -> tuple[dict[str, Any], ssl.SSLContext]:
    """The acceptor's TLS settings with a throwaway certificate, and a
    client context that trusts it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "server.pem", tmp_path / "server.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    client = ssl.create_default_context(cafile=str(cert_file))
    client.check_hostname = False
    return {"enabled": True, "certFile": str(cert_file), "keyFile": str(key_file)}, client


async def _engine(engines: Engines, tmp_path: Path, tls: dict[str, Any] | None = None
                  ) -> tuple[Engine, RecordingApp, int]:
    broker = RecordingApp("broker", broker=True)
    session = acceptor(tls=tls) if tls is not None else acceptor()
    acc = await engines.start(f"sqlite:///{tmp_path / 'acc.db'}", broker, [session])
    return acc, broker, port_of(acc)


def _engine_stops_reading(driver: SessionDriver) -> None:
    """The engine is busy elsewhere: what the peer sends (its FIN too) waits
    in the kernel, as when a Logon on a new connection is handled before
    the loop got to the old connection."""
    conn = driver._conn
    assert conn is not None
    conn.writer.transport.pause_reading()


@pytest.mark.parametrize("over", ["tcp", "tls"])
async def test_a_quick_reconnect_is_served(engines: Engines, tmp_path: Path, over: str) -> None:
    server_tls, client_tls = _self_signed(tmp_path) if over == "tls" else (None, None)
    acc, broker, port = await _engine(engines, tmp_path, server_tls)
    first = await Peer.connect(port, client_tls)
    await first.send(logon(1))
    assert b"35=A\x01" in await first.expect(b"35=A\x01")
    server = acc.driver(SID)
    await wait_until(lambda: broker.logons == 1, 5, "on_logon")

    _engine_stops_reading(server)
    first.close()  # the peer goes (over TLS: close_notify, and no waiting
    first.writer.transport.abort()  # for the answer), and at once ...
    second = await Peer.connect(port, client_tls)
    await second.send(logon(2))  # ... logs on again, continuing its numbers
    answer = await second.expect(b"35=A\x01")
    assert b"35=A\x01" in answer and b"\x0134=2\x01" in answer
    await wait_until(lambda: broker.logons == 2, 5, "the second on_logon")
    assert broker.logouts == 1  # the first connection ended the ordinary way
    assert server.logged_on
    assert (server.next_sender, server.next_target) == (3, 3)
    state = await server.store.load()
    assert (state.next_sender_seq, state.next_target_seq) == (3, 3)

    # the new connection carries the session on
    await second.send(order(3, "after-reconnect"))
    assert b"after-reconnect" in await second.expect(b"35=8\x01")
    assert [r.cl_ord_id for r in broker.received] == ["after-reconnect"]
    second.close()


async def test_a_dynamic_session_is_kept_across_a_quick_reconnect(engines: Engines) -> None:
    """The session of a template goes away with its last connection: not
    while the new connection takes over (``maxSessions`` 1 still admits it)."""
    broker = RecordingApp("broker", broker=True)
    acc = await engines.start("memory://", broker, [], dynamicSessions=[
        {"session": acceptor(target="DYN*"), "maxSessions": 1}])
    port = port_of(acc)
    first = await Peer.connect(port)
    await first.send(logon(1, "DYN1"))
    await first.expect(b"35=A\x01")
    await wait_until(lambda: broker.logons == 1, 5, "on_logon")
    server = acc.driver("FIX.4.4:BROKER->DYN1")

    _engine_stops_reading(server)
    first.close()
    second = await Peer.connect(port)
    await second.send(logon(2, "DYN1"))
    assert b"\x0134=2\x01" in await second.expect(b"35=A\x01")
    await wait_until(lambda: broker.logons == 2, 5, "the second on_logon")
    assert acc.driver("FIX.4.4:BROKER->DYN1") is server and server.logged_on
    assert list(acc.drivers) == ["FIX.4.4:BROKER->DYN1"]
    second.close()


def order(seq: int, cl_ord_id: str) -> bytes:
    return _message("D", seq, [(11, cl_ord_id), (21, "1"), (55, "X"), (54, "1"),
                               (60, "20240101-00:00:00"), (40, "1"), (38, "100")])


async def test_what_the_old_connection_did_not_read_is_asked_for_again(
        engines: Engines, tmp_path: Path) -> None:
    """An order that reached the old connection but was never read is not
    lost: its sequence number was not taken, the new Logon shows the gap."""
    acc, broker, port = await _engine(engines, tmp_path)
    first = await Peer.connect(port)
    await first.send(logon(1))
    await first.expect(b"35=A\x01")
    server = acc.driver(SID)
    await wait_until(lambda: broker.logons == 1, 5, "on_logon")

    _engine_stops_reading(server)
    await first.send(order(2, "unread"))
    first.close()
    second = await Peer.connect(port)
    await second.send(logon(3))
    answer = await second.expect(b"35=2\x01")
    assert b"35=A\x01" in answer
    assert b"\x017=2\x01" in answer  # ResendRequest from 2
    resent = Message.new("FIX.4.4", "D", [(11, "unread"), (21, "1"), (55, "X"), (54, "1"),
                                          (60, "20240101-00:00:00"), (40, "1"), (38, "100")])
    for tag, value in ((49, "CLIENT"), (56, "BROKER"), (34, "2"), (43, "Y"),
                       (52, format_utc_timestamp(time.time_ns(), TimePrecision.MILLIS)),
                       (122, format_utc_timestamp(time.time_ns(), TimePrecision.MILLIS))):
        resent.set(tag, value)
    await second.send(encode(resent))
    await wait_until(lambda: [r.cl_ord_id for r in broker.received] == ["unread"], 5,
                     "the order, resent")
    assert broker.received[0].poss_dup and server.logged_on
    await wait_until(lambda: server.next_target == 4, 5, "the gap filled")
    second.close()


async def test_a_live_second_connection_is_still_refused(engines: Engines,
                                                         tmp_path: Path) -> None:
    acc, broker, port = await _engine(engines, tmp_path)
    first = await Peer.connect(port)
    await first.send(logon(1))
    await first.expect(b"35=A\x01")
    server = acc.driver(SID)
    await wait_until(lambda: broker.logons == 1, 5, "on_logon")
    before = (server.next_sender, server.next_target)

    # even while the engine is not reading the first connection, a peer
    # that is alive keeps it: the newcomer is closed without an answer
    _engine_stops_reading(server)
    impostor = await Peer.connect(port)
    await impostor.send(logon(2))
    assert await impostor.expect(b"35=A\x01") == b""
    impostor.close()
    assert (server.next_sender, server.next_target) == before
    assert server.logged_on and broker.logons == 1 and broker.logouts == 0

    conn = server._conn
    assert conn is not None
    conn.writer.transport.resume_reading()
    await first.send(_message("5", 2, []))
    assert b"35=5\x01" in await first.expect(b"35=5\x01")
    with contextlib.suppress(ConnectionError):
        first.close()
