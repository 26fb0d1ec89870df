"""Session layer, logon: timeouts, HeartBtInt, ResetSeqNumFlag, reset
settings, NextExpectedMsgSeqNum, credentials, duplicate logons, BeginString,
CompIDs, schedules and FIXT.1.1 (sans-IO, fake time)."""

from __future__ import annotations

from typing import Any

import pytest
from pyfixmsg_plus.engine.codec import decode
from pyfixmsg_plus.engine.session import State
from pyfixmsg_plus.engine.session import effects as fx

from .session_harness import NS, Pair, Solo, only, settings, types


def acceptor(**kw: Any) -> Solo:
    return Solo(settings("acceptor", "BROKER", "CLIENT", **kw))


def initiator(**kw: Any) -> Solo:
    return Solo(settings("initiator", "CLIENT", "BROKER", **kw))


# -- logon timeout --------------------------------------------------------------
def test_acceptor_logon_timeout() -> None:
    a = acceptor(logon_timeout=5)
    a.connect()
    assert a.state is State.AWAITING_LOGON
    assert a.session.next_deadline() == a.now + 5 * NS
    a.advance(4.9)
    assert a.state is State.AWAITING_LOGON
    a.advance(0.2)
    assert a.state is State.DISCONNECTED
    assert a.disconnects == ["Timed out waiting for logon"]
    assert a.sent == []


def test_initiator_logon_timeout() -> None:
    i = initiator(logon_timeout=7)
    i.connect()
    assert i.state is State.LOGON_SENT and i.sent_types() == ["A"]
    i.advance(6.9)
    assert i.state is State.LOGON_SENT
    i.advance(0.2)
    assert i.state is State.RECONNECTING
    assert i.disconnects == ["Timed out waiting for logon"]
    assert i.sent_types() == ["A"]  # no heartbeat while waiting


def test_logon_timeout_while_application_decides() -> None:
    a = acceptor(logon_timeout=3)
    a.authorize = False
    a.connect()
    a.feed(a.logon_msg())
    assert a.state is State.LOGON_RECEIVED
    a.advance(3)
    assert a.state is State.DISCONNECTED and a.disconnects == ["Timed out waiting for logon"]


def test_initiator_logon_fields() -> None:
    i = initiator(heartbeat_interval=17, username="u", password="p",
                  enable_next_expected_msg_seq_num=True)
    i.restore(4, 9, 0)
    i.connect()
    logon = i.sent[0]
    assert logon.get(34) == b"4" and logon.get(108) == b"17" and logon.get(98) == b"0"
    assert logon.get(553) == b"u" and logon.get(554) == b"p"
    assert logon.get(789) == b"9"
    assert logon.get(141) is None


# -- HeartBtInt -----------------------------------------------------------------
@pytest.mark.parametrize("hbi", [b"-1", b"-30"])
def test_negative_heartbeat_interval_refused(hbi: bytes) -> None:
    a = acceptor()
    a.connect()
    logon = a.logon_msg()
    logon.set(108, hbi)
    out = a.feed(logon)
    assert a.state is State.DISCONNECTED
    assert a.sent_types() == ["5"]
    assert a.last("5").get(58) == b"HeartBtInt(108) must be between 1 and 300 seconds"
    assert only(out, fx.Disconnect)
    assert not only(out, fx.AuthorizeLogon)


def test_initiator_refuses_negative_heartbeat_in_reply() -> None:
    i = initiator()
    i.connect()
    reply = i.logon_msg()
    reply.set(108, b"-5")
    i.feed(reply)
    assert i.state is State.RECONNECTING
    assert i.sent_types() == ["A", "5"]


def test_acceptor_adopts_heartbeat_interval_of_logon() -> None:
    a = acceptor(heartbeat_interval=30)
    a.logon(hbi=12)
    assert a.session.heartbeat_interval == 12
    assert a.last("A").get(108) == b"12"


def test_zero_heartbeat_interval_means_no_heartbeats() -> None:
    a = acceptor(min_heartbeat_interval=0)
    a.logon(hbi=0)
    assert a.session.next_deadline() is None
    a.advance(3600)
    assert a.sent_types() == ["A"] and a.state is State.ACTIVE


