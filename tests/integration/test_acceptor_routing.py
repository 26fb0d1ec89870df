"""The acceptor: many sessions on one port, routed by the Logon's CompIDs;
unknown counterparties and second connections refused; dynamic sessions.
Also initiator failover between endpoints."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from pathlib import Path

import pytest
from pyfixmsg_plus.engine.codec import Message, encode, format_utc_timestamp
from pyfixmsg_plus.engine.codec.values import TimePrecision
from pyfixmsg_plus.engine.config import SessionSettings

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


def logon_bytes(sender: str, target: str, seq: int = 1) -> bytes:
    msg = Message.new("FIX.4.4", "A", [(98, "0"), (108, "30")])
    msg.set(49, sender)
    msg.set(56, target)
    msg.set(34, str(seq))
    msg.set(52, format_utc_timestamp(time.time_ns(), TimePrecision.MILLIS))
    return encode(msg)


async def raw_logon(port: int, sender: str, target: str, seq: int = 1,
                    timeout: float = 3.0) -> bytes:
    """Send a Logon on a fresh socket; return everything read until the
    acceptor closes the connection or ``timeout`` passes (b"": closed
    without an answer)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(logon_bytes(sender, target, seq))
        await writer.drain()
        received = b""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while chunk := await reader.read(4096):
                    received += chunk
        return received
    finally:
        writer.close()


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


class Apps:
    """One RecordingApp per session (an Engine app factory)."""

    def __init__(self, *, broker: bool) -> None:
        self.broker = broker
        self.by_session: dict[str, RecordingApp] = {}

    def __call__(self, settings: SessionSettings) -> RecordingApp:
        app = RecordingApp(settings.session_id, broker=self.broker)
        self.by_session[settings.session_id] = app
        return app


async def test_sessions_routed_by_comp_ids(engines: Engines) -> None:
    brokers = Apps(broker=True)
    names = ["C1", "C2", "C3"]
    acc = await engines.start("memory://", brokers, [acceptor(target=n) for n in names])
    assert len(acc.acceptors) == 1
    port = port_of(acc)
    clients = Apps(broker=False)
    ini = await engines.start("memory://", clients,
                              [initiator(port, sender=n) for n in names])
    for n in names:
        await ini.wait_logged_on(f"FIX.4.4:{n}->BROKER", 5)
    for n in names:
        for i in range(3):
            await ini.driver(f"FIX.4.4:{n}->BROKER").send(new_order(f"{n}-{i}"))
    for n in names:
        app = clients.by_session[f"FIX.4.4:{n}->BROKER"]
        await wait_until(lambda app=app: len(app.ids("8")) == 3, 5, f"reports for {n}")
        assert app.ids("8") == [f"{n}-{i}" for i in range(3)]
        assert brokers.by_session[f"FIX.4.4:BROKER->{n}"].ids("D") == [
            f"{n}-{i}" for i in range(3)]


async def test_unknown_comp_id_is_refused(engines: Engines) -> None:
    broker = RecordingApp("broker", broker=True)
    acc = await engines.start("memory://", broker, [acceptor()])
    port = port_of(acc)
    assert await raw_logon(port, "STRANGER", "BROKER") == b""
    assert await raw_logon(port, "CLIENT", "NOT-US") == b""
    assert list(acc.drivers) == ["FIX.4.4:BROKER->CLIENT"]
    # the configured counterparty still gets in afterwards
    client = RecordingApp("client")
    ini = await engines.start("memory://", client, [initiator(port)])
    await ini.wait_logged_on("FIX.4.4:CLIENT->BROKER", 5)


