"""Two sans-IO sessions wired back to back in memory, with fake time.

The harness plays the driver: it carries out effects the way the transport
does (persist, then write; SetTarget before Deliver), keeps a dict store per
side, and can drop messages in flight to create gaps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyfixmsg_plus.engine.codec import Message, decode, encode
from pyfixmsg_plus.engine.codec.values import TimePrecision, format_utc_timestamp, parse_seq_num
from pyfixmsg_plus.engine.config import SessionSettings
from pyfixmsg_plus.engine.session import Session, State
from pyfixmsg_plus.engine.session import effects as fx

NS = 1_000_000_000
#: Session messages handed to the application even when they are not in
#: sequence (a SequenceReset, a ResendRequest or a Logout above a gap): all
#: others are delivered only after SetTarget moved past them.
_OUT_OF_ORDER_ADMIN = (b"4", b"2", b"5")
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
        #: Bytes the peer wrote that this side has not read yet, and whether
        #: the peer closed the connection after writing them.
        self.inbox: list[bytes] = []
        self.peer_closed = False
        #: The application was told LoggedOn and not yet LoggedOut.
        self.app_on = False


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
        for side in (self.ini, self.acc):
            side.inbox.clear()
            side.peer_closed = False
        self.ini.session.start_connect(self.now)
        self.acc.session.connected(self.now)
        self.ini.session.connected(self.now)
        self.pump()

    def pump(self) -> None:
        """Carry out effects on both sides until nothing is left.

        Like the driver, a side reads its next message only after the effects
        of the previous one were carried out (the driver holds reading while
        the application decides about a Logon or the store loads a resend).
        """
        for _ in range(100_000):
            busy = False
            for side in (self.ini, self.acc):
                while effects := side.session.take_effects():
                    busy = True
                    for effect in effects:
                        self._carry_out(side, effect)
            for side in (self.ini, self.acc):
                if side.inbox:
                    busy = True
                    data = side.inbox.pop(0)
                    if side.session.state.connected:
                        side.session.receive(decode(data), self.now)
                    break
                if side.peer_closed:
                    busy = True
                    side.peer_closed = False
                    side.session.closed(self.now, "peer closed")
                    break
            if not busy:
                for side in (self.ini, self.acc):
                    assert side.session.state.connected or not side.app_on, "no LoggedOut"
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
                    self.other(side).inbox.append(data)
        elif isinstance(effect, fx.SetTarget):
            side.next_target = effect.next_target
        elif isinstance(effect, fx.ResetStore):
            side.stored.clear()
            side.next_sender = side.next_target = 1
        elif isinstance(effect, fx.Deliver):
            assert (side.next_target > int(effect.msg.get(34) or b"0")
                    or effect.msg.msg_type in _OUT_OF_ORDER_ADMIN)
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
        elif isinstance(effect, fx.LoggedOn):
            side.app_on = True
        elif isinstance(effect, fx.LoggedOut):
            assert side.app_on, "LoggedOut without LoggedOn"
            side.app_on = False
        elif isinstance(effect, fx.Disconnect):
            side.disconnects.append(effect.reason)
            if self.connected:
                self.connected = False
                side.inbox.clear()  # never read
                self.other(side).peer_closed = True  # after it read what was sent

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


class Solo:
    """One session driven by hand: the test plays the counterparty.

    ``msg`` builds what the counterparty sends (CompIDs swapped, SendingTime
    ``now``, the next counterparty MsgSeqNum unless ``seq`` is given);
    ``feed`` hands it to the session and carries out the effects the way the
    driver does, checking persist-before-send and SetTarget-before-Deliver.
    """

    def __init__(self, s: SessionSettings, validator: Any = None, *,
                 schedule: Any = None, now: int = T0) -> None:
        self.session = Session(s, validator, schedule=schedule)
        self.now = now
        self.stored: dict[int, Message] = {}
        self.next_sender = 1
        self.next_target = 1
        self.peer_seq = 1
        self.sent: list[Message] = []  # written to the wire, in order
        self.delivered: list[Message] = []
        self.effects: list[fx.Effect] = []
        self.disconnects: list[str] = []
        self.authorize = True  # answer AuthorizeLogon at once
        self.refuse_logon: str | None = None
        self.veto_resend: set[int] = set()
        self.authorized: list[Message] = []
        self.app_on = False  # told LoggedOn and not yet LoggedOut

    # -- building counterparty messages ----------------------------------
    def msg(self, msg_type: str, body: list[tuple[int, Any]] | None = None, *,
            seq: int | None = None, header: list[tuple[int, Any]] | None = None,
            sending_time: int | None = None, omit: tuple[int, ...] = ()) -> Message:
        s = self.session
        if seq is None:
            seq = self.peer_seq
            self.peer_seq += 1
        m = Message.new(s.settings.begin_string, msg_type, body or [])
        fields: list[tuple[int, Any]] = [
            (49, s.settings.target_comp_id), (56, s.settings.sender_comp_id), (34, seq),
            (52, format_utc_timestamp(self.now if sending_time is None else sending_time,
                                      TimePrecision.MILLIS)),
        ]
        for tag, value in fields + list(header or []):
            if tag not in omit:
                m.set(tag, value)
        return decode(encode(m))

    def logon_msg(self, hbi: int = 30, body: list[tuple[int, Any]] | None = None,
                  **kw: Any) -> Message:
        extra = list(body or [])
        if self.session.default_appl_ver_id is not None and not any(t == 1137 for t, _ in extra):
            extra.append((1137, self.session.default_appl_ver_id))
        return self.msg("A", [(98, 0), (108, hbi), *extra], **kw)

    # -- driving -----------------------------------------------------------
    def restore(self, next_sender: int, next_target: int, creation_ns: int | None = None) -> None:
        """Start from a store holding these sequence numbers."""
        self.session.restore(next_sender, next_target, self.now if creation_ns is None
                             else creation_ns)
        self.next_sender, self.next_target = next_sender, next_target

    def connect(self) -> list[fx.Effect]:
        s = self.session
        if s.initiator:
            s.start_connect(self.now)
        s.connected(self.now)
        return self.run()

    def feed(self, msg: Message) -> list[fx.Effect]:
        self.session.receive(msg, self.now)
        return self.run()

    def logon(self, hbi: int = 30, **kw: Any) -> list[fx.Effect]:
        """Connect and complete the logon (either role)."""
        out = self.connect()
        out += self.feed(self.logon_msg(hbi, **kw))
        assert self.session.state is State.ACTIVE, (self.session.state, out)
        return out

    def run(self) -> list[fx.Effect]:
        done: list[fx.Effect] = []
        s = self.session
        pending: list[fx.Effect] = []
        while pending or s.has_effects:
            if not pending:
                pending = s.take_effects()
            effect = pending.pop(0)
            done.append(effect)
            self.effects.append(effect)
            if isinstance(effect, fx.Send):
                if effect.persist:
                    assert effect.seq == self.next_sender, (effect.seq, self.next_sender)
                    assert effect.msg.get(34) == b"%d" % effect.seq
                    self.stored[effect.seq] = decode(encode(effect.msg))
                    self.next_sender = effect.seq + 1
                else:
                    assert effect.seq < self.next_sender, "a resend beyond what was sent"
                if effect.write:
                    self.sent.append(decode(encode(effect.msg)))
            elif isinstance(effect, fx.SetTarget):
                self.next_target = effect.next_target
            elif isinstance(effect, fx.ResetStore):
                self.stored.clear()
                self.next_sender = self.next_target = 1
            elif isinstance(effect, fx.Deliver):
                seq = parse_seq_num(effect.msg.get(34) or b"0") or 0  # may be hostile
                assert self.next_target > seq or effect.msg.msg_type in _OUT_OF_ORDER_ADMIN, (
                    "delivered before its SetTarget", seq, self.next_target)
                self.delivered.append(effect.msg)
            elif isinstance(effect, fx.AuthorizeLogon):
                self.authorized.append(effect.msg)
                if self.authorize:
                    if self.refuse_logon is not None:
                        s.logon_refused(self.refuse_logon, self.now)
                    else:
                        s.logon_authorized(self.now)
            elif isinstance(effect, fx.LoadResend):
                stored: list[tuple[int, Message | None]] = []
                for seq in range(effect.begin, effect.end + 1):
                    if seq in self.stored:
                        m = self.stored[seq]
                        keep = not m.is_admin() and seq not in self.veto_resend
                        stored.append((seq, m.copy() if keep else None))
                s.resend_loaded(effect.begin, effect.end, stored, self.now)
            elif isinstance(effect, fx.LoggedOn):
                self.app_on = True
            elif isinstance(effect, fx.LoggedOut):
                assert self.app_on, "LoggedOut without LoggedOn"
                self.app_on = False
            elif isinstance(effect, fx.Disconnect):
                self.disconnects.append(effect.reason)
        assert s.state.connected or not self.app_on, "went down without LoggedOut"
        return done

    def advance(self, seconds: float) -> list[fx.Effect]:
        """Move fake time forward, firing the session's timer as it falls due."""
        end = self.now + int(seconds * NS)
        done: list[fx.Effect] = []
        for _ in range(100_000):
            due = self.session.next_deadline()
            if due is None or due > end:
                break
            self.now = max(self.now, due)
            self.session.on_timer(self.now)
            done += self.run()
        self.now = end
        return done

    def send(self, msg_type: str = "D", body: list[tuple[int, Any]] | None = None) -> int:
        m = Message.new(self.session.settings.begin_string, msg_type, body or [(11, "x")])
        seq = self.session.send_app(m, self.now)
        self.run()
        return seq

    @property
    def state(self) -> State:
        return self.session.state

    def sent_types(self) -> list[str]:
        return [m.msg_type.decode() for m in self.sent]

    def last(self, msg_type: str | None = None) -> Message:
        for m in reversed(self.sent):
            if msg_type is None or m.msg_type == msg_type.encode():
                return m
        raise AssertionError(f"nothing of type {msg_type} sent: {self.sent_types()}")

    def app_delivered(self) -> list[Message]:
        return [m for m in self.delivered if not m.is_admin()]


def only(effects: list[fx.Effect], kind: type[fx.Effect]) -> list[Any]:
    return [e for e in effects if isinstance(e, kind)]