# -- ResetSeqNumFlag --------------------------------------------------------------
def test_acceptor_honours_reset_seq_num_flag() -> None:
    a = acceptor()
    a.restore(20, 30, 0)
    out = a.connect()
    out += a.feed(a.logon_msg(body=[(141, "Y")], seq=1))
    assert only(out, fx.ResetStore)
    reply = a.last("A")
    assert reply.get(141) == b"Y" and reply.get(34) == b"1"
    assert a.session.next_sender == 2 and a.session.next_target == 2
    assert a.state is State.ACTIVE


def test_initiator_reset_on_logon_sends_141_and_accepts_reply() -> None:
    i = initiator(reset_on_logon=True)
    i.restore(9, 9, 0)
    out = i.connect()
    assert only(out, fx.ResetStore)
    assert i.sent[0].get(141) == b"Y" and i.sent[0].get(34) == b"1"
    i.feed(i.logon_msg(body=[(141, "Y")], seq=1))
    assert i.state is State.ACTIVE
    assert i.sent_types() == ["A"]  # no second Logon
    assert i.session.next_target == 2 and i.session.next_sender == 2


def test_initiator_answers_reset_logon_from_acceptor_while_active() -> None:
    i = initiator()
    i.logon()
    i.send()
    i.feed(i.msg("0"))
    assert i.session.next_sender == 3 and i.session.next_target == 3
    out = i.feed(i.logon_msg(body=[(141, "Y")], seq=1))
    assert only(out, fx.ResetStore)
    assert i.state is State.ACTIVE
    reply = i.last("A")
    assert reply.get(141) == b"Y" and reply.get(34) == b"1"
    assert i.session.next_sender == 2 and i.session.next_target == 2


def test_acceptor_handles_reset_logon_while_active() -> None:
    a = acceptor()
    a.logon()
    for _ in range(3):
        a.feed(a.msg("0"))
    out = a.feed(a.logon_msg(body=[(141, "Y")], seq=1))
    assert only(out, fx.ResetStore)
    assert a.state is State.ACTIVE
    assert a.last("A").get(141) == b"Y"
    assert a.session.next_target == 2


def test_refused_reset_logon_while_active_tells_application() -> None:
    """Regression: a Logon with ResetSeqNumFlag=Y received while logged on
    and then refused (here: a negative HeartBtInt) disconnected without a
    LoggedOut, so the application never heard of the logout."""
    a = acceptor()
    a.logon()
    logon = a.logon_msg(body=[(141, "Y")], seq=1)
    logon.set(108, b"-1")
    out = a.feed(logon)
    assert a.state is State.DISCONNECTED
    assert [e.reason for e in only(out, fx.LoggedOut)] == [
        "HeartBtInt(108) must be between 1 and 300 seconds"]


def test_possdup_reset_logon_with_seq_zero_while_active() -> None:
    """Regression: a PossDup reset Logon with MsgSeqNum 0 was dropped as a
    duplicate and left the logged-on session in AWAITING_LOGON, a state the
    transition table does not allow for (ACTIVE, LOGON)."""
    a = acceptor()
    a.logon()
    out = a.feed(a.logon_msg(body=[(141, "Y")], seq=0,
                             header=[(43, "Y"), (122, "20200101-00:00:00")]))
    assert a.state is State.DISCONNECTED
    assert only(out, fx.LoggedOut)


def test_pair_reset_while_logged_on() -> None:
    p = Pair()
    p.connect()
    p.send(p.ini, "D", [(11, "1")])
    # A reset in the middle of the session, as a driver would ask for one.
    s = p.ini.session
    s._reset(p.now)
    s.sent_reset = True
    s._send_admin(b"A", [(98, b"0"), (108, b"30"), (141, b"Y")], p.now)
    p.pump()
    assert p.logged_on()
    assert p.acc.session.next_target == 2 and p.acc.next_sender == 2
    assert p.ini.session.next_target == 2 and p.ini.next_sender == 2
    assert types(p.acc)[-1] == "A" and types(p.ini)[-1] == "A"  # no ping-pong


def test_reset_on_logout() -> None:
    a = acceptor(reset_on_logout=True)
    a.logon()
    a.send()
    out = a.feed(a.msg("5"))
    assert only(out, fx.ResetStore)
    assert a.session.next_sender == 1 and a.session.next_target == 1
    assert a.state is State.DISCONNECTED


def test_reset_on_disconnect() -> None:
    i = initiator(reset_on_disconnect=True)
    i.logon()
    i.send()
    i.session.closed(i.now)
    out = i.run()
    assert only(out, fx.ResetStore) and only(out, fx.LoggedOut)
    assert i.session.next_sender == 1 and i.session.next_target == 1