async def test_second_connection_is_refused_without_disturbing_the_first(
        engines: Engines) -> None:
    broker = RecordingApp("broker", broker=True)
    acc = await engines.start("memory://", broker, [acceptor()])
    port = port_of(acc)
    client = RecordingApp("client")
    ini = await engines.start("memory://", client, [initiator(port)])
    await ini.wait_logged_on("FIX.4.4:CLIENT->BROKER", 5)
    server = acc.driver("FIX.4.4:BROKER->CLIENT")
    before = (server.session.next_sender, server.session.next_target)

    # an impostor (or a confused second instance) logs on as CLIENT
    assert await raw_logon(port, "CLIENT", "BROKER", seq=2) == b""
    assert await raw_logon(port, "CLIENT", "BROKER", seq=1) == b""

    assert (server.session.next_sender, server.session.next_target) == before
    assert server.logged_on and client.logons == 1 and broker.logons == 1
    driver = ini.driver("FIX.4.4:CLIENT->BROKER")
    await driver.send(new_order("after-impostor"))
    await wait_until(lambda: client.ids("8") == ["after-impostor"], 5, "the report")
    assert ini.initiators["FIX.4.4:CLIENT->BROKER"].connections == 1


async def test_simultaneous_logons_for_one_session_only_one_wins(engines: Engines,
                                                                  tmp_path: Path) -> None:
    """Two connections log on as the same session at the same moment (the
    session reloads its store before each logon, so the acceptor awaits
    between its 'already connected?' check and taking the connection)."""
    broker = RecordingApp("broker")
    acc = await engines.start(f"sqlite:///{tmp_path / 'acc.db'}", broker,
                              [acceptor(refreshOnLogon=True)])
    port = port_of(acc)
    results = await asyncio.gather(
        *(raw_logon(port, "CLIENT", "BROKER", timeout=1.0) for _ in range(4)),
        return_exceptions=True)
    answered = [r for r in results if isinstance(r, bytes) and b"35=A\x01" in r]
    # exactly one connection got the Logon answer (and then timed out here,
    # since the raw client never says anything more); the others were closed
    assert len(answered) == 1, results
    assert broker.logons == 1


async def test_dynamic_sessions_from_a_template(engines: Engines) -> None:
    brokers = Apps(broker=True)
    template = acceptor(target="DYN*")
    acc = await engines.start("memory://", brokers, [],
                              dynamicSessions=[{"session": template, "maxSessions": 2}])
    port = port_of(acc)
    clients = Apps(broker=False)
    ini = await engines.start("memory://", clients, [initiator(port, sender="DYN1"),
                                                     initiator(port, sender="DYN2")])
    for n in ("DYN1", "DYN2"):
        await ini.wait_logged_on(f"FIX.4.4:{n}->BROKER", 5)
        await ini.driver(f"FIX.4.4:{n}->BROKER").send(new_order(f"{n}-order"))
    for n in ("DYN1", "DYN2"):
        app = clients.by_session[f"FIX.4.4:{n}->BROKER"]
        await wait_until(lambda app=app: len(app.ids("8")) == 1, 5, f"the report for {n}")
        assert brokers.by_session[f"FIX.4.4:BROKER->{n}"].ids("D") == [f"{n}-order"]
    assert sorted(acc.drivers) == ["FIX.4.4:BROKER->DYN1", "FIX.4.4:BROKER->DYN2"]
    # the template's limit, and a CompID that does not match it
    assert await raw_logon(port, "DYN3", "BROKER") == b""
    assert await raw_logon(port, "OTHER", "BROKER") == b""
    assert sorted(acc.drivers) == ["FIX.4.4:BROKER->DYN1", "FIX.4.4:BROKER->DYN2"]
    # a dynamic session goes away with its connection (maxSessions counts
    # sessions that exist), and one that reconnects gets its sequence
    # numbers back from the store
    server = acc.driver("FIX.4.4:BROKER->DYN1")
    before = server.session.next_target
    await engines.stop(ini)
    await wait_until(lambda: sorted(acc.drivers) == [], 5, "the dynamic sessions to go")
    again = await engines.start("memory://", clients, [initiator(port, sender="DYN1"),
                                                       initiator(port, sender="DYN3")])
    await again.wait_logged_on("FIX.4.4:DYN1->BROKER", 5)
    await again.wait_logged_on("FIX.4.4:DYN3->BROKER", 5)
    assert sorted(acc.drivers) == ["FIX.4.4:BROKER->DYN1", "FIX.4.4:BROKER->DYN3"]
    server = acc.driver("FIX.4.4:BROKER->DYN1")
    assert server.logged_on and server.session.next_target > before


