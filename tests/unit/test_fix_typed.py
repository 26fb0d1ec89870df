"""The typed message API: generated modules current, typed fields, enum
constants, the cracker, SessionID, repeating groups through a dictionary."""

from __future__ import annotations

import importlib
import pickle
from decimal import Decimal
from typing import Any

import pytest
from pyfixmsg_plus.engine.application import Application, UnsupportedMessageType
from pyfixmsg_plus.engine.codec import Message, encode, parse
from pyfixmsg_plus.engine.dictionary import validate
from pyfixmsg_plus.engine.errors import FieldValueError
from pyfixmsg_plus.engine.fix import FieldDescriptor, SessionID, fix44, fix50sp2, fixt11, tags
from pyfixmsg_plus.engine.fix.cracker import MessageCracker, typed
from pyfixmsg_plus.engine.fix.generate import VERSIONS, generate

from .test_dictionary_common import spec, spec_dir


def test_generated_modules_are_current() -> None:
    """`python -m pyfixmsg_plus.engine.fix.generate` gives what is committed."""
    here = importlib.import_module("pyfixmsg_plus.engine.fix").__path__[0]
    for name, text in generate(spec_dir()).items():
        with open(f"{here}/{name}", encoding="utf-8") as f:
            assert f.read() == text, f"engine/fix/{name} is stale: regenerate it"


@pytest.mark.parametrize(("module", "source"), VERSIONS)
def test_every_message_and_value_of_the_dictionary(module: str, source: str) -> None:
    mod = importlib.import_module(f"pyfixmsg_plus.engine.fix.{module}")
    dd = spec(source)
    assert {k.encode() for k in mod.MESSAGES} == set(dd.messages)
    for msg_type, cls in mod.MESSAGES.items():
        mdef = dd.messages[msg_type.encode()]
        assert (msg_type, mdef.name) == (cls.MSG_TYPE, cls.NAME)
        member_tags = {m.tag for m in mdef.members}
        typed_tags = {d.tag for d in vars(cls).values() if isinstance(d, FieldDescriptor)}
        assert typed_tags <= member_tags and len(typed_tags) >= len(member_tags) - 2
    for fd in dd.fields.values():
        if fd.values and fd.number != 35:
            values = getattr(mod, fd.name + "Values", None) or getattr(mod, fd.name)
            assert {v for k, v in vars(values).items() if k.isupper()} == {
                v.decode("latin-1") for v in fd.values}


def test_tag_constants() -> None:
    assert (tags.ClOrdID, tags.MsgType, tags.ApplVerID, tags.DefaultApplVerID) == (
        11, 35, 1128, 1137)


def test_typed_message_reads_and_writes_python_values() -> None:
    order = fix44.NewOrderSingle()
    order.cl_ord_id = "ORD-1"
    order.side = fix44.Side.BUY
    order.order_qty = Decimal("100")
    order.price = Decimal("10.25")
    order.ord_type = fix44.OrdType.LIMIT
    order.symbol = "EUR/USD"
    order.transact_time = "20261121-05:40:04.615"
    order.sender_comp_id = "BANZAI"
    assert isinstance(order, Message) and order.msg_type == b"D"
    assert order.type == fix44.MsgType.NEW_ORDER_SINGLE == "D"
    wire = parse(encode(order))
    seen = fix44.NewOrderSingle.view(wire)
    assert seen.side == fix44.Side.BUY and seen.side == "1"
    assert seen.order_qty == Decimal("100") and seen.price == Decimal("10.25")
    assert seen.cl_ord_id == "ORD-1" and seen.sender_comp_id == "BANZAI"
    assert seen.account is None
    seen.price = None
    assert 44 not in wire  # the view writes through to the message
    with pytest.raises(TypeError):
        order.order_qty = "100"  # type: ignore[assignment]
    with pytest.raises(TypeError):
        order.cl_ord_id = 5  # type: ignore[assignment]
    with pytest.raises(ValueError, match="MsgType D"):
        fix44.NewOrderSingle.view(Message.new("FIX.4.4", "8"))


def test_booleans_integers_and_malformed_values() -> None:
    er = fix44.ExecutionReport()
    er.last_qty = Decimal(5)
    er.set(tags.PossDupFlag, b"Y")
    er.set(tags.MsgSeqNum, b"12")
    assert er.poss_dup_flag is True and er.msg_seq_num == 12
    er.set(tags.MsgSeqNum, b"x1")
    with pytest.raises(FieldValueError):
        _ = er.msg_seq_num
    er.set(tags.LastQty, b"NaN")
    with pytest.raises(FieldValueError):
        _ = er.last_qty


def test_fixt_modules() -> None:
    assert (fix50sp2.BEGIN_STRING, fix50sp2.APPL_VER_ID) == ("FIXT.1.1", "9")
    order = fix50sp2.NewOrderSingle()
    order.appl_ver_id = fix50sp2.APPL_VER_ID
    assert order.begin_string == b"FIXT.1.1" and order.get(1128) == b"9"
    assert fixt11.MsgType.LOGON == "A" and fixt11.Logon.MSG_TYPE == "A"
    assert fix50sp2.BusinessRejectReason.UNSUPPORTED_MESSAGE_TYPE == "3"


