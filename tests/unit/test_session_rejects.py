"""Session layer, rejects: session Reject fields per FIX version, reverse
routing, BusinessMessageReject through ``app_rejected``, validation problems
and garbled input (sans-IO)."""

from __future__ import annotations

from typing import Any

import pytest
from pyfixmsg_plus.engine.application import (
    BusinessReject,
    FieldNotFound,
    IncorrectTagValue,
    UnsupportedMessageType,
)
from pyfixmsg_plus.engine.codec import Message
from pyfixmsg_plus.engine.session import Problem, State
from pyfixmsg_plus.engine.session import effects as fx
from pyfixmsg_plus.engine.session.rejects import business_reject, session_reject

from .session_harness import Solo, only, settings

FIXT = {"begin_string": "FIXT.1.1", "default_appl_ver_id": "FIX.5.0SP2"}


def solo(begin_string: str = "FIX.4.4", validator: Any = None, **kw: Any) -> Solo:
    extra: dict[str, Any] = dict(FIXT) if begin_string == "FIXT.1.1" else {
        "begin_string": begin_string}
    s = Solo(settings("acceptor", "BROKER", "CLIENT", **extra, **kw), validator)
    s.logon()
    return s


def fail_on(tag: int, reason: int, text: str | None = None) -> Any:
    def validator(msg: Message) -> Problem | None:
        if msg.msg_type == b"D" and tag in msg:
            return Problem(reason, tag, text)
        return None
    return validator


# -- session Reject per version ------------------------------------------------------
@pytest.mark.parametrize("begin_string", ["FIX.4.0", "FIX.4.1"])
def test_reject_fix40_41_puts_tag_in_text(begin_string: str) -> None:
    s = solo(begin_string, fail_on(55, 5))
    s.feed(s.msg("D", [(11, "x"), (55, "BAD")]))
    rej = s.last("3")
    assert rej.get(45) == b"2"
    assert rej.get(58) == b"Value is incorrect (out of range) for this tag (55)"
    assert rej.get(371) is None and rej.get(372) is None and rej.get(373) is None
    assert s.session.next_target == 3  # rejected messages are consumed


def test_reject_fix42_leaves_out_reasons_above_11() -> None:
    s = solo("FIX.4.2", fail_on(55, 13))
    s.feed(s.msg("D", [(11, "x"), (55, "BAD")]))
    rej = s.last("3")
    assert rej.get(371) == b"55" and rej.get(372) == b"D"
    assert rej.get(373) is None
    assert rej.get(58) == b"Tag appears more than once"


def test_reject_fix42_keeps_reasons_up_to_11() -> None:
    s = solo("FIX.4.2", fail_on(55, 11))
    s.feed(s.msg("D", [(11, "x"), (55, "BAD")]))
    assert s.last("3").get(373) == b"11"


@pytest.mark.parametrize("begin_string", ["FIX.4.3", "FIX.4.4", "FIXT.1.1"])
def test_reject_modern_fields(begin_string: str) -> None:
    s = solo(begin_string, fail_on(55, 13, "custom text"))
    s.feed(s.msg("D", [(11, "x"), (55, "BAD")]))
    rej = s.last("3")
    assert (rej.get(45), rej.get(371), rej.get(372), rej.get(373), rej.get(58)) == (
        b"2", b"55", b"D", b"13", b"custom text")


def test_reject_without_tag_has_no_ref_tag() -> None:
    rej = session_reject(b"FIX.4.4", Message.new("FIX.4.4", "D", [(34, "7")]), 11)
    assert rej.get(371) is None and rej.get(373) == b"11" and rej.get(45) == b"7"


def test_reject_invalid_tag_number_zero() -> None:
    rej = session_reject(b"FIX.4.1", Message.new("FIX.4.1", "D"), 0)
    assert rej.get(58) == b"Invalid tag number (0)"


def test_reject_of_logon_state_problem_before_logon_disconnects() -> None:
    a = Solo(settings("acceptor", "BROKER", "CLIENT"),
             lambda m: Problem(1, 108) if m.msg_type == b"A" else None)
    a.connect()
    a.feed(a.logon_msg())
    assert a.state is State.DISCONNECTED and a.sent == []


# -- reverse routing --------------------------------------------------------------------
ROUTE = [(115, "ONBEHALF"), (128, "DELIVERTO"), (116, "OBSUB"), (129, "DTSUB"),
         (144, "OBLOC"), (145, "DTLOC")]


def test_reject_reverses_routing_fields() -> None:
    s = solo("FIX.4.4", fail_on(55, 5))
    s.feed(s.msg("D", [(11, "x"), (55, "BAD")], header=ROUTE))
    rej = s.last("3")
    assert (rej.get(128), rej.get(115), rej.get(129), rej.get(116), rej.get(145),
            rej.get(144)) == (b"ONBEHALF", b"DELIVERTO", b"OBSUB", b"DTSUB", b"OBLOC", b"DTLOC")


