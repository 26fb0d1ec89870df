"""Repeating groups: from the flat field list to nested structure, and back.

A :class:`~pyfixmsg_plus.engine.codec.message.Message` keeps fields flat, in
wire order.  :func:`structure` uses a dictionary to turn each NumInGroup
field and the fields after it into a :class:`Group`, whose ``entries`` are
lists of fields and nested groups.

Entry boundaries follow QuickFIX C++: the delimiter (first field of the
group's definition) starts an entry; so does a group field that is already
in the current entry, or one that arrives before any delimiter (the group
then remembers ``missing_delimiter_tag``); the first field that does not
belong to the group ends it.  Fields of an entry that do not follow the
dictionary's order are remembered in ``unordered_tag``.  The validator
turns those into rejects (15, 16); nothing here raises.

:func:`canonical_fields` gives QuickFIX's canonical layout of a body (the
order in which QuickFIX re-serialises a message it parsed): top-level fields
by ascending tag, each NumInGroup field followed by its entries, entry
fields in dictionary order (delimiter first, undefined tags last).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeAlias

from ..codec.message import Field, Message
from .model import Container, DataDictionary, GroupDef

if TYPE_CHECKING:
    from .fixt import SessionDictionaries

@dataclass(slots=True)
class Group:
    """One repeating group as found in a message."""

    definition: GroupDef
    #: The NumInGroup value as received.
    count: bytes
    entries: list[Entry] = field(default_factory=list)
    #: First group field met before its entry's delimiter (reason 15).
    missing_delimiter_tag: int | None = None
    #: First entry field out of dictionary order (reason 15 when checked).
    unordered_tag: int | None = None

    @property
    def count_tag(self) -> int:
        return self.definition.count.number

    @property
    def declared_count(self) -> int | None:
        """The NumInGroup value as a number, None when it is not one."""
        if not self.count.isdigit():
            return None
        # A count too long for int() (4,300 digits) is still a count, never the right one.
        digits = self.count.lstrip(b"0")
        return int(digits or b"0") if len(digits) <= 18 else 10**18

    def flat(self) -> list[Field]:
        """The count field and every entry's fields, in this group's order."""
        out: list[Field] = [(self.count_tag, self.count)]
        for entry in self.entries:
            _flatten(entry, out)
        return out


#: A field ``(tag, value)`` or a nested group.
Node: TypeAlias = Field | Group
#: One group entry: its fields and nested groups, in wire order.
Entry: TypeAlias = list[Node]


def _flatten(nodes: Sequence[Node], out: list[Field]) -> None:
    for node in nodes:
        if isinstance(node, Group):
            out.extend(node.flat())
        else:
            out.append(node)


def flatten(nodes: Sequence[Node]) -> list[Field]:
    """Structured nodes back to the flat field list."""
    out: list[Field] = []
    _flatten(nodes, out)
    return out


def parse_group(fields: Sequence[Field], start: int, gdef: GroupDef) -> tuple[Group, int]:
    """Read the group whose NumInGroup field is ``fields[start]``.

    Returns the group and the index of the first field after it.
    """
    group = Group(gdef, fields[start][1])
    entries = group.entries
    delimiter = gdef.delimiter
    tags = gdef.tags
    nested = gdef.groups
    position = gdef.position
    current: Entry | None = None
    seen: set[int] = set()
    last = -1
    i = start + 1
    n = len(fields)
    while i < n:
        item = fields[i]
        tag = item[0]
        if tag == delimiter:
            current = []
            entries.append(current)
            seen = {tag}
            last = 0
        elif tag in tags:
            if current is None or tag in seen:
                if group.missing_delimiter_tag is None:
                    group.missing_delimiter_tag = tag
                current = []
                entries.append(current)
                seen = set()
                last = -1
            pos = position[tag]
            if pos <= last and group.unordered_tag is None:
                group.unordered_tag = tag
            last = pos
            seen.add(tag)
        else:
            break
        sub = nested.get(tag)
        if sub is not None:
            child, i = parse_group(fields, i, sub)
            current.append(child)
        else:
            current.append(item)
            i += 1
    return group, i


def structure_fields(fields: Sequence[Field], container: Container | None) -> list[Node]:
    """Nest the groups of one section (body, or header for NoHops)."""
    if container is None or not container.groups:
        return list(fields)
    groups = container.groups
    out: list[Node] = []
    i = 0
    n = len(fields)
    while i < n:
        item = fields[i]
        gdef = groups.get(item[0])
        if gdef is None:
            out.append(item)
            i += 1
        else:
            group, i = parse_group(fields, i, gdef)
            out.append(group)
    return out


@dataclass(slots=True)
class StructuredMessage:
    """A message's three sections with repeating groups nested."""

    header: list[Node]
    body: list[Node]
    trailer: list[Node]

    def groups(self, count_tag: int) -> list[Group]:
        """Top-level body groups with this NumInGroup tag."""
        return [n for n in self.body if isinstance(n, Group) and n.count_tag == count_tag]


