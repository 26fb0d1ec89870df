"""Validation: every SessionRejectReason, which one wins, options, FIXT."""

from __future__ import annotations

import pytest
from pyfixmsg_plus.engine.codec import Message
from pyfixmsg_plus.engine.config import ValidationSettings
from pyfixmsg_plus.engine.dictionary import (
    REJECT_TEXTS,
    Reject,
    SessionDictionaries,
    Validator,
    reasons,
    validate,
)
from pyfixmsg_plus.engine.errors import RemoteProtocolError
from pyfixmsg_plus.engine.session import rejects
from pyfixmsg_plus.engine.session.rejects import session_reject

from .test_dictionary_common import HEADER44, fixt, spec, wire

NOS = "11=ID|21=1|38=100|40=1|54=1|55=INTC|60=20261121-05:40:04.615|"


def check44(text: str, options: ValidationSettings | None = None) -> Reject | None:
    return validate(wire(text), spec("FIX44.xml"), options or ValidationSettings())


def hdr(mt: str) -> str:
    return HEADER44.format(mt=mt)


def test_valid_messages_pass() -> None:
    assert check44(hdr("0")) is None
    assert check44(hdr("D") + NOS) is None
    assert check44(hdr("D") + NOS + "386=2|336=A|336=B|453=1|448=P|447=D|452=1|") is None


@pytest.mark.parametrize(
    ("body", "reason", "tag"),
    [
        ("999=HI|", 0, 999),
        ("0=HI|", 0, 0),
        ("-1=HI|", 0, -1),
        ("5000=HI|", 0, 5000),
        ("55=MSFT|", 2, 55),
        ("112=|", 4, 112),
    ],
)
def test_heartbeat_field_problems(body: str, reason: int, tag: int) -> None:
    r = check44(hdr("0") + body)
    assert r == Reject(reason, b"0", tag)
    assert r is not None and r.text == REJECT_TEXTS[reason]


def test_required_tag_missing_header_then_body() -> None:
    assert check44("8=FIX.4.4|35=0|34=2|49=TW|52=20261121-05:40:04|") == Reject(1, b"0", 56)
    r = check44(hdr("D") + "40=1|60=20261121-05:40:04|54=1|21=3|")
    assert r == Reject(1, b"D", 11)
    assert r is not None and r.text == "Required tag missing"


def test_undefined_tag_reason_3_on_request() -> None:
    opts = ValidationSettings(distinguish_undefined_tags=True)
    assert check44(hdr("0") + "999=HI|", opts) == Reject(3, b"0", 999)
    assert check44(hdr("0") + "-1=HI|", opts) == Reject(0, b"0", -1)
    assert REJECT_TEXTS[3] == "Undefined Tag"


def test_value_problems() -> None:
    assert check44(hdr("D") + NOS.replace("21=1", "21=4")) == Reject(5, b"D", 21)
    assert check44(hdr("D") + NOS + "167=BOO|") == Reject(5, b"D", 167)
    assert check44(hdr("D") + NOS.replace("38=100", "38=+200.00")) == Reject(6, b"D", 38)
    assert check44(hdr("D") + NOS.replace("38=100", "38=002000.00")) is None
    # MultipleValueString: each token is checked against the enum (18 ExecInst).
    assert check44(hdr("D") + NOS + "18=1 2|") is None
    assert check44(hdr("D") + NOS + "18=1 @|") == Reject(5, b"D", 18)


def test_invalid_msgtype_has_no_ref_tag() -> None:
    r = check44(hdr("*"))
    assert r == Reject(11, b"*", None) and r.text == "Invalid MsgType"
    # In the dictionary but unsupported by the application: not a session reject.
    assert check44(hdr("8") + "37=id|17=id|150=0|39=0|55=W|54=1|151=1|14=0|6=0|") is None


def test_repeated_tag_and_out_of_order() -> None:
    assert check44(hdr("D") + NOS + "40=2|") == Reject(13, b"D", 40)
    text = "8=FIX.4.4|35=D|" + NOS + "34=2|49=TW|52=20261121-05:40:04|56=ISLD|"
    assert check44(text) == Reject(14, b"D", 34)
    off = ValidationSettings(validate_fields_out_of_order=False)
    assert check44(text, off) is None


