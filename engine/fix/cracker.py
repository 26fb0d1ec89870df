"""MessageCracker: ``from_app`` dispatched to ``on_<message name>`` methods.

>>> class Broker(MessageCracker, Application):
...     async def on_new_order_single(self, msg: fix44.NewOrderSingle,
...                                   session: SessionHandle) -> None:
...         ...

The cracker finds the message's FIX version (BeginString; on FIXT.1.1 the
ApplVerID(1128) of the header, else the session's DefaultApplVerID), looks
the MsgType up in that version's generated module, and calls the method
named after the message (``NewOrderSingle`` -> ``on_new_order_single``) with
the message seen through the typed class (no copy).  A message with no
method is answered as QuickFIX answers an unsupported message type: a
BusinessMessageReject (a session Reject before FIX.4.2).

The generated module of a version is imported on the first message of that
version.  Nothing is cached per MsgType that the dictionaries do not define,
so a counterparty sending made-up types grows nothing.
"""

from __future__ import annotations

import importlib
import inspect
from types import ModuleType
from typing import Any, Final

from ..application import SessionHandle, UnsupportedMessageType
from ..codec import Message
from ..codec import tags as t
from .base import TypedMessage, snake

__all__ = ["MessageCracker", "module_for", "typed"]

_BY_BEGIN_STRING: Final[dict[bytes, str]] = {
    b"FIX.4.0": "fix40", b"FIX.4.1": "fix41", b"FIX.4.2": "fix42", b"FIX.4.3": "fix43",
    b"FIX.4.4": "fix44",
}
#: ApplVerID(1128) -> module (FIXT.1.1 sessions).
_BY_APPL_VER_ID: Final[dict[bytes, str]] = {
    b"2": "fix40", b"3": "fix41", b"4": "fix42", b"5": "fix43", b"6": "fix44",
    b"7": "fix50", b"8": "fix50sp1", b"9": "fix50sp2",
}
_ROUTES: dict[tuple[type, bytes, bytes], tuple[type[TypedMessage], str]] = {}


def module_for(begin_string: bytes, appl_ver_id: bytes | None = None) -> ModuleType | None:
    """The generated module of a version (``fix44`` ...), or None when unknown.

    For FIXT.1.1, ``appl_ver_id`` picks the application version; an admin
    message of FIXT.1.1 is in ``fixt11``."""
    if begin_string == b"FIXT.1.1":
        name = _BY_APPL_VER_ID.get(appl_ver_id or b"")
    else:
        name = _BY_BEGIN_STRING.get(begin_string)
    if name is None:
        return None
    return importlib.import_module(f"{__package__}.{name}")


def _appl_ver_id(msg: Message, session: SessionHandle | None) -> bytes | None:
    found = msg.get(t.APPL_VER_ID)
    if found is not None:
        return found
    default = getattr(session, "default_appl_ver_id", None)
    return default.encode() if isinstance(default, str) else default


def typed(msg: Message, session: SessionHandle | None = None) -> TypedMessage | None:
    """``msg`` seen through its generated class, or None when its version or
    MsgType is not one the dictionaries define."""
    begin = msg.begin_string
    module = module_for(begin, _appl_ver_id(msg, session) if begin == b"FIXT.1.1" else None)
    if module is None:
        return None
    messages: dict[str, type[TypedMessage]] = module.MESSAGES
    cls = messages.get(msg.msg_type.decode("latin-1"))
    if cls is None and begin == b"FIXT.1.1":
        cls = importlib.import_module(f"{__package__}.fixt11").MESSAGES.get(
            msg.msg_type.decode("latin-1"))
    return None if cls is None else cls.view(msg)


class MessageCracker:
    """Mixin for an :class:`~pyfixmsg_plus.engine.application.Application`:
    its ``from_app`` calls :meth:`crack`."""

    async def crack(self, msg: Message, session: SessionHandle) -> None:
        """Call ``on_<message name>(typed message, session)``; raise
        :class:`UnsupportedMessageType` when there is no such method."""
        begin = msg.begin_string
        if begin == b"FIXT.1.1":
            begin += b"/" + (_appl_ver_id(msg, session) or b"")
        key = (type(self), begin, msg.msg_type)
        route = _ROUTES.get(key)
        if route is None:
            view = typed(msg, session)
            if view is None:
                raise UnsupportedMessageType(
                    f"no typed message for MsgType {msg.msg_type[:8]!r} of {begin[:24]!r}")
            route = (type(view), "on_" + snake(type(view).NAME))
            _ROUTES[key] = route  # bounded: only types the dictionaries define
        cls, name = route
        handler: Any = getattr(self, name, None)
        if handler is None:
            raise UnsupportedMessageType(f"no {name} method")
        result = handler(cls.view(msg), session)
        if inspect.isawaitable(result):
            await result

    async def from_app(self, msg: Message, session: SessionHandle) -> None:
        await self.crack(msg, session)
