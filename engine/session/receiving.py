"""Receiving: the checks every received message goes through, the
session-level messages (TestRequest, SequenceReset, ResendRequest, Logout),
resends, gap fills and queued messages, and the timers.
"""

from __future__ import annotations

from collections.abc import Callable

from ..codec import Message
from ..codec import tags as t
from ..codec.safetext import safe_text
from ..codec.values import (
    format_utc_timestamp,
    parse_seq_num,
    parse_utc_timestamp_ns,
)
from ..errors import (
    FieldValueError,
)
from . import effects as fx
from . import rejects
from .core import (
    _ACTIVE,
    _ADMIN,
    _AWAITING_LOGON,
    _LOGON_SENT,
    _LOGOUT_SENT,
    _NS,
    SessionCore,
    _seq_of,
    _size_of,
)
from .resend import plan_resend
from .state import State
from .validation import Problem, ProblemLike, basic_problems, seq_num_problem


class SessionReceiving(SessionCore):
    """What a session does with what it receives, and its timers."""

    # ------------------------------------------------------------------
    # receiving: the common checks
    # ------------------------------------------------------------------
    # The checks both receive paths make, each written once: the fast path
    # (``Session.receive``) asks them as yes/no questions, the full path (``_process_one``,
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