def test_no_reset_without_settings() -> None:
    i = initiator()
    i.logon()
    i.send()
    i.feed(i.msg("5"))
    assert not only(i.effects, fx.ResetStore)
    assert i.session.next_sender == 4 and i.session.next_target == 3


def test_acceptor_reset_on_logon_without_flag_from_peer() -> None:
    a = acceptor(reset_on_logon=True)
    a.restore(5, 5, 0)
    a.connect()
    a.feed(a.logon_msg(seq=1))
    assert a.state is State.ACTIVE
    assert a.last("A").get(34) == b"1"
    assert a.session.next_target == 2


# -- NextExpectedMsgSeqNum(789) --------------------------------------------------
def test_next_expected_resends_what_peer_missed() -> None:
    a = acceptor(enable_next_expected_msg_seq_num=True)
    a.logon()
    a.send(body=[(11, "one")])  # 2
    a.send(body=[(11, "two")])  # 3
    a.session.closed(a.now)
    a.run()
    a.connect()
    a.sent.clear()
    a.feed(a.logon_msg(body=[(789, 2)]))
    reply = a.sent[0]
    assert reply.msg_type == b"A" and reply.get(34) == b"4"
    assert reply.get(789) == b"3"  # its Logon (2) was in sequence
    replay = a.sent[1:]
    assert [(m.msg_type, m.get(34), m.get(43)) for m in replay[:2]] == [
        (b"D", b"2", b"Y"), (b"D", b"3", b"Y")]
    # The Logon answer itself (4) was sent normally and is not replayed.
    assert all(int(m.get(34) or b"0") < 4 for m in replay)


def test_next_expected_equal_needs_no_resend() -> None:
    a = acceptor(enable_next_expected_msg_seq_num=True)
    a.logon()
    a.send()
    a.session.closed(a.now)
    a.run()
    a.connect()
    a.sent.clear()
    a.feed(a.logon_msg(body=[(789, 3)]))
    assert a.sent_types() == ["A"]


def test_next_expected_too_high_logs_out() -> None:
    a = acceptor(enable_next_expected_msg_seq_num=True)
    a.connect()
    a.feed(a.logon_msg(body=[(789, 50)]))
    assert a.state is State.DISCONNECTED
    assert a.sent_types()[-1] == "5"
    assert b"NextExpectedMsgSeqNum too high" in (a.last("5").get(58) or b"")


def test_next_expected_ignored_when_disabled() -> None:
    a = acceptor()
    a.connect()
    a.feed(a.logon_msg(body=[(789, 50)]))
    assert a.state is State.ACTIVE and a.last("A").get(789) is None


def test_next_expected_pair_recovers_lost_messages() -> None:
    ini = settings("initiator", "CLIENT", "BROKER", enable_next_expected_msg_seq_num=True)
    acc = settings("acceptor", "BROKER", "CLIENT", enable_next_expected_msg_seq_num=True)
    p = Pair(ini, acc)
    p.connect()
    p.drop = lambda side, msg: side is p.acc and msg.msg_type == b"D"
    p.send(p.acc, "D", [(11, "lost1")])
    p.send(p.acc, "D", [(11, "lost2")])
    p.drop = lambda side, msg: False
    p.ini.session.logout(p.now)
    p.pump()
    p.connect()
    assert p.logged_on()
    got = [m.get(11) for m in p.ini.delivered if m.msg_type == b"D"]
    assert got == [b"lost1", b"lost2"]
    assert p.ini.session.next_target == p.acc.session.next_sender
    assert p.acc.session.next_target == p.ini.session.next_sender
    assert not p.ini.session.queue and p.ini.session.resend_range is None


# -- credentials and the application's decision ------------------------------------
def test_credentials_reach_the_application() -> None:
    p = Pair(ini=settings("initiator", "CLIENT", "BROKER", username="alice", password="s3cret"))
    p.connect()
    auth = [e for e in p.acc.events if isinstance(e, fx.AuthorizeLogon)]
    assert len(auth) == 1
    assert auth[0].msg.get(553) == b"alice" and auth[0].msg.get(554) == b"s3cret"


