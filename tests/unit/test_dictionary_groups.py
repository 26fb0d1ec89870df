"""Repeating groups as structure, canonical order, acceptance scripts."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyfixmsg_plus.engine.codec import FieldType, Message, parse
from pyfixmsg_plus.engine.codec.parser import split_fields
from pyfixmsg_plus.engine.codec.tags import HEADER_TAGS, TRAILER_TAGS
from pyfixmsg_plus.engine.codec.values import is_valid
from pyfixmsg_plus.engine.config import ValidationSettings
from pyfixmsg_plus.engine.dictionary import (
    DataDictionary,
    Group,
    SessionDictionaries,
    canonical_fields,
    canonical_message,
    flatten,
    structure,
    validate,
)
from pyfixmsg_plus.engine.session.rejects import session_reject

from .test_dictionary_common import HEADER44, REPO_ROOT, conformance_dir, fixt, spec, wire

NOS = "11=ID|21=1|38=100|40=1|54=1|55=INTC|60=20261121-05:40:04.615|"


def test_structure_nests_groups() -> None:
    text = (
        HEADER44.format(mt="D") + NOS
        + "453=2|448=P1|447=D|452=1|802=1|523=S|803=1|448=P2|386=1|336=X|"
    )
    st_ = structure(wire(text), spec("FIX44.xml"))
    parties = st_.groups(453)[0]
    assert isinstance(parties, Group) and parties.declared_count == 2
    assert len(parties.entries) == 2
    first, second = parties.entries
    assert first[:3] == [(448, b"P1"), (447, b"D"), (452, b"1")]
    nested = first[3]
    assert isinstance(nested, Group) and nested.count_tag == 802
    assert nested.entries == [[(523, b"S"), (803, b"1")]]
    assert second == [(448, b"P2")]
    assert st_.groups(386)[0].entries == [[(336, b"X")]]
    assert flatten(st_.body) == wire(text).body
    assert parties.missing_delimiter_tag is None and parties.unordered_tag is None


def test_structure_header_group_and_unknown_message() -> None:
    text = "8=FIX.4.4|35=0|34=2|49=A|52=20261121-05:40:04|56=B|627=1|628=H|629=20261121-05:40:04|"
    st_ = structure(wire(text), spec("FIX44.xml"))
    hops = [n for n in st_.header if isinstance(n, Group)]
    assert hops and hops[0].entries[0][0] == (628, b"H")
    assert validate(wire(text), spec("FIX44.xml")) is None
    flat = structure(wire(HEADER44.format(mt="*") + "453=1|448=P|"), spec("FIX44.xml"))
    assert flat.body == [(453, b"1"), (448, b"P")]


def test_group_entry_layout_is_recorded() -> None:
    dd = spec("FIX44.xml")
    st_ = structure(wire(HEADER44.format(mt="D") + NOS + "453=2|447=D|448=P|452=1|447=E|"), dd)
    g = st_.groups(453)[0]
    assert g.missing_delimiter_tag == 447
    assert [len(e) for e in g.entries] == [1, 3]
    assert g.unordered_tag == 447
    st2 = structure(wire(HEADER44.format(mt="D") + NOS + "453=1|448=P|452=1|447=D|"), dd)
    assert st2.groups(453)[0].unordered_tag == 447


def test_canonical_order_matches_quickfix_echo() -> None:
    dd = spec("FIX44.xml")
    text = (
        "8=FIX.4.4|35=D|49=TW|34=3|56=ISLD|52=20261121-05:40:04|"
        "60=20261121-05:40:04|55=INTC|453=1|448=P|452=1|447=D|11=ID|40=1|54=1|21=1|"
    )
    msg = canonical_message(wire(text), dd)
    assert [t for t, _ in msg.header] == [8, 9, 35, 34, 49, 52, 56]
    assert [t for t, _ in msg.body] == [11, 21, 40, 54, 55, 60, 453, 448, 447, 452]
    assert [t for t, _ in msg.trailer] == [10]
    assert canonical_fields(structure(wire(text), dd).body) == msg.body


def test_canonical_message_with_fixt_dictionaries() -> None:
    text = "8=FIXT.1.1|35=D|34=2|49=TW|52=20261121-05:40:04|56=ISLD|60=20261121-05:40:04|" + NOS
    msg = canonical_message(wire(text), fixt())
    assert [t for t, _ in msg.body][:3] == [11, 21, 38]
    assert isinstance(msg, Message)


# -- fast format checks agree with the codec ----------------------------------------
_TYPES = [
    FieldType.INT, FieldType.LENGTH, FieldType.NUMINGROUP, FieldType.SEQNUM,
    FieldType.TAGNUM, FieldType.CHAR, FieldType.BOOLEAN, FieldType.FLOAT, FieldType.QTY,
    FieldType.PRICE, FieldType.UTCTIMESTAMP,
]
_SAMPLES = st.one_of(
    st.binary(max_size=8),
    st.from_regex(rb"\A-?[0-9]{0,4}(\.[0-9]{0,3})?\Z"),
    st.datetimes(min_value=dt.datetime(1900, 1, 1)).map(
        lambda d: d.strftime("%Y%m%d-%H:%M:%S.%f")[:-3].encode()
    ),
    st.sampled_from([b"Y", b"N", b" ", b"+1", b"1e5", b"20261121-25:00:00", b"20260230-10:00:00"]),
)


@given(_SAMPLES)
def test_fast_format_checks_agree_with_codec(raw: bytes) -> None:
    dd = spec("FIX44.xml")
    by_type = {f.type: f for f in dd.fields.values()}
    for ftype in _TYPES:
        fd = by_type.get(ftype)
        if fd is None:
            continue
        assert fd.format_ok is not None
        if ftype is FieldType.UTCTIMESTAMP and raw == b"20260230-10:00:00":
            continue  # field ranges only, like QuickFIX: no calendar
        assert bool(fd.format_ok(raw)) == is_valid(ftype, raw), (ftype, raw)


def test_char_is_free_text_before_fix42() -> None:
    assert spec("FIX41.xml").field(54).format_ok is None
    assert spec("FIX42.xml").field(54).format_ok is not None


# -- QuickFIX acceptance scripts: the reject each 14*/21_ case expects ---------------
_DICTS = {
    "fix40": "FIX40.xml", "fix41": "FIX41.xml", "fix42": "FIX42.xml", "fix44": "FIX44.xml",
    "fix50": "FIX50.xml", "fix50sp2": "FIX50SP2.xml", "validate": "FIX44.xml",
}


def _cases() -> list[tuple[str, str]]:
    root = Path(
        os.environ.get("FIXPLUS_CONFORMANCE_DIR", REPO_ROOT.parent / "shared" / "conformance")
    ) / "quickfix"
    return [
        (folder, name)
        for folder in _DICTS
        for name in (
            "14a_BadField.def", "14b_RequiredFieldMissing.def", "14c_TagNotDefinedForMsgType.def",
            "14d_TagSpecifiedWithoutValue.def", "14e_IncorrectEnumValue.def",
            "14f_IncorrectDataFormat.def", "14g_HeaderBodyTrailerFieldsOutOfOrder.def",
            "14h_RepeatedTag.def", "14i_RepeatingGroupCountNotEqual.def",
            "21_RepeatingGroupSpecifierWithValueOfZero.def", "2q_MsgTypeNotValid.def",
            "CheckFieldsHaveValues.def",
        )
        if not root.is_dir() or (root / folder / name).exists()
    ]


def _frame(line: bytes) -> bytes:
    line = line.rstrip(b"\r")
    if not line.endswith(b"\x01"):
        line += b"\x01"
    now = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H:%M:%S").encode()
    fields = split_fields(line.replace(b"<TIME>", now))
    body = b"".join(b"%d=%s\x01" % f for f in fields[1:])
    data = b"8=%s\x019=%d\x01" % (fields[0][1], len(body)) + body
    return data + b"10=%03d\x01" % (sum(data) & 0xFF)


@pytest.mark.conformance
@pytest.mark.parametrize(("folder", "name"), _cases())
def test_acceptance_script_rejects(folder: str, name: str) -> None:
    path: Path = conformance_dir() / folder / name
    dd: DataDictionary | SessionDictionaries = spec(_DICTS[folder])
    if folder.startswith("fix5"):
        dd = fixt(_DICTS[folder])
    pending: bytes | None = None
    checked = 0
    for line in path.read_bytes().split(b"\n"):
        if line.startswith(b"I8=") and b"\x0135=A\x01" not in line and b"\x0135=5\x01" not in line:
            pending = line[1:]
        elif line.startswith(b"E8=") and pending is not None:
            expected = dict(split_fields(_frame(line[1:])))
            msg = parse(_frame(pending))
            opts = ValidationSettings(validate_fields_have_values=b"49=NO_CHECK" not in pending)
            reject = validate(msg, dd, opts)
            if expected[35] == b"3":
                assert reject is not None, pending
                # What the session sends for it (engine/session/rejects.py).
                sent = session_reject(msg.begin_string, msg, reject.reason, reject.ref_tag)
                got = dict(sent.body)
                for tag in (58, 371, 372, 373):
                    assert got.get(tag) == expected.get(tag), (tag, pending)
            else:
                assert reject is None, (reject, pending)
                if expected[35] in (b"D", b"d"):  # echoed in QuickFIX's canonical order
                    skip = HEADER_TAGS | TRAILER_TAGS | {60}  # 60 is <TIME> in the script
                    want = [f for f in split_fields(_frame(line[1:])) if f[0] not in skip]
                    body = [f for f in canonical_message(msg, dd).body if f[0] not in skip]
                    assert want == body
            checked += 1
            pending = None
    assert checked
