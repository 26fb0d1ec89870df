"""Load QuickFIX-format XML data dictionaries.

``load(path)`` reads FIX40.xml ... FIX50SP2.xml or FIXT11.xml (the files of
QuickFIX's ``spec/`` folder; the project ships none: the user names them).
Parsed dictionaries are cached per process by resolved path, file size and
modification time, so every session naming the same file shares one
immutable :class:`~.model.DataDictionary`.

Any problem is a :class:`~pyfixmsg_plus.engine.errors.ConfigError` whose
message starts with the file's path and says what is wrong.

The ``<fields>`` section comes last in QuickFIX's files, so it is read
first; components are then expanded into every message and group that uses
them (memoised per component, so shared components are built once).
"""

from __future__ import annotations

import functools
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Final

from ..codec.values import FieldType, is_valid
from ..errors import ConfigError
from .model import (
    EMPTY_CONTAINER,
    ComponentDef,
    Container,
    DataDictionary,
    FieldDef,
    GroupDef,
    Member,
    MessageDef,
    ValueCheck,
    make_container_tables,
)

#: Types whose values QuickFIX accepts as any text (no format check).
_FREE_TEXT: Final = frozenset(
    {
        FieldType.STRING,
        FieldType.MULTIPLEVALUESTRING,
        FieldType.MULTIPLESTRINGVALUE,
        FieldType.MULTIPLECHARVALUE,
        FieldType.COUNTRY,
        FieldType.CURRENCY,
        FieldType.EXCHANGE,
        FieldType.LANGUAGE,
        FieldType.DATA,
        FieldType.XMLDATA,
        FieldType.XID,
        FieldType.XIDREF,
        FieldType.PATTERN,
        FieldType.RESERVED100PLUS,
        FieldType.RESERVED1000PLUS,
        FieldType.RESERVED4000PLUS,
    }
)
_MULTI: Final = frozenset(
    {FieldType.MULTIPLEVALUESTRING, FieldType.MULTIPLESTRINGVALUE, FieldType.MULTIPLECHARVALUE}
)

_cache: dict[tuple[str, int, int], DataDictionary] = {}

#: Expanded members and, for each, whether validation requires it.
_Expanded = tuple[tuple[Member, ...], tuple[bool, ...]]


def load(path: str | os.PathLike[str]) -> DataDictionary:
    """Load (or return the cached) dictionary at ``path``.  Raises ConfigError."""
    p = Path(path)
    try:
        resolved = p.resolve(strict=True)
        st = resolved.stat()
    except FileNotFoundError:
        raise ConfigError(f"{p}: data dictionary file not found") from None
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read data dictionary: {exc.strerror}") from exc
    if not resolved.is_file():
        raise ConfigError(f"{p}: data dictionary path is not a file")
    key = (str(resolved), st.st_size, st.st_mtime_ns)
    cached = _cache.get(key)
    if cached is not None:
        return cached
    try:
        data = resolved.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read data dictionary: {exc.strerror}") from exc
    dd = loads(data, source=str(p))
    _cache[key] = dd
    return dd


def clear_cache() -> None:
    """Forget every cached dictionary (tests, or after replacing a file)."""
    _cache.clear()


