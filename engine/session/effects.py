"""What the session asks its driver to do.

The session never does I/O.  Each input appends effects to its outbox; the
driver takes them with ``Session.take_effects()`` (the only way out, as h11's
``next_event`` and aioquic's ``datagrams_to_send``) and carries them out *in
order*.  That order is what makes the engine crash-safe:

* ``Send(persist=True)``: store the message and advance the sender sequence
  number atomically, *then* write the bytes;
* ``SetTarget``: the next expected inbound sequence number, made durable by
  the driver no further than the oldest application message whose delivery
  has not completed (at least once across a crash).

Two effects need an answer before the session can take the next received
message: ``AuthorizeLogon`` (answered with ``logon_authorized`` or
``logon_refused``) and ``LoadResend`` (answered with ``resend_loaded``).
``Session.paused`` is True while one is outstanding; the driver feeds no
frame meanwhile.

Every effect is a frozen record built with keywords.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..codec import Message


@dataclass(frozen=True, kw_only=True, slots=True)
class Effect:
    """Base of every effect."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Send(Effect):
    """Write ``msg`` (already carrying its MsgSeqNum ``seq``)."""

    msg: Message
    seq: int
    #: False for resent messages and gap fills, which reuse old sequence
    #: numbers and must not be stored again.
    persist: bool
    #: A session-level message (``to_admin`` is called before it goes).
    admin: bool
    #: False for an application message sent while not logged on: it is
    #: stored (and so resent on request) but not written.
    write: bool = True


@dataclass(frozen=True, kw_only=True, slots=True)
class SetTarget(Effect):
    """Make ``next_target`` the durable next expected inbound MsgSeqNum."""

    next_target: int


@dataclass(frozen=True, kw_only=True, slots=True)
class ResetStore(Effect):
    """Sequence numbers back to 1/1 and stored messages dropped."""

    now_ns: int


@dataclass(frozen=True, kw_only=True, slots=True)
class Deliver(Effect):
    """Hand a received message to the application (``from_admin`` when
    ``admin``, else ``from_app``)."""

    msg: Message
    admin: bool


@dataclass(frozen=True, kw_only=True, slots=True)
class AuthorizeLogon(Effect):
    """Ask the application whether to accept this Logon (credentials etc.).

    The driver answers with ``Session.logon_authorized`` or
    ``Session.logon_refused``.
    """

    msg: Message


@dataclass(frozen=True, kw_only=True, slots=True)
class LoadResend(Effect):
    """Read stored messages ``begin..end`` (inclusive) and pass them to
    ``Session.resend_loaded``."""

    begin: int
    end: int


@dataclass(frozen=True, kw_only=True, slots=True)
class Disconnect(Effect):
    """Close the connection."""

    reason: str


@dataclass(frozen=True, kw_only=True, slots=True)
class LoggedOn(Effect):
    """The session is now logged on (application ``on_logon``)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class LoggedOut(Effect):
    """The session left the logged-on state (application ``on_logout``)."""

    reason: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Log(Effect):
    """A session event worth logging."""

    text: str
    level: str = "info"