def test_fix40_has_no_location_routing() -> None:
    received = Message.new("FIX.4.0", "D")
    for tag, value in ROUTE:
        received.set(tag, value)
    rej = session_reject(b"FIX.4.0", received, 5, 55)
    assert rej.get(128) == b"ONBEHALF" and rej.get(115) == b"DELIVERTO"
    assert rej.get(144) is None and rej.get(145) is None


def test_business_reject_reverses_routing() -> None:
    received = Message.new("FIX.4.2", "D", [(34, "9")])
    received.set(115, "X")
    rej = business_reject(b"FIX.4.2", received, 0)
    assert rej.get(128) == b"X" and rej.get(45) == b"9"


# -- BusinessMessageReject via app_rejected -----------------------------------------------
@pytest.mark.parametrize("begin_string", ["FIX.4.2", "FIX.4.4"])
def test_unsupported_message_type_business_reject(begin_string: str) -> None:
    s = solo(begin_string)
    s.feed(s.msg("ZZ", [(11, "x")]))
    msg = s.app_delivered()[-1]
    s.session.app_rejected(msg, UnsupportedMessageType(), s.now)
    s.run()
    rej = s.last("j")
    assert (rej.get(45), rej.get(372), rej.get(380), rej.get(58)) == (
        b"2", b"ZZ", b"3", b"Unsupported Message Type")
    assert rej.get(1137) is None


def test_unsupported_message_type_fixt_puts_appl_ver_id_in_header() -> None:
    s = solo("FIXT.1.1")
    s.feed(s.msg("ZZ", [(11, "x")]))
    s.session.app_rejected(s.app_delivered()[-1], UnsupportedMessageType(), s.now)
    s.run()
    rej = s.last("j")
    assert rej.get(380) == b"3" and rej.get(1137) is None
    assert (1128, b"9") in rej.header


def test_fixt_business_reject_passes_the_peer_dictionaries() -> None:
    """What another copy of the engine validates it with: FIXT11 + FIX50SP2."""
    from pyfixmsg_plus.engine.codec import encode, parse
    from pyfixmsg_plus.engine.dictionary import validate

    from .test_dictionary_common import fixt

    s = solo("FIXT.1.1")
    s.feed(s.msg("ZZ", [(11, "x")]))
    s.session.app_rejected(s.app_delivered()[-1], UnsupportedMessageType(), s.now)
    s.run()
    wire = parse(encode(s.last("j")))
    assert validate(wire, fixt()) is None
    assert validate(wire, fixt("FIX50.xml")) is None


@pytest.mark.parametrize("begin_string", ["FIX.4.0", "FIX.4.1"])
def test_unsupported_message_type_before_42_is_session_reject(begin_string: str) -> None:
    s = solo(begin_string)
    s.feed(s.msg("ZZ", [(11, "x")]))
    s.session.app_rejected(s.app_delivered()[-1], UnsupportedMessageType(), s.now)
    s.run()
    rej = s.last("3")
    assert rej.get(58) == b"Unsupported message type" and rej.get(373) is None
    assert "j" not in s.sent_types()


def test_business_reject_with_reason_and_tag() -> None:
    s = solo()
    s.feed(s.msg("D", [(11, "x")]))
    s.session.app_rejected(s.app_delivered()[-1], FieldNotFound(55), s.now)
    s.run()
    rej = s.last("j")
    assert rej.get(380) == b"5" and rej.get(58) == b"Conditionally required field missing (55)"


def test_app_session_reject_incorrect_value() -> None:
    s = solo()
    s.feed(s.msg("D", [(11, "x")]))
    s.session.app_rejected(s.app_delivered()[-1], IncorrectTagValue(54), s.now)
    s.run()
    rej = s.last("3")
    assert rej.get(373) == b"5" and rej.get(371) == b"54"
    assert s.session.next_target == 3  # not advanced a second time


@pytest.mark.parametrize("begin_string", ["FIX.4.0", "FIX.4.1"])
def test_field_not_found_before_42_is_session_reject(begin_string: str) -> None:
    s = solo(begin_string)
    s.feed(s.msg("D", [(11, "x")]))
    s.session.app_rejected(s.app_delivered()[-1], FieldNotFound(55), s.now)
    s.run()
    rej = s.last("3")
    assert rej.get(58) == b"Required tag missing (55)" and rej.get(373) is None  # no 373 yet


@pytest.mark.parametrize(("begin_string", "answer"), [("FIX.4.4", "j"), ("FIX.4.1", "3")])
def test_business_reject_exception_maps_by_version(begin_string: str, answer: str) -> None:
    s = solo(begin_string)
    s.feed(s.msg("D", [(11, "x")]))
    s.session.app_rejected(s.app_delivered()[-1], BusinessReject(4, "halted", 55), s.now)
    s.run()
    rej = s.last(answer)
    assert rej.get(58) in (b"halted", b"halted (55)")
    if answer == "j":
        assert rej.get(380) == b"4"