async def test_dynamic_session_takes_the_sub_and_location_ids_of_the_logon(
        engines: Engines) -> None:
    """Sub and location id patterns are matched, and the session created
    speaks with the counterparty's actual ids (a pattern copied into the
    session would go out as TargetSubID=DESK[0-9] and fail the check)."""
    brokers = Apps(broker=True)
    template = acceptor(target="DESKS", targetSubId="DESK[0-9]", targetLocationId="*")
    acc = await engines.start("memory://", brokers, [], dynamicSessions=[{"session": template}])
    port = port_of(acc)
    clients = Apps(broker=False)
    ini = await engines.start("memory://", clients, [
        initiator(port, sender="DESKS", senderSubId="DESK4", senderLocationId="NY",
                  validation={"checkCompId": True})])
    await ini.wait_logged_on("FIX.4.4:DESKS->BROKER", 5)
    await ini.driver("FIX.4.4:DESKS->BROKER").send(new_order("desk-order"))
    app = clients.by_session["FIX.4.4:DESKS->BROKER"]
    await wait_until(lambda: len(app.ids("8")) == 1, 5, "the execution report")
    settings = acc.driver("FIX.4.4:BROKER->DESKS").session.settings
    assert (settings.target_sub_id, settings.target_location_id) == ("DESK4", "NY")
    assert settings.sender_sub_id is None
    # a SubID outside the set fits no template
    await engines.stop(ini)
    outside = await engines.start("memory://", Apps(broker=False), [
        initiator(port, sender="DESKS", senderSubId="DESKX", logonTimeout=1.0)])
    with pytest.raises(TimeoutError):
        await outside.wait_logged_on("FIX.4.4:DESKS->BROKER", 1.5)


async def test_failover_to_the_second_endpoint(engines: Engines) -> None:
    broker = RecordingApp("broker", broker=True)
    acc = await engines.start("memory://", broker, [acceptor()])
    client = RecordingApp("client")
    backoff = FastBackoff()
    dead = closed_port()
    ini = await engines.start("memory://", client, [initiator([dead, port_of(acc)])],
                              backoff=backoff)
    await ini.wait_logged_on("FIX.4.4:CLIENT->BROKER", 5)
    initiator_ = ini.initiators["FIX.4.4:CLIENT->BROKER"]
    assert initiator_.connections == 1
    assert backoff.calls == 0  # the second endpoint was tried at once, without waiting
    await ini.driver("FIX.4.4:CLIENT->BROKER").send(new_order("via-backup"))
    await wait_until(lambda: client.ids("8") == ["via-backup"], 5, "the report")


async def test_failover_keeps_trying_until_an_endpoint_answers(engines: Engines) -> None:
    """Both endpoints down at first: the initiator goes round them with its
    backoff until the acceptor comes up."""
    client = RecordingApp("client")
    backoff = FastBackoff(0.02)
    dead = closed_port()
    with socket.socket() as s:  # reserve the acceptor's future port
        s.bind(("127.0.0.1", 0))
        later: int = s.getsockname()[1]
    ini = await engines.start("memory://", client, [initiator([dead, later])], backoff=backoff)
    await wait_until(lambda: backoff.calls >= 3, 5, "a few rounds of failed connects")
    assert not ini.driver("FIX.4.4:CLIENT->BROKER").connected
    broker = RecordingApp("broker", broker=True)
    await engines.start("memory://", broker, [acceptor(acceptPort=later)])
    await ini.wait_logged_on("FIX.4.4:CLIENT->BROKER", 5)
    assert ini.initiators["FIX.4.4:CLIENT->BROKER"].connections == 1
