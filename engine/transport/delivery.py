"""Received application messages the application has not finished with.

Theory of operation
-------------------
The session advances its next target sequence number as soon as it accepts
a message, and goes on reading while the application works.  What the driver
makes *durable* is less: the next target sequence number, capped at the
MsgSeqNum of the oldest application message received whose ``from_app`` has
not completed yet (returned, or raised one of the application API's reject
exceptions).  After a crash the store therefore says "expecting N" for the
first message the application never finished; the counterparty's higher
MsgSeqNum at the next Logon makes the session ask for everything from N on,
and it comes back with PossDupFlag(43)=Y: at least once, flagged.

:class:`Deliveries` keeps that book for one driver:

* ``received(msg)`` when a ``Deliver`` of an application message is carried
  out (before the flush that follows it computes the target to write);
* ``done(msg)`` when ``from_app`` completed (deliveries are in order, so it
  is normally the oldest one);
* ``goal()``: the target sequence number the next flush should write, or
  None when the store already holds it;
* ``restart(n)`` when the store's state is (re)loaded or reset: messages of
  before no longer hold the target back (after a reset their sequence
  numbers mean nothing; after a reload the counterparty sends them again).

It also bounds the work in flight: ``full`` once ``limit`` messages wait for
the application; ``room`` is set again once half of them are done, and the
driver stops reading the connection until then (back-pressure).
"""

from __future__ import annotations

import asyncio
import collections

from ..codec import Message


class Deliveries:
    """The application messages received and not yet handled, in order."""

    __slots__ = ("durable", "half", "limit", "pending", "room", "stalls", "wanted")

    def __init__(self, limit: int) -> None:
        #: ``(MsgSeqNum, message)`` of every message not yet handled.
        self.pending: collections.deque[tuple[int, Message]] = collections.deque()
        #: The session's next target sequence number.
        self.wanted = 1
        #: The next target sequence number the store holds.
        self.durable = 1
        self.limit = max(1, limit)
        self.half = self.limit // 2
        self.room = asyncio.Event()
        self.room.set()
        #: How often the driver stopped reading because the bound was reached.
        self.stalls = 0

    def restart(self, next_target: int) -> None:
        self.wanted = self.durable = next_target
        self.pending.clear()
        self.room.set()

    def stall(self) -> bool:
        """The bound is reached: clear ``room`` (the driver waits for it).
        False when already stalled."""
        if not self.room.is_set():
            return False
        self.room.clear()
        self.stalls += 1
        return True

    def received(self, msg: Message) -> None:
        """An application message was accepted: the session advanced its
        target past it just before (a SetTarget precedes every application
        Deliver), so its MsgSeqNum is ``wanted - 1``."""
        self.pending.append((self.wanted - 1, msg))

    def done(self, msg: Message) -> bool:
        """``from_app`` is finished with ``msg``.  True when that may move the
        durable target on (the message was the oldest one held back)."""
        pending = self.pending
        if pending and pending[0][1] is msg:
            pending.popleft()
            if self.stalls and len(pending) <= self.half:
                self.room.set()
            return True
        for item in pending:  # not the oldest (or forgotten by a restart)
            if item[1] is msg:
                pending.remove(item)
                break
        if len(pending) <= self.half:
            self.room.set()
        return False

    def drop(self, msgs: list[Message]) -> None:
        """Forget messages that will not be delivered in this process (the
        durable target stays before them: they come again after a reload)."""
        gone = {id(m) for m in msgs}
        kept = [item for item in self.pending if id(item[1]) not in gone]
        self.pending.clear()
        self.pending.extend(kept)
        if len(kept) <= self.half:
            self.room.set()

    def goal(self) -> int | None:
        """The target sequence number to make durable, None if it is already."""
        goal = self.wanted
        if self.pending:
            first = self.pending[0][0]
            goal = min(goal, first)
        return None if goal == self.durable else goal

    @property
    def full(self) -> bool:
        return len(self.pending) >= self.limit