def test_app_rejected_after_disconnect_is_ignored() -> None:
    s = solo()
    s.feed(s.msg("D", [(11, "x")]))
    msg = s.app_delivered()[-1]
    s.session.closed(s.now)
    s.run()
    s.session.app_rejected(msg, UnsupportedMessageType(), s.now)
    assert s.run() == []


def test_app_rejected_message_is_persisted_with_next_seq() -> None:
    s = solo()
    s.feed(s.msg("D", [(11, "x")]))
    s.session.app_rejected(s.app_delivered()[-1], UnsupportedMessageType(), s.now)
    out = s.run()
    (send,) = only(out, fx.Send)
    assert send.persist and send.seq == 2


# -- garbled input ----------------------------------------------------------------------------
def test_garbled_ignored_when_logged_on() -> None:
    s = solo()
    s.session.receive_garbled("bad checksum", s.now)
    out = s.run()
    assert s.state is State.ACTIVE and not only(out, fx.Disconnect)
    assert s.session.next_target == 2


@pytest.mark.parametrize("role", ["acceptor", "initiator"])
def test_garbled_before_logon_disconnects(role: str) -> None:
    sender, target = ("BROKER", "CLIENT") if role == "acceptor" else ("CLIENT", "BROKER")
    s = Solo(settings(role, sender, target))
    s.connect()
    s.session.receive_garbled("bad checksum", s.now)
    s.run()
    assert not s.session.state.connected
    assert s.disconnects == ["garbled message before logon: bad checksum"]


def test_garbled_while_logout_sent_is_ignored() -> None:
    s = solo()
    s.session.logout(s.now)
    s.session.receive_garbled("x", s.now)
    s.run()
    assert s.state is State.LOGOUT_SENT


# -- basic checks without a dictionary ----------------------------------------------------------
def test_missing_sending_time_rejected() -> None:
    s = solo()
    s.feed(s.msg("D", [(11, "x")], omit=(52,)))
    rej = s.last("3")
    assert rej.get(373) == b"1" and rej.get(371) == b"52"


def test_empty_value_rejected() -> None:
    s = solo()
    m = s.msg("D", [(11, "x")])
    m.set(55, b"")
    s.feed(m)
    rej = s.last("3")
    assert rej.get(373) == b"4" and rej.get(371) == b"55"


def test_sending_time_accuracy() -> None:
    s = solo()
    s.feed(s.msg("D", [(11, "x")], sending_time=s.now - 121 * 1_000_000_000))
    rej, logout = s.sent[-2:]
    assert rej.get(373) == b"10" and logout.msg_type == b"5"
    assert s.state is State.LOGOUT_SENT


def test_sending_time_check_can_be_turned_off() -> None:
    s = solo(validation={"check_latency": False})
    s.feed(s.msg("D", [(11, "x")], sending_time=s.now - 3600 * 1_000_000_000))
    assert len(s.app_delivered()) == 1


def test_fixt_business_reject_quickfix_cpp_style() -> None:
    """``businessRejectApplVerId: body``: DefaultApplVerID(1137) in the body,
    as QuickFIX C++ writes it (its acceptance definitions expect it)."""
    s = solo("FIXT.1.1", business_reject_appl_ver_id="body")
    s.feed(s.msg("ZZ", [(11, "x")]))
    s.session.app_rejected(s.app_delivered()[-1], UnsupportedMessageType(), s.now)
    s.run()
    rej = s.last("j")
    assert rej.get(1137) == b"9" and rej.get(1128) is None
    assert rej.body[-2:] == [(380, b"3"), (1137, b"9")]


def test_a_quickfix_cpp_style_business_reject_is_taken() -> None:
    """A peer running QuickFIX C++ puts DefaultApplVerID(1137) in the body of
    its BusinessMessageRejects: our validation lets it through (and only it)."""
    from pyfixmsg_plus.engine.codec import encode, parse
    from pyfixmsg_plus.engine.dictionary import validate

    from .test_dictionary_common import fixt

    s = solo("FIXT.1.1", business_reject_appl_ver_id="body")
    s.feed(s.msg("ZZ", [(11, "x")]))
    s.session.app_rejected(s.app_delivered()[-1], UnsupportedMessageType(), s.now)
    s.run()
    wire = parse(encode(s.last("j")))
    assert wire.get(1137) == b"9"
    assert validate(wire, fixt()) is None
    wire.body.append((1136, b"x"))  # another Logon field is still refused
    wire.touch()
    reject = validate(wire, fixt())
    assert reject is not None and reject.ref_tag == 1136
