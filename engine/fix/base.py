"""What the generated per-version modules are made of.

A typed message *is* a :class:`~pyfixmsg_plus.engine.codec.Message` (the
engine sends and stores it unchanged) with one attribute per field of its
definition.  An attribute is a descriptor that reads and writes the
underlying ``(tag, bytes)`` lists on demand: nothing is converted until it
is read, and a message that nobody reads through the typed layer costs
nothing more than a plain :class:`Message`.

Values come out as Python values: ``str`` for text, characters, dates and
enumerated values (so ``order.side == fix44.Side.BUY`` compares ``str`` with
``str``), ``int`` for integers, :class:`~decimal.Decimal` for prices and
quantities, ``bool`` for Y/N.  An absent field reads as ``None``; assigning
``None`` removes it.  A malformed integer, decimal or boolean raises
:class:`~pyfixmsg_plus.engine.errors.FieldValueError` when read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, overload

from ..codec import Message
from ..codec import tags as t
from ..codec.message import Field
from ..codec.values import parse_int
from ..errors import FieldValueError

if TYPE_CHECKING:
    from ..dictionary import DataDictionary, SessionDictionaries

__all__ = [
    "BoolField",
    "DecimalField",
    "FieldDescriptor",
    "IntField",
    "StrField",
    "TypedMessage",
    "snake",
]

T = TypeVar("T")
M = TypeVar("M", bound="TypedMessage")


class FieldDescriptor(Generic[T]):
    """One field of a typed message: ``msg.attr`` reads, ``msg.attr = v`` writes."""

    __slots__ = ("name", "tag")

    def __init__(self, tag: int, name: str = "") -> None:
        self.tag = tag
        self.name = name

    def __set_name__(self, owner: type, name: str) -> None:
        if not self.name:
            self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> FieldDescriptor[T]: ...

    @overload
    def __get__(self, obj: Message, owner: type | None = None) -> T | None: ...

    def __get__(self, obj: Message | None, owner: type | None = None) -> Any:
        if obj is None:
            return self
        raw = obj.get(self.tag)
        return None if raw is None else self.decode(raw)

    def __set__(self, obj: Message, value: T | None) -> None:
        if value is None:
            obj.remove(self.tag)
        else:
            obj.set(self.tag, self.encode(value))

    def decode(self, raw: bytes) -> T:
        raise NotImplementedError

    def encode(self, value: T) -> bytes:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.tag}, {self.name!r})"


class StrField(FieldDescriptor[str]):
    """Text, characters, enumerated values, dates and times: ``str``."""

    __slots__ = ()

    def decode(self, raw: bytes) -> str:
        return raw.decode("utf-8", "replace")

    def encode(self, value: str) -> bytes:
        if not isinstance(value, str):
            raise TypeError(f"{self.name}({self.tag}) takes a str, not {type(value).__name__}")
        return value.encode()


class IntField(FieldDescriptor[int]):
    """INT, LENGTH, NUMINGROUP, SEQNUM, TAGNUM, DAYOFMONTH: ``int``."""

    __slots__ = ()

    def decode(self, raw: bytes) -> int:
        return parse_int(raw)

    def encode(self, value: int) -> bytes:
        if type(value) is not int:
            raise TypeError(f"{self.name}({self.tag}) takes an int, not {type(value).__name__}")
        return b"%d" % value


class DecimalField(FieldDescriptor[Decimal]):
    """PRICE, QTY, AMT, FLOAT, PRICEOFFSET, PERCENTAGE: ``Decimal``
    (an ``int`` is accepted when writing)."""

    __slots__ = ()

    def decode(self, raw: bytes) -> Decimal:
        try:
            value = Decimal(raw.decode("ascii"))
        except (InvalidOperation, UnicodeDecodeError):
            raise FieldValueError(f"{self.name}({self.tag}): not a number: {raw[:32]!r}") from None
        if not value.is_finite():
            raise FieldValueError(f"{self.name}({self.tag}): not a number: {raw[:32]!r}")
        return value

    def encode(self, value: Decimal) -> bytes:
        if type(value) not in (Decimal, int):  # bool is an int, but not a quantity
            raise TypeError(
                f"{self.name}({self.tag}) takes a Decimal, not {type(value).__name__}")
        return format(value, "f").encode()


class BoolField(FieldDescriptor[bool]):
    """BOOLEAN: ``bool`` (Y/N on the wire)."""

    __slots__ = ()

    def decode(self, raw: bytes) -> bool:
        if raw == b"Y":
            return True
        if raw == b"N":
            return False
        raise FieldValueError(f"{self.name}({self.tag}): not Y or N: {raw[:32]!r}")

    def encode(self, value: bool) -> bytes:
        if not isinstance(value, bool):
            raise TypeError(f"{self.name}({self.tag}) takes a bool, not {type(value).__name__}")
        return b"Y" if value else b"N"


class TypedMessage(Message):
    """Base of the generated message classes.

    ``fix44.NewOrderSingle()`` is a new message with BeginString and MsgType
    set; ``fix44.NewOrderSingle.view(msg)`` is the same message seen through
    the typed class: the field lists are shared, not copied, and a change
    made through the view is seen by ``msg``.
    """

    __slots__ = ("_origin",)

    #: BeginString(8) of the FIX version (FIXT.1.1 for FIX.5.0 and later).
    BEGIN_STRING: ClassVar[str] = ""
    #: ApplVerID(1128) of the application version (FIX.5.0 and later), else None.
    APPL_VER_ID: ClassVar[str | None] = None
    #: MsgType(35) as text.
    MSG_TYPE: ClassVar[str] = ""
    #: The message's name in the dictionary.
    NAME: ClassVar[str] = ""
    _msg_type_bytes: ClassVar[bytes] = b""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._msg_type_bytes = cls.MSG_TYPE.encode()

    def __init__(
        self,
        header: list[Field] | None = None,
        body: list[Field] | None = None,
        trailer: list[Field] | None = None,
    ) -> None:
        if header is None:
            header = [(t.BEGIN_STRING, self.BEGIN_STRING.encode()),
                      (t.MSG_TYPE, self.MSG_TYPE.encode())]
        super().__init__(header, body, trailer)
        self._origin: Message | None = None

    @classmethod
    def view(cls: type[M], msg: Message) -> M:
        """``msg`` seen through this class; raises ValueError when its MsgType
        is another one.  Changes through the view change ``msg``."""
        expected = cls._msg_type_bytes
        if expected and msg.msg_type != expected:
            raise ValueError(f"{cls.__name__} is MsgType {cls.MSG_TYPE}, "
                             f"not {msg.msg_type.decode('ascii', 'replace')}")
        view = cls(msg.header, msg.body, msg.trailer)
        view._origin = msg
        # The same fields: the same read index (a change through either
        # forgets it in both, see touch).
        view._index = msg.index()
        return view

    def touch(self) -> None:
        super().touch()
        if self._origin is not None:
            self._origin.touch()

    @property
    def type(self) -> str:
        """MsgType(35) as ``str``."""
        return self.msg_type.decode("ascii", "replace")

    def entries(self, count_tag: int,
                dictionary: DataDictionary | SessionDictionaries) -> list[Message]:
        """The entries of the top-level repeating group ``count_tag``, each as
        a :class:`Message` of its own fields (nested groups flattened in it).

        ``dictionary`` is the session's :class:`DataDictionary` or
        :class:`SessionDictionaries` (``session.dictionaries``): group
        boundaries are the dictionary's, as the engine validates them.
        """
        from ..dictionary import flatten, structure  # noqa: PLC0415 - only for groups

        found = structure(self, dictionary).groups(count_tag)
        if not found:
            return []
        return [Message(body=flatten(entry)) for entry in found[0].entries]

    def add_entries(self, count_tag: int,
                    entries: Iterable[Iterable[tuple[int, Any]]]) -> TypedMessage:
        """Append a repeating group (see :meth:`Message.add_group`)."""
        self.add_group(count_tag, entries)
        return self


def snake(name: str) -> str:
    """``ClOrdID`` -> ``cl_ord_id``, ``NoPartyIDs`` -> ``no_party_ids``."""
    name = name.replace("IDs", "Ids")
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()
