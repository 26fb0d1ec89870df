"""What the session asks its driver to do.

The session never does I/O.  Each call appends effects to its ``outbox``;
the driver (``transport``) drains the outbox and carries the effects out *in
order*, awaiting each one that needs the store before it goes on.  That
order is what makes the engine crash-safe:

* ``Send(persist=True)``: store the message and advance the sender sequence
  number atomically, *then* write the bytes;
* ``SetTarget``: the next expected inbound sequence number, made durable by
  the driver no further than the oldest application message whose delivery
  has not completed (at least once across a crash).
"""

from __future__ import annotations

from ..codec import Message


class Effect:
    __slots__ = ()


class Send(Effect):
    """Write ``msg`` (already carrying its MsgSeqNum).

    ``persist`` is False for resent messages and gap fills, which reuse old
    sequence numbers and must not be stored again.
    """

    __slots__ = ("admin", "msg", "persist", "seq", "write")

    def __init__(
        self, msg: Message, seq: int, persist: bool, admin: bool, write: bool = True
    ) -> None:
        self.msg = msg
        self.seq = seq
        self.persist = persist
        self.admin = admin
        #: False for an application message sent while not logged on: it is
        #: stored (and so resent on request) but not written.
        self.write = write

    def __repr__(self) -> str:
        return f"Send({self.seq}, {self.msg.msg_type!r}, persist={self.persist})"


class SetTarget(Effect):
    """Make ``next_target`` the durable next expected inbound MsgSeqNum."""

    __slots__ = ("next_target",)

    def __init__(self, next_target: int) -> None:
        self.next_target = next_target

    def __repr__(self) -> str:
        return f"SetTarget({self.next_target})"


class SetSender(Effect):
    """Make ``next_sender`` the durable next outbound MsgSeqNum (admin tools)."""

    __slots__ = ("next_sender",)

    def __init__(self, next_sender: int) -> None:
        self.next_sender = next_sender


class ResetStore(Effect):
    """Sequence numbers back to 1/1 and stored messages dropped."""

    __slots__ = ("now_ns",)

    def __init__(self, now_ns: int) -> None:
        self.now_ns = now_ns

    def __repr__(self) -> str:
        return "ResetStore()"


class Deliver(Effect):
    """Hand a received message to the application (from_admin / from_app)."""

    __slots__ = ("admin", "msg")

    def __init__(self, msg: Message, admin: bool) -> None:
        self.msg = msg
        self.admin = admin

    def __repr__(self) -> str:
        return f"Deliver({self.msg.msg_type!r}, seq={self.msg.get(34)!r})"


class AuthorizeLogon(Effect):
    """Ask the application whether to accept this Logon (credentials etc.).

    The driver answers with ``Session.logon_authorized`` or
    ``Session.logon_refused``.
    """

    __slots__ = ("msg",)

    def __init__(self, msg: Message) -> None:
        self.msg = msg


class LoadResend(Effect):
    """Read stored messages ``begin..end`` (inclusive) and pass them to
    ``Session.resend_loaded``."""

    __slots__ = ("begin", "end")

    def __init__(self, begin: int, end: int) -> None:
        self.begin = begin
        self.end = end

    def __repr__(self) -> str:
        return f"LoadResend({self.begin}, {self.end})"


class Disconnect(Effect):
    """Close the connection."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"Disconnect({self.reason!r})"


class LoggedOn(Effect):
    """The session is now logged on (application ``on_logon``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "LoggedOn()"


class LoggedOut(Effect):
    """The session left the logged-on state (application ``on_logout``)."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"LoggedOut({self.reason!r})"


class Log(Effect):
    """A session event worth logging."""

    __slots__ = ("level", "text")

    def __init__(self, text: str, level: str = "info") -> None:
        self.text = text
        self.level = level

    def __repr__(self) -> str:
        return f"Log({self.text!r})"