def test_group_count_and_layout() -> None:
    base = hdr("D") + NOS
    assert check44(base + "386=3|336=PRE-OPEN|336=AFTER-HOURS|") == Reject(16, b"D", 386)
    assert check44(base + "386=0|") is None
    # Entry not starting with its delimiter (PartyID 448).
    assert check44(base + "453=2|447=D|448=P|") == Reject(15, b"D", 447)
    # As in QuickFIX, a group field before the delimiter opens an entry of its own.
    assert check44(base + "453=1|447=D|448=P|") == Reject(16, b"D", 453)
    # Entry fields out of dictionary order (448, 447, 452).
    late = base + "453=1|448=P|452=1|447=D|"
    assert check44(late) == Reject(15, b"D", 447)
    assert check44(late, ValidationSettings(validate_unordered_group_fields=False)) is None
    # Bad value inside an entry.
    assert check44(base + "453=1|448=P|447=D|452=x|") == Reject(6, b"D", 452)


def test_nested_group_count_is_checked() -> None:
    base = hdr("D") + NOS
    ok = base + "453=1|448=P|447=D|452=1|802=2|523=S1|803=1|523=S2|803=2|"
    assert check44(ok) is None
    assert check44(ok.replace("802=2", "802=3")) == Reject(16, b"D", 802)


def test_required_fields_inside_required_group_entries() -> None:
    # ListStatus: NoOrders(73) required; each entry needs ClOrdID(11) etc.
    dd = spec("FIX44.xml")
    group = dd.message("N").groups[73]
    mdef = dd.message("N")
    head = hdr("N") + "".join(f"{t}={_sample(dd, t)}|" for t in mdef.required if t != 73)
    in_order = [m.tag for m in group.members if m.tag in group.required]
    assert in_order[0] == group.delimiter == 11
    entry = "".join(f"{t}={_sample(dd, t)}|" for t in in_order)
    assert check44(head + "73=1|" + entry) is None
    without_14 = "|".join(f for f in entry.split("|") if not f.startswith("14="))
    assert check44(head + "73=1|" + without_14) == Reject(1, b"N", 14)


def _sample(dd: object, tag: int) -> str:
    return {11: "C1", 14: "0", 39: "0", 151: "0", 84: "0", 6: "0"}.get(tag, "1")


def test_precedence_follows_quickfix() -> None:
    # Out-of-order header tag wins over everything.
    text = "8=FIX.4.4|35=*|999=X|34=2|49=TW|52=20261121-05:40:04|56=ISLD|"
    assert check44(text) == Reject(14, b"*", 34)
    # Invalid MsgType wins over required fields.
    assert check44("8=FIX.4.4|35=*|34=2|") == Reject(11, b"*", None)
    # Required fields win over field problems.
    assert check44(hdr("D") + "999=X|40=1|54=1|60=20261121-05:40:04|") == Reject(1, b"D", 11)
    # Header problems win over body problems.
    assert check44(hdr("D").replace("56=ISLD", "56=") + NOS + "999=X|") == Reject(4, b"D", 56)
    # In the body the lowest tag wins, whatever the wire order.
    assert check44(hdr("D") + NOS + "999=X|" + "167=BOO|") == Reject(5, b"D", 167)
    assert check44(hdr("D") + "999=X|" + NOS.replace("21=1", "21=9")) == Reject(5, b"D", 21)
    # For a repeated tag, the first occurrence's own problem comes first.
    assert check44(hdr("D") + NOS.replace("40=1", "40=Z|40=1")) == Reject(5, b"D", 40)


def test_options() -> None:
    empty = hdr("1") + "112=|"
    assert check44(empty) == Reject(4, b"1", 112)
    assert check44(empty, ValidationSettings(validate_fields_have_values=False)) is None
    assert check44(hdr("0") + "9999=X|", ValidationSettings(validate_user_defined_fields=False)) is None
    allow = ValidationSettings(allow_unknown_msg_fields=True)
    assert check44(hdr("0") + "999=X|55=M|", allow) is None
    assert check44(hdr("0") + "9999=X|", allow) == Reject(0, b"0", 9999)
    assert check44(hdr("0") + "0=X|", allow) == Reject(0, b"0", 0)
    off = ValidationSettings(use_data_dictionary=False)
    assert check44(hdr("*") + "0=|", off) is None


def _laid_out(begin: bytes, reject: Reject, seq: int | None = None) -> list[tuple[int, bytes]]:
    """The body of the Reject the session sends for ``reject``."""
    received = Message([(8, begin), (35, reject.ref_msg_type)])
    if seq is not None:
        received.header.append((34, b"%d" % seq))
    return session_reject(begin, received, reject.reason, reject.ref_tag).body


