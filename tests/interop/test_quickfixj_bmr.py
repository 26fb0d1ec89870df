"""Our FIXT.1.1 BusinessMessageReject taken by QuickFIX/J, which validates it.

QuickFIX/J (``InteropPeer``, an initiator) sends NewOrderSingles on
FIXT.1.1/FIX.5.0SP2 to our acceptor, whose application is a cracker with no
``on_new_order_single``: every order is answered with a
BusinessMessageReject (reason 3).  QuickFIX/J validates what it receives
with its own dictionaries: a reject it refused would come back to us as a
session Reject, and its ``fromApp`` (which prints ``REJECT FIXT.1.1 j``)
would never see it.  Before the fix the reject carried DefaultApplVerID
(1137) in its body and QuickFIX/J refused it ("Tag not defined for this
message type").
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pyfixmsg_plus.engine.application import Application, SessionHandle
from pyfixmsg_plus.engine.codec import Message
from pyfixmsg_plus.engine.fix.cracker import MessageCracker

from tests.interop.peers import (
    free_port,
    java_peer,
    qfj_cfg,
    qfj_session,
    session_settings,
    sid,
    start_engine,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]
PEER = "interop.InteropPeer"
VERSION = "FIX.5.0SP2"


class Rejecting(MessageCracker, Application):
    """Handles no application message at all."""

    def __init__(self) -> None:
        self.session_rejects: list[str] = []

    async def from_admin(self, msg: Message, session: SessionHandle) -> None:
        if msg.msg_type == b"3":
            self.session_rejects.append(f"{msg.get_str(58)} (tag {msg.get_str(371)})")


async def test_quickfixj_takes_our_fixt_business_message_reject(tmp_path: Path) -> None:
    app = Rejecting()
    port = free_port()
    engine = await start_engine(tmp_path / "acceptor.db", app, [
        session_settings(VERSION, "acceptor", "PYFIX", "QFJI", acceptPort=port,
                         acceptHost="127.0.0.1")])
    idir = tmp_path / "peer"
    cfg = qfj_cfg(idir / "initiator.cfg", {
        "ConnectionType": "initiator", "FileStorePath": idir / "store",
        "FileLogPath": idir / "log", "NonStopSession": "Y", "HeartBtInt": 5,
        "ReconnectInterval": 1, "UseDataDictionary": "Y", "SocketConnectHost": "127.0.0.1",
    }, [qfj_session(VERSION, "QFJI", "PYFIX", SocketConnectPort=port)])
    peer = java_peer("qfj-bmr", PEER, cfg, idir).start()
    try:
        await peer.wait_line("LOGON FIXT.1.1", 60)
        await engine.wait_logged_on(sid(VERSION, "PYFIX", "QFJI"), 10)
        peer.command("send FIXT.1.1 3 bmr")
        await wait_until(lambda: len(peer.starting("REJECT FIXT.1.1 j")) >= 3, 30,
                         "QuickFIX/J's fromApp seeing three BusinessMessageRejects",
                         lambda: f"our session Rejects: {app.session_rejects}; {peer.tail()}")
        assert all("Unsupported Message Type" in line
                   for line in peer.starting("REJECT FIXT.1.1 j"))
        assert not app.session_rejects, app.session_rejects
        assert not peer.starting("REJECT FIXT.1.1 3")
    finally:
        peer.stop()
        await engine.stop(2)
