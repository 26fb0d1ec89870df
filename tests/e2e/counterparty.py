"""The counterparty process on the host (``fixplus run --app``).

Writes one JSON line per event to ``$FIXPLUS_E2E_EVENTS``: every Logon it
receives (with its MsgSeqNum, so a test sees whether the pod's session kept
its sequence numbers), every application message, and the orders it sends.
On each logon it sends ``$FIXPLUS_E2E_ORDERS`` NewOrderSingles whose ClOrdID
starts with ``$FIXPLUS_E2E_PREFIX`` and the logon's number; as an acceptor
it answers each NewOrderSingle with an ExecutionReport.
"""

from __future__ import annotations

import json
import os
from typing import Any

from pyfixmsg_plus.engine.application import Application, SessionHandle
from pyfixmsg_plus.engine.codec import Message


class Counterparty(Application):
    def __init__(self) -> None:
        self.events = os.environ["FIXPLUS_E2E_EVENTS"]
        self.orders = int(os.environ.get("FIXPLUS_E2E_ORDERS", "0"))
        self.prefix = os.environ.get("FIXPLUS_E2E_PREFIX", "o")
        self.logons = 0

    def _write(self, **event: Any) -> None:
        with open(self.events, "a", encoding="utf-8") as out:
            out.write(json.dumps(event) + "\n")

    async def from_admin(self, msg: Message, session: SessionHandle) -> None:
        if msg.msg_type == b"A":
            self._write(event="logon-received", seq=msg.get_int(34),
                        session=session.session_id)

    async def on_logon(self, session: SessionHandle) -> None:
        self.logons += 1
        begin = session.session_id.split(":", 1)[0]
        for n in range(self.orders):
            cl_ord_id = f"{self.prefix}-{self.logons}-{n}"
            seq = await session.send(Message.new(begin, "D", [
                (11, cl_ord_id), (55, "EUR/USD"), (54, "1"),
                (60, "20260101-00:00:00.000"), (38, "100"), (40, "1"),
            ]))
            self._write(event="order-sent", cl_ord_id=cl_ord_id, seq=seq)

    async def from_app(self, msg: Message, session: SessionHandle) -> None:
        self._write(event="app-received", msg_type=msg.get_str(35), cl_ord_id=msg.get_str(11),
                    seq=msg.get_int(34))
        if msg.msg_type == b"D":
            begin = session.session_id.split(":", 1)[0]
            cl_ord_id = msg.get_str(11) or ""
            await session.send(Message.new(begin, "8", [
                (37, "O-" + cl_ord_id), (11, cl_ord_id), (17, "E-" + cl_ord_id), (150, "0"),
                (39, "0"), (55, "EUR/USD"), (54, "1"), (151, "100"), (14, "0"), (6, "0"),
            ]))
