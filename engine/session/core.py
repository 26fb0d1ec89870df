"""The session state machine's core: its state, its outputs, dispatch
through :data:`.state.TRANSITIONS`, the connection life cycle, sending,
rejects and forced logouts.

:class:`~.session.Session` (theory of operation in that module) is built in
layers, one concern per module: this core; receiving (:mod:`.receiving`:
the checks every received message goes through, the session-level
messages, resends and gap fills, timers); logon handling (:mod:`.logon`);
and the public inputs (:mod:`.session`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, Final

from ..codec import Message
from ..codec import tags as t
from ..codec.values import (
    TimePrecision,
    format_utc_timestamp,
    parse_seq_num,
)
from ..config import Role, SessionSettings
from ..errors import (
    LocalProtocolError,
)
from . import effects as fx
from . import rejects
from .schedule import Schedule
from .state import Event, State
from .stats import SessionStats
from .validation import Problem, ProblemLike, Validator

# Enum members read through their class cost ~70 ns each on CPython 3.11
# (EnumType has a __getattr__, which slows every class attribute lookup):
# the paths every message takes use these module-level names.
_ACTIVE: Final = State.ACTIVE
_LOGOUT_SENT: Final = State.LOGOUT_SENT
_LOGON_SENT: Final = State.LOGON_SENT
_AWAITING_LOGON: Final = State.AWAITING_LOGON
_LOGON_RECEIVED: Final = State.LOGON_RECEIVED
_ON_LOGON: Final = Event.LOGON
_ON_LOGOUT_MSG: Final = Event.LOGOUT_MSG
_ON_MESSAGE: Final = Event.MESSAGE
_ON_SEND: Final = Event.SEND

_NS = 1_000_000_000
_ADMIN = t.ADMIN_MSG_TYPES



class SessionCore:
    """State, outputs, dispatch, sending and rejects of one session (sans-IO)."""

    #: TRANSITIONS with their handler functions, filled in by :mod:`.session`
    #: once the class is complete.
    _handlers: ClassVar[dict[tuple[State, Event], Callable[..., None]]] = {}

    def __init__(
        self,
        settings: SessionSettings,
        validator: Validator | None = None,
        *,
        schedule: Schedule | None = None,
    ) -> None:
        self.settings = settings
        self.validator = validator
        self.schedule = schedule or Schedule(settings.schedule)
        self.initiator = settings.role is Role.INITIATOR
        self.begin_string = settings.begin_string.encode()
        self.sender_comp_id = settings.sender_comp_id.encode()
        self.target_comp_id = settings.target_comp_id.encode()
        appl = settings.appl_ver_id_code
        self.default_appl_ver_id: bytes | None = appl.encode() if appl else None
        self.precision = (
            TimePrecision(settings.timestamp_precision.digits)
            if self.begin_string >= b"FIX.4.2"
            else TimePrecision.SECONDS
        )
        self._extra_header: list[tuple[int, bytes]] = [
            (tag, value.encode())
            for tag, value in (
                (t.SENDER_SUB_ID, settings.sender_sub_id),
                (t.SENDER_LOCATION_ID, settings.sender_location_id),
                (t.TARGET_SUB_ID, settings.target_sub_id),
                (t.TARGET_LOCATION_ID, settings.target_location_id),
            )
            if value
        ]
        static = sorted(
            [(t.SENDER_COMP_ID, self.sender_comp_id), (t.TARGET_COMP_ID, self.target_comp_id),
             *self._extra_header])
        # The header of a message sent is 8, 35, then every other field in
        # tag order: the static ones around MsgSeqNum(34) and SendingTime(52).
        self._header_34 = [f for f in static if f[0] < t.MSG_SEQ_NUM]
        self._header_52 = [f for f in static if t.MSG_SEQ_NUM < f[0] < t.SENDING_TIME]
        self._header_rest = [f for f in static if f[0] > t.SENDING_TIME]
        self.state = State.DISCONNECTED
        self.stats = SessionStats()
        self._test_request_at = 0
        self._outbox: list[fx.Effect] = []
        #: LoadResend effects not yet answered with ``resend_loaded``.
        self._resends_loading = 0
        self.next_sender = 1
        self.next_target = 1
        self.creation_ns = 0
        self.heartbeat_interval = settings.heartbeat_interval
        self.last_sent = 0
        self.last_received = 0
        self.test_requests = 0
        self.state_since = 0
        self.sent_reset = False
        self.received_reset = False
        self.pending_logon: Message | None = None
        #: The application was told LoggedOn and not yet LoggedOut.
        self.announced = False
        # Outstanding ResendRequest: first seq asked for, last seq of the gap,
        # last seq of the current chunk.
        self.resend_range: tuple[int, int, int] | None = None
        self.queue: dict[int, Message] = {}
        self.queued_bytes = 0
        #: A reset the Logon being authorised will make once accepted (the
        #: counterparty's ResetSeqNumFlag, ResetOnLogon, a new session
        #: period): nothing changes before a Logon is accepted.
        self.pending_reset = False

    # ------------------------------------------------------------------
    # public outputs
    # ------------------------------------------------------------------
    def take_effects(self) -> list[fx.Effect]:
        """The effects of the inputs so far, in order; the session forgets
        them (the driver carries each out exactly once)."""
        effects = self._outbox
        self._outbox = []
        return effects

    def peek_effects(self) -> list[fx.Effect]:
        """A copy of the effects not yet taken (for tests and tracing)."""
        return list(self._outbox)

    @property
    def has_effects(self) -> bool:
        return bool(self._outbox)

    @property
    def paused(self) -> bool:
        """True while an AuthorizeLogon or a LoadResend waits for its answer:
        the driver must not feed another received message until then."""
        return self.state is _LOGON_RECEIVED or self._resends_loading > 0

    # ------------------------------------------------------------------
    # dispatch
    # ------------------------------------------------------------------
    def _dispatch(self, event: Event, now: int, *args: object) -> None:
        handler = self._handlers.get((self.state, event))
        if handler is None:
            if event.remote:
                self._protocol_error(f"{event.value} not expected in state {self.state.value}", now)
                return
            raise LocalProtocolError(f"cannot {event.value} in state {self.state.value}")
        handler(self, now, *args)

    def _enter(self, state: State, now: int) -> None:
        self.state = state
        self.state_since = now

    def _protocol_error(self, text: str, now: int) -> None:
        self._outbox.append(fx.Log(text=text, level="warning"))
        self._disconnect(text, now)

    # ------------------------------------------------------------------
    # connection life cycle
    # ------------------------------------------------------------------
    def _on_noop(self, now: int, *args: object) -> None:
        return

    def _on_start_connect(self, now: int) -> None:
        self._enter(State.CONNECTING, now)

    def _on_connect_failed(self, now: int) -> None:
        self._enter(State.RECONNECTING, now)

    def _on_connected_initiator(self, now: int) -> None:
        if not self._check_schedule(now):
            self._disconnect("outside the session schedule", now)
            return
        self.last_received = self.last_sent = now
        self.test_requests = 0
        s = self.settings
        body: list[tuple[int, bytes]] = [(t.ENCRYPT_METHOD, b"0"),
                                         (t.HEART_BT_INT, b"%d" % s.heartbeat_interval)]
        if s.reset_on_logon:
            self._reset(now)
            self.sent_reset = True
            body.append((t.RESET_SEQ_NUM_FLAG, b"Y"))
        if s.username:
            body.append((t.USERNAME, s.username.encode()))
        if s.password is not None:
            body.append((t.PASSWORD, s.password.get_secret_value().encode()))
        if s.enable_next_expected_msg_seq_num:
            body.append((t.NEXT_EXPECTED_MSG_SEQ_NUM, b"%d" % self.next_target))
        if self.default_appl_ver_id is not None:
            body.append((t.DEFAULT_APPL_VER_ID, self.default_appl_ver_id))
        self.heartbeat_interval = s.heartbeat_interval
        self._enter(State.LOGON_SENT, now)
        self._send_admin(b"A", body, now)

    def _on_connected_acceptor(self, now: int) -> None:
        self.last_received = self.last_sent = now
        self.test_requests = 0
        self._enter(State.AWAITING_LOGON, now)

    def _on_closed(self, now: int, reason: str) -> None:
        self._went_down(reason, now)

    def _disconnect(self, reason: str, now: int) -> None:
        self._outbox.append(fx.Disconnect(reason=reason))
        self._went_down(reason, now)

    def _went_down(self, reason: str, now: int) -> None:
        was_on = self.announced
        self.announced = False
        self._enter(State.RECONNECTING if self.initiator else State.DISCONNECTED, now)
        self.queue.clear()
        self.queued_bytes = 0
        self.resend_range = None
        self.sent_reset = self.received_reset = False
        self.pending_reset = False
        self.pending_logon = None
        self._resends_loading = 0  # a load under way is void: nothing to answer
        self.test_requests = 0
        self._test_request_at = 0
        if was_on:
            self.stats.logouts += 1
            self._outbox.append(fx.LoggedOut(reason=reason))
        if self.settings.reset_on_disconnect:
            self._reset(now)

    def _reset(self, now: int) -> None:
        self.next_sender = self.next_target = 1
        self.creation_ns = now
        self.queue.clear()
        self.queued_bytes = 0
        self.resend_range = None
        self._outbox.append(fx.ResetStore(now_ns=now))

    def _check_schedule(self, now: int, *, defer: bool = False) -> bool:
        """False outside the session window; resets sequence numbers when a
        new session period began since the store's creation time (with
        ``defer``, only once the Logon being received is accepted)."""
        if not self.schedule.is_session_time(now):
            return False
        if not self.schedule.same_period(self.creation_ns, now):
            self._outbox.append(fx.Log(text="new session period: resetting sequence numbers"))
            if defer:
                self.pending_reset = True
            else:
                self._reset(now)
        return True

    # ------------------------------------------------------------------
    # sending
    # ------------------------------------------------------------------
    def _fill_header(self, msg: Message, seq: int, now: int) -> None:
        header = msg.header
        if len(header) == 2 and header[0][0] == t.BEGIN_STRING and header[1][0] == t.MSG_TYPE:
            # The common case (a message made with Message.new): build the
            # header in one go, in the conventional order.
            msg.header = [(t.BEGIN_STRING, self.begin_string), header[1], *self._header_34,
                          (t.MSG_SEQ_NUM, b"%d" % seq), *self._header_52,
                          (t.SENDING_TIME, format_utc_timestamp(now, self.precision)),
                          *self._header_rest]
            if type(msg) is Message:
                msg._index = None  # MsgType (header[1]) is unchanged
            else:
                msg.touch()
            return
        if not header or header[0][0] != t.BEGIN_STRING:
            msg.set(t.BEGIN_STRING, self.begin_string)
        msg.set(t.MSG_SEQ_NUM, b"%d" % seq)
        msg.set(t.SENDER_COMP_ID, self.sender_comp_id)
        msg.set(t.SENDING_TIME, format_utc_timestamp(now, self.precision))
        msg.set(t.TARGET_COMP_ID, self.target_comp_id)
        for tag, value in self._extra_header:
            msg.set(tag, value)

    def fill_header(self, msg: Message, now: int) -> None:
        """Fill ``msg``'s header as the next send would (for ``to_app``); the
        send itself sets MsgSeqNum and SendingTime again."""
        self._fill_header(msg, self.next_sender, now)

    def _send(self, msg: Message, now: int) -> int:
        seq = self.next_sender
        self.next_sender = seq + 1
        self._fill_header(msg, seq, now)
        admin = msg.msg_type in _ADMIN
        write = admin or self.state is _ACTIVE or self.state is _LOGOUT_SENT
        self._outbox.append(fx.Send(msg=msg, seq=seq, persist=True, admin=admin, write=write))
        if write:
            self.last_sent = now
        return seq

    def _send_admin(self, msg_type: bytes, body: list[tuple[int, bytes]], now: int) -> int:
        msg = Message([(t.BEGIN_STRING, self.begin_string), (t.MSG_TYPE, msg_type)], body)
        return self._send(msg, now)

    def _send_logout(self, now: int, text: str = "") -> None:
        self._send_admin(b"5", [(t.TEXT, text.encode())] if text else [], now)

    def _on_send(self, now: int, msg: Message) -> None:
        if msg.msg_type in _ADMIN:
            raise LocalProtocolError("session messages are generated by the session itself")
        if len(msg.header) > 2:
            msg.remove(t.POSS_DUP_FLAG)
            msg.remove(t.ORIG_SENDING_TIME)
        self._send(msg, now)

    def _send_resend_request(self, begin: int, gap_end: int, now: int) -> None:
        chunk = self.settings.resend_request_chunk_size
        if chunk and gap_end - begin + 1 > chunk:
            end = chunk_end = begin + chunk - 1
        else:
            end = 0 if self.begin_string >= b"FIX.4.2" else 999999
            chunk_end = gap_end
        self.stats.resend_requests_sent += 1
        self._send_admin(b"2", [(t.BEGIN_SEQ_NO, b"%d" % begin), (t.END_SEQ_NO, b"%d" % end)], now)
        self.resend_range = (begin, gap_end, chunk_end)

    def _gap_fill(self, begin: int, new_seq: int, now: int) -> None:
        stamp = format_utc_timestamp(now, self.precision)
        msg = Message(
            [(t.BEGIN_STRING, self.begin_string), (t.MSG_TYPE, b"4")],
            [(t.NEW_SEQ_NO, b"%d" % new_seq), (t.GAP_FILL_FLAG, b"Y")],
        )
        self._fill_header(msg, begin, now)
        self.stats.gap_fills_sent += 1
        msg.set(t.POSS_DUP_FLAG, b"Y")
        msg.set(t.ORIG_SENDING_TIME, stamp)
        self._outbox.append(fx.Send(msg=msg, seq=begin, persist=False, admin=True))
        self.last_sent = now

    # ------------------------------------------------------------------
    # rejects and forced logouts
    # ------------------------------------------------------------------
    def _advance_target(self) -> None:
        self.next_target += 1
        self._outbox.append(fx.SetTarget(next_target=self.next_target))

    def _reject(self, msg: Message, problem: ProblemLike, now: int) -> None:
        """Answer ``msg`` with a session Reject; advance past it if it was the
        expected message (never for Logon and SequenceReset)."""
        if self.state not in (State.ACTIVE, State.LOGOUT_SENT):
            self._disconnect(f"rejected before logon: {problem.text or problem.reason}", now)
            return
        mt = msg.msg_type
        seq = _seq_of(msg)
        if mt not in (b"A", b"4") and seq == self.next_target:
            self._advance_target()
        reply = rejects.session_reject(self.begin_string, msg, problem.reason, problem.ref_tag,
                                       problem.text)
        self.stats.rejects_sent[problem.reason] += 1
        self._outbox.append(fx.Log(text=f"rejected message {seq}: {reply.get(t.TEXT)!r}",
                                   level="warning"))
        self._send(reply, now)

    def _reject_and_logout(self, msg: Message, reason: int, now: int) -> None:
        if self.state not in (State.ACTIVE, State.LOGOUT_SENT):
            self._disconnect(rejects.REASON_TEXT[reason], now)
            return
        self._reject(msg, Problem(reason), now)
        self._start_logout(now, "")

    def _start_logout(self, now: int, text: str) -> None:
        if self.state is not State.LOGOUT_SENT:
            self._send_logout(now, text)
            self._enter(State.LOGOUT_SENT, now)

    def _logout_and_disconnect(self, text: str, now: int) -> None:
        self._send_logout(now, text)
        self._disconnect(text, now)


def _size_of(msg: Message) -> int:
    """Bytes a queued message holds (its frame, when it still has it)."""
    raw = getattr(msg, "raw", None)
    if isinstance(raw, bytes):
        return len(raw)
    return sum(len(value) + 8 for _, value in msg.fields())


def _seq_of(msg: Message) -> int:
    """MsgSeqNum, or 0 when absent, not a number or out of range (the
    validators answer those with a Reject before anything uses the number)."""
    raw = msg.get(t.MSG_SEQ_NUM)
    if raw is None:
        return 0
    return parse_seq_num(raw) or 0

