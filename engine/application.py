"""The application API: the callbacks a user implements.

Subclass :class:`Application` and override what you need; every callback is
a coroutine and receives the :class:`SessionHandle` of its session.

* ``on_engine_start``: every session of the engine exists and the engine
  listens and connects (start background work that sends here, through
  :func:`lookup_session` / :func:`send_to_target`);
* ``on_create``: the session exists (store loaded), before any connection;
* ``on_logon`` / ``on_logout``: the session entered / left the logged-on state
  (``session.logout_reason`` says why it left);
* ``to_admin``: a session message is about to be sent (add credentials to a
  Logon here); ``to_app``: an application message is about to be sent, with
  its whole header (MsgSeqNum, SendingTime, CompIDs), or resent in answer to a
  ResendRequest (then PossDupFlag(43) is Y) — raise
  :class:`DoNotSend` to veto it (a vetoed resend becomes a gap fill);
* ``from_admin``: a session message arrived; for a Logon, raise
  :class:`RejectLogon` to refuse it (Username/Password are in the message);
* ``from_app``: an application message arrived, already persisted as
  received; raise :class:`UnsupportedMessageType`, :class:`BusinessReject`,
  :class:`FieldNotFound` or :class:`IncorrectTagValue` to have the engine
  answer it.

An exception of any other kind raised by a callback is logged with its
traceback; it never stops the engine or the session.

Typed messages, the cracker and the constants are in :mod:`.fix`
(docs/quickfixj-api.md).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

from .codec import Message
from .codec import tags as t
from .codec.sessionid import SessionID

# The exceptions ``from_app`` raises to answer with a reject live beside the
# other errors (the sans-IO session maps them to the reject to send).
from .errors import (
    ApplicationError,
    BusinessReject,
    FieldNotFound,
    IncorrectTagValue,
    UnsupportedMessageType,
)

if TYPE_CHECKING:
    from .config import SessionSettings
    from .dictionary import DataDictionary, SessionDictionaries

__all__ = [
    "Application",
    "ApplicationError",
    "BusinessReject",
    "DoNotSend",
    "FieldNotFound",
    "IncorrectTagValue",
    "LoggingApplication",
    "RejectLogon",
    "SessionDirectory",
    "SessionHandle",
    "SessionID",
    "SessionNotFound",
    "UnsupportedMessageType",
    "lookup_session",
    "masked_text",
    "register_sessions",
    "send_to_target",
    "unregister_sessions",
]


class SessionHandle(Protocol):
    """What callbacks can see of and do with a session."""

    @property
    def session_id(self) -> SessionID: ...

    @property
    def logged_on(self) -> bool: ...

    @property
    def settings(self) -> SessionSettings:
        """The session's settings; ``settings.custom`` holds the application's
        own keys of a QuickFIX .cfg file (``ValidOrderTypes``...)."""
        ...

    @property
    def logout_reason(self) -> str | None:
        """Why the session last left the logged-on state (None before that)."""
        ...

    @property
    def dictionaries(self) -> DataDictionary | SessionDictionaries | None:
        """The dictionaries the session validates with (None without
        validation): what repeating groups are read with."""
        ...

    @property
    def default_appl_ver_id(self) -> str | None:
        """FIXT.1.1: the ApplVerID(1128) code of the session's default
        application version ("9" for FIX.5.0SP2); else None."""
        ...

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


class SessionNotFound(ApplicationError):
    """:func:`send_to_target`: no running session has this id."""


class Application:
    """Callbacks with do-nothing defaults; override the ones you need."""

    async def on_engine_start(self) -> None:
        return None

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
    """The default for ``fixplus run``: log application messages (the engine
    itself logs logons and logouts, once)."""

    def __init__(self) -> None:
        self.log = logging.getLogger("pyfixmsg_plus.app")

    async def from_app(self, msg: Message, session: SessionHandle) -> None:
        self.log.info("%s: received %s", session.session_id, masked_text(msg))


# -- sessions of the running engines -------------------------------------------------


class SessionDirectory(Protocol):
    """What a running engine offers :func:`lookup_session`."""

    def lookup(self, session_id: str) -> SessionHandle | None: ...

    def session_ids(self) -> list[str]: ...


_DIRECTORIES: list[SessionDirectory] = []


def register_sessions(directory: SessionDirectory) -> None:
    """An engine's sessions become reachable (``Engine.start`` calls it)."""
    if directory not in _DIRECTORIES:
        _DIRECTORIES.append(directory)


def unregister_sessions(directory: SessionDirectory) -> None:
    if directory in _DIRECTORIES:
        _DIRECTORIES.remove(directory)


def lookup_session(session_id: str) -> SessionHandle | None:
    """The session of a running engine with this id (``FIX.4.4:EXEC->BANZAI``,
    ``FIX.4.4:EXEC/BANZAI`` or a :class:`SessionID`), or None; QuickFIX/J's
    ``Session.lookupSession``."""
    try:
        key = str(SessionID.parse(session_id))
    except ValueError:
        return None
    for directory in _DIRECTORIES:
        found = directory.lookup(key)
        if found is not None:
            return found
    return None


def _session_of(msg: Message) -> SessionHandle | None:
    begin = msg.get(t.BEGIN_STRING)
    sender = msg.get(t.SENDER_COMP_ID)
    target = msg.get(t.TARGET_COMP_ID)
    if not (begin and sender and target):
        return None
    sid = SessionID(begin.decode(), sender.decode(), target.decode())
    found = lookup_session(sid)
    if found is not None:
        return found
    # The same CompIDs with a qualifier: only when there is exactly one.
    candidates = [h for d in _DIRECTORIES for k in d.session_ids()
                  if k.startswith(f"{sid}:") and (h := d.lookup(k)) is not None]
    return candidates[0] if len(candidates) == 1 else None


async def send_to_target(msg: Message, session_id: str | None = None) -> int | None:
    """Send ``msg`` on a session of a running engine; QuickFIX/J's
    ``Session.sendToTarget``.

    Without ``session_id`` the session is the one whose BeginString,
    SenderCompID and TargetCompID the message's header carries.  Returns
    the MsgSeqNum once persisted (None when ``to_app`` vetoed it); raises
    :class:`SessionNotFound`.
    """
    handle = lookup_session(session_id) if session_id is not None else _session_of(msg)
    if handle is None:
        raise SessionNotFound(
            f"no running session {session_id}" if session_id is not None else
            "no running session has the BeginString, SenderCompID and TargetCompID of "
            "this message's header")
    return await handle.send(msg)
