"""Loading QuickFIX XML dictionaries: model, cache, errors, speed."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyfixmsg_plus.engine.codec import FieldType
from pyfixmsg_plus.engine.dictionary import (
    DataDictionary,
    SessionDictionaries,
    clear_cache,
    load,
    loads,
)
from pyfixmsg_plus.engine.errors import ConfigError

from .test_dictionary_common import SPEC_FILES, spec, spec_dir


@pytest.mark.parametrize("name", SPEC_FILES)
def test_every_shipped_dictionary_loads(name: str) -> None:
    dd = spec(name)
    assert dd.fields and dd.messages
    assert dd.path is not None and dd.path.endswith(name)
    for msg in dd.messages.values():
        assert msg.category in ("admin", "app")
        for tag in msg.required:
            assert tag in msg.tags
        for gdef in msg.groups.values():
            assert gdef.members[0].tag == gdef.delimiter
            assert gdef.count.type in (FieldType.NUMINGROUP, FieldType.INT)
    if name == "FIXT11.xml" or name < "FIX50":
        assert dd.header.required[:2] == (8, 9)
        assert 10 in dd.trailer.required
    else:
        assert not dd.header.members and not dd.trailer.members


def test_versions() -> None:
    assert spec("FIX44.xml").version == "FIX.4.4"
    assert spec("FIX44.xml").appl_ver_id == "6"
    sp2 = spec("FIX50SP2.xml")
    assert (sp2.begin_string, sp2.version, sp2.appl_ver_id) == ("FIX.5.0", "FIX.5.0SP2", "9")
    t = spec("FIXT11.xml")
    assert t.is_transport and t.begin_string == "FIXT.1.1" and t.appl_ver_id is None


def test_fix44_model_details() -> None:
    dd = spec("FIX44.xml")
    nos = dd.message("D")
    assert dd.message("NewOrderSingle") is nos
    assert nos.name == "NewOrderSingle" and not nos.is_admin
    assert nos.required == (11, 40, 54, 60)
    assert 55 in nos.tags  # from the Instrument component
    parties = nos.groups[453]
    assert parties.delimiter == 448
    sub = parties.groups[802]  # nested group
    assert sub.delimiter == 523 and sub.count_tag == 802
    assert dd.field(54).values[b"1"] == "BUY"
    assert dd.field("Side").number == 54
    assert dd.field(38).type is FieldType.QTY
    assert dd.header.required == (8, 9, 34, 35, 49, 52, 56)
    assert 627 in dd.header.groups  # NoHops
    assert dd.message("0").is_admin and dd.is_admin(b"A")
    assert dd.has_message("D") and not dd.has_message(b"*")
    assert dd.components["Instrument"].members[0].field.name == "Symbol"


def test_group_required_follows_quickfix() -> None:
    dd = spec("FIX44.xml")
    # NoPartyIDs is optional: nothing inside an entry is required.
    assert dd.message("D").groups[453].required == ()
    # A group required at message level checks its entries' required fields.
    # SecurityList (y) has NoRelatedSym optional; ListStatus (N) has NoOrders required.
    no_orders = dd.message("N").groups[73]
    assert 11 in no_orders.required


def test_cache_returns_same_object(tmp_path: Path) -> None:
    src = spec_dir() / "FIX42.xml"
    a = load(src)
    assert load(str(src)) is a
    copy = tmp_path / "FIX42.xml"
    copy.write_bytes(src.read_bytes())
    b = load(copy)
    assert b is not a and load(copy) is b
    clear_cache()
    assert load(src) is not a


def test_fix44_is_loaded_once_and_cached() -> None:
    # (How long a load takes is a benchmark figure, not a test.)
    clear_cache()
    first = load(spec_dir() / "FIX44.xml")
    assert load(spec_dir() / "FIX44.xml") is first
    clear_cache()
    assert load(spec_dir() / "FIX44.xml") is not first


def test_missing_file_is_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.xml: data dictionary file not found"):
        load(tmp_path / "nope.xml")
    with pytest.raises(ConfigError, match="not a file"):
        load(tmp_path)


def test_malformed_xml_names_file_and_position(tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text("<fix major='4' minor='4'>\n <fields>\n</fix>")
    with pytest.raises(ConfigError, match=r"bad\.xml: not a well-formed XML .*line 3"):
        load(bad)


_MINIMAL = """<fix major='4' minor='4'>
 <header><field name='BeginString' required='Y'/></header>
 <trailer><field name='CheckSum' required='Y'/></trailer>
 <messages>{messages}</messages>
 <components>{components}</components>
 <fields>
  <field number='8' name='BeginString' type='STRING'/>
  <field number='10' name='CheckSum' type='STRING'/>
  <field number='58' name='Text' type='STRING'/>
  <field number='73' name='NoOrders' type='NUMINGROUP'/>
 </fields>