def test_refused_logon_gets_logout_with_text() -> None:
    a = acceptor()
    a.refuse_logon = "invalid password"
    a.connect()
    a.feed(a.logon_msg(body=[(553, "alice"), (554, "wrong")]))
    assert a.sent_types() == ["5"]
    assert a.last("5").get(58) == b"invalid password"
    assert a.state is State.DISCONNECTED
    assert not only(a.effects, fx.LoggedOn)


def test_refused_logon_without_text() -> None:
    a = acceptor()
    a.authorize = False
    a.connect()
    a.feed(a.logon_msg())
    a.session.logon_refused("", a.now)
    a.run()
    assert a.last("5").get(58) == b"Logon refused"


def test_initiator_also_asks_application_about_the_reply() -> None:
    i = initiator()
    i.authorize = False
    i.connect()
    i.feed(i.logon_msg())
    assert i.state is State.LOGON_RECEIVED and len(i.authorized) == 1
    i.session.logon_authorized(i.now)
    i.run()
    assert i.state is State.ACTIVE and i.sent_types() == ["A"]


# -- duplicate Logon, BeginString, CompIDs ----------------------------------------
@pytest.mark.parametrize("make", [acceptor, initiator])
def test_second_logon_without_reset_disconnects(make: Any) -> None:
    s = make()
    s.logon()
    out = s.feed(s.logon_msg())
    assert only(out, fx.Disconnect)
    assert not s.session.state.connected
    assert only(out, fx.LoggedOut)


def test_wrong_begin_string_in_logon() -> None:
    a = acceptor()
    a.connect()
    logon = a.logon_msg()
    logon.set(8, b"FIX.4.2")
    a.feed(logon)
    assert a.state is State.DISCONNECTED and a.sent == []
    assert a.disconnects == ["Incorrect BeginString in Logon"]


def test_wrong_begin_string_after_logon_logs_out() -> None:
    a = acceptor()
    a.logon()
    m = a.msg("0")
    m.set(8, b"FIX.4.2")
    a.feed(m)
    assert a.state is State.LOGOUT_SENT
    assert a.last("5").get(58) == b"Incorrect BeginString"
    assert a.session.next_target == 3


@pytest.mark.parametrize("tag", [49, 56])
def test_wrong_comp_id_in_logon_disconnects(tag: int) -> None:
    a = acceptor()
    a.connect()
    logon = a.logon_msg()
    logon.set(tag, b"SOMEONE")
    a.feed(logon)
    assert a.state is State.DISCONNECTED
    assert a.sent == []


@pytest.mark.parametrize("tag", [49, 56])
def test_wrong_comp_id_after_logon_rejects_and_logs_out(tag: int) -> None:
    a = acceptor()
    a.logon()
    m = a.msg("D", [(11, "x")])
    m.set(tag, b"SOMEONE")
    a.feed(m)
    reject, logout = a.sent[-2:]
    assert reject.msg_type == b"3" and reject.get(373) == b"9" and reject.get(45) == b"2"
    assert reject.get(58) == b"CompID problem"
    assert logout.msg_type == b"5"
    assert a.state is State.LOGOUT_SENT
    assert a.app_delivered() == []


def test_comp_id_check_can_be_turned_off() -> None:
    a = acceptor(validation={"check_comp_id": False})
    a.logon()
    m = a.msg("D", [(11, "x")])
    m.set(49, b"SOMEONE")
    a.feed(m)
    assert len(a.app_delivered()) == 1


def test_missing_comp_id_after_logon_is_rejected() -> None:
    a = acceptor()
    a.logon()
    a.feed(a.msg("D", [(11, "x")], omit=(56,)))
    rej = a.last("3")
    assert rej.get(373) == b"1" and rej.get(371) == b"56"
    assert a.state is State.ACTIVE


# -- the first message must be a Logon ------------------------------------------------
@pytest.mark.parametrize("mt", ["0", "D", "5"])
def test_first_message_not_logon_disconnects(mt: str) -> None:
    a = acceptor()
    a.connect()
    a.feed(a.msg(mt))
    assert a.state is State.DISCONNECTED and a.sent == []
    assert a.disconnects == ["first message was not a Logon"]


def test_initiator_app_message_before_logon_reply_disconnects() -> None:
    i = initiator()
    i.connect()
    i.feed(i.msg("D", [(11, "x")]))
    assert i.state is State.RECONNECTING
    assert i.disconnects == ["Logon state is not valid for message"]


