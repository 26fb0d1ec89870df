"""The FIX message object.

A message is three ordered lists of ``(tag, value)`` pairs: header, body and
trailer.  Values are kept as the raw ``bytes`` seen on the wire, so parsing
never converts a value nobody reads, and encoding never re-formats one.
Typed access goes through :mod:`.values`.

The lists are plain lists on purpose: repeated tags and repeating groups are
just consecutive pairs in wire order.  A dictionary turns them into structure
(:func:`pyfixmsg_plus.engine.dictionary.groups.structure`) when needed.

Reading by tag uses an index built on first use and dropped on any change
made through the methods here.  Code that edits the lists directly must call
:meth:`Message.touch`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal

from . import tags as t
from .values import parse_int

Field = tuple[int, bytes]
FieldValue = bytes | str | int | Decimal | bool

_SOH = b"\x01"


def to_bytes(value: FieldValue) -> bytes:
    """Turn a Python value into its FIX wire representation."""
    if type(value) is bytes:
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bool):
        return b"Y" if value else b"N"
    if isinstance(value, int):
        return b"%d" % value
    if isinstance(value, Decimal):
        return format(value, "f").encode()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise TypeError(f"cannot use {type(value).__name__} as a FIX field value")


class Message:
    """A FIX message: header, body and trailer as ordered ``(tag, bytes)`` lists."""

    __slots__ = ("_index", "_msg_type", "body", "header", "trailer")

    def __init__(
        self,
        header: list[Field] | None = None,
        body: list[Field] | None = None,
        trailer: list[Field] | None = None,
    ) -> None:
        self.header: list[Field] = header if header is not None else []
        self.body: list[Field] = body if body is not None else []
        self.trailer: list[Field] = trailer if trailer is not None else []
        self._index: dict[int, bytes] | None = None
        self._msg_type: bytes | None = None

    # -- construction ----------------------------------------------------
    @classmethod
    def new(
        cls,
        begin_string: str | bytes,
        msg_type: str | bytes,
        body: Iterable[tuple[int, FieldValue]] = (),
    ) -> Message:
        """A message with BeginString and MsgType set and the given body fields."""
        msg = cls([(t.BEGIN_STRING, to_bytes(begin_string)), (t.MSG_TYPE, to_bytes(msg_type))])
        msg.body = [(tag, v if type(v) is bytes else to_bytes(v)) for tag, v in body]
        return msg

    def copy(self) -> Message:
        return Message(list(self.header), list(self.body), list(self.trailer))

    # -- reading ---------------------------------------------------------
    def _build_index(self) -> dict[int, bytes]:
        index: dict[int, bytes] = {}
        for part in (self.trailer, self.body, self.header):
            for tag, value in reversed(part):
                index[tag] = value
        self._index = index
        return index

    def get(self, tag: int, default: bytes | None = None) -> bytes | None:
        """The first value of ``tag`` (header, then body, then trailer)."""
        index = self._index
        if index is None:
            index = self._build_index()
        return index.get(tag, default)

    def __getitem__(self, tag: int) -> bytes:
        index = self._index
        if index is None:
            index = self._build_index()
        return index[tag]

    def __contains__(self, tag: object) -> bool:
        index = self._index
        if index is None:
            index = self._build_index()
        return tag in index

    def index(self) -> dict[int, bytes]:
        """The read index (tag -> first value); valid until the next change.

        For hot loops that read many tags: ``get = msg.index().get``.
        """
        index = self._index
        if index is None:
            index = self._build_index()
        return index

    def get_str(self, tag: int, default: str | None = None) -> str | None:
        value = self.get(tag)
        return default if value is None else value.decode("utf-8", "replace")

    def get_int(self, tag: int, default: int | None = None) -> int | None:
        """The value of ``tag`` as an int; raises FieldValueError if malformed."""
        value = self.get(tag)
        return default if value is None else parse_int(value)

    def get_all(self, tag: int) -> list[bytes]:
        """Every value of ``tag`` in wire order (repeated tags, group members)."""
        return [v for k, v in self.fields() if k == tag]

    def fields(self) -> Iterator[Field]:
        """Every field in wire order: header, body, trailer."""
        yield from self.header
        yield from self.body
        yield from self.trailer

    @property
    def msg_type(self) -> bytes:
        """MsgType(35) (b"" when absent); remembered until the next change."""
        mt = self._msg_type
        if mt is None:
            mt = self._msg_type = self._find_msg_type()
        return mt

    def _find_msg_type(self) -> bytes:
        header = self.header
        # MsgType is the third field of a parsed message, the second of a new one.
        n = len(header)
        if n > 2:
            field = header[2]
            if field[0] == 35:
                return field[1]
        if n > 1:
            field = header[1]
            if field[0] == 35:
                return field[1]
        value = self.get(t.MSG_TYPE)
        return b"" if value is None else value

    @property
    def begin_string(self) -> bytes:
        value = self.get(t.BEGIN_STRING)
        return b"" if value is None else value

    @property
    def seq_num(self) -> int | None:
        return self.get_int(t.MSG_SEQ_NUM)

    def is_admin(self) -> bool:
        return self.msg_type in t.ADMIN_MSG_TYPES

    # -- writing ---------------------------------------------------------
    def touch(self) -> None:
        """Forget the read index (and MsgType) after editing the field lists
        directly."""
        self._index = None
        self._msg_type = None

    def _section(self, tag: int) -> list[Field]:
        if tag in t.HEADER_TAGS:
            return self.header
        if tag in t.TRAILER_TAGS:
            return self.trailer
        return self.body

    def set(self, tag: int, value: FieldValue) -> Message:
        """Set ``tag``: replace its first occurrence, or add it.

        Header fields are added in QuickFIX order (8, 9, 35, then ascending
        tag number), body fields at the end, trailer fields before CheckSum.
        """
        raw = to_bytes(value)
        section = self._section(tag)
        for i, (k, _) in enumerate(section):
            if k == tag:
                section[i] = (tag, raw)
                self.touch()
                return self
        if section is self.header:
            pos = len(section)
            if tag not in (t.BEGIN_STRING, t.BODY_LENGTH, t.MSG_TYPE):
                for i, (k, _) in enumerate(section):
                    if k not in (t.BEGIN_STRING, t.BODY_LENGTH, t.MSG_TYPE) and k > tag:
                        pos = i
                        break
            section.insert(pos, (tag, raw))
        elif section is self.trailer and section and section[-1][0] == t.CHECKSUM:
            section.insert(len(section) - 1, (tag, raw))
        else:
            section.append((tag, raw))
        self.touch()
        return self

    def append(self, tag: int, value: FieldValue) -> Message:
        """Add ``tag`` at the end of its section even if present (groups)."""
        self._section(tag).append((tag, to_bytes(value)))
        self.touch()
        return self

    def extend(self, fields: Iterable[tuple[int, FieldValue]]) -> Message:
        for tag, value in fields:
            self._section(tag).append((tag, to_bytes(value)))
        self.touch()
        return self

    def add_group(
        self, count_tag: int, entries: Iterable[Iterable[tuple[int, FieldValue]]]
    ) -> Message:
        """Append a repeating group: the NumInGroup field, then each entry's fields.

        The first field of every entry must be the group's delimiter field.
        """
        flat: list[Field] = []
        n = 0
        for entry in entries:
            n += 1
            flat.extend((tag, to_bytes(v)) for tag, v in entry)
        section = self._section(count_tag)
        section.append((count_tag, b"%d" % n))
        section.extend(flat)
        self.touch()
        return self

    def remove(self, tag: int) -> bool:
        """Remove every occurrence of ``tag``; True if there was one."""
        section = self._section(tag)
        kept = [f for f in section if f[0] != tag]
        if len(kept) == len(section):
            return False
        section[:] = kept
        self.touch()
        return True

    # -- comparison and display ------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return (
            self.header == other.header
            and self.body == other.body
            and self.trailer == other.trailer
        )

    __hash__ = None  # type: ignore[assignment]

    def __len__(self) -> int:
        return len(self.header) + len(self.body) + len(self.trailer)

    def to_text(self, sep: str = "|") -> str:
        """A readable rendering (``8=FIX.4.4|35=0|...``); not the wire form."""
        return "".join(
            f"{tag}={value.decode('utf-8', 'replace')}{sep}" for tag, value in self.fields()
        )

    def __repr__(self) -> str:
        return f"Message({self.to_text()!r})"
