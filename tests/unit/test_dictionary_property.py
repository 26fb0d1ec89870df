"""Property: random valid messages from every dictionary round-trip.

For a random message type, build its required fields (and required groups
with 0-2 entries, nested) with random well-formed values, encode, parse,
then: validation finds nothing and the structure is the one built.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyfixmsg_plus.engine.codec import FieldType, Message, encode, parse
from pyfixmsg_plus.engine.dictionary import (
    Container,
    DataDictionary,
    FieldDef,
    Group,
    GroupDef,
    Node,
    SessionDictionaries,
    flatten,
    structure,
    validate,
)

from .test_dictionary_common import spec

_TEXT = st.from_regex(r"\A[A-Za-z0-9._-]{1,12}\Z").map(str.encode)
_DATE = st.dates().map(lambda d: b"%04d%02d%02d" % (d.year, d.month, d.day))
_TIME = st.times().map(lambda t: b"%02d:%02d:%02d" % (t.hour, t.minute, t.second))
_MS = st.integers(0, 999).map(lambda n: b".%03d" % n)
_DECIMAL = st.from_regex(rb"\A-?[0-9]{1,6}(\.[0-9]{1,4})?\Z")
_UINT = st.integers(0, 10_000).map(lambda n: b"%d" % n)

_BY_TYPE: dict[FieldType, st.SearchStrategy[bytes]] = {
    FieldType.INT: st.integers(-10_000, 10_000).map(lambda n: b"%d" % n),
    FieldType.LENGTH: _UINT,
    FieldType.NUMINGROUP: _UINT,
    FieldType.SEQNUM: st.integers(1, 10_000).map(lambda n: b"%d" % n),
    FieldType.TAGNUM: st.integers(1, 10_000).map(lambda n: b"%d" % n),
    FieldType.DAYOFMONTH: st.integers(1, 31).map(lambda n: b"%d" % n),
    FieldType.CHAR: st.sampled_from([b"A", b"z", b"3", b"#"]),
    FieldType.BOOLEAN: st.sampled_from([b"Y", b"N"]),
    FieldType.UTCTIMESTAMP: st.builds(lambda d, t, f: d + b"-" + t + f, _DATE, _TIME, _MS),
    FieldType.TIME: st.builds(lambda d, t: d + b"-" + t, _DATE, _TIME),
    FieldType.UTCTIMEONLY: st.builds(lambda t, f: t + f, _TIME, _MS),
    FieldType.LOCALMKTTIME: _TIME,
    FieldType.UTCDATE: _DATE,
    FieldType.UTCDATEONLY: _DATE,
    FieldType.LOCALMKTDATE: _DATE,
    FieldType.DATE: _DATE,
    FieldType.MONTHYEAR: _DATE.map(lambda d: d[:6]),
    FieldType.TZTIMEONLY: _TIME.map(lambda t: t[:5] + b"Z"),
    FieldType.TZTIMESTAMP: st.builds(lambda d, t: d + b"-" + t + b"Z", _DATE, _TIME),
    FieldType.TENOR: st.integers(1, 99).map(lambda n: b"M%d" % n),
}
for _t in (FieldType.FLOAT, FieldType.QTY, FieldType.PRICE, FieldType.PRICEOFFSET,
           FieldType.AMT, FieldType.PERCENTAGE):
    _BY_TYPE[_t] = _DECIMAL


def _value(draw: Any, fd: FieldDef) -> bytes:
    if fd.enum:
        choices = sorted(fd.enum)
        if fd.multi:
            return b" ".join(draw(st.lists(st.sampled_from(choices), min_size=1, max_size=2)))
        return bytes(draw(st.sampled_from(choices)))
    return bytes(draw(_BY_TYPE.get(fd.type, _TEXT)))


def _all_tags(gdef: GroupDef) -> set[int]:
    tags = set(gdef.tags)
    for sub in gdef.groups.values():
        tags |= _all_tags(sub)
    return tags


def _fill(
    draw: Any, dd: DataDictionary, container: Container, first: int | None, depth: int = 0
) -> list[Node]:
    """Required members of ``container`` and some optional groups."""
    wanted = set(container.required)
    if first is not None:
        wanted.add(first)
    plain: list[Node] = []
    groups: list[Node] = []
    taken: set[int] = set()
    blocked: set[int] = set()
    for m in container.members:
        optional_group = m.group is not None and depth < 2 and draw(st.booleans())
        if (m.tag not in wanted and not optional_group) or m.tag in taken:
            continue
        taken.add(m.tag)
        if m.tag in blocked or (m.group is not None and m.group.delimiter in blocked):
            continue  # would be read as part of an earlier group
        if m.group is None:
            node: Node = (m.tag, _value(draw, m.field))
        else:
            node = _group(draw, dd, m.group, depth + 1)
            blocked |= _all_tags(m.group)
        if first is None and isinstance(node, Group):
            groups.append(node)  # top level: groups last, the order is free
        else:
            plain.append(node)  # in an entry: dictionary order, delimiter first
    return plain + groups


def _group(draw: Any, dd: DataDictionary, gdef: GroupDef, depth: int) -> Group:
    allowed = [0, 1, 2]
    if gdef.count.enum:  # e.g. NoSides(552): 1 or 2
        allowed = sorted(int(v) for v in gdef.count.enum if v.isdigit())
    n = draw(st.sampled_from(allowed))
    entries = [_fill(draw, dd, gdef, gdef.delimiter, depth) for _ in range(n)]
    return Group(gdef, b"%d" % n, entries)


def _plain(nodes: list[Node]) -> list[Any]:
    out: list[Any] = []
    for node in nodes:
        if isinstance(node, Group):
            out.append((node.count_tag, node.count, [_plain(e) for e in node.entries]))
        else:
            out.append(node)
    return out


def _dicts(name: str) -> tuple[DataDictionary | SessionDictionaries, DataDictionary, str]:
    if name.startswith("FIX5"):
        sd = SessionDictionaries(spec("FIXT11.xml"), [spec(name)])
        return sd, spec("FIXT11.xml"), "FIXT.1.1"
    dd = spec(name)
    return dd, dd, dd.begin_string


@pytest.mark.parametrize(
    "name",
    ["FIX40.xml", "FIX41.xml", "FIX42.xml", "FIX43.xml", "FIX44.xml",
     "FIX50.xml", "FIX50SP1.xml", "FIX50SP2.xml"],
)
@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_random_valid_messages_roundtrip(name: str, data: st.DataObject) -> None:
    dictionary, session_dd, begin = _dicts(name)
    apps = [spec(name)] if name.startswith("FIX5") else [session_dd]
    pool = sorted(
        [m for a in apps for m in a.messages.values() if not (begin == "FIXT.1.1" and m.is_admin)]
        + (list(session_dd.messages.values()) if begin == "FIXT.1.1" else []),
        key=lambda m: (m.msg_type, m.category),
    )
    mdef = data.draw(st.sampled_from(pool), label="message")
    app_dd = session_dd if mdef.is_admin or begin != "FIXT.1.1" else apps[0]
    msg = Message.new(begin, mdef.msg_type)
    for tag in session_dd.header.required:
        if tag not in (8, 9, 35):
            msg.set(tag, _value(data.draw, session_dd.field(tag)))
    body = _fill(data.draw, app_dd, mdef, None)
    msg.body = flatten(body)
    msg.touch()
    parsed = parse(encode(msg))
    assert validate(parsed, dictionary) is None, (mdef.name, parsed.to_text())
    assert _plain(structure(parsed, dictionary).body) == _plain(body)
    GENERATED_GROUPS[name] = GENERATED_GROUPS.get(name, 0) + sum(
        1 for n in body if isinstance(n, Group) and n.entries
    )


GENERATED_GROUPS: dict[str, int] = {}