def test_logon_answered_with_logout_by_acceptor() -> None:
    i = initiator()
    i.connect()
    i.feed(i.msg("5", [(58, "go away")]))
    assert i.state is State.RECONNECTING
    assert [m.get(58) for m in i.delivered] == [b"go away"]


def test_logon_too_low_without_possdup() -> None:
    a = acceptor()
    a.restore(1, 5, 0)
    a.connect()
    a.feed(a.logon_msg(seq=3))
    assert a.state is State.DISCONNECTED
    assert a.last("5").get(58) == b"MsgSeqNum too low, expecting 5 but received 3"


def test_logon_too_high_is_accepted_then_resend_requested() -> None:
    a = acceptor()
    a.connect()
    a.feed(a.logon_msg(seq=4))
    assert a.state is State.ACTIVE
    assert a.sent_types() == ["A", "2"]
    rr = a.last("2")
    assert rr.get(7) == b"1" and rr.get(16) == b"0"
    assert a.session.next_target == 1 and 4 in a.session.queue
    # Gap fill from the peer closes the gap; the queued Logon counts as received.
    a.feed(a.msg("4", [(36, 4), (123, "Y")], seq=1, header=[(43, "Y"), (122, "20200101-00:00:00")]))
    assert a.session.next_target == 5 and not a.session.queue
    assert a.session.resend_range is None


# -- schedules ------------------------------------------------------------------------
def _window(now: int, start_off: int, end_off: int) -> dict[str, Any]:
    import datetime as dt

    def clock(off: int) -> str:
        t = dt.datetime.fromtimestamp(now / NS + off, tz=dt.UTC)
        return t.strftime("%H:%M:%S")

    return {"non_stop": False, "start_time": clock(start_off), "end_time": clock(end_off)}


def test_logon_outside_schedule_refused_by_acceptor() -> None:
    from .session_harness import T0

    a = acceptor(schedule=_window(T0, 3600, 7200))
    a.connect()
    a.feed(a.logon_msg())
    assert a.state is State.DISCONNECTED
    assert a.last("5").get(58) == b"Logon attempt not within session time"


def test_initiator_does_not_logon_outside_schedule() -> None:
    from .session_harness import T0

    i = initiator(schedule=_window(T0, 3600, 7200))
    i.connect()
    assert i.sent == [] and i.state is State.RECONNECTING
    assert i.disconnects == ["outside the session schedule"]


def test_session_end_logs_out() -> None:
    from .session_harness import T0

    a = acceptor(schedule=_window(T0, -60, 10))
    a.logon()
    a.advance(12)
    assert a.state is State.LOGOUT_SENT
    assert a.last("5").get(58) == b"Session end"


def test_message_after_session_end_logs_out() -> None:
    from .session_harness import T0

    a = acceptor(schedule=_window(T0, -60, 10), heartbeat_interval=0, min_heartbeat_interval=0)
    a.logon(hbi=0)
    a.now += 11 * NS
    a.feed(a.msg("0"))
    assert a.state is State.DISCONNECTED
    assert a.last("5").get(58) == b"Session end"


def test_new_period_resets_sequence_numbers_at_logon() -> None:
    from .session_harness import T0

    a = acceptor(schedule=_window(T0, -60, 3600))
    a.restore(10, 10, T0 - 86400 * NS)  # store created yesterday
    a.next_sender = 10
    out = a.connect()
    out += a.feed(a.logon_msg(seq=1))
    assert only(out, fx.ResetStore)
    assert a.state is State.ACTIVE and a.last("A").get(34) == b"1"


def test_same_period_keeps_sequence_numbers() -> None:
    from .session_harness import T0

    a = acceptor(schedule=_window(T0, -60, 3600))
    a.restore(10, 1, T0 - 30 * NS)
    a.connect()
    a.feed(a.logon_msg(seq=1))
    assert not only(a.effects, fx.ResetStore)
    assert a.last("A").get(34) == b"10"


# -- FIXT.1.1 -------------------------------------------------------------------------
def fixt(role: str, **kw: Any) -> Solo:
    sender, target = ("BROKER", "CLIENT") if role == "acceptor" else ("CLIENT", "BROKER")
    return Solo(settings(role, sender, target, begin_string="FIXT.1.1",
                         default_appl_ver_id="FIX.5.0SP2", **kw))


