"""Message and event logs written by running engines over real sockets."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyfixmsg_plus.engine.observability.logformat import entry_from_line, wire_bytes

from tests.integration.conftest import (
    Engines,
    FastBackoff,
    RecordingApp,
    acceptor,
    initiator,
    new_order,
    port_of,
    wait_until,
)

pytestmark = pytest.mark.integration

CLIENT = "FIX.4.4:CLIENT->BROKER"


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="ascii").splitlines() if path.exists() else []


async def test_both_sides_log_every_message_with_the_password_masked(
        engines: Engines, tmp_path: Path) -> None:
    broker = RecordingApp("broker", broker=True)
    acc = await engines.start(
        "memory://", broker,
        [acceptor(authentication={"username": "client1", "password": "s3cret-pw"})],
        messageLog={"path": str(tmp_path / "broker")})
    client = RecordingApp("client")
    ini = await engines.start(
        "memory://", client,
        [initiator(port_of(acc), username="client1", password="s3cret-pw")],
        messageLog={"path": str(tmp_path / "client"), "format": "json"})
    await ini.wait_logged_on(CLIENT, 5)
    await ini.driver(CLIENT).send(new_order("ord-1"))
    await wait_until(lambda: client.ids("8") == ["ord-1"], 5, "the report")
    await engines.stop(ini)
    await engines.stop(acc)

    broker_messages = tmp_path / "broker" / "FIX.4.4-BROKER-CLIENT.messages.current.log"
    broker_events = tmp_path / "broker" / "FIX.4.4-BROKER-CLIENT.event.current.log"
    client_messages = tmp_path / "client" / "FIX.4.4-CLIENT-BROKER.messages.current.log"
    entries = [entry_from_line(line, "b", "messages") for line in lines(broker_messages)]
    assert all(e is not None for e in entries)
    flow = [(e.direction, e.msg_type) for e in entries if e is not None]
    assert flow[:2] == [("in", "A"), ("out", "A")]
    assert ("in", "D") in flow and ("out", "8") in flow
    assert flow[-2:] == [("in", "5"), ("out", "5")]
    text = broker_messages.read_text() + client_messages.read_text()
    assert "s3cret-pw" not in text
    assert "554=***" in text
    client_entries = [entry_from_line(line, "c", "messages") for line in lines(client_messages)]
    assert [(e.direction, e.msg_type) for e in client_entries if e][:2] == [
        ("out", "A"), ("in", "A")]
    assert all(e is not None and e.session == CLIENT for e in client_entries)
    events = lines(broker_events)
    assert any(line.endswith(" logged on") for line in events)
    assert any("logged out" in line for line in events)
    # The logged form turns back into a valid message.
    report = next(e for e in entries if e and e.msg_type == "8")
    assert wire_bytes(report.text).startswith(b"8=FIX.4.4\x019=")


async def test_a_refused_logon_leaves_no_message_text(engines: Engines, tmp_path: Path) -> None:
    broker = RecordingApp("broker", broker=True)
    acc = await engines.start(
        "memory://", broker,
        [acceptor(authentication={"username": "client1", "password": "right"})],
        messageLog={"path": str(tmp_path)})
    client = RecordingApp("client")
    backoff = FastBackoff()
    await engines.start("memory://", client,
                        [initiator(port_of(acc), username="client1", password="wrong")],
                        backoff=backoff)
    await wait_until(lambda: backoff.calls >= 2, 5, "two refused connections")
    await engines.stop_all()
    assert lines(tmp_path / "FIX.4.4-BROKER-CLIENT.messages.current.log") == []


async def test_heartbeats_left_out_when_asked(engines: Engines, tmp_path: Path) -> None:
    broker = RecordingApp("broker", broker=True)
    acc = await engines.start("memory://", broker, [acceptor()],
                              messageLog={"path": str(tmp_path), "heartbeats": False})
    client = RecordingApp("client")
    ini = await engines.start("memory://", client,
                              [initiator(port_of(acc), heartbeatInterval=1)],
                              messageLog={"path": str(tmp_path / "client")})
    await ini.wait_logged_on(CLIENT, 5)
    await ini.driver(CLIENT).send(new_order("ord-2"))
    await wait_until(lambda: client.ids("8") == ["ord-2"], 5, "the report")
    await wait_until(lambda: b"0" in [m.msg_type for m in broker.admin_in]
                     and b"0" in [m.msg_type for m in client.admin_in], 5, "heartbeats")
    await engines.stop_all()
    text = (tmp_path / "FIX.4.4-BROKER-CLIENT.messages.current.log").read_text()
    assert "|35=0|" not in text
    assert "|35=D|" in text
    # The client logs heartbeats (the default).
    assert "|35=0|" in (tmp_path / "client" / "FIX.4.4-CLIENT-BROKER.messages.current.log"
                        ).read_text()