</fix>"""


def _xml(messages: str = "<message name='M' msgtype='U1' msgcat='app'/>", components: str = "") -> str:
    return _MINIMAL.format(messages=messages, components=components)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("<fox/>", "root element is <fox>"),
        ("<fix minor='4'/>", "no major attribute"),
        ("<fix major='x' minor='4'/>", "major='x' is not a number"),
        ("<fix type='FAX' major='4' minor='4'/>", "type must be FIX or FIXT"),
        ("<fix major='4' minor='4'><messages/></fix>", "<fields> section not found"),
        (
            _xml("<message name='M' msgtype='U1'><field name='Nope' required='Y'/></message>"),
            "message M refers to field 'Nope', not defined",
        ),
        (
            _xml("<message name='M' msgtype='U1'><component name='C' required='Y'/></message>"),
            "component 'C' is used but not defined",
        ),
        (
            _xml(
                "<message name='M' msgtype='U1'><component name='C' required='Y'/></message>",
                "<component name='C'><component name='C' required='N'/></component>",
            ),
            "component 'C' contains itself",
        ),
        (
            _xml("<message name='M' msgtype='U1'><group name='NoOrders' required='N'/></message>"),
            "repeating group NoOrders has no fields",
        ),
        (_xml("<message name='M'/>"), "<message name='M'> has no msgtype"),
        (_xml(""), "no messages defined"),
    ],
)
def test_structural_problems_are_config_errors(text: str, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        loads(text, source="my.xml")
    assert str(info.value).startswith("my.xml: ")
    assert problem in str(info.value)


def test_minimal_dictionary_and_fix5_without_header() -> None:
    dd = loads(_xml())
    assert dd.message("U1").members == ()
    fix5 = loads(
        "<fix major='5' minor='0' servicepack='2'><header/><trailer/>"
        "<messages><message name='M' msgtype='U1'><field name='Text' required='Y'/></message>"
        "</messages><fields><field number='58' name='Text' type='STRING'/></fields></fix>"
    )
    assert fix5.version == "FIX.5.0SP2" and fix5.message("U1").required == (58,)


def test_combine_transport_and_app() -> None:
    t, app = spec("FIXT11.xml"), spec("FIX50SP2.xml")
    both = DataDictionary.combine(t, app)
    assert both.begin_string == "FIXT.1.1"
    assert both.header is t.header and both.trailer is t.trailer
    assert both.message("A") is t.message("A")
    assert both.message("D") is app.message("D")
    assert both.field(1128) is t.field(1128)


def test_session_dictionaries_configuration() -> None:
    t = spec("FIXT11.xml")
    apps = [spec("FIX50.xml"), spec("FIX50SP2.xml")]
    sd = SessionDictionaries(t, apps, default_appl_ver_id="FIX.5.0SP2")
    assert sd.default_appl_ver_id == "9"
    assert sd.app() is apps[1] and sd.app("7") is apps[0] and sd.app(b"8") is None
    assert sd.with_default("7").app() is apps[0]
    with pytest.raises(ConfigError, match="no application dictionary"):
        SessionDictionaries(t, apps, default_appl_ver_id="8")
    with pytest.raises(ConfigError, match="neither an ApplVerID"):
        SessionDictionaries(t, apps, default_appl_ver_id="FIX.9.9")
    with pytest.raises(ConfigError, match="not an application dictionary"):
        SessionDictionaries(t, [DataDictionary.combine(t, apps[0])])
    assert SessionDictionaries(t, apps).default_appl_ver_id is None