def test_fixt_logon_without_default_appl_ver_id_refused() -> None:
    a = fixt("acceptor")
    a.connect()
    logon = a.msg("A", [(98, 0), (108, 30)])
    a.feed(logon)
    assert a.state is State.DISCONNECTED
    assert a.disconnects == ["Logon without DefaultApplVerID(1137)"]


def test_fixt_logon_reply_carries_default_appl_ver_id() -> None:
    a = fixt("acceptor")
    a.logon()
    assert a.last("A").get(1137) == b"9"
    i = fixt("initiator")
    i.connect()
    assert i.sent[0].get(1137) == b"9"


def test_fixt_pair_logs_on() -> None:
    ini = settings("initiator", "CLIENT", "BROKER", begin_string="FIXT.1.1",
                   default_appl_ver_id="9")
    acc = settings("acceptor", "BROKER", "CLIENT", begin_string="FIXT.1.1",
                   default_appl_ver_id="FIX.5.0SP2")
    p = Pair(ini, acc)
    p.connect()
    assert p.logged_on()
    assert decode(p.acc.wire[0]).get(1137) == b"9"
    assert types(p.ini) == ["A"]


# -- Security: nothing changes before a Logon is accepted --------------------------
@pytest.mark.parametrize("hbi", [b"0", b"301", b"99999999999999999999"])
def test_acceptor_heartbeat_interval_outside_its_range_is_refused(hbi: bytes) -> None:
    a = acceptor()
    a.connect()
    logon = a.logon_msg()
    logon.set(108, hbi)
    out = a.feed(logon)
    assert a.state is State.DISCONNECTED
    assert a.last("5").get(58) == b"HeartBtInt(108) must be between 1 and 300 seconds"
    assert not only(out, fx.AuthorizeLogon)


def test_acceptor_heartbeat_range_is_configurable() -> None:
    a = acceptor(min_heartbeat_interval=5, max_heartbeat_interval=60)
    a.logon(hbi=60)
    assert a.state is State.ACTIVE
    b = acceptor(min_heartbeat_interval=5, max_heartbeat_interval=60)
    b.connect()
    logon = b.logon_msg()
    logon.set(108, b"4")
    b.feed(logon)
    assert b.last("5").get(58) == b"HeartBtInt(108) must be between 5 and 60 seconds"


def test_reset_logon_changes_nothing_until_authorised() -> None:
    """A Logon with ResetSeqNumFlag=Y resets the sequence numbers only once
    it is accepted: a refused one leaves the store as it was."""
    a = acceptor()
    a.restore(8, 8)
    a.connect()
    a.authorize = False
    out = a.feed(a.logon_msg(body=[(141, "Y")], seq=1))
    assert only(out, fx.AuthorizeLogon)
    assert not only(out, fx.ResetStore)
    assert (a.session.next_sender, a.session.next_target) == (8, 8)
    a.session.logon_refused("bad credentials", a.now)
    out = a.run()
    assert not only(out, fx.ResetStore)
    assert a.session.next_target == 8 and a.state is State.DISCONNECTED


def test_reset_logon_resets_once_authorised() -> None:
    a = acceptor()
    a.restore(8, 8)
    a.connect()
    a.authorize = False
    a.feed(a.logon_msg(body=[(141, "Y")], seq=1))
    a.session.logon_authorized(a.now)
    out = a.run()
    assert only(out, fx.ResetStore)
    assert a.state is State.ACTIVE
    assert (a.session.next_sender, a.session.next_target) == (2, 2)


def test_new_password_is_refused_when_the_engine_checks_passwords() -> None:
    a = acceptor(authentication={"password": "secret"})
    a.connect()
    out = a.feed(a.logon_msg(body=[(553, "u"), (554, "secret"), (925, "other")]))
    assert a.state is State.DISCONNECTED
    assert b"NewPassword(925) is not supported" in (a.last("5").get(58) or b"")
    assert not only(out, fx.AuthorizeLogon)


def test_queue_above_a_gap_is_bounded() -> None:
    a = acceptor(max_queued_messages=3)
    a.logon()
    for seq in range(10, 14):
        a.feed(a.msg("D", [(11, str(seq))], seq=seq))
    assert a.state is State.DISCONNECTED
    assert b"too many messages queued" in (a.last("5").get(58) or b"")
    assert a.session.stats.queue_overflows == 1
    assert a.session.next_target == 2  # nothing above the gap was accepted
