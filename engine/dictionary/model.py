"""The data dictionary model: fields, messages, components, repeating groups.

Everything here is immutable once loaded and shared between sessions.
Components are already expanded: a message's or a group's ``members`` list
every field and group it may hold at its own level, in dictionary order.

Lookup tables that validation needs on every message (tag sets, required
tags, nested groups by count tag, dictionary positions) are computed once,
when the dictionary is loaded.

Two "required" notions are kept apart:

* ``Member.required`` is the flag written in the XML (inside a component it
  is combined with the component's own flag);
* ``Container.required`` lists the tags that validation insists on, with
  QuickFIX's rules: fields of an optional component are not required; the
  required fields of a group's entries are only checked when the group
  itself is marked required; fields that a group takes from a component are
  never required.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

from ..codec.tags import HEADER_TAGS, TRAILER_TAGS
from ..codec.values import FieldType
from ..codec.versions import APPL_VER_IDS as _APPL_VER_IDS

#: First tag number of the user-defined range (QuickFIX ``FIELD::UserMin``).
USER_MIN: Final = 5000

#: ApplVerID(1128) value of each application version (one table, in the codec).
APPL_VER_IDS: Final[Mapping[str, str]] = _APPL_VER_IDS

#: A format check: truthy when the value is well formed.
ValueCheck = Callable[[bytes], object]


@dataclass(frozen=True, slots=True, eq=False)
class FieldDef:
    """One ``<field>`` of the ``<fields>`` section."""

    number: int
    name: str
    type: FieldType
    #: The type name exactly as written in the XML.
    type_name: str
    #: Enumerated values -> description (empty when the field is free-form).
    values: Mapping[bytes, str] = field(default_factory=dict)
    #: Format check used by validation; None when any value is well formed.
    format_ok: ValueCheck | None = None
    #: The enumerated values as a set, None when not enumerated.
    enum: frozenset[bytes] | None = None
    #: Space separated list type (each token is checked against ``enum``).
    multi: bool = False

    def __repr__(self) -> str:
        return f"FieldDef({self.number}, {self.name!r}, {self.type.value})"


@dataclass(frozen=True, slots=True, eq=False)
class Member:
    """A field or group as it appears inside a message, component or group."""

    field: FieldDef
    required: bool
    #: Set when this member is the NumInGroup field of a repeating group.
    group: GroupDef | None = None

    @property
    def tag(self) -> int:
        return self.field.number

    def __repr__(self) -> str:
        kind = "group" if self.group is not None else "field"
        return f"Member({kind} {self.field.name}={self.tag}, required={self.required})"


@dataclass(frozen=True, slots=True, eq=False)
class Container:
    """Ordered members plus the lookup tables derived from them."""

    members: tuple[Member, ...]
    #: Tags allowed directly at this level (fields and group count tags).
    tags: frozenset[int]
    #: Tags validation requires at this level, ascending (QuickFIX order).
    required: tuple[int, ...]
    #: Nested repeating groups by their count tag.
    groups: Mapping[int, GroupDef]
    #: Dictionary position of each tag (first occurrence).
    position: Mapping[int, int]

    def member(self, tag: int) -> Member:
        for m in self.members:
            if m.tag == tag:
                return m
        raise KeyError(tag)


@dataclass(frozen=True, slots=True, eq=False)
class GroupDef(Container):
    """A repeating group: its NumInGroup field and the fields of one entry."""

    count: FieldDef
    #: The delimiter: first field of every entry.
    delimiter: int

    @property
    def count_tag(self) -> int:
        return self.count.number

    @property
    def name(self) -> str:
        return self.count.name

    def __repr__(self) -> str:
        return f"GroupDef({self.count.name}={self.count.number}, delimiter={self.delimiter})"


@dataclass(frozen=True, slots=True, eq=False)
class MessageDef(Container):
    """One ``<message>``: its MsgType, name, category and (expanded) members."""

    msg_type: bytes
    name: str
    #: "admin" or "app" (the ``msgcat`` attribute).
    category: str

    @property
    def is_admin(self) -> bool:
        return self.category == "admin"

    def __repr__(self) -> str:
        return f"MessageDef({self.msg_type!r}, {self.name!r}, {self.category})"


@dataclass(frozen=True, slots=True, eq=False)
class ComponentDef(Container):
    """One ``<component>``, expanded as if it were used as a required component."""

    name: str

    def __repr__(self) -> str:
        return f"ComponentDef({self.name!r})"


def make_container_tables(
    members: tuple[Member, ...], effective_required: tuple[bool, ...]
) -> tuple[frozenset[int], tuple[int, ...], dict[int, GroupDef], dict[int, int]]:
    """tags, required, groups and position for a member list."""
    tags = frozenset(m.tag for m in members)
    required = tuple(
        sorted({m.tag for m, req in zip(members, effective_required, strict=True) if req})
    )
    groups = {m.tag: m.group for m in members if m.group is not None}
    position: dict[int, int] = {}
    for i, m in enumerate(members):
        position.setdefault(m.tag, i)
    return tags, required, groups, position


EMPTY_CONTAINER: Final = Container((), frozenset(), (), {}, {})


class DataDictionary:
    """A loaded QuickFIX-format data dictionary (immutable once built).

    ``begin_string`` is what the XML declares (``FIX.4.4``, ``FIXT.1.1``,
    ``FIX.5.0``); ``version`` adds the service pack (``FIX.5.0SP2``) and is
    what ApplVerID(1128) names.
    """

    __slots__ = (
        "begin_string",
        "components",
        "fields",
        "fields_by_name",
        "fix_type",
        "header",
        "major",
        "messages",
        "messages_by_name",
        "minor",
        "non_body_tags",
        "path",
        "service_pack",
        "trailer",
    )

    def __init__(
        self,
        *,
        fix_type: str,
        major: int,
        minor: int,
        service_pack: int,
        fields: dict[int, FieldDef],
        header: Container,
        trailer: Container,
        messages: dict[bytes, MessageDef],
        components: dict[str, ComponentDef],
        path: str | None = None,
    ) -> None:
        self.fix_type = fix_type
        self.major = major
        self.minor = minor
        self.service_pack = service_pack
        self.begin_string = f"{fix_type}.{major}.{minor}"
        self.fields: Mapping[int, FieldDef] = fields
        self.fields_by_name: Mapping[str, FieldDef] = {f.name: f for f in fields.values()}
        self.header = header
        self.trailer = trailer
        self.messages: Mapping[bytes, MessageDef] = messages
        self.messages_by_name: Mapping[str, MessageDef] = {
            m.name: m for m in messages.values()
        }
        self.components: Mapping[str, ComponentDef] = components
        self.path = path
        #: Tags never checked against a message definition (header/trailer).
        self.non_body_tags: frozenset[int] = (
            HEADER_TAGS | TRAILER_TAGS | header.tags | trailer.tags
        )

    # -- identity ----------------------------------------------------------
    @property
    def version(self) -> str:
        """``FIX.4.4``, ``FIXT.1.1``, ``FIX.5.0SP2``..."""
        if self.service_pack:
            return f"{self.begin_string}SP{self.service_pack}"
        return self.begin_string

    @property
    def is_transport(self) -> bool:
        """True for a FIXT session (transport) dictionary."""
        return self.fix_type == "FIXT"

    @property
    def appl_ver_id(self) -> str | None:
        """The ApplVerID(1128) value naming this application version."""
        return APPL_VER_IDS.get(self.version)

    # -- lookups -----------------------------------------------------------
    def field(self, key: int | str) -> FieldDef:
        """A field by number or name; raises KeyError."""
        if isinstance(key, int):
            return self.fields[key]
        return self.fields_by_name[key]

    def message(self, key: bytes | str) -> MessageDef:
        """A message by MsgType (``b"D"`` or ``"D"``) or by name; raises KeyError."""
        if isinstance(key, str):
            found = self.messages_by_name.get(key)
            if found is not None:
                return found
            key = key.encode()
        return self.messages[key]

    def has_message(self, msg_type: bytes | str) -> bool:
        """Whether the dictionary defines this MsgType at all (else reason 11)."""
        if isinstance(msg_type, str):
            msg_type = msg_type.encode()
        return msg_type in self.messages

    def is_admin(self, msg_type: bytes) -> bool:
        found = self.messages.get(msg_type)
        return found is not None and found.is_admin

    def group(self, msg_type: bytes | str, count_tag: int) -> GroupDef | None:
        """The top-level group of a message with this count tag, if any."""
        return self.message(msg_type).groups.get(count_tag)

    def __repr__(self) -> str:
        where = f" from {self.path}" if self.path else ""
        return (
            f"<DataDictionary {self.version}: {len(self.fields)} fields, "
            f"{len(self.messages)} messages{where}>"
        )

    # -- FIXT ----------------------------------------------------------------
    @classmethod
    def combine(cls, transport: DataDictionary, app: DataDictionary) -> DataDictionary:
        """One dictionary for a FIXT.1.1 session with a single application version.

        Header, trailer and session (admin) messages come from the transport
        dictionary, application messages from ``app``.  Field definitions
        are the union; the transport's win for the tags it defines.  The
        result's identity is the transport's (``begin_string`` FIXT.1.1).
        For several application versions chosen by ApplVerID use
        :class:`~.fixt.SessionDictionaries`.
        """
        fields = dict(app.fields)
        fields.update(transport.fields)
        messages = {k: v for k, v in app.messages.items() if not v.is_admin}
        messages.update({k: v for k, v in transport.messages.items() if v.is_admin})
        components = dict(app.components)
        components.update(transport.components)
        return cls(
            fix_type=transport.fix_type,
            major=transport.major,
            minor=transport.minor,
            service_pack=transport.service_pack,
            fields=fields,
            header=transport.header,
            trailer=transport.trailer,
            messages=messages,
            components=components,
            path=None,
        )
