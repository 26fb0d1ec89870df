"""The application API: the callbacks a user implements.

Subclass :class:`Application` and override what you need; every callback is
a coroutine and receives the :class:`SessionHandle` of its session.

* ``on_create``: the session exists (store loaded), before any connection;
* ``on_logon`` / ``on_logout``: the session entered / left the logged-on state;
* ``to_admin``: a session message is about to be sent (add credentials to a
  Logon here); ``to_app``: an application message is about to be sent, or
  resent in answer to a ResendRequest (then PossDupFlag(43) is Y) — raise
  :class:`DoNotSend` to veto it (a vetoed resend becomes a gap fill);
* ``from_admin``: a session message arrived; for a Logon, raise
  :class:`RejectLogon` to refuse it (Username/Password are in the message);
* ``from_app``: an application message arrived, already persisted as
  received; raise :class:`UnsupportedMessageType`, :class:`BusinessReject`,
  :class:`FieldNotFound` or :class:`IncorrectTagValue` to have the engine
  answer it.

An exception of any other kind raised by a callback is logged with its
traceback; it never stops the engine or the session.
"""

from __future__ import annotations

import logging
from typing import Protocol

from .codec import Message

# The exceptions ``from_app`` raises to answer with a reject live beside the
# other errors (the sans-IO session maps them to the reject to send).
from .errors import (
    ApplicationError,
    BusinessReject,
    FieldNotFound,
    IncorrectTagValue,
    UnsupportedMessageType,
)

__all__ = [
    "Application",
    "ApplicationError",
    "BusinessReject",
    "DoNotSend",
    "FieldNotFound",
    "IncorrectTagValue",
    "LoggingApplication",
    "RejectLogon",
    "SessionHandle",
    "UnsupportedMessageType",
]


class SessionHandle(Protocol):
    """What callbacks can see of and do with a session."""

    @property
    def session_id(self) -> str: ...

    @property
    def logged_on(self) -> bool: ...

    async def send(self, msg: Message) -> int | None:
        """Number, persist and (when logged on) write ``msg``; returns its
        MsgSeqNum once persisted, or None if ``to_app`` vetoed it."""
        ...

    def send_nowait(self, msg: Message) -> int | None:
        """Number and queue ``msg`` without waiting for persistence (it is
        still persisted before it is written).  ``to_app`` is not called."""
        ...

    async def logout(self, text: str = "") -> None: ...


class DoNotSend(ApplicationError):
    """Raised by ``to_app``: do not send (or resend) this message."""


class RejectLogon(ApplicationError):
    """Raised by ``from_admin`` for a Logon: refuse it with this text."""


class Application:
    """Callbacks with do-nothing defaults; override the ones you need."""

    async def on_create(self, session: SessionHandle) -> None:
        return None

    async def on_logon(self, session: SessionHandle) -> None:
        return None

    async def on_logout(self, session: SessionHandle) -> None:
        return None

    async def to_admin(self, msg: Message, session: SessionHandle) -> None:
        return None

    async def from_admin(self, msg: Message, session: SessionHandle) -> None:
        return None

    async def to_app(self, msg: Message, session: SessionHandle) -> None:
        return None

    async def from_app(self, msg: Message, session: SessionHandle) -> None:
        return None


_SENSITIVE = frozenset({554, 925, 96, 91})  # Password, NewPassword, RawData, SecureData


def masked_text(msg: Message) -> str:
    """The message as text with passwords and secure data masked."""
    return "|".join(
        f"{tag}={'***' if tag in _SENSITIVE else value.decode('utf-8', 'replace')}"
        for tag, value in msg.fields()
    )


class LoggingApplication(Application):
    """The default for ``fixplus run``: log sessions and application messages."""

    def __init__(self) -> None:
        self.log = logging.getLogger("pyfixmsg_plus.app")

    async def on_logon(self, session: SessionHandle) -> None:
        self.log.info("%s: logged on", session.session_id)

    async def on_logout(self, session: SessionHandle) -> None:
        self.log.info("%s: logged out", session.session_id)

    async def from_app(self, msg: Message, session: SessionHandle) -> None:
        self.log.info("%s: received %s", session.session_id, masked_text(msg))
