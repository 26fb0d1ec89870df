"""Two sans-IO sessions wired back to back in memory, with fake time.

The harness plays the driver: it carries out effects the way the transport
does (persist, then write; SetTarget before Deliver), keeps a dict store per
side, and can drop messages in flight to create gaps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyfixmsg_plus.engine.codec import Message, decode, encode
from pyfixmsg_plus.engine.config import SessionSettings
from pyfixmsg_plus.engine.session import Session, State
from pyfixmsg_plus.engine.session import effects as fx

NS = 1_000_000_000
T0 = 1_795_239_604 * NS  # 2026-11-21 05:40:04 UTC


def settings(role: str, sender: str, target: str, **extra: Any) -> SessionSettings:
    data: dict[str, Any] = {
        "role": role,
        "begin_string": "FIX.4.4",
        "sender_comp_id": sender,
        "target_comp_id": target,
        "heartbeat_interval": 30,
    }
    if role == "initiator":
        data["connect"] = [{"host": "127.0.0.1", "port": 1}]
    else:
        data["accept_port"] = 1
    data.update(extra)
    return SessionSettings.model_validate(data)


class Side:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.stored: dict[int, bytes] = {}
        self.next_sender = 1
        self.next_target = 1
        self.delivered: list[Message] = []
        self.wire: list[bytes] = []  # everything written, in order
        self.disconnects: list[str] = []
        self.events: list[fx.Effect] = []
        self.refuse_logon: str | None = None
        self.veto_resend: set[int] = set()
        self.on_app: Callable[[Message], None] | None = None


class Pair:
    """An initiator and an acceptor connected back to back."""

    def __init__(self, ini: SessionSettings | None = None, acc: SessionSettings | None = None,
                 validator_ini: Any = None, validator_acc: Any = None) -> None:
        self.now = T0
        self.ini = Side(Session(ini or settings("initiator", "CLIENT", "BROKER"), validator_ini))
        self.acc = Side(Session(acc or settings("acceptor", "BROKER", "CLIENT"), validator_acc))
        self.drop: Callable[[Side, Message], bool] = lambda side, msg: False
        self.connected = False

    def other(self, side: Side) -> Side:
        return self.acc if side is self.ini else self.ini

    # -- driving -------------------------------------------------------------
    def connect(self) -> None:
        self.connected = True
        self.ini.session.start_connect(self.now)
        self.acc.session.connected(self.now)
        self.ini.session.connected(self.now)
        self.pump()

    def pump(self) -> None:
        """Carry out effects on both sides until nothing is left."""
        for _ in range(10_000):
            busy = False
            for side in (self.ini, self.acc):
                while side.session.outbox:
                    busy = True
                    effect = side.session.outbox.pop(0)
                    self._carry_out(side, effect)
            if not busy:
                return
        raise AssertionError("effects never settle")

    def _carry_out(self, side: Side, effect: fx.Effect) -> None:
        side.events.append(effect)
        s = side.session
        if isinstance(effect, fx.Send):
            data = encode(effect.msg)
            if effect.persist:
                assert effect.seq == side.next_sender, (effect.seq, side.next_sender)
                side.stored[effect.seq] = data
                side.next_sender = effect.seq + 1
            if effect.write and self.connected:
                side.wire.append(data)
                if not self.drop(side, effect.msg):
                    peer = self.other(side)
                    if peer.session.state.connected:
                        peer.session.receive(decode(data), self.now)
        elif isinstance(effect, fx.SetTarget):
            side.next_target = effect.next_target
        elif isinstance(effect, fx.ResetStore):
            side.stored.clear()
            side.next_sender = side.next_target = 1
        elif isinstance(effect, fx.Deliver):
            assert side.next_target > int(effect.msg.get(34) or b"0") or effect.msg.msg_type == b"4"
            side.delivered.append(effect.msg)
            if not effect.admin and side.on_app is not None:
                side.on_app(effect.msg)
        elif isinstance(effect, fx.AuthorizeLogon):
            if side.refuse_logon is not None:
                s.logon_refused(side.refuse_logon, self.now)
            else:
                s.logon_authorized(self.now)
        elif isinstance(effect, fx.LoadResend):
            stored: list[tuple[int, Message | None]] = []
            for seq in range(effect.begin, effect.end + 1):
                if seq in side.stored:
                    msg = decode(side.stored[seq])
                    keep = not msg.is_admin() and seq not in side.veto_resend
                    stored.append((seq, msg if keep else None))
            s.resend_loaded(effect.begin, effect.end, stored, self.now)
        elif isinstance(effect, fx.Disconnect):
            side.disconnects.append(effect.reason)
            if self.connected:
                self.connected = False
                peer = self.other(side)
                peer.session.closed(self.now, "peer closed")

    def advance(self, seconds: float) -> None:
        """Move fake time forward, firing timers as they fall due."""
        end = self.now + int(seconds * NS)
        while True:
            deadlines = [d for d in (self.ini.session.next_deadline(),
                                     self.acc.session.next_deadline()) if d is not None]
            due = min(deadlines) if deadlines else None
            if due is None or due > end:
                break
            self.now = max(self.now, due)
            for side in (self.ini, self.acc):
                d = side.session.next_deadline()
                if d is not None and d <= self.now:
                    side.session.on_timer(self.now)
            self.pump()
        self.now = end

    def send(self, side: Side, msg_type: str, body: list[tuple[int, str]]) -> int:
        msg = Message.new(side.session.settings.begin_string, msg_type, body)
        seq = side.session.send_app(msg, self.now)
        self.pump()
        return seq

    def logged_on(self) -> bool:
        return self.ini.session.state is State.ACTIVE and self.acc.session.state is State.ACTIVE


def types(side: Side) -> list[str]:
    return [decode(d).msg_type.decode() for d in side.wire]
