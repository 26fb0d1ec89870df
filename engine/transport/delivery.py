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

:class:`Deliverer` hands what the store made durable to the application, in
order, in one task of its own: every callback runs in a real task (so
``asyncio.timeout()`` and ``asyncio.current_task()`` work in it), a callback
may ``await send()`` (the pump that makes the message durable runs
elsewhere), and while a callback awaits, the driver goes on reading the
connection, answering heartbeats and test requests, up to
``maxPendingDeliveries`` application messages ahead of it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ..codec import Message
from ..errors import APP_REJECTIONS, AppRejection

log = logging.getLogger("pyfixmsg_plus.session")


class Deliveries:
    """The application messages received and not yet handled, in order."""

    __slots__ = ("committed", "durable", "half", "limit", "pending", "room", "stalls",
                 "wanted")

    def __init__(self, limit: int) -> None:
        #: ``(MsgSeqNum, message)`` of every message not yet handled.
        self.pending: collections.deque[tuple[int, Message]] = collections.deque()
        #: The session's next target sequence number.
        self.wanted = 1
        #: The next target sequence number the store holds.
        self.durable = 1
        #: The last one handed to a store commit (durable once it settles).
        self.committed = 1
        self.limit = max(1, limit)
        self.half = self.limit // 2
        self.room = asyncio.Event()
        self.room.set()
        #: How often the driver stopped reading because the bound was reached.
        self.stalls = 0

    def restart(self, next_target: int) -> None:
        self.wanted = self.durable = self.committed = next_target
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
        """The target sequence number to make durable, None if it is already
        (or a commit under way carries it)."""
        goal = self.wanted
        if self.pending:
            first = self.pending[0][0]
            goal = min(goal, first)
        return None if goal == self.committed else goal

    def take_goal(self) -> int | None:
        """``goal()``, counted as handed to the commit being sealed."""
        goal = self.goal()
        if goal is not None:
            self.committed = goal
        return goal

    def lost_commits(self) -> None:
        """Commits under way were given up: only what settled is durable."""
        self.committed = self.durable

    @property
    def full(self) -> bool:
        return len(self.pending) >= self.limit


class Deliverer:
    """Calls the application with released items, in order, in its own task.

    An application message (``"app"``) goes to ``from_app(msg, handle)``;
    a reject exception it raises goes to ``rejected(msg, exc)``; then, unless
    the callback was cancelled, ``handled(msg)``.  Any other item goes to
    ``deliver(kind, payload)``.  ``after()`` runs once the items released so
    far are delivered (the driver carries out what the callbacks caused: one
    commit for all the answers of a batch).
    """

    def __init__(self, name: str, deliver: Callable[[str, Any], Awaitable[None]],
                 after: Callable[[], Awaitable[None]], *,
                 from_app: Callable[[Message, Any], Awaitable[None]], handle: object,
                 rejected: Callable[[Message, AppRejection], None],
                 handled: Callable[[Message], None]) -> None:
        self.name = name
        self.items: collections.deque[tuple[str, Any]] = collections.deque()
        self._deliver = deliver
        self._after = after
        self._from_app = from_app
        self._handle = handle
        self._rejected = rejected
        self._handled = handled
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    def release(self, items: list[tuple[str, Any]]) -> None:
        self.items.extend(items)
        self._idle.clear()
        self._wakeup.set()

    def in_callback(self) -> bool:
        """True when called from one of the callbacks this deliverer runs."""
        return not self._idle.is_set() and asyncio.current_task() is self._task

    async def idle(self) -> None:
        """Wait until every released item was delivered (at once when the
        deliverer is stopped)."""
        if self._task is not None:
            await self._idle.wait()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._idle.set()

    async def _run(self) -> None:
        items = self.items
        from_app, handle = self._from_app, self._handle
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while items:
                while items:
                    kind, payload = items.popleft()
                    if kind == "app":  # the common case, without a coroutine of ours
                        try:
                            await from_app(payload, handle)
                        except APP_REJECTIONS as exc:
                            self._rejected(payload, exc)
                        except Exception:
                            log.exception("%s: application callback failed", self.name)
                        # (Not when cancelled: a callback that never finished
                        # is delivered again after a restart.)
                        self._handled(payload)
                        continue
                    try:
                        await self._deliver(kind, payload)
                    except Exception:
                        log.exception("%s: application callback failed", self.name)
                try:
                    await self._after()
                except Exception:
                    log.exception("%s: internal error after application callbacks", self.name)
            self._idle.set()