def _pick(
    msg: Message, dictionary: DataDictionary | SessionDictionaries
) -> tuple[DataDictionary, DataDictionary]:
    if isinstance(dictionary, DataDictionary):
        return dictionary, dictionary
    return dictionary.for_message(msg)


def structure(
    msg: Message, dictionary: DataDictionary | SessionDictionaries
) -> StructuredMessage:
    """Nest ``msg``'s repeating groups using the dictionary (never raises)."""
    session_dd, app_dd = _pick(msg, dictionary)
    mdef = app_dd.messages.get(msg.msg_type)
    return StructuredMessage(
        structure_fields(msg.header, session_dd.header),
        structure_fields(msg.body, mdef),
        list(msg.trailer),
    )


# -- canonical order ---------------------------------------------------------
def _tag_of(node: Node) -> int:
    return node.count_tag if isinstance(node, Group) else node[0]


def _emit_canonical(nodes: Sequence[Node], out: list[Field]) -> None:
    for node in sorted(nodes, key=_tag_of):
        if isinstance(node, Group):
            _emit_group(node, out)
        else:
            out.append(node)


def _emit_group(group: Group, out: list[Field]) -> None:
    out.append((group.count_tag, group.count))
    position = group.definition.position
    unknown = len(position)

    def key(node: Node) -> tuple[int, int]:
        tag = _tag_of(node)
        pos = position.get(tag)
        return (pos, 0) if pos is not None else (unknown, tag)

    for entry in group.entries:
        for node in sorted(entry, key=key):
            if isinstance(node, Group):
                _emit_group(node, out)
            else:
                out.append(node)


def canonical_fields(nodes: Sequence[Node]) -> list[Field]:
    """QuickFIX's canonical layout of structured body nodes."""
    out: list[Field] = []
    _emit_canonical(nodes, out)
    return out


_HEADER_FIRST = {8: -3, 9: -2, 35: -1}


def _node_header_key(node: Node) -> int:
    tag = _tag_of(node)
    return _HEADER_FIRST.get(tag, tag)


def _trailer_key(item: Field) -> int:
    # CheckSum last; SignatureLength(93) kept before Signature(89), its data.
    tag = item[0]
    return {10: 1 << 30, 93: 88}.get(tag, tag)


def canonical_message(
    msg: Message, dictionary: DataDictionary | SessionDictionaries
) -> Message:
    """A copy of ``msg`` laid out the way QuickFIX re-serialises it.

    Header: 8, 9, 35, then ascending tags; body: :func:`canonical_fields`;
    trailer ascending with CheckSum last.
    """
    st = structure(msg, dictionary)
    header: list[Field] = []
    for node in sorted(st.header, key=_node_header_key):
        if isinstance(node, Group):
            _emit_group(node, header)
        else:
            header.append(node)
    return Message(header, canonical_fields(st.body), sorted(msg.trailer, key=_trailer_key))