def test_repeating_groups_through_the_dictionary() -> None:
    order = fix44.NewOrderSingle()
    order.cl_ord_id = "1"
    order.add_entries(tags.NoPartyIDs, [
        [(tags.PartyID, "DESK1"), (tags.PartyIDSource, "D"), (tags.PartyRole, 11)],
        [(tags.PartyID, "TRADER"), (tags.PartyRole, 12)],
    ])
    order.symbol = "X"
    seen = fix44.NewOrderSingle.view(parse(encode(order)))
    entries = seen.entries(tags.NoPartyIDs, spec("FIX44.xml"))
    assert [e.get_str(tags.PartyID) for e in entries] == ["DESK1", "TRADER"]
    assert entries[1].get(tags.PartyRole) == b"12"
    assert seen.no_party_ids == 2
    assert seen.entries(tags.NoAllocs, spec("FIX44.xml")) == []


class _Handle:
    """The parts of a session handle the cracker reads."""

    def __init__(self, default_appl_ver_id: str | None = None) -> None:
        self.default_appl_ver_id = default_appl_ver_id


class Broker(MessageCracker, Application):
    def __init__(self) -> None:
        self.seen: list[Any] = []

    async def on_new_order_single(self, msg: fix44.NewOrderSingle, session: Any) -> None:
        self.seen.append((type(msg), msg.cl_ord_id))

    def on_order_cancel_request(self, msg: Any, session: Any) -> None:  # not async: fine
        self.seen.append((type(msg), msg.orig_cl_ord_id))


async def test_cracker_dispatches_by_version_and_msg_type() -> None:
    app = Broker()
    order = Message.new("FIX.4.4", "D", [(11, "A1")])
    await app.from_app(order, _Handle())  # type: ignore[arg-type]
    cancel = Message.new("FIX.4.2", "F", [(41, "A1")])
    await app.from_app(cancel, _Handle())  # type: ignore[arg-type]
    fixt = Message.new("FIXT.1.1", "D", [(11, "B2")])
    await app.from_app(fixt, _Handle("9"))  # type: ignore[arg-type]
    fixt.set(1128, "7")
    await app.from_app(fixt, _Handle("9"))  # type: ignore[arg-type]
    assert app.seen == [
        (fix44.NewOrderSingle, "A1"),
        (importlib.import_module("pyfixmsg_plus.engine.fix.fix42").OrderCancelRequest, "A1"),
        (fix50sp2.NewOrderSingle, "B2"),
        (importlib.import_module("pyfixmsg_plus.engine.fix.fix50").NewOrderSingle, "B2"),
    ]


@pytest.mark.parametrize(("begin", "msg_type"), [
    ("FIX.4.4", "8"),      # no on_execution_report method
    ("FIX.4.4", "ZZ"),     # not a MsgType of FIX.4.4
    ("FIX.9.9", "D"),      # not a version
])
async def test_cracker_without_a_method_rejects(begin: str, msg_type: str) -> None:
    with pytest.raises(UnsupportedMessageType):
        await Broker().from_app(Message.new(begin, msg_type), _Handle())  # type: ignore[arg-type]


def test_typed_view_of_any_message() -> None:
    view = typed(Message.new("FIX.4.4", "8", [(150, "F")]))
    assert isinstance(view, fix44.ExecutionReport) and view.exec_type == fix44.ExecType.TRADE
    assert typed(Message.new("FIX.4.4", "ZZ")) is None


def test_session_id() -> None:
    sid = SessionID("FIX.4.4", "EXEC", "BANZAI")
    assert sid == "FIX.4.4:EXEC->BANZAI" and hash(sid) == hash("FIX.4.4:EXEC->BANZAI")
    assert (sid.begin_string, sid.sender_comp_id, sid.target_comp_id, sid.qualifier) == (
        "FIX.4.4", "EXEC", "BANZAI", "")
    assert SessionID.parse("FIX.4.4:EXEC/BANZAI") == sid == SessionID.parse(str(sid))
    assert sid.shell_form == "FIX.4.4:EXEC/BANZAI"
    q = SessionID.parse("FIXT.1.1:A->B:EU")
    assert (q.target_comp_id, q.qualifier, str(q)) == ("B", "EU", "FIXT.1.1:A->B:EU")
    assert q.reverse() == "FIXT.1.1:B->A:EU"
    assert pickle.loads(pickle.dumps(q)).qualifier == "EU"
    for bad in ("FIX.4.4", "FIX.4.4:EXEC", ":A->B", "FIX.4.4:->B"):
        with pytest.raises(ValueError):
            SessionID.parse(bad)


def test_typed_messages_validate_against_their_dictionary() -> None:
    er = fix44.ExecutionReport()
    for tag, value in ((49, "EXEC"), (56, "BANZAI"), (34, "2"), (52, "20261121-05:40:04.615")):
        er.set(tag, value)
    er.order_id, er.exec_id, er.cl_ord_id = "O1", "E1", "A1"
    er.exec_type, er.ord_status = fix44.ExecType.NEW, fix44.OrdStatus.NEW
    er.side, er.symbol = fix44.Side.BUY, "EUR/USD"
    er.leaves_qty, er.cum_qty, er.avg_px = Decimal(100), Decimal(0), Decimal(0)
    assert validate(parse(encode(er)), spec("FIX44.xml")) is None
