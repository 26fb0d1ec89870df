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

The class is built in layers, one concern per module: :mod:`.core` (state,
outputs, dispatch, connection life cycle, sending, rejects),
:mod:`.receiving` (the checks, session-level messages, resends, timers) and
:mod:`.logon`; this module adds the public inputs and the dispatch table.
"""

from __future__ import annotations

from collections.abc import Callable

from ..codec import DecodedMessage, Message
from ..codec import tags as t
from ..errors import (
    AppRejection,
    BusinessReject,
    FieldNotFound,
    UnsupportedMessageType,
)
from . import effects as fx
from . import rejects
from .core import (
    _ACTIVE,
    _ADMIN,
    _NS,
    _ON_LOGON,
    _ON_LOGOUT_MSG,
    _ON_MESSAGE,
    _ON_SEND,
)
from .logon import SessionLogon
from .state import TRANSITIONS, Event, State


class Session(SessionLogon):
    """One FIX session's protocol state machine (sans-IO)."""

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



#: TRANSITIONS with the handler functions looked up once (dispatch is on the
#: path of every message).
_HANDLERS: dict[tuple[State, Event], Callable[..., None]] = {
    key: getattr(Session, name) for key, (name, _) in TRANSITIONS.items()
}
Session._handlers = _HANDLERS
# receive() and send_app() call these two directly when ACTIVE (the path of
# nearly every message): the table must say the same.
if (_HANDLERS.get((State.ACTIVE, Event.MESSAGE)) is not Session._on_message
        or _HANDLERS.get((State.ACTIVE, Event.SEND)) is not Session._on_send):
    raise RuntimeError("TRANSITIONS changed: update Session.receive / Session.send_app")
