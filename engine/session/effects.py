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

Every effect is a record built with keywords and never changed after: plain
classes with ``__slots__`` and a keyword-only ``__init__`` (a frozen
dataclass costs about twice as much to build, through ``object.__setattr__``
per field, and the hot path builds three to six of them per order).  Nothing
assigns to an effect's fields once it is built.
"""

from __future__ import annotations

from typing import ClassVar

from ..codec import Message


class Effect:
    """Base of every effect."""

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()

    def __repr__(self) -> str:
        args = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._fields)
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in self._fields)

    __hash__ = None  # type: ignore[assignment]  # compared by value, like the records they were


class Send(Effect):
    """Write ``msg`` (already carrying its MsgSeqNum ``seq``).

    ``persist`` is False for resent messages and gap fills, which reuse old
    sequence numbers and must not be stored again; ``admin`` marks a
    session-level message (``to_admin`` is called before it goes); ``write``
    is False for an application message sent while not logged on: it is
    stored (and so resent on request) but not written."""

    __slots__ = ("admin", "msg", "persist", "seq", "write")
    _fields = ("msg", "seq", "persist", "admin", "write")

    def __init__(self, *, msg: Message, seq: int, persist: bool, admin: bool,
                 write: bool = True) -> None:
        self.msg = msg
        self.seq = seq
        self.persist = persist
        self.admin = admin
        self.write = write


class SetTarget(Effect):
    """Make ``next_target`` the durable next expected inbound MsgSeqNum."""

    __slots__ = ("next_target",)
    _fields = __slots__

    def __init__(self, *, next_target: int) -> None:
        self.next_target = next_target


class ResetStore(Effect):
    """Sequence numbers back to 1/1 and stored messages dropped."""

    __slots__ = ("now_ns",)
    _fields = __slots__

    def __init__(self, *, now_ns: int) -> None:
        self.now_ns = now_ns


class Deliver(Effect):
    """Hand a received message to the application (``from_admin`` when
    ``admin``, else ``from_app``)."""

    __slots__ = ("admin", "msg")
    _fields = ("msg", "admin")

    def __init__(self, *, msg: Message, admin: bool) -> None:
        self.msg = msg
        self.admin = admin


class AuthorizeLogon(Effect):
    """Ask the application whether to accept this Logon (credentials etc.).

    The driver answers with ``Session.logon_authorized`` or
    ``Session.logon_refused``.
    """

    __slots__ = ("msg",)
    _fields = __slots__

    def __init__(self, *, msg: Message) -> None:
        self.msg = msg


class LoadResend(Effect):
    """Read stored messages ``begin..end`` (inclusive) and pass them to
    ``Session.resend_loaded``."""

    __slots__ = ("begin", "end")
    _fields = __slots__

    def __init__(self, *, begin: int, end: int) -> None:
        self.begin = begin
        self.end = end


class Disconnect(Effect):
    """Close the connection."""

    __slots__ = ("reason",)
    _fields = __slots__

    def __init__(self, *, reason: str) -> None:
        self.reason = reason


class LoggedOn(Effect):
    """The session is now logged on (application ``on_logon``)."""

    __slots__ = ()


class LoggedOut(Effect):
    """The session left the logged-on state (application ``on_logout``)."""

    __slots__ = ("reason",)
    _fields = __slots__

    def __init__(self, *, reason: str) -> None:
        self.reason = reason


class Log(Effect):
    """A session event worth logging."""

    __slots__ = ("level", "text")
    _fields = ("text", "level")

    def __init__(self, *, text: str, level: str = "info") -> None:
        self.text = text
        self.level = level
