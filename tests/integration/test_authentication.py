"""Acceptors authenticate Logons before any session state changes
(engines in one process; the attack suite in tests/security runs the same
against a `fixplus run` process)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from pyfixmsg_plus.engine.codec import Message, encode, format_utc_timestamp
from pyfixmsg_plus.engine.codec.values import TimePrecision
from pyfixmsg_plus.engine.transport.auth import hash_password
from pyfixmsg_plus.engine.transport.guard import refusal_totals

from tests.integration.conftest import (
    Engines,
    RecordingApp,
    acceptor,
    initiator,
    new_order,
    port_of,
    wait_until,
)

pytestmark = pytest.mark.integration

SERVER = "FIX.4.4:BROKER->CLIENT"
CLIENT = "FIX.4.4:CLIENT->BROKER"
PASSWORD = "correct-horse"


def secured(**extra: Any) -> dict[str, Any]:
    return acceptor(authentication={"username": "client",
                                    "passwordHash": hash_password(PASSWORD, log2_n=10)},
                    **extra)


def logon_bytes(sender: str = "CLIENT", target: str = "BROKER", seq: int = 1,
                body: list[tuple[int, str]] | None = None, msg_type: str = "A") -> bytes:
    msg = Message.new("FIX.4.4", msg_type, [(98, "0"), (108, "30"), *(body or [])])
    msg.set(49, sender)
    msg.set(56, target)
    msg.set(34, str(seq))
    msg.set(52, format_utc_timestamp(time.time_ns(), TimePrecision.MILLIS))
    return encode(msg)


async def exchange(port: int, data: bytes, timeout: float = 2.0) -> bytes:
    """Write ``data`` on a new connection; everything read until it closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        received = b""
        with contextlib.suppress(TimeoutError, ConnectionError):
            async with asyncio.timeout(timeout):
                while chunk := await reader.read(4096):
                    received += chunk
        return received
    finally:
        writer.close()


async def test_right_credentials_log_on_and_wrong_ones_change_nothing(
        engines: Engines, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = tmp_path / "broker.db"
    broker = RecordingApp("broker", broker=True)
    acc = await engines.start(f"sqlite:///{store}", broker, [secured()])
    port = port_of(acc)
    client = RecordingApp("client")
    client_store = f"sqlite:///{tmp_path / 'client.db'}"
    ini = await engines.start(client_store, client, [initiator(
        port, username="client", password=PASSWORD)])
    await ini.wait_logged_on(CLIENT, 5)
    await ini.driver(CLIENT).send(new_order("first"))
    await wait_until(lambda: client.ids("8") == ["first"], 5, "the report")
    await engines.stop(ini)
    server = acc.driver(SERVER)
    await wait_until(lambda: not server.connected, 5, "the logout")
    before = (server.next_sender, server.next_target, hashlib.sha256(store.read_bytes()).digest())
    _, refused_before = refusal_totals()
    with caplog.at_level(logging.WARNING, logger="pyfixmsg_plus.transport"):
        for body in ([(553, "client"), (554, "wrong-password"), (141, "Y")],
                     [(141, "Y")],
                     [(553, "intruder"), (554, PASSWORD), (141, "Y")]):
            assert await exchange(port, logon_bytes(body=body)
                                  + logon_bytes(msg_type="2", seq=2,
                                                body=[(7, "1"), (16, "0")])) == b""
    after = (server.next_sender, server.next_target, hashlib.sha256(store.read_bytes()).digest())
    assert after == before
    _, refused_after = refusal_totals()
    assert refused_after.get("credentials", 0) == refused_before.get("credentials", 0) + 3
    text = caplog.text
    assert "Logon refused for FIX.4.4:BROKER->CLIENT" in text and "127.0.0.1" in text
    assert "wrong-password" not in text and PASSWORD not in text
    # The right credentials still work afterwards, and the numbering goes on.
    again = await engines.start(client_store, client, [initiator(
        port, username="client", password=PASSWORD)])
    await again.wait_logged_on(CLIENT, 5)
    await wait_until(lambda: server.logged_on and server.next_target > before[1], 5,
                     "the acceptor to take the Logon")


async def test_first_message_must_be_a_logon(engines: Engines) -> None:
    acc = await engines.start("memory://", RecordingApp("broker", broker=True), [secured()],
                              dynamicSessions=[{"session": acceptor(
                                  target="*", authentication={"mode": "none"})}])
    port = port_of(acc)
    assert await exchange(port, logon_bytes(sender="DYN", msg_type="0")) == b""
    assert sorted(acc.drivers) == [SERVER]


@pytest.mark.parametrize("sender", ["X" * 65, "A B", "A\r\nB", "-lead", "A:B", "A*"])
async def test_dynamic_sessions_need_plain_ids(engines: Engines, sender: str) -> None:
    acc = await engines.start("memory://", RecordingApp("broker", broker=True), [],
                              dynamicSessions=[{"session": acceptor(
                                  target="*", authentication={"mode": "none"})}])
    assert await exchange(port_of(acc), logon_bytes(sender=sender)) == b""
    assert acc.drivers == {}


async def test_unauthenticated_dynamic_logon_creates_no_session(engines: Engines) -> None:
    acc = await engines.start("memory://", RecordingApp("broker", broker=True), [],
                              dynamicSessions=[{"session": acceptor(
                                  target="DYN*", authentication={"password": "pw"})}])
    port = port_of(acc)
    assert await exchange(port, logon_bytes(sender="DYN1", body=[(554, "no")])) == b""
    assert acc.drivers == {}
    answer = await exchange(port, logon_bytes(sender="DYN1", body=[(554, "pw")]), 1.0)
    assert b"\x0135=A\x01" in answer


async def test_source_address_allow_list(engines: Engines) -> None:
    acc = await engines.start("memory://", RecordingApp("broker", broker=True), [
        acceptor(target="LOCAL", authentication={"allowedAddresses": ["127.0.0.1/32"]}),
        acceptor(target="REMOTE", authentication={"allowedAddresses": ["192.0.2.0/24"]})])
    port = port_of(acc)
    assert b"\x0135=A\x01" in await exchange(port, logon_bytes(sender="LOCAL"), 1.0)
    assert await exchange(port, logon_bytes(sender="REMOTE")) == b""


async def test_bytes_before_a_logon_are_bounded(engines: Engines) -> None:
    acc = await engines.start("memory://", RecordingApp("broker", broker=True), [secured()],
                              limits={"maxLogonBytes": 4096})
    port = port_of(acc)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        closed = False
        with contextlib.suppress(ConnectionError):
            for _ in range(64):  # 64 KiB of junk at most
                writer.write(b"x" * 1024)
                await writer.drain()
        try:
            async with asyncio.timeout(2):
                closed = await reader.read(1) == b""
        except ConnectionError:
            closed = True
        assert closed
    finally:
        writer.close()


async def test_heartbeat_interval_outside_the_range_gets_a_logout(engines: Engines) -> None:
    acc = await engines.start("memory://", RecordingApp("broker", broker=True),
                              [acceptor(authentication={"mode": "none"})])
    msg = Message.new("FIX.4.4", "A", [(98, "0"), (108, "0")])
    for tag, value in ((49, "CLIENT"), (56, "BROKER"), (34, "1"),
                       (52, format_utc_timestamp(time.time_ns(), TimePrecision.MILLIS))):
        msg.set(tag, value)
    answer = await exchange(port_of(acc), encode(msg))
    assert b"\x0135=5\x01" in answer
    assert b"HeartBtInt(108) must be between 1 and 300 seconds" in answer
