"""Logon handling: a Logon received (checked, then authorised by the
application before anything changes), accepted or refused, and the
NextExpectedMsgSeqNum(789) it may carry.
"""

from __future__ import annotations

from ..codec import Message
from ..codec import tags as t
from ..codec.values import (
    MAX_HEART_BT_INT,
    MAX_SEQ_NUM,
    parse_bounded_uint,
    parse_seq_num,
)
from . import effects as fx
from . import rejects
from .core import (
    _seq_of,
)
from .receiving import SessionReceiving
from .state import State


class SessionLogon(SessionReceiving):
    """Logon handling."""

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