def test_session_reasons_9_and_10_for_the_session_layer() -> None:
    comp = Reject.of(reasons.COMPID_PROBLEM, "A", 56)
    assert comp.text == "CompID problem"
    assert dict(_laid_out(b"FIX.4.4", comp, 1)) == {
        45: b"1", 58: b"CompID problem", 371: b"56", 372: b"A", 373: b"9"
    }
    late = Reject.of(reasons.SENDINGTIME_ACCURACY_PROBLEM, b"0", 52)
    assert late.text == "SendingTime accuracy problem" and late.reason == 10


def test_one_table_of_reject_texts_in_quickfix_wording() -> None:
    assert rejects.REASON_TEXT is REJECT_TEXTS
    assert REJECT_TEXTS[3] == "Undefined Tag"  # QuickFIX's capital T, in what is sent too
    assert dict(_laid_out(b"FIX.4.4", Reject(3, b"D", 9999)))[58] == b"Undefined Tag"


def test_reject_fields_per_version() -> None:
    r = Reject(13, b"D", 40)
    assert _laid_out(b"FIX.4.4", r, 2) == [
        (45, b"2"), (58, b"Tag appears more than once"), (371, b"40"), (372, b"D"), (373, b"13")
    ]
    # FIX.4.2 sends SessionRejectReason only for codes up to 11.
    assert [t for t, _ in _laid_out(b"FIX.4.2", r)] == [58, 371, 372]
    assert [t for t, _ in _laid_out(b"FIX.4.2", Reject(5, b"D", 21))] == [58, 371, 372, 373]
    # FIX.4.0/4.1: no RefTagID, the tag goes into the text.
    assert _laid_out(b"FIX.4.0", Reject(5, b"D", 21)) == [
        (58, b"Value is incorrect (out of range) for this tag (21)")
    ]
    assert _laid_out(b"FIX.4.1", Reject(11, b"*")) == [(58, b"Invalid MsgType")]
    assert _laid_out(b"FIXT.1.1", Reject(11, b"*")) == [
        (58, b"Invalid MsgType"), (372, b"*"), (373, b"11")]
    err = r.to_error()
    assert isinstance(err, RemoteProtocolError) and (err.reason, err.ref_tag) == (13, 40)
    assert "Tag appears more than once" in str(r)


# -- FIXT ----------------------------------------------------------------------
FIXT_HDR = "8=FIXT.1.1|35={mt}|34=2|49=TW|52=20261121-05:40:04.615|56=ISLD|"


def test_fixt_admin_and_app_messages() -> None:
    sd = fixt()
    assert validate(wire(FIXT_HDR.format(mt="0")), sd) is None
    assert validate(wire(FIXT_HDR.format(mt="0") + "58=x|"), sd) == Reject(2, b"0", 58)
    assert validate(wire(FIXT_HDR.format(mt="D") + NOS), sd) is None
    assert validate(wire(FIXT_HDR.format(mt="D") + NOS + "9999=x|"), sd) == Reject(0, b"D", 9999)
    # Header required fields come from the transport dictionary.
    assert validate(wire("8=FIXT.1.1|35=D|34=2|49=TW|52=20261121-05:40:04|" + NOS), sd) == Reject(
        1, b"D", 56
    )


def test_fixt_appl_ver_id_picks_the_app_dictionary() -> None:
    t = spec("FIXT11.xml")
    fix50, sp2 = spec("FIX50.xml"), spec("FIX50SP2.xml")
    sd = SessionDictionaries(t, [fix50, sp2], default_appl_ver_id="7")
    # ExecType 150=F does not exist... use a field only SP2 knows: 1300 MarketSegmentID.
    assert 1300 not in fix50.fields and 1300 in sp2.fields
    msg = FIXT_HDR.format(mt="D") + NOS + "1300=SEG|"
    assert validate(wire(msg), sd) == Reject(0, b"D", 1300)
    with_sp2 = msg.replace("34=2|", "34=2|1128=9|")
    assert sd.for_message(wire(with_sp2)) == (t, sp2)
    assert validate(wire(with_sp2), sd) is None
    # A single combined dictionary works the same for one app version.
    assert Validator(sd.transport.combine(t, sp2))(wire(msg)) is None


def test_validator_binds_dictionary_and_options() -> None:
    v = Validator(spec("FIX44.xml"), ValidationSettings(validate_fields_have_values=False))
    assert v(wire(hdr("1") + "112=|")) is None
    assert v.validate(wire(hdr("*"))) == Reject(11, b"*")


def test_locally_built_message_validates_without_length_and_checksum() -> None:
    msg = Message.new("FIX.4.4", "0")
    for tag, value in ((34, 1), (49, "A"), (52, "20261121-05:40:04"), (56, "B")):
        msg.set(tag, value)
    assert validate(msg, spec("FIX44.xml")) is None
