"""The FIX session layer as a pure state machine.

Theory of operation
-------------------
A :class:`Session` holds one FIX session's protocol state: where it is in
the logon/logout life cycle (:mod:`.state`), the next sender and target
sequence numbers, the negotiated heartbeat interval, the times it last sent
and received, an outstanding TestRequest, an outstanding ResendRequest and
the messages queued above a sequence gap.

It does no I/O and reads no clock.  The driver calls it with what happened
(a message arrived, the application wants to send, a timer fired, the
connection closed) and the current time ``now`` in nanoseconds since the
epoch; the session answers by appending effects (:mod:`.effects`) to
``outbox``.  ``next_deadline()`` says when it next wants ``on_timer``.

Received messages are handled in the order FIX engines use, so that
counterparties see the reactions they expect:

1. session time, BeginString and the CompID/SendingTime header fields;
2. dictionary validation (a problem is answered with a session Reject);
3. per message type: logon state, SendingTime accuracy, CompIDs, then the
   sequence number (too high: queue and ask for a resend; too low: PossDup
   duplicates are dropped, anything else ends the session);
4. the target sequence number advances (durably) and the message goes to the
   application; queued messages that are now in sequence follow.

Every dispatch goes through :data:`.state.TRANSITIONS`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from ..codec import DecodedMessage, Message
from ..codec import tags as t
from ..codec.safetext import safe_text
from ..codec.values import (
    MAX_HEART_BT_INT,
    MAX_SEQ_NUM,
    TimePrecision,
    format_utc_timestamp,
    parse_bounded_uint,
    parse_seq_num,
    parse_utc_timestamp_ns,
)
from ..config import Role, SessionSettings
from ..errors import (
    AppRejection,
    BusinessReject,
    FieldNotFound,
    FieldValueError,
    LocalProtocolError,
    UnsupportedMessageType,
)
from . import effects as fx
from . import rejects
from .resend import plan_resend
from .schedule import Schedule
from .state import TRANSITIONS, Event, State
from .stats import SessionStats
from .validation import Problem, ProblemLike, Validator, basic_problems, seq_num_problem

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


class Session:
    """One FIX session's protocol state machine (sans-IO)."""

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
    # public inputs
    # ------------------------------------------------------------------
    def restore(self, next_sender: int, next_target: int, creation_ns: int) -> None:
        """Load the durable state (from the store) before the first connection."""
        self.next_sender = next_sender
        self.next_target = next_target
        self.creation_ns = creation_ns

    @property
    def logged_on(self) -> bool:
        return self.state is _ACTIVE

    def start_connect(self, now: int) -> None:
        self._dispatch(Event.START_CONNECT, now)

    def connected(self, now: int) -> None:
        self._dispatch(Event.CONNECTED, now)

    def connect_failed(self, now: int) -> None:
        self._dispatch(Event.CONNECT_FAILED, now)

    def closed(self, now: int, reason: str = "connection closed") -> None:
        self._dispatch(Event.CLOSED, now, reason)

    def receive(self, msg: Message, now: int) -> None:
        mt = msg.msg_type
        if mt == b"A":
            self._dispatch(_ON_LOGON, now, msg)
        elif mt == b"5":
            self._dispatch(_ON_LOGOUT_MSG, now, msg)
        elif self.state is _ACTIVE:
            if mt in _ADMIN or not self._accept_in_order(msg, now):
                self._on_message(now, msg)  # = the table's entry (checked at import)
        else:
            self._dispatch(_ON_MESSAGE, now, msg)

    def _accept_in_order(self, msg: Message, now: int) -> bool:
        """The common case in one pass: an application message, as received,
        that passes every check of ``_process_one`` and ``_verify`` and
        carries exactly the next target sequence number, with no gap being
        filled.  Accepts it (the same effects as the full path) and returns
        True; anything else returns False having done nothing, and the full
        path decides.  tests/unit/test_session_properties.py compares the two."""
        if self.queue or self.resend_range is not None or self.validator is not None:
            return False
        if type(msg) is not DecodedMessage or not msg.clean:
            return False  # changed, or a tag or value basic_problems looks at
        get = msg.index().get
        if not self._comp_ids_match(get) or get(t.BEGIN_STRING) != self.begin_string:
            return False
        seq = get(t.MSG_SEQ_NUM)
        if seq is None or not seq.isdigit() or len(seq) > 10 or int(seq) != self.next_target:
            return False  # (more digits: out of range, or leading zeros: the full path)
        if (get(t.SENDING_TIME) is None or not self._sending_time_ok(get, now)
                or not self.schedule.is_session_time(now)):
            return False
        self._received(now)
        self._advance_target()
        self._outbox.append(fx.Deliver(msg=msg, admin=False))
        return True

    # The checks both receive paths make, each written once: the fast path
    # above asks them as yes/no questions, the full path (``_process_one``,
    # ``_verify``) answers a "no" with the reject or logout it calls for.
    def _comp_ids_match(self, get: Callable[[int], bytes | None]) -> bool:
        return (get(t.SENDER_COMP_ID) == self.target_comp_id
                and get(t.TARGET_COMP_ID) == self.sender_comp_id)

    def _sending_time_ok(self, get: Callable[[int], bytes | None], now: int) -> bool:
        """SendingTime(52) within ``maxLatency`` of ``now`` (when checked)."""
        vs = self.settings.validation
        if not vs.check_latency:
            return True
        try:
            sent = parse_utc_timestamp_ns(get(t.SENDING_TIME) or b"")
        except FieldValueError:
            return False
        return abs(now - sent) <= vs.max_latency * _NS

    def _received(self, now: int) -> None:
        """A message passed the checks: the counterparty is alive."""
        self.last_received = now
        self.test_requests = 0

    def receive_garbled(self, reason: str, now: int) -> None:
        self._dispatch(Event.GARBLED, now, reason)

    def logon_authorized(self, now: int) -> None:
        self._dispatch(Event.LOGON_AUTHORIZED, now)

    def logon_refused(self, text: str, now: int) -> None:
        self._dispatch(Event.LOGON_REFUSED, now, text)

    def send_app(self, msg: Message, now: int) -> int:
        """Number and queue an application message; returns its MsgSeqNum."""
        if self.state is _ACTIVE:
            self._on_send(now, msg)  # = the table's entry (checked at import)
        else:
            self._dispatch(_ON_SEND, now, msg)
        return self.next_sender - 1

    def logout(self, now: int, text: str = "") -> None:
        self._dispatch(Event.LOGOUT, now, text)

    def on_timer(self, now: int) -> None:
        self._dispatch(Event.TIMER, now)

    def resend_loaded(self, begin: int, end: int, stored: list[tuple[int, Message | None]],
                      now: int) -> None:
        """Stored messages for a ResendRequest: ``(seq, message)``, message None
        where it must be gap-filled (session message or vetoed by the application)."""
        self._resends_loading = max(0, self._resends_loading - 1)
        self._dispatch(Event.RESEND_LOADED, now, begin, end, stored)

    def app_rejected(self, msg: Message, exc: AppRejection, now: int) -> None:
        """``from_app`` refused a delivered message by raising one of the
        application API's reject exceptions: answer with the matching
        BusinessMessageReject (FIX.4.2 on) or session Reject.

        The target sequence number was already advanced before delivery.
        """
        if not self.state.connected:
            return
        modern = self.begin_string >= b"FIX.4.2"
        in_body = self.settings.business_reject_appl_ver_id == "body"
        if isinstance(exc, UnsupportedMessageType) or (
                isinstance(exc, BusinessReject) and exc.reason == 3 and exc.text is None):
            reply = rejects.unsupported_message_type(
                self.begin_string, msg, self.default_appl_ver_id, in_body)
        elif isinstance(exc, BusinessReject):
            reply = (rejects.business_reject(self.begin_string, msg, exc.reason, exc.ref_tag,
                                             exc.text, self.default_appl_ver_id, in_body)
                     if modern else self._session_reject(msg, 99, exc.ref_tag, exc.text))
        elif isinstance(exc, FieldNotFound):
            reply = (rejects.business_reject(self.begin_string, msg, 5, exc.tag, None,
                                             self.default_appl_ver_id, in_body) if modern
                     else self._session_reject(msg, rejects.REQUIRED_TAG_MISSING, exc.tag, None))
        else:
            reply = self._session_reject(msg, rejects.VALUE_IS_INCORRECT, exc.tag, None)
        self._send(reply, now)

    def _session_reject(self, msg: Message, reason: int, ref_tag: int | None,
                        text: str | None) -> Message:
        self.stats.rejects_sent[reason] += 1
        return rejects.session_reject(self.begin_string, msg, reason, ref_tag, text)

    def next_deadline(self) -> int | None:
        """When ``on_timer`` should next be called (epoch ns), or None."""
        state = self.state
        if state is not _ACTIVE:
            if state in (State.AWAITING_LOGON, State.LOGON_SENT, State.LOGON_RECEIVED):
                return self.state_since + int(self.settings.logon_timeout * _NS)
            if state is State.LOGOUT_SENT:
                return self.state_since + int(self.settings.logout_timeout * _NS)
            return None
        deadline = self.schedule.next_check(self.state_since)
        hbi = self.heartbeat_interval * _NS
        if hbi <= 0:
            return deadline
        s = self.settings
        best = self.last_received + int(hbi * (1 + s.heartbeat_timeout_multiplier))
        if self.test_requests == 0:
            best = min(best, self.last_sent + hbi,
                       self.last_received + int(hbi * (1 + s.test_request_delay_multiplier)))
        return best if deadline is None or best < deadline else deadline

    # ------------------------------------------------------------------
    # dispatch
    # ------------------------------------------------------------------
    def _dispatch(self, event: Event, now: int, *args: object) -> None:
        handler = _HANDLERS.get((self.state, event))
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

    # ------------------------------------------------------------------
    # receiving: the common checks
    # ------------------------------------------------------------------
    def _advance_target(self) -> None:
        self.next_target += 1
        self._outbox.append(fx.SetTarget(next_target=self.next_target))

    def _problem(self, msg: Message) -> ProblemLike | None:
        if self.validator is not None:
            return self.validator(msg) or seq_num_problem(msg)
        return basic_problems(msg, self.settings.validation.validate_fields_have_values)

    def _valid_logon_state(self, mt: bytes) -> bool:
        state = self.state
        if mt == b"A":
            return state is _AWAITING_LOGON or state is _LOGON_SENT or self.received_reset
        if state is _ACTIVE or state is _LOGOUT_SENT:
            return True
        if state is _LOGON_SENT:
            return mt in (b"5", b"4", b"3")
        return False

    def _verify(self, msg: Message, now: int, too_high: bool, too_low: bool) -> bool:
        if not self._valid_logon_state(msg.msg_type):
            self._disconnect("Logon state is not valid for message", now)
            return False
        get = msg.index().get
        if not self._sending_time_ok(get, now):
            self._reject_and_logout(msg, rejects.SENDING_TIME_ACCURACY, now)
            return False
        if self.settings.validation.check_comp_id and not self._comp_ids_match(get):
            self._reject_and_logout(msg, rejects.COMPID_PROBLEM, now)
            return False
        self._received(now)
        if too_high or too_low:
            seq = _seq_of(msg)
            if too_high and seq > self.next_target:
                self._target_too_high(msg, seq, now)
                return False
            if too_low and seq < self.next_target:
                self._target_too_low(msg, seq, now)
                return False
            if msg.msg_type != b"4":  # a SequenceReset reports progress with its NewSeqNo
                self._resend_progress(seq, now)
        return True

    def _resend_progress(self, last: int, now: int) -> None:
        """Everything up to ``last`` has arrived: ask for the next chunk of an
        outstanding ResendRequest, or forget it once its range is covered."""
        rng = self.resend_range
        if rng is None or last < rng[2]:
            return
        missing = last + 1
        while missing in self.queue:  # already here, waiting behind the gap
            missing += 1
        if missing <= rng[1]:
            self._send_resend_request(missing, rng[1], now)
        else:
            self._outbox.append(fx.Log(text=f"resend of {rng[0]}..{rng[1]} complete"))
            self.resend_range = None

    def _target_too_high(self, msg: Message, seq: int, now: int) -> None:
        self._outbox.append(
            fx.Log(text=f"MsgSeqNum too high, expecting {self.next_target} but received {seq}"))
        self.queue[seq] = msg
        self.queued_bytes += _size_of(msg)
        s = self.settings
        if len(self.queue) > s.max_queued_messages or self.queued_bytes > s.max_queued_bytes:
            # Nothing above the gap was accepted: the counterparty resends
            # it after the next Logon.
            self.stats.queue_overflows += 1
            self._logout_and_disconnect(
                f"too many messages queued above a sequence gap (more than "
                f"{s.max_queued_messages} messages or {s.max_queued_bytes} bytes)", now)
            return
        rng = self.resend_range
        if rng is not None and not self.settings.send_redundant_resend_requests and seq >= rng[0]:
            if seq - 1 > rng[1]:
                self.resend_range = (rng[0], seq - 1, rng[2])
            return
        self._send_resend_request(self.next_target, seq - 1, now)

    def _target_too_low(self, msg: Message, seq: int, now: int) -> None:
        if msg.get(t.POSS_DUP_FLAG) != b"Y":
            text = f"MsgSeqNum too low, expecting {self.next_target} but received {seq}"
            self._logout_and_disconnect(text, now)
            return
        if msg.msg_type == b"4":
            return
        orig = msg.get(t.ORIG_SENDING_TIME)
        if orig is None:
            self._reject(msg, Problem(rejects.REQUIRED_TAG_MISSING, t.ORIG_SENDING_TIME), now)
            return
        try:
            too_late = parse_utc_timestamp_ns(orig) > parse_utc_timestamp_ns(
                msg.get(t.SENDING_TIME) or b"")
        except FieldValueError:
            too_late = True
        if too_late:
            self._reject_and_logout(msg, rejects.SENDING_TIME_ACCURACY, now)

    def _drain_queue(self, now: int) -> None:
        queue = self.queue
        while queue and self.state in (State.ACTIVE, State.LOGOUT_SENT):
            for seq in [s for s in queue if s < self.next_target]:
                self.queued_bytes -= _size_of(queue.pop(seq))
            msg = queue.pop(self.next_target, None)
            if msg is None:
                return
            self.queued_bytes -= _size_of(msg)
            if msg.msg_type in (b"A", b"2"):
                self._advance_target()
            else:
                self._process(msg, now, queued=True)

    # ------------------------------------------------------------------
    # receiving: logon
    # ------------------------------------------------------------------
    def _on_logon(self, now: int, msg: Message) -> None:
        if msg.get(t.BEGIN_STRING) != self.begin_string:
            self._disconnect("Incorrect BeginString in Logon", now)
            return
        if self.default_appl_ver_id is not None and msg.get(t.DEFAULT_APPL_VER_ID) is None:
            self._disconnect("Logon without DefaultApplVerID(1137)", now)
            return
        problem = self._problem(msg)
        if problem is not None:
            self._disconnect(f"invalid Logon: {rejects.REASON_TEXT.get(problem.reason)} "
                             f"({problem.ref_tag})", now)
            return
        if not self._check_schedule(now, defer=True):
            self._logout_and_disconnect("Logon attempt not within session time", now)
            return
        raw_hbi = msg.get(t.HEART_BT_INT) or b""
        parsed = parse_bounded_uint(raw_hbi, MAX_HEART_BT_INT)
        hbi = -1 if parsed is None else parsed
        s = self.settings
        if not self.initiator and not (
                s.min_heartbeat_interval <= hbi <= s.max_heartbeat_interval):
            self._logout_and_disconnect(
                f"HeartBtInt(108) must be between {s.min_heartbeat_interval} and "
                f"{s.max_heartbeat_interval} seconds", now)
            return
        if parsed is None:
            self._logout_and_disconnect(
                f"HeartBtInt(108) must be at most {MAX_HEART_BT_INT}" if raw_hbi.isdigit()
                else "HeartBtInt(108) must be zero or positive", now)
            return
        auth = s.authentication
        if (not self.initiator and auth is not None and auth.checks_credentials
                and msg.get(t.NEW_PASSWORD) is not None):
            self._logout_and_disconnect(
                "NewPassword(925) is not supported: the password is changed in the "
                "acceptor's configuration", now)
            return
        self.received_reset = msg.get(t.RESET_SEQ_NUM_FLAG) == b"Y"
        reset_here = self.received_reset or (not self.initiator and s.reset_on_logon)
        if reset_here and not self.sent_reset:
            self.pending_reset = True
        if self.pending_reset and _seq_of(msg) < 1:
            self._disconnect("MsgSeqNum(34) of a Logon that resets must be 1 or more", now)
            return
        # A Logon that resets starts again at 1: "too low" means nothing then.
        if not self._verify(msg, now, False, not self.pending_reset):
            return
        self.pending_logon = msg
        self._enter(State.LOGON_RECEIVED, now)
        self._outbox.append(fx.AuthorizeLogon(msg=msg))

    def _on_logon_while_active(self, now: int, msg: Message) -> None:
        if msg.get(t.RESET_SEQ_NUM_FLAG) != b"Y":
            self._protocol_error("Logon received while already logged on", now)
            return
        self._outbox.append(fx.Log(text="Logon with ResetSeqNumFlag=Y: resetting sequence numbers"))
        self._enter(State.AWAITING_LOGON, now)  # the reset logon is handled like a first one
        self._on_logon(now, msg)
        if self.state is State.AWAITING_LOGON:  # dropped as a PossDup duplicate
            self._protocol_error("Logon with ResetSeqNumFlag=Y ignored while logged on", now)

    def _on_logon_authorized(self, now: int) -> None:
        msg = self.pending_logon
        assert msg is not None
        self.pending_logon = None
        if self.pending_reset:
            self.pending_reset = False
            self._reset(now)
        # What the counterparty's NextExpectedMsgSeqNum refers to: our Logon
        # answer, sent below, is not something it can have missed.
        sender_at_logon = self.next_sender
        if not self.initiator or (self.received_reset and not self.sent_reset):
            self.heartbeat_interval = int(msg.get(t.HEART_BT_INT) or b"0")
            body: list[tuple[int, bytes]] = [(t.ENCRYPT_METHOD, b"0"),
                                             (t.HEART_BT_INT, b"%d" % self.heartbeat_interval)]
            if self.received_reset:
                body.append((t.RESET_SEQ_NUM_FLAG, b"Y"))
            if self.settings.enable_next_expected_msg_seq_num:
                expected = self.next_target + (1 if _seq_of(msg) == self.next_target else 0)
                body.append((t.NEXT_EXPECTED_MSG_SEQ_NUM, b"%d" % expected))
            if self.default_appl_ver_id is not None:
                body.append((t.DEFAULT_APPL_VER_ID, self.default_appl_ver_id))
            self._enter(State.ACTIVE, now)
            self._send_admin(b"A", body, now)
        else:
            self._enter(State.ACTIVE, now)
        reset_logon = self.received_reset
        self.sent_reset = self.received_reset = False
        self._outbox.append(fx.LoggedOn())
        self.stats.logons += 1
        self.announced = True
        seq = _seq_of(msg)
        if seq > self.next_target and not reset_logon:
            self._target_too_high(msg, seq, now)
        else:
            self._advance_target()
            self._drain_queue(now)
        next_expected = msg.get(t.NEXT_EXPECTED_MSG_SEQ_NUM)
        if (self.settings.enable_next_expected_msg_seq_num and next_expected
                and next_expected.isdigit()):
            number = parse_seq_num(next_expected)
            self._next_expected(MAX_SEQ_NUM + 1 if number is None else number,
                                sender_at_logon, now)

    def _next_expected(self, expected: int, next_sender: int, now: int) -> None:
        """Counterparty's NextExpectedMsgSeqNum(789): resend what it missed
        (``next_sender`` was our next MsgSeqNum when its Logon arrived)."""
        if expected > next_sender:
            self._logout_and_disconnect(
                f"NextExpectedMsgSeqNum too high, expecting at most {next_sender} "
                f"but received {expected}", now)
        elif expected < next_sender:
            self._request_resend_reply(expected, next_sender - 1, now)

    def _on_logon_refused(self, now: int, text: str) -> None:
        self.pending_logon = None
        self.pending_reset = False
        self._logout_and_disconnect(text or "Logon refused", now)

    # ------------------------------------------------------------------
    # receiving: everything else
    # ------------------------------------------------------------------
    def _on_message_before_logon(self, now: int, msg: Message) -> None:
        self._disconnect("first message was not a Logon", now)

    def _on_garbled(self, now: int, reason: str) -> None:
        if self.state in (State.AWAITING_LOGON, State.LOGON_SENT):
            self._disconnect(f"garbled message before logon: {reason}", now)
        else:
            self.stats.garbled += 1
            self._outbox.append(fx.Log(text=f"ignored garbled message: {reason}", level="warning"))

    def _on_logout_msg(self, now: int, msg: Message) -> None:
        self._process(msg, now)

    def _on_message(self, now: int, msg: Message) -> None:
        self._process(msg, now)

    def _process(self, msg: Message, now: int, queued: bool = False) -> None:
        self._process_one(msg, now)
        if not queued:
            self._drain_queue(now)

    def _process_one(self, msg: Message, now: int) -> None:
        if not self.schedule.is_session_time(now):
            self._logout_and_disconnect("Session end", now)
            return
        mt = msg.msg_type
        get = msg.index().get
        for tag in (t.SENDER_COMP_ID, t.TARGET_COMP_ID):
            if get(tag) is None:
                self._reject(msg, Problem(rejects.REQUIRED_TAG_MISSING, tag), now)
                return
        if get(t.BEGIN_STRING) != self.begin_string:
            if mt == b"5":
                self._handle_logout(msg, now)
            else:
                self._start_logout(now, "Incorrect BeginString")
                if _seq_of(msg) == self.next_target:
                    self._advance_target()
            return
        problem = self._problem(msg)
        if problem is not None:
            self._reject(msg, problem, now)
            return
        if mt in _ADMIN:
            if mt in {b"0", b"3"}:
                if mt == b"3":
                    self.stats.rejects_received += 1
                elif self._test_request_at and msg.get(t.TEST_REQ_ID) == b"TEST":
                    # Pending until answered, even when other traffic that was
                    # in flight arrives first (and resets ``test_requests``).
                    self.stats.test_request_rtt.observe((now - self._test_request_at) / _NS)
                    self._test_request_at = 0
                if self._verify(msg, now, True, True):
                    self._advance_target()
                    self._outbox.append(fx.Deliver(msg=msg, admin=True))
            elif mt == b"1":
                self._handle_test_request(msg, now)
            elif mt == b"4":
                self._handle_sequence_reset(msg, now)
            elif mt == b"2":
                self._handle_resend_request(msg, now)
            elif mt == b"5":
                self._handle_logout(msg, now)
            elif self._verify(msg, now, True, True):  # a queued Logon
                self._advance_target()
        elif self._verify(msg, now, True, True):
            self._advance_target()
            self._outbox.append(fx.Deliver(msg=msg, admin=False))

    def _handle_test_request(self, msg: Message, now: int) -> None:
        if not self._verify(msg, now, True, True):
            return
        test_req_id = msg.get(t.TEST_REQ_ID)
        self._send_admin(b"0", [(t.TEST_REQ_ID, test_req_id)] if test_req_id is not None else [],
                         now)
        self._advance_target()
        self._outbox.append(fx.Deliver(msg=msg, admin=True))

    def _handle_sequence_reset(self, msg: Message, now: int) -> None:
        gap_fill = msg.get(t.GAP_FILL_FLAG) == b"Y"
        if gap_fill:
            self.stats.gap_fills_received += 1
        if not self._verify(msg, now, gap_fill, gap_fill):
            return
        raw = msg.get(t.NEW_SEQ_NO)
        if raw is None or not raw.isdigit():
            return
        new_seq = parse_seq_num(raw)
        if new_seq is None:
            self._reject(msg, Problem(rejects.VALUE_IS_INCORRECT, t.NEW_SEQ_NO), now)
            return
        if new_seq > self.next_target:
            self._outbox.append(fx.Log(text=f"SequenceReset from {self.next_target} to {new_seq}"))
            self.next_target = new_seq
            self._outbox.append(fx.SetTarget(next_target=new_seq))
            self._outbox.append(fx.Deliver(msg=msg, admin=True))
            self._resend_progress(new_seq - 1, now)
        elif new_seq < self.next_target:
            self._reject(msg, Problem(rejects.VALUE_IS_INCORRECT), now)

    def _handle_resend_request(self, msg: Message, now: int) -> None:
        self.stats.resend_requests_received += 1
        if not self._verify(msg, now, False, False):
            return
        begin = parse_seq_num(msg.get(t.BEGIN_SEQ_NO) or b"")
        end = parse_seq_num(msg.get(t.END_SEQ_NO) or b"")
        if begin is None or end is None:
            tag = t.BEGIN_SEQ_NO if begin is None else t.END_SEQ_NO
            self._reject(msg, Problem(rejects.VALUE_IS_INCORRECT if tag in msg
                                      else rejects.REQUIRED_TAG_MISSING, tag), now)
            return
        self._outbox.append(fx.Log(text=f"received ResendRequest {begin}..{end}"))
        modern = self.begin_string >= b"FIX.4.2"
        if (modern and end == 0) or (not modern and end == 999999) or end >= self.next_sender:
            end = self.next_sender - 1
        self._request_resend_reply(begin, end, now)
        seq = _seq_of(msg)
        if seq == self.next_target:
            self._advance_target()
        elif seq > self.next_target:
            # Answered at once, and treated as any message above a gap:
            # queued (so the target moves past it once the gap is filled, as
            # QuickFIX/J does, QFJ-673) and the gap asked for now rather than
            # when the next message happens to arrive.
            self._target_too_high(msg, seq, now)
        self._outbox.append(fx.Deliver(msg=msg, admin=True))

    def _request_resend_reply(self, begin: int, end: int, now: int) -> None:
        if begin > end or begin >= self.next_sender:
            self._outbox.append(fx.Log(text=f"nothing to resend for {begin}..{end}"))
            return
        if not self.settings.persist_messages:
            self._gap_fill(begin, min(end + 1, self.next_sender), now)
            return
        self._outbox.append(fx.LoadResend(begin=begin, end=end))
        self._resends_loading += 1

    def _on_resend_loaded(self, now: int, begin: int, end: int,
                          stored: list[tuple[int, Message | None]]) -> None:
        for kind, seq, payload in plan_resend(begin, end, self.next_sender, stored):
            if kind == "gap":
                assert isinstance(payload, int)
                self._gap_fill(seq, payload, now)
            else:
                assert isinstance(payload, Message)
                self._resend_one(seq, payload, now)

    def _resend_one(self, seq: int, original: Message, now: int) -> None:
        msg = original.copy()
        orig_time = msg.get(t.SENDING_TIME)
        msg.set(t.POSS_DUP_FLAG, b"Y")
        if orig_time is not None:
            msg.set(t.ORIG_SENDING_TIME, orig_time)
        msg.set(t.SENDING_TIME, format_utc_timestamp(now, self.precision))
        msg.set(t.MSG_SEQ_NUM, b"%d" % seq)
        self._outbox.append(fx.Send(msg=msg, seq=seq, persist=False, admin=False))
        self.last_sent = now

    def _handle_logout(self, msg: Message, now: int) -> None:
        if not self._verify(msg, now, False, False):
            return
        if self.state is not State.LOGOUT_SENT:
            self._send_logout(now)
        if _seq_of(msg) == self.next_target:
            self._advance_target()
        self._outbox.append(fx.Deliver(msg=msg, admin=True))
        raw_text = msg.get(t.TEXT)
        text = safe_text(raw_text, 200) if raw_text else ""
        if self.settings.reset_on_logout:
            self._reset(now)
        self._disconnect(f"logout{': ' + text if text else ''}", now)

    # ------------------------------------------------------------------
    # local logout and timers
    # ------------------------------------------------------------------
    def _on_local_logout(self, now: int, text: str) -> None:
        self._start_logout(now, text)

    def _on_local_logout_early(self, now: int, text: str) -> None:
        self._disconnect(text or "logout before logon completed", now)

    def _on_timer(self, now: int) -> None:
        state = self.state
        s = self.settings
        if state in (State.AWAITING_LOGON, State.LOGON_SENT, State.LOGON_RECEIVED):
            if now - self.state_since >= s.logon_timeout * _NS:
                self._disconnect("Timed out waiting for logon", now)
            return
        if state is State.LOGOUT_SENT:
            if now - self.state_since >= s.logout_timeout * _NS:
                self._disconnect("Timed out waiting for logout response", now)
            return
        if state is not State.ACTIVE:
            return
        if not self.schedule.same_period(self.creation_ns, now):  # ended, or a new period began
            self._start_logout(now, "Session end")
            return
        hbi = self.heartbeat_interval * _NS
        if hbi <= 0:
            return
        since_received = now - self.last_received
        if now - self.last_sent < hbi and since_received < hbi:
            return
        if since_received >= hbi * (1 + s.heartbeat_timeout_multiplier):
            self.stats.heartbeat_timeouts += 1
            self._disconnect("Timed out waiting for heartbeat", now)
        elif since_received >= hbi * (1 + s.test_request_delay_multiplier) * (
            self.test_requests + 1
        ):
            self._send_admin(b"1", [(t.TEST_REQ_ID, b"TEST")], now)
            self.test_requests += 1
            self.stats.test_requests_sent += 1
            self._test_request_at = now
            self._outbox.append(fx.Log(text="sent TestRequest TEST"))
        elif now - self.last_sent >= hbi and self.test_requests == 0:
            self._send_admin(b"0", [], now)


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


#: TRANSITIONS with the handler functions looked up once (dispatch is on the
#: path of every message).
_HANDLERS: dict[tuple[State, Event], Callable[..., None]] = {
    key: getattr(Session, name) for key, (name, _) in TRANSITIONS.items()
}
# receive() and send_app() call these two directly when ACTIVE (the path of
# nearly every message): the table must say the same.
if (_HANDLERS.get((State.ACTIVE, Event.MESSAGE)) is not Session._on_message
        or _HANDLERS.get((State.ACTIVE, Event.SEND)) is not Session._on_send):
    raise RuntimeError("TRANSITIONS changed: update Session.receive / Session.send_app")
