"""Runs one sans-IO :class:`Session` over asyncio streams.

Theory of operation
-------------------
The session is synchronous; everything slow happens here.  Three kinds of
code feed the session and then *kick* the pump:

* the read loop (frames from the socket),
* the timer (``session.next_deadline()``),
* application sends (``SessionDriver.send``).

The pump drains ``session.outbox`` in order.  Sends and SetTargets are
gathered and *flushed* together: one ``save_outbound`` for every message
numbered since the last flush (group commit: many concurrent ``send()``
calls share one store transaction), then the durable target sequence number,
then one socket write.  Any effect that must see durable state first
(delivery to the application, a disconnect) flushes before it runs.

Received application messages are delivered at least once across a crash
(delivery.py): the durable target sequence number a flush writes never
passes the oldest message whose ``from_app`` has not completed, so after a
restart the counterparty is asked for it again (PossDupFlag=Y).  The target
the application's progress releases rides on the next flush, or is written
on its own after ``_TARGET_DELAY`` without one.  At most
``maxPendingDeliveries`` such messages wait: then the driver stops reading
the connection until half of them are handled.

Application callbacks run in a separate delivery task, in order, so that a
callback may itself ``await send()`` without waiting on the pump that
delivered to it.  The read loop waits while a Logon is being authorised or
a resend is being prepared, so the session never sees a message it cannot
take yet.

Store outages (theory in docs/stores.md, "Failure behaviour"): when a flush
fails with a retryable store error, nothing of it has been written to the
socket, and nothing after it will be: the pump holds every outgoing message,
heartbeats included, because a sequence number on the wire must be durable
first (a crash must never make us reuse one).  It retries the store with
backoff; the first successful ``load()`` tells whether the failed
transaction committed after all (its outcome is unknown when a connection
drops during COMMIT), then the batch is saved (or found saved) and the pump
carries on as if nothing happened: senders waited, nothing lost, nothing
reused or skipped.  The FIX connection survives as long as the counterparty
tolerates our silence (about two heartbeat intervals); if it drops, the
held messages reach it by resend after the next logon.  Under
``storeFailure.mode: fail``, once ``waitTimeout`` has passed, or on a
permanent store error, the waiting senders fail and the connection is
dropped at once; the session reloads its sequence numbers from the store
before it numbers anything again (next send or logon), so nothing that was
not durable is ever written and no number is reused.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, cast

from ..application import (
    Application,
    BusinessReject,
    DoNotSend,
    FieldNotFound,
    IncorrectTagValue,
    RejectLogon,
    UnsupportedMessageType,
)
from ..codec import Framer, Garbled, Message, decode, encode
from ..codec.credentials import mask_credentials
from ..codec.msgtypes import OTHER_MSG_TYPE, STANDARD_MSG_TYPES
from ..codec.safetext import safe_text
from ..codec.sessionid import SessionID
from ..codec.values import parse_seq_num
from ..config import SessionSettings, StoreFailureSettings
from ..dictionary import DataDictionary, SessionDictionaries
from ..errors import FixError, GarbledMessageError, RetryableError
from ..session import Session, State
from ..session import effects as fx
from ..session.stats import SessionStats
from ..store.audit import AUDITED_EVENTS, AuditSink
from ..store.base import SessionStore, save_batch
from ..store.errors import StoreUnavailableError
from .delivery import Deliveries
from .levels import operational_level

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

log = logging.getLogger("pyfixmsg_plus.session")

_READ_SIZE = 1 << 16
_PAUSE_AT = 4 << 20  # eager reading: stop reading with this much unprocessed input
_RESUME_AT = 1 << 20
# Eager reading carries out what a run of this many frames caused (answers
# written, callbacks called) before reading the next frames of a big chunk:
# the peer starts on the first answers while the rest are processed, instead
# of both sides taking turns with whole windows (W2 W=100: 24.8k -> 47.9k
# orders/s; 4 costs more in writes, 32 pipelines less).
_FLUSH_EVERY = 16
_MAX_BACKLOG = 10_000
# Seconds without a flush after which a durable target held back by
# unfinished deliveries is written on its own (it normally rides on the
# next flush: the answer the callback sends, or the next batch received).
_TARGET_DELAY = 0.02


class SessionDriver:
    """One session, its store, its application and (at most) one connection."""

    def __init__(
        self,
        session: Session,
        store: SessionStore,
        app: Application,
        *,
        clock: Callable[[], int] = time.time_ns,
        max_message_size: int = 1 << 20,
        store_failure: StoreFailureSettings | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        self.session = session
        self.tracer = tracer
        self.store = store
        self.app = app
        self.clock = clock
        self.max_message_size = max_message_size
        st = session.settings
        self.session_id = SessionID(st.begin_string, st.sender_comp_id, st.target_comp_id,
                                    st.session_qualifier or "")
        self.logout_reason: str | None = None
        # to_app sees the whole header only when the application looks at it.
        self._header_for_to_app = type(app).to_app is not Application.to_app
        self.store_failure = store_failure or StoreFailureSettings()
        #: The audit trail's ``event`` (set by the engine when audit is on).
        self.audit: AuditSink | None = None
        self._outage_since: float | None = None  # loop time of the first store failure
        self._stopping = False
        self._writer: asyncio.StreamWriter | None = None
        self._pump_task: asyncio.Task[None] | None = None
        self._pumping = False  # a pump runs inline in the read loop
        self._framer: Framer | None = None  # eager reading: the connection's framer
        self._eager_writer: asyncio.StreamWriter | None = None
        self._eager_busy = False  # eager reading: effects still being carried out
        self._writable = asyncio.Event()
        self._writable.set()
        #: Effects run in the reading task when the store never waits on I/O.
        self._inline = bool(getattr(store, "synchronous", False))
        #: The store's plain-call save_batch (stores without I/O only).
        self._save_now: Callable[[list[tuple[int, bytes]], int | None], None] | None = (
            getattr(store, "save_batch_now", None) if self._inline else None)
        # Deliveries waiting for the application, in order.  The read loop
        # hands them over itself right after the flush that released them;
        # the delivery task takes those released elsewhere (timers, sends).
        self._ready_items: collections.deque[tuple[str, Any]] = collections.deque()
        self._delivering = False
        self._reader_delivers = False
        self._delivery_wakeup = asyncio.Event()
        self._delivery_task: asyncio.Task[None] | None = None
        self._send_waiters: dict[int, asyncio.Future[int]] = {}
        self._batch: list[tuple[int, bytes]] = []
        self._batch_seqs: list[int] = []
        self._writes: list[bytes] = []
        #: Application messages received and not yet handled, and the durable
        #: target sequence number that follows (see delivery.py).
        self._deliveries = Deliveries(session.settings.max_pending_deliveries)
        self._target_due = False  # the durable target is to be written now
        self._target_timer: asyncio.TimerHandle | None = None
        self._last_flush = 0.0  # perf_counter() of the last store write
        self._held: list[tuple[str, Any]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: int | None = None
        self._ready = asyncio.Event()  # set when the read loop may feed the next frame
        self._ready.set()
        self._reload = True
        self._attaching = False
        self._loading: asyncio.Future[None] | None = None
        self._aborts = 0
        self._closed = asyncio.Event()
        self._closed.set()
        self.on_state_change: Callable[[SessionDriver], None] | None = None

    # ------------------------------------------------------------------
    # SessionHandle
    # ------------------------------------------------------------------
    @property
    def logged_on(self) -> bool:
        return self.session.logged_on

    @property
    def settings(self) -> SessionSettings:
        return self.session.settings

    @property
    def dictionaries(self) -> DataDictionary | SessionDictionaries | None:
        found = getattr(self.session.validator, "dictionaries", None)
        return found if isinstance(found, DataDictionary | SessionDictionaries) else None

    @property
    def default_appl_ver_id(self) -> str | None:
        return self.session.settings.appl_ver_id_code

    # -- what metrics and health checks read --------------------------------
    @property
    def counterparty(self) -> str:
        return self.session.settings.target_comp_id

    @property
    def stats(self) -> SessionStats:
        return self.session.stats

    @property
    def state(self) -> State:
        return self.session.state

    @property
    def next_sender(self) -> int:
        return self.session.next_sender

    @property
    def next_target(self) -> int:
        return self.session.next_target

    @property
    def queued(self) -> int:
        return len(self.session.queue)

    @property
    def pending_deliveries(self) -> int:
        """Application messages received and not yet handled by ``from_app``."""
        return len(self._deliveries.pending)

    @property
    def delivery_stalls(self) -> int:
        """How often reading stopped because ``maxPendingDeliveries`` were pending."""
        return self._deliveries.stalls

    def in_schedule(self) -> bool:
        return self.session.schedule.is_session_time(self.clock())

    @property
    def connected(self) -> bool:
        return self._writer is not None or self._attaching

    async def send(self, msg: Message) -> int | None:
        if self._header_for_to_app:
            self.session.fill_header(msg, self.clock())
        try:
            await self.app.to_app(msg, self)
        except DoNotSend:
            return None
        if self.tracer is None:
            return await self._send(msg)
        with self.tracer.start_as_current_span("fix.send") as span:
            seq = await self._send(msg)
            span.set_attributes(self._span_attributes(msg, seq))
            return seq

    def _span_attributes(self, msg: Message, seq: int | None) -> dict[str, str | int]:
        return {"fix.session": self.session_id, "fix.msg_type": safe_text(msg.msg_type, 16),
                "fix.msg_seq_num": seq or 0, "fix.counterparty": self.counterparty}

    def send_nowait(self, msg: Message) -> int | None:
        if self._outage_since is not None:
            self._check_store()
        seq = self.session.send_app(msg, self.clock())
        if not self._delivering:
            self._kick()  # (inside a callback, the deliverer carries it out next)
        return seq

    @property
    def store_available(self) -> bool:
        """False while an outage of the message store is being ridden out."""
        return self._outage_since is None

    def _check_store(self) -> None:
        """Refuse a send while the store is down and sends may not wait."""
        since = self._outage_since
        if since is None:
            return
        policy = self.store_failure
        elapsed = asyncio.get_running_loop().time() - since
        if policy.mode == "fail" or elapsed >= policy.wait_timeout:
            raise StoreUnavailableError(
                f"{self.session_id}: not sent: the message store has been unavailable for "
                f"{elapsed:.1f} s (storeFailure.mode={policy.mode}, "
                f"waitTimeout={policy.wait_timeout:g} s)")

    async def _send(self, msg: Message) -> int:
        self._check_store()
        if self._reload:  # after a store failure: number from the durable state
            await self._reloaded()
        seq = self.session.send_app(msg, self.clock())
        waiter: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._send_waiters[seq] = waiter
        self._kick()
        return await waiter

    async def logout(self, text: str = "") -> None:
        self.session.logout(self.clock(), text)
        self._kick()

    # ------------------------------------------------------------------
    # life cycle
    # ------------------------------------------------------------------
    async def load(self) -> None:
        """(Re)load the durable sequence numbers into the session."""
        state = await self.store.load()
        self.session.restore(state.next_sender_seq, state.next_target_seq, state.creation_time_ns)
        self._deliveries.restart(state.next_target_seq)
        self._reload = False

    async def _reloaded(self) -> None:
        """Reload once after a store failure before anything is numbered
        again; concurrent callers share one load (a second restore would
        hand out a sequence number twice)."""
        while self._reload:
            if self._loading is None or self._loading.done():
                self._loading = asyncio.ensure_future(self.load())
            await asyncio.shield(self._loading)

    async def start(self) -> None:
        await self.load()
        if self._delivery_task is None:
            self._delivery_task = asyncio.create_task(self._deliver_loop(),
                                                      name=f"deliver {self.session_id}")
        await self._call(self.app.on_create(self))

    async def stop(self, timeout: float = 5.0) -> None:
        """Finish pending effects and deliveries (at most ``timeout`` seconds,
        then cancel them: a callback that never returns must not hang a
        shutdown)."""
        self._stopping = True  # an outage being ridden out gives up
        if self._timer is not None:
            self._timer.cancel()
        try:
            async with asyncio.timeout(timeout):
                if self._pump_task is not None:
                    with contextlib.suppress(Exception):
                        await self._pump_task
                while self._ready_items or self._delivering:
                    if self._delivering:
                        await asyncio.sleep(0.01)
                    else:
                        await self._deliver_ready()
                # What the application finished with is not delivered again.
                if self._deliveries.goal() is not None and not self._reload:
                    self._target_due = True
                    await self._pump_now()
        except TimeoutError:
            log.warning("%s: stopped with effects or deliveries still pending after %g s",
                        self.session_id, timeout)
            if self._pump_task is not None:
                self._pump_task.cancel()
        if self._target_timer is not None:
            self._target_timer.cancel()
            self._target_timer = None
        if self._delivery_task is not None:
            self._delivery_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._delivery_task
            self._delivery_task = None

    async def wait_closed(self) -> None:
        await self._closed.wait()

    async def run_connection(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        initial: bytes = b"",
    ) -> None:
        """Serve one connection until it closes.  ``initial`` holds bytes
        already read from it (the acceptor reads the Logon to route it).

        A session has at most one connection: a second one, even one that
        arrives while the first is still reloading the store, is closed."""
        if self.connected:
            log.warning("%s: already has a connection; closing another one", self.session_id)
            writer.close()
            return
        self._attaching = True  # claimed across the store reload below
        try:
            if self.session.settings.refresh_on_logon:
                self._reload = True
            await self._reloaded()
        except (FixError, OSError) as exc:
            log.error("%s: cannot load the session state from the store, closing the "
                      "connection: %s", self.session_id, exc)
            self._reload = True
            writer.close()
            self.session.closed(self.clock(), "store failure")
            self._kick()
            return
        finally:
            self._attaching = False
        self._writer = writer
        self._closed.clear()
        framer = Framer(self.max_message_size)
        session = self.session
        try:
            if self._inline:
                await self._serve_eagerly(reader, writer, framer, initial)
                return
            session.connected(self.clock())
            self._kick()
            data = initial
            while True:
                if data:
                    framer.feed(data)
                    while (frame := framer.next_frame()) is not None:
                        if not self._ready.is_set():
                            await self._pump_now()
                            await self._ready.wait()
                        if self._deliveries.full:
                            await self._wait_for_room()
                        if not self._attached(writer):
                            return
                        self._feed(frame)
                    # A store that commits to disk or a server: the pump task
                    # flushes while this loop reads on, so one commit carries a
                    # chunk's target seq and the answers to the chunk before it.
                    self._kick()
                if not self._attached(writer):
                    return
                data = await reader.read(_READ_SIZE)
                if not data:
                    break
        except (ConnectionError, OSError) as exc:
            log.warning("%s: connection error: %s", self.session_id, exc)
        finally:
            if self._writer is writer:
                session.closed(self.clock(), "connection closed")
                self._kick()
                await self._drain()
            self._close_writer(writer)
            self._framer = None
            self._eager_writer = None

    def _attached(self, writer: asyncio.StreamWriter) -> bool:
        return self._writer is writer

    async def _wait_for_room(self) -> None:
        """Back-pressure: ``maxPendingDeliveries`` messages wait for the
        application; read nothing more until half of them are handled."""
        self._deliveries.stall()
        self._kick()  # (the next flush releases what it holds)
        await self._deliveries.room.wait()

    # ------------------------------------------------------------------
    # eager reading (stores without I/O)
    # ------------------------------------------------------------------
    async def _serve_eagerly(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                             framer: Framer, initial: bytes) -> None:
        """Read through a protocol: a chunk's frames, their effects and the
        application callbacks run right inside ``data_received`` when none
        of them has to wait, with no reader task to wake.  What does wait
        goes on in a task, and frames arriving meanwhile queue in order."""
        transport = cast(asyncio.Transport, writer.transport)
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._framer = framer
        self._eager_writer = writer
        reading = _EagerReader(self, done)
        leftover = bytes(getattr(reader, "_buffer", b""))
        transport.set_protocol(reading)
        if not transport.is_reading():
            transport.resume_reading()
        self.session.connected(self.clock())
        if initial:
            framer.feed(initial)
        if leftover:
            framer.feed(leftover)
        if reader.at_eof():
            done.set_result(None)
        self._process_frames()
        await done

    def _on_data(self, data: bytes) -> None:
        framer = self._framer
        if framer is None:
            return
        framer.feed(data)
        if framer.buffered > _PAUSE_AT and self._eager_writer is not None:
            transport = cast(asyncio.Transport, self._eager_writer.transport)
            if transport.is_reading():
                transport.pause_reading()
        self._process_frames()

    def _process_frames(self) -> None:
        """Feed the queued frames to the session and carry their effects out."""
        writer = self._eager_writer
        framer = self._framer
        if self._eager_busy or framer is None or writer is None:
            return
        fed = 0
        deliveries = self._deliveries
        pending, limit = deliveries.pending, deliveries.limit
        while self._ready.is_set() and self._attached(writer):
            if len(pending) >= limit:
                self._stall_eagerly(writer)
                break
            frame = framer.next_frame()
            if frame is None:
                break
            self._feed(frame)
            fed += 1
            if fed >= _FLUSH_EVERY and (self.session.outbox or self._ready_items):
                fed = 0
                if not self._run_eagerly(self._after_chunk()):
                    return  # _finish_eagerly picks the rest up
        if framer.buffered < _RESUME_AT and not writer.is_closing() and deliveries.room.is_set():
            transport = cast(asyncio.Transport, writer.transport)
            if not transport.is_reading():
                transport.resume_reading()
        if self.session.outbox or self._ready_items:
            self._run_eagerly(self._after_chunk())

    def _stall_eagerly(self, writer: asyncio.StreamWriter) -> None:
        """Back-pressure while reading eagerly (see ``_wait_for_room``)."""
        room = self._deliveries.room
        if not self._deliveries.stall():
            return  # already waiting
        transport = cast(asyncio.Transport, writer.transport)
        if transport.is_reading():
            transport.pause_reading()

        async def resume() -> None:
            await room.wait()
            self._process_frames()

        asyncio.get_running_loop().create_task(resume())

    async def _after_chunk(self) -> None:
        self._reader_delivers = True
        try:
            await self._pump_now()
        finally:
            self._reader_delivers = False
        if self._ready_items:
            await self._deliver_ready()

    def _run_eagerly(self, coro: Coroutine[Any, Any, None]) -> bool:
        """Run ``coro`` now; if it has to wait, finish it in a task (in the
        same context, as a task would) and hold further frames until then.
        True when it finished here."""
        context = contextvars.copy_context()
        try:
            waiting = context.run(coro.send, None)
        except StopIteration:
            return True
        except Exception:
            log.exception("%s: internal error while carrying out session effects",
                          self.session_id)
            self._abort("internal error")
            return True
        self._eager_busy = True
        asyncio.get_running_loop().create_task(self._finish_eagerly(coro, waiting, context))
        return False

    async def _finish_eagerly(self, coro: Coroutine[Any, Any, None], waiting: Any,
                              context: contextvars.Context) -> None:
        try:
            while True:
                if waiting is None:
                    await asyncio.sleep(0)
                else:
                    waiting._asyncio_future_blocking = False
                    await asyncio.wait((waiting,))
                try:
                    waiting = context.run(coro.send, None)
                except StopIteration:
                    break
        except asyncio.CancelledError:
            coro.close()
            raise
        except Exception:
            log.exception("%s: internal error while carrying out session effects",
                          self.session_id)
            self._abort("internal error")
        finally:
            self._eager_busy = False
        self._process_frames()

    def _resume_frames(self) -> None:
        """Frames held while a Logon was authorised or a resend prepared."""
        if self._framer is not None:
            asyncio.get_running_loop().call_soon(self._process_frames)

    def _connection_lost(self, done: asyncio.Future[None]) -> None:
        if not done.done():
            done.set_result(None)

    def _feed(self, frame: bytes | Garbled) -> None:
        session = self.session
        now = self.clock()
        before = session.round_trips
        if isinstance(frame, Garbled):
            session.receive_garbled(frame.reason, now)
        else:
            try:
                msg = decode(frame)
            except (GarbledMessageError, ValueError) as exc:
                # ValueError: a number too long for int() in a tag or length.
                session.receive_garbled(str(exc)[:200], now)
            else:
                mt = msg.msg_type  # made-up MsgTypes share one counter (metrics label "other")
                session.stats.received[mt if mt in STANDARD_MSG_TYPES else OTHER_MSG_TYPE] += 1
                if self.tracer is None or msg.is_admin():
                    session.receive(msg, now)
                else:
                    with self.tracer.start_as_current_span("fix.receive") as span:
                        span.set_attributes(self._span_attributes(
                            msg, parse_seq_num(msg.get(34) or b"")))  # never raises
                        session.receive(msg, now)
        if session.round_trips != before:
            # An AuthorizeLogon or LoadResend: hold the next frames until
            # its answer is in.
            self._ready.clear()

    def _close_writer(self, writer: asyncio.StreamWriter) -> None:
        if self._writer is writer:
            self._writer = None
        if not writer.is_closing():
            writer.close()
        self._ready.set()
        self._deliveries.room.set()  # a reader waiting for room sees the close
        self._closed.set()

    # ------------------------------------------------------------------
    # the pump
    # ------------------------------------------------------------------
    def _kick(self) -> None:
        if self._pumping:
            return  # the running pump picks the new effects up
        if self._pump_task is None or self._pump_task.done():
            self._pump_task = asyncio.get_running_loop().create_task(self._pump())

    async def _pump_now(self) -> None:
        """Carry out pending effects in the calling task (or wait for the
        pump task that is already at it)."""
        while True:
            task = self._pump_task
            if task is not None and not task.done():
                await asyncio.shield(task)
                continue
            if not (self.session.outbox or self._target_due) or self._pumping:
                return
            self._pumping = True
            try:
                await self._pump()
            finally:
                self._pumping = False

    async def _drain(self) -> None:
        """Wait until the pending effects are carried out (by the pump task,
        or by a pump running inline in another task)."""
        while True:
            task = self._pump_task
            if task is not None and not task.done():
                await asyncio.shield(task)
            elif self._pumping:
                await asyncio.sleep(0)  # an inline pump is at it
            elif self.session.outbox:
                self._kick()
                if self._pump_task is None or self._pump_task.done():
                    return  # nothing could be started: nothing more to wait for
            else:
                return

    async def _pump(self) -> None:
        session = self.session
        try:
            while session.outbox or self._target_due:
                self._target_due = False
                effects = session.outbox
                session.outbox = []
                aborts = self._aborts
                for effect in effects:
                    if not self._apply_now(effect):
                        await self._apply(effect)
                        if self._aborts != aborts:
                            break  # the connection was dropped: the rest is void
                await self._flush()
        except Exception:
            log.exception("%s: internal error while carrying out session effects",
                          self.session_id)
            self._abort("internal error")
        finally:
            self._reschedule()
            if self.on_state_change is not None:
                self.on_state_change(self)

    def _apply_now(self, effect: fx.Effect) -> bool:
        """The effects of every message, carried out without a coroutine:
        an application message to send, the next target seq, a message to
        deliver.  False for anything else (``_apply`` does it)."""
        cls = type(effect)
        if cls is fx.Send:
            send = cast(fx.Send, effect)
            if send.admin:
                return False  # to_admin first: _apply
            self._queue(send)
            return True
        if cls is fx.SetTarget:
            self._deliveries.wanted = cast(fx.SetTarget, effect).next_target
            return True
        if cls is fx.Deliver:
            # Released to the application by the next flush (one store commit
            # for a whole batch).  An application message holds the durable
            # target back until from_app is done with it (delivery.py).
            deliver = cast(fx.Deliver, effect)
            if deliver.admin:
                self._held.append(("admin", deliver.msg))
            else:
                self._deliveries.received(deliver.msg)
                self._held.append(("app", deliver.msg))
            return True
        return False

    def _queue(self, send: fx.Send) -> None:
        """Encode a message to send into the flush's store batch and writes."""
        data = encode(send.msg)
        if send.persist:
            # The stored copy of a Logon carries no password (the wire copy does).
            self._batch.append((send.seq, mask_credentials(data) if send.admin else data))
            self._batch_seqs.append(send.seq)
        if send.write:
            self._writes.append(data)
            self.session.stats.sent[send.msg.msg_type] += 1

    async def _apply(self, effect: fx.Effect) -> None:
        """Every effect ``_apply_now`` leaves: admin messages to send, and
        those that flush first or wait for the store or the application."""
        if isinstance(effect, fx.Send):  # an admin message
            await self._call(self.app.to_admin(effect.msg, self))
            self._queue(effect)
            return
        if isinstance(effect, fx.LoggedOn | fx.LoggedOut):
            kind = "logon" if isinstance(effect, fx.LoggedOn) else "logout"
            reason = getattr(effect, "reason", None) or ""
            log.log(logging.INFO if kind == "logon" else operational_level(reason), "%s: %s",
                    self.session_id, "logged on" if kind == "logon" else f"logged out: {reason}")
            self._held.append((kind, getattr(effect, "reason", None)))
            return
        await self._flush()
        if isinstance(effect, fx.AuthorizeLogon):
            self._release([("authorize", effect.msg)])
        elif isinstance(effect, fx.LoadResend):
            await self._load_resend(effect.begin, effect.end)
        elif isinstance(effect, fx.Disconnect):
            log.log(operational_level(effect.reason), "%s: disconnecting: %s", self.session_id,
                    effect.reason)
            if self._writer is not None:
                self._close_writer(self._writer)
        elif isinstance(effect, fx.ResetStore):
            await self.store.reset(effect.now_ns)
            self._deliveries.restart(1)
        elif isinstance(effect, fx.SetSender):
            await self.store.set_next_sender(effect.next_sender)
        elif isinstance(effect, fx.Log):
            log.log(logging.WARNING if effect.level == "warning" else logging.INFO,
                    "%s: %s", self.session_id, effect.text)
            if self.audit is not None and effect.text.startswith(AUDITED_EVENTS):
                self.audit("session.sequence", session=self.session_id, event=effect.text)

    async def _flush(self) -> None:
        batch, seqs, writes = self._batch, self._batch_seqs, self._writes
        target = self._deliveries.goal()
        held = self._held
        if not (batch or target is not None or writes or held):
            return
        self._batch, self._batch_seqs, self._writes = [], [], []
        self._held = []
        stats = self.session.stats
        started = time.perf_counter()
        try:
            if batch or target is not None:
                # One transaction for the messages and the target seq.
                if self._save_now is not None:
                    self._save_now(batch, target)
                else:
                    await save_batch(self.store, batch, target)
        except (FixError, OSError) as exc:
            stats.store_errors += 1
            if not await self._ride_out_outage(exc, batch, seqs, target):
                self._deliveries.drop([item[1] for item in held if item[0] == "app"])
                return
        if batch or target is not None:
            self._last_flush = started
            stats.store_write.observe(time.perf_counter() - started)
            if batch:
                stats.store_batch.observe(len(batch))
            if target is not None:
                self._deliveries.durable = target
        for seq in seqs:
            waiter = self._send_waiters.pop(seq, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(seq)
        if held:
            self._release(held)
        writer = self._writer
        if writes and writer is not None and not writer.is_closing():
            writer.write(b"".join(writes) if len(writes) > 1 else writes[0])
            if writer.transport.get_write_buffer_size() > (1 << 20):
                if self._framer is not None:  # eager reading: our protocol tracks it
                    await self._writable.wait()
                else:
                    with contextlib.suppress(ConnectionError):
                        await writer.drain()

    def _abort(self, reason: str) -> None:
        """Drop the connection after an internal or store failure; the
        session reloads from the store before its next logon (or send).
        Every waiting ``send()`` fails: nothing numbered so far that is not
        yet durable will ever be written."""
        self._reload = True
        self._aborts += 1
        err = RetryableError(reason)
        for waiter in self._send_waiters.values():
            if not waiter.done():
                waiter.set_exception(err)
        self._send_waiters.clear()
        self.session.outbox.clear()
        self._batch, self._batch_seqs, self._writes = [], [], []
        self._deliveries.drop([item[1] for item in self._held if item[0] == "app"])
        self._held = [item for item in self._held if item[0] in ("logon", "logout")]
        if self._writer is not None:
            self.session.closed(self.clock(), reason)
            self.session.outbox = [e for e in self.session.outbox
                                   if isinstance(e, fx.LoggedOut | fx.Log)]
            self._close_writer(self._writer)

    def _fail_waiters(self, err: Exception, seqs: list[int] | None = None) -> None:
        for seq in list(self._send_waiters) if seqs is None else seqs:
            waiter = self._send_waiters.pop(seq, None)
            if waiter is not None and not waiter.done():
                waiter.set_exception(err)

    async def _ride_out_outage(self, exc: Exception, batch: list[tuple[int, bytes]],
                               seqs: list[int], target: int | None) -> bool:
        """A flush failed; nothing of it reached the socket.  Mode ``wait``:
        retry the store until it answers or ``waitTimeout`` passes.  True: the
        batch and target are durable now (carry on).  False: the waiting
        senders failed and the connection was dropped (reload before reuse)."""
        policy = self.store_failure
        if policy.mode == "fail" or not isinstance(exc, RetryableError | OSError):
            log.error("%s: store failure, dropping the connection: %s", self.session_id, exc)
            self._fail_waiters(StoreUnavailableError(
                f"{self.session_id}: not sent: message store failure: {exc}"))
            self._abort(f"store failure: {exc}")
            return False
        loop = asyncio.get_running_loop()
        self._outage_since = start = loop.time()
        log.error("%s: message store unavailable, holding every outgoing message until it "
                  "is back (storeFailure.mode=%s): %s", self.session_id, policy.mode, exc)
        delay = policy.retry_initial_delay
        try:
            while True:
                elapsed = loop.time() - start
                if self._stopping or elapsed >= policy.wait_timeout:
                    self._fail_waiters(StoreUnavailableError(
                        f"{self.session_id}: not sent: the message store has been unavailable "
                        f"for {elapsed:.1f} s (storeFailure.waitTimeout="
                        f"{policy.wait_timeout:g} s)"))
                    self._abort("message store unavailable")
                    return False
                await asyncio.sleep(min(delay, max(0.0, start + policy.wait_timeout
                                                   - loop.time())))
                delay = min(delay * 2, policy.retry_max_delay)
                try:
                    if await self._recover(batch, seqs, target):
                        log.warning("%s: message store is back after %.1f s; resuming",
                                    self.session_id, loop.time() - start)
                        return True
                    return False
                except (RetryableError, OSError) as again:
                    log.debug("%s: message store still unavailable: %s", self.session_id, again)
                except FixError as fatal:
                    log.error("%s: store failure, dropping the connection: %s",
                              self.session_id, fatal)
                    self._fail_waiters(fatal)
                    self._abort(f"store failure: {fatal}")
                    return False
        finally:
            self._outage_since = None

    async def _recover(self, batch: list[tuple[int, bytes]], seqs: list[int],
                       target: int | None) -> bool:
        """The store answers again: settle the held flush (see _ride_out_outage)."""
        state = await self.store.load()  # did the failed transaction commit after all?
        durable = state.next_sender_seq
        if seqs:
            first, last = seqs[0], seqs[-1]
            if durable == first:
                await self.store.save_outbound(batch)
            elif durable != last + 1 or await self.store.get_range(first, last) != batch:
                err = StoreUnavailableError(
                    f"{self.session_id}: store state changed during the outage (next sender "
                    f"{durable}, held {first}..{last}); reloading")
                self._fail_waiters(err)
                self._abort(str(err))
                return False
        if target is not None:
            await self.store.set_next_target(target)
        return True

    async def _load_resend(self, begin: int, end: int) -> None:
        try:
            rows = await self._read_for_resend(begin, end)
        except (FixError, OSError) as exc:
            # Never gap-fill messages we could not read: drop the connection,
            # the counterparty asks again after the next logon.
            log.error("%s: cannot read messages %d..%d for a resend, dropping the "
                      "connection: %s", self.session_id, begin, end, exc)
            self._abort(f"store failure during a resend: {exc}")
            return
        stored: list[tuple[int, Message | None]] = []
        for seq, data in rows:
            try:
                msg: Message | None = decode(data)
            except GarbledMessageError:
                msg = None
            if msg is not None and not msg.is_admin():
                probe = msg.copy()
                probe.set(43, b"Y")
                try:
                    await self.app.to_app(probe, self)
                except DoNotSend:
                    msg = None
                except Exception:
                    log.exception("%s: to_app failed during resend", self.session_id)
            else:
                msg = None
            stored.append((seq, msg))
        if self.session.state in (State.ACTIVE, State.LOGOUT_SENT, State.LOGON_RECEIVED):
            self.session.resend_loaded(begin, end, stored, self.clock())
        self._ready.set()
        self._resume_frames()

    async def _read_for_resend(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        """``get_range``, retried with backoff through a store outage of at
        most ``storeFailure.waitTimeout``."""
        policy = self.store_failure
        loop = asyncio.get_running_loop()
        deadline = loop.time() + policy.wait_timeout
        delay = policy.retry_initial_delay
        while True:
            try:
                return await self.store.get_range(begin, end)
            except (RetryableError, OSError):
                if self._stopping or loop.time() + delay > deadline:
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, policy.retry_max_delay)

    # ------------------------------------------------------------------
    # timers
    # ------------------------------------------------------------------
    def _reschedule(self) -> None:
        deadline = self.session.next_deadline()
        if deadline == self._timer_at:
            return
        if (deadline is not None and self._timer_at is not None and self._timer is not None
                and deadline > self._timer_at):
            # Later than the armed timer: let that one fire and re-arm then
            # (saves a cancel and a call_later per message sent).
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = deadline
        if deadline is not None:
            delay = max(0.0, (deadline - self.clock()) / 1e9)
            self._timer = asyncio.get_running_loop().call_later(delay, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        self.session.on_timer(self.clock())
        self._kick()
        if not self.session.outbox:
            self._reschedule()

    # ------------------------------------------------------------------
    # application callbacks
    # ------------------------------------------------------------------
    async def _call(self, coro: Awaitable[None]) -> None:
        try:
            await coro
        except Exception:
            log.exception("%s: application callback failed", self.session_id)

    def _release(self, items: list[tuple[str, Any]]) -> None:
        self._ready_items.extend(items)
        if not self._reader_delivers or self._delivering:
            self._delivery_wakeup.set()

    async def _deliver_ready(self) -> None:
        """Hand every released item to the application, in order, one at a
        time; effects the callbacks cause are carried out after each."""
        if self._delivering:
            return  # whoever is delivering drains the rest
        self._delivering = True
        try:
            items = self._ready_items
            from_app = self.app.from_app
            while items:
                while items:
                    kind, payload = items.popleft()
                    try:
                        if kind == "app":
                            try:  # the common case, without a coroutine of our own
                                await from_app(payload, self)
                            except _APP_REJECTS as exc:
                                self._app_rejected(payload, exc)
                        else:
                            await self._deliver(kind, payload)
                    except Exception:
                        log.exception("%s: application callback failed", self.session_id)
                    if kind == "app":
                        self._handled(payload)
                # What the callbacks sent goes out in one flush.
                if self.session.outbox:
                    if self._inline:
                        await self._pump_now()
                    else:
                        self._kick()
        finally:
            self._delivering = False

    async def _deliver_loop(self) -> None:
        while True:
            await self._delivery_wakeup.wait()
            self._delivery_wakeup.clear()
            await self._deliver_ready()

    async def _deliver(self, kind: str, payload: Any) -> None:
        session = self.session
        if kind == "admin":  # ("app" items: _deliver_ready calls from_app itself)
            await self.app.from_admin(payload, self)
        elif kind == "authorize":
            verdict: str | None = None
            try:
                await self.app.from_admin(payload, self)
            except RejectLogon as exc:
                verdict = str(exc)
            except Exception:
                log.exception("%s: from_admin failed on Logon; refusing it", self.session_id)
                verdict = "Logon refused"
            # The connection may have gone while the application decided.
            if session.state is State.LOGON_RECEIVED and session.pending_logon is payload:
                if verdict is None:
                    session.logon_authorized(self.clock())
                else:
                    session.logon_refused(verdict, self.clock())
            self._ready.set()
            self._resume_frames()
            self._kick()
        elif kind == "logon":
            await self.app.on_logon(self)
        elif kind == "logout":
            self.logout_reason = payload if isinstance(payload, str) else None
            await self.app.on_logout(self)

    def _handled(self, msg: Message) -> None:
        """from_app is done with ``msg``: it may now count as received for
        good.  The durable target moves on with the next flush, or on its
        own once no flush came for ``_TARGET_DELAY`` seconds."""
        if self._deliveries.done(msg) and self._target_timer is None:
            self._target_timer = asyncio.get_running_loop().call_later(
                _TARGET_DELAY, self._on_target_timer)

    def _on_target_timer(self) -> None:
        self._target_timer = None
        if self._deliveries.goal() is None or self._stopping:
            return
        idle = time.perf_counter() - self._last_flush
        if idle < _TARGET_DELAY:  # a flush came meanwhile: wait for the next lull
            self._target_timer = asyncio.get_running_loop().call_later(
                _TARGET_DELAY - idle, self._on_target_timer)
            return
        if self._reload:
            return  # the store is reloaded before anything is written again
        self._target_due = True
        self._kick()

    def _app_rejected(self, msg: Message, exc: Exception) -> None:
        """from_app refused ``msg`` with one of the exceptions of the
        application API: answer with the matching reject."""
        session = self.session
        now = self.clock()
        if isinstance(exc, UnsupportedMessageType):
            session.app_rejected(msg, now, business_reason=3)
        elif isinstance(exc, BusinessReject):
            session.app_rejected(msg, now, business_reason=exc.reason, ref_tag=exc.ref_tag,
                                 text=exc.text)
        elif isinstance(exc, FieldNotFound):
            if session.begin_string >= b"FIX.4.2":
                session.app_rejected(msg, now, business_reason=5, ref_tag=exc.tag)
            else:
                session.app_rejected(msg, now, session_reason=1, ref_tag=exc.tag)
        elif isinstance(exc, IncorrectTagValue):
            session.app_rejected(msg, now, session_reason=5, ref_tag=exc.tag)
        self._kick()


_APP_REJECTS = (UnsupportedMessageType, BusinessReject, FieldNotFound, IncorrectTagValue)


class _EagerReader(asyncio.Protocol):
    """The transport's protocol while a driver reads eagerly."""

    def __init__(self, driver: SessionDriver, done: asyncio.Future[None]) -> None:
        self.driver = driver
        self.done = done

    def data_received(self, data: bytes) -> None:
        self.driver._on_data(data)

    def eof_received(self) -> bool:
        self.driver._connection_lost(self.done)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.driver._writable.set()
        self.driver._connection_lost(self.done)

    def pause_writing(self) -> None:
        self.driver._writable.clear()

    def resume_writing(self) -> None:
        self.driver._writable.set()