def loads(data: bytes | str, source: str = "<string>") -> DataDictionary:
    """Build a dictionary from XML text; ``source`` names it in errors."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        line, col = exc.position
        raise ConfigError(
            f"{source}: not a well-formed XML data dictionary (line {line}, column {col})"
        ) from None
    try:
        return _Builder(root, source).build()
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def _flag(elem: ET.Element) -> bool:
    return elem.get("required", "N") in ("Y", "y")


# Format checks of the types seen in nearly every message, as compiled
# regular expressions (called per field: no Python frame).  They accept
# exactly what ``codec.values.is_valid`` accepts for these types (a test
# holds them together); a UTCTimestamp is checked for field ranges, like
# QuickFIX, not for calendar dates.
_TIME = rb"(?:[01][0-9]|2[0-3]):[0-5][0-9]:(?:[0-5][0-9]|60)(?:\.(?:[0-9]{3}|[0-9]{6}|[0-9]{9}))?"
_DATE = rb"[0-9]{4}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
_UTC_TIMESTAMP = re.compile(_DATE + rb"-" + _TIME).fullmatch
_FAST: Final[dict[FieldType, ValueCheck]] = {
    FieldType.INT: re.compile(rb"-?[0-9]+").fullmatch,
    FieldType.LENGTH: re.compile(rb"[0-9]+").fullmatch,
    FieldType.NUMINGROUP: re.compile(rb"[0-9]+").fullmatch,
    FieldType.SEQNUM: re.compile(rb"[0-9]+").fullmatch,
    FieldType.TAGNUM: re.compile(rb"[0-9]+").fullmatch,
    FieldType.CHAR: re.compile(rb"[^ ]", re.DOTALL).fullmatch,
    FieldType.BOOLEAN: re.compile(rb"[YN]").fullmatch,
    FieldType.UTCTIMESTAMP: _UTC_TIMESTAMP,
    FieldType.TIME: _UTC_TIMESTAMP,
}
_FLOAT = re.compile(rb"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)").fullmatch
for _t in (
    FieldType.FLOAT,
    FieldType.QTY,
    FieldType.PRICE,
    FieldType.PRICEOFFSET,
    FieldType.AMT,
    FieldType.PERCENTAGE,
):
    _FAST[_t] = _FLOAT


def _format_check(ftype: FieldType, version_before_42: bool) -> ValueCheck | None:
    if ftype in _FREE_TEXT:
        return None
    if ftype is FieldType.CHAR and version_before_42:
        return None  # QuickFIX reads CHAR as STRING before FIX.4.2
    fast = _FAST.get(ftype)
    if fast is not None:
        return fast
    return functools.partial(is_valid, ftype)


class _Builder:
    """One pass over a parsed XML tree."""

    def __init__(self, root: ET.Element, source: str) -> None:
        self.root = root
        self.source = source
        self.fields: dict[int, FieldDef] = {}
        self.by_name: dict[str, FieldDef] = {}
        self.component_elems: dict[str, ET.Element] = {}
        self._component_memo: dict[tuple[str, bool], _Expanded] = {}
        self._group_memo: dict[int, GroupDef] = {}
        self._expanding: list[str] = []

    # -- top level -------------------------------------------------------------
    def build(self) -> DataDictionary:
        root = self.root
        if root.tag != "fix":
            raise ConfigError(f"root element is <{root.tag}>, expected <fix>")
        fix_type = root.get("type", "FIX")
        if fix_type not in ("FIX", "FIXT"):
            raise ConfigError(f"<fix type={fix_type!r}>: type must be FIX or FIXT")
        major = self._int_attr(root, "major", "<fix>")
        minor = self._int_attr(root, "minor", "<fix>")
        sp_text = root.get("servicepack", "0") or "0"
        if not sp_text.isdigit():
            raise ConfigError(f"<fix servicepack={sp_text!r}> is not a number")
        service_pack = int(sp_text)

        fields_elem = root.find("fields")
        if fields_elem is None:
            raise ConfigError("<fields> section not found")
        self._read_fields(fields_elem, fix_type == "FIX" and (major, minor) < (4, 2))
        if not self.fields:
            raise ConfigError("no fields defined in <fields>")

        comps = root.find("components")
        if comps is not None:
            for elem in comps.findall("component"):
                name = self._name(elem, "<component>")
                self.component_elems[name] = elem

        needs_header = fix_type == "FIXT" or major < 5
        header = self._section(root, "header", needs_header)
        trailer = self._section(root, "trailer", needs_header)

        messages_elem = root.find("messages")
        if messages_elem is None:
            raise ConfigError("<messages> section not found")
        messages: dict[bytes, MessageDef] = {}
        for elem in messages_elem.findall("message"):
            msg = self._message(elem)
            messages[msg.msg_type] = msg
        if not messages:
            raise ConfigError("no messages defined in <messages>")

        components: dict[str, ComponentDef] = {}
        for name in self.component_elems:
            members, eff = self._component(name, True)
            tags, req, groups, pos = make_container_tables(members, eff)
            components[name] = ComponentDef(members, tags, req, groups, pos, name=name)

        return DataDictionary(
            fix_type=fix_type,
            major=major,
            minor=minor,
            service_pack=service_pack,
            fields=self.fields,
            header=header,
            trailer=trailer,
            messages=messages,
            components=components,
            path=self.source,
        )

    # -- pieces ------------------------------------------------------------------
    @staticmethod
    def _int_attr(elem: ET.Element, attr: str, where: str) -> int:
        text = elem.get(attr)
        if text is None:
            raise ConfigError(f"{where} has no {attr} attribute")
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"{where} {attr}={text!r} is not a number") from None

    @staticmethod
    def _name(elem: ET.Element, where: str) -> str:
        name = elem.get("name")
        if not name:
            raise ConfigError(f"{where} without a name attribute")
        return name

    def _read_fields(self, fields_elem: ET.Element, before_42: bool) -> None:
        for elem in fields_elem.findall("field"):
            name = self._name(elem, "<field>")
            number = self._int_attr(elem, "number", f"<field name={name!r}>")
            type_name = elem.get("type")
            if not type_name:
                raise ConfigError(f"<field name={name!r}> has no type attribute")
            ftype = FieldType.from_name(type_name)
            values: dict[bytes, str] = {}
            for v in elem.findall("value"):
                enum = v.get("enum")
                if enum is None:
                    raise ConfigError(f"<value> without an enum attribute in field {name}")
                values[enum.encode()] = v.get("description", "")
            fdef = FieldDef(
                number=number,
                name=name,
                type=ftype,
                type_name=type_name,
                values=values,
                format_ok=_format_check(ftype, before_42),
                enum=frozenset(values) if values else None,
                multi=ftype in _MULTI,
            )
            self.fields[number] = fdef
            self.by_name[name] = fdef

    def _lookup(self, name: str, where: str) -> FieldDef:
        fdef = self.by_name.get(name)
        if fdef is None:
            raise ConfigError(f"{where} refers to field {name!r}, not defined in <fields>")
        return fdef

    def _section(self, root: ET.Element, tag: str, required: bool) -> Container:
        elem = root.find(tag)
        if elem is None:
            if required:
                raise ConfigError(f"<{tag}> section not found")
            return EMPTY_CONTAINER
        members, eff = self._expand(elem, True, f"<{tag}>")
        if required and not members:
            raise ConfigError(f"no fields defined in <{tag}>")
        tags, req, groups, pos = make_container_tables(members, eff)
        return Container(members, tags, req, groups, pos)

    def _message(self, elem: ET.Element) -> MessageDef:
        name = self._name(elem, "<message>")
        msg_type = elem.get("msgtype")
        if not msg_type:
            raise ConfigError(f"<message name={name!r}> has no msgtype attribute")
        category = elem.get("msgcat", "app")
        members, eff = self._expand(elem, True, f"message {name}")
        tags, req, groups, pos = make_container_tables(members, eff)
        return MessageDef(
            members, tags, req, groups, pos,
            msg_type=msg_type.encode(), name=name, category=category,
        )

    # -- expansion ---------------------------------------------------------------
    def _expand(
        self, parent: ET.Element, ctx: bool, where: str
    ) -> _Expanded:
        """Members of ``parent`` with components inlined.

        ``ctx`` says whether required flags count at this level (the second
        tuple gives each member's effective requiredness).
        """
        members: list[Member] = []
        effective: list[bool] = []
        for child in parent:
            self._add(child, ctx, where, members, effective)
        return tuple(members), tuple(effective)

    def _add(
        self,
        child: ET.Element,
        ctx: bool,
        where: str,
        members: list[Member],
        effective: list[bool],
    ) -> None:
        kind = child.tag
        if kind == "field":
            fdef = self._lookup(self._name(child, f"<field> in {where}"), where)
            flag = _flag(child)
            members.append(Member(fdef, flag))
            effective.append(flag and ctx)
        elif kind == "group":
            gdef = self._group(child, where)
            flag = _flag(child)
            members.append(Member(gdef.count, flag, gdef))
            effective.append(flag and ctx)
        elif kind == "component":
            name = self._name(child, f"<component> in {where}")
            comp_flag = _flag(child)
            sub_m, sub_eff = self._component(name, ctx and comp_flag)
            members.extend(Member(m.field, m.required and comp_flag, m.group) for m in sub_m)
            effective.extend(sub_eff)

    def _component(
        self, name: str, ctx: bool
    ) -> _Expanded:
        key = (name, ctx)
        memo = self._component_memo.get(key)
        if memo is not None:
            return memo
        elem = self.component_elems.get(name)
        if elem is None:
            raise ConfigError(f"component {name!r} is used but not defined in <components>")
        if name in self._expanding:
            chain = " -> ".join([*self._expanding, name])
            raise ConfigError(f"component {name!r} contains itself ({chain})")
        self._expanding.append(name)
        try:
            result = self._expand(elem, ctx, f"component {name}")
        finally:
            self._expanding.pop()
        self._component_memo[key] = result
        return result

    def _group(self, elem: ET.Element, where: str) -> GroupDef:
        entries_ctx = _flag(elem)
        key = id(elem)
        memo = self._group_memo.get(key)
        if memo is not None:
            return memo
        name = self._name(elem, f"<group> in {where}")
        count = self._lookup(name, where)
        gwhere = f"group {name}"
        members: list[Member] = []
        effective: list[bool] = []
        for child in elem:
            if child.tag == "component":
                # QuickFIX: nothing a group takes from a component is required.
                self._add(child, False, gwhere, members, effective)
            else:
                self._add(child, entries_ctx, gwhere, members, effective)
        if not members:
            raise ConfigError(f"repeating group {name} has no fields")
        tup = tuple(members)
        tags, req, groups, pos = make_container_tables(tup, tuple(effective))
        gdef = GroupDef(
            tup, tags, req, groups, pos, count=count, delimiter=tup[0].tag
        )
        self._group_memo[key] = gdef
        return gdef

