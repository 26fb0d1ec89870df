"""Runs one sans-IO :class:`Session` over an asyncio stream connection.

Theory of operation
-------------------
The session is a synchronous state machine: events in (a received frame, a
send, a timer, the connection closing), effects out (``take_effects()``).
This driver is its thin I/O shell, three roles in plain asyncio tasks:

* **the reader** (connection.py; the task serving ``run_connection``, the
  same loop for every store): reads the stream, feeds each frame to the
  session and has the pump carry out the effects every few frames and at
  the end of each chunk; it holds while the session is paused or too many
  deliveries wait for the application (back-pressure).
* **the pump** (``_pump``): the one place effects are carried out, each
  through one table (``_EFFECTS``).  One pump runs at a time, in the task
  that has effects to carry out when it is free (the reader, the deliverer)
  and otherwise in a task of its own (a timer, a send from elsewhere); a
  running pump picks up effects added while it runs.  The pump fills the
  flusher's open batch (rows to store, bytes to write, items to release),
  then seals it: the store commit starts and the pump goes on (flush.py:
  commits are pipelined, and settle in order, persist before send).  An
  effect that must see everything before it durable (a disconnect, a store
  reset, reading a resend) waits for the flusher to settle first.
* **the deliverer** (delivery.py): the application's callbacks, in order,
  in a task of their own, once what they are told about is durable; after
  a run of callbacks it pumps what they sent (one commit for all).

Received application messages are delivered at least once across a crash
(delivery.py): the durable target sequence number never passes the oldest
message whose ``from_app`` has not completed, so after a restart the
counterparty is asked for it again (PossDupFlag=Y).  The target the
application's progress releases rides on the next commit, or is written on
its own after ``_TARGET_DELAY`` without one.

Store outages are ridden out by the flusher (flush.py); on a permanent
failure ``_abort`` drops the connection, fails the waiting senders and
makes the session reload its sequence numbers from the store before it
numbers anything again (next send or logon).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ..application import Application, DoNotSend, RejectLogon
from ..codec import Message, encode
from ..codec.credentials import mask_credentials
from ..codec.safetext import safe_text
from ..codec.sessionid import SessionID
from ..config import StoreFailureSettings
from ..errors import AppRejection, FixError, RetryableError
from ..session import Session, State
from ..session import effects as fx
from ..store.audit import AUDITED_EVENTS, AuditSink
from ..store.base import SessionStore
from ..store.errors import StoreUnavailableError
from .connection import Connection
from .delivery import Deliverer, Deliveries
from .flush import WRITE_HIGH_WATER, Flusher
from .levels import operational_level
from .observer import MessageObserver
from .readings import DriverReadings, Link
from .stored import read_stored, resendable

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

log = logging.getLogger("pyfixmsg_plus.session")

# Seconds without a commit after which a durable target held back by
# unfinished deliveries is written on its own (it normally rides on the
# next commit: the answer the callback sends, or the next batch received).
_TARGET_DELAY = 0.02


class SessionDriver(DriverReadings):
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
        self.app = app
        self.clock = clock
        self.max_message_size = max_message_size
        st = session.settings
        self.session_id = SessionID(st.begin_string, st.sender_comp_id, st.target_comp_id,
                                    st.session_qualifier or "")
        #: Why the session last logged out (``on_logout`` reads it).
        self.logout_reason: str | None = None
        # to_app sees the whole header only when the application looks at it.
        self._header_for_to_app = type(app).to_app is not Application.to_app
        self.on_state_change: Callable[[SessionDriver], None] | None = None
        #: The session's message log (docs/logs.md), set by the runtime.
        self.message_log: MessageObserver | None = None
        #: The audit trail's ``event`` (set by the engine when audit is on).
        self.audit: AuditSink | None = None
        self._flusher = Flusher(
            store, session.stats, store_failure or StoreFailureSettings(), self.session_id,
            write=self._write, release=self._release, on_durable_target=self._durable_target,
            on_abort=self._abort)
        #: Application messages received and not yet handled (delivery.py).
        self._deliveries = Deliveries(session.settings.max_pending_deliveries)
        self._deliverer = Deliverer(
            f"deliver {self.session_id}", self._deliver, self._after_callbacks,
            from_app=app.from_app, handle=self, rejected=self._rejected,
            handled=self._handled)
        self._conn: Connection | None = None
        self._link = Link.NONE
        self._closed = asyncio.Event()  # set while no connection is served
        self._closed.set()
        self._resume = asyncio.Event()  # the session may take frames again
        self._pump_task: asyncio.Task[None] | None = None
        # Set while no pump runs (the pump is not reentrant: a call made
        # while one runs returns at once, the running one takes the effects).
        self._pump_idle = asyncio.Event()
        self._pump_idle.set()
        self._aborts = 0  # connections dropped by _abort (a pump stops at one)
        self._reload = True  # the store's state is to be (re)loaded first
        self._loading: asyncio.Future[None] | None = None
        self._stopping = False
        self._target_due = False  # write the durable target even without a batch
        self._target_timer: asyncio.TimerHandle | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: int | None = None

    # ------------------------------------------------------------------
    # sending
    # ------------------------------------------------------------------
    async def send(self, msg: Message) -> int | None:
        """Send an application message; returns its MsgSeqNum once it is
        durable (None when ``to_app`` vetoed it)."""
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

    def send_nowait(self, msg: Message) -> int | None:
        """Number and queue an application message (stored, then written,
        by the pump); returns its MsgSeqNum."""
        if self._flusher.outage_since is not None:
            self._check_store()
        seq = self.session.send_app(msg, self.clock())
        if not self._deliverer.in_callback():
            self._kick()  # (inside a callback, the deliverer pumps after it)
        return seq

    async def _send(self, msg: Message) -> int:
        self._check_store()
        if self._reload:  # after a store failure: number from the durable state
            await self._reloaded()
        seq = self.session.send_app(msg, self.clock())
        waiter = self._flusher.waiter(seq)
        self._kick()
        return await waiter

    def _check_store(self) -> None:
        """Refuse a send while the store is down and sends may not wait."""
        since = self._flusher.outage_since
        if since is None:
            return
        policy = self.store_failure
        elapsed = asyncio.get_running_loop().time() - since
        if policy.mode == "fail" or elapsed >= policy.wait_timeout:
            raise StoreUnavailableError(
                f"{self.session_id}: not sent: the message store has been unavailable for "
                f"{elapsed:.1f} s (storeFailure.mode={policy.mode}, "
                f"waitTimeout={policy.wait_timeout:g} s)")

    async def logout(self, text: str = "") -> None:
        self.session.logout(self.clock(), text)
        self._kick()

    def _span_attributes(self, msg: Message, seq: int | None) -> dict[str, str | int]:
        return {"fix.session": self.session_id, "fix.msg_type": safe_text(msg.msg_type, 16),
                "fix.msg_seq_num": seq or 0, "fix.counterparty": self.counterparty}

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
        self._deliverer.start()
        await self._call(self.app.on_create(self))

    async def stop(self, timeout: float = 5.0) -> None:
        """Finish pending effects and deliveries (at most ``timeout`` seconds,
        then cancel them: a callback that never returns must not hang a
        shutdown)."""
        self._stopping = self._flusher.stopping = True  # an outage being ridden out gives up
        if self._timer is not None:
            self._timer.cancel()
        try:
            async with asyncio.timeout(timeout):
                await self._drain()
                await self._deliverer.idle()
                # What the application finished with is not delivered again.
                if self._deliveries.goal() is not None and not self._reload:
                    self._target_due = True
                await self._drain()
        except TimeoutError:
            log.warning("%s: stopped with effects or deliveries still pending after %g s",
                        self.session_id, timeout)
            if self._pump_task is not None:
                self._pump_task.cancel()
        if self._target_timer is not None:
            self._target_timer.cancel()
            self._target_timer = None
        await self._deliverer.stop()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    async def release_dead_connection(self, timeout: float) -> bool:
        """A Logon came on a new connection while one is attached: if that
        one's peer has gone (a quick reconnect), close it as if its end had
        been read (effects settled, ``on_logout``) and return True once it
        is detached; False for a live one, left alone."""
        conn = self._conn
        if conn is None or not conn.peer_gone():
            return conn is None and self._link is not Link.ATTACHING
        log.info("%s: the peer of the previous connection has gone; closing it",
                 self.session_id)
        conn.close(abort=True)  # its reader wakes and closes the session as usual
        try:
            async with asyncio.timeout(timeout):
                await self._closed.wait()
        except TimeoutError:
            return False
        return not self.connected

    async def run_connection(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        initial: bytes = b"",
    ) -> None:
        """Serve one connection until it closes (the reader; see the module
        docstring).  ``initial`` holds bytes already read from it (the
        acceptor reads the Logon to route it).

        A session has at most one connection: a second one, even one that
        arrives while the first is still reloading the store, is closed."""
        if self.connected:
            log.warning("%s: already has a connection; closing another one", self.session_id)
            writer.close()
            return
        self._link = Link.ATTACHING  # claimed across the store reload below
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
            self._link = Link.NONE
        conn = self._conn = Connection(
            reader, writer, self.session, clock=self.clock, pump=self._pump,
            deliveries=self._deliveries, deliverer=self._deliverer, resume=self._resume,
            max_message_size=self.max_message_size, span_attributes=self._span_attributes,
            tracer=self.tracer, message_log=self.message_log)
        self._link = Link.SERVING  # (no await since the reload: never seen NONE)
        self._closed.clear()
        try:
            self.session.connected(self.clock())
            await conn.serve(initial)
        except (ConnectionError, OSError) as exc:
            log.warning("%s: connection error: %s", self.session_id, exc)
        finally:
            if self._conn is conn:
                self.session.closed(self.clock(), "connection closed")
                await self._drain()
            self._close(conn)

    def _write(self, frames: list[bytes]) -> None:
        if self._conn is not None:
            if self.message_log is not None:
                self.message_log.outgoing(frames)
            self._conn.write(b"".join(frames) if len(frames) > 1 else frames[0])

    def _close(self, conn: Connection) -> None:
        if self._conn is conn:
            self._conn = None
            self._link = Link.NONE
        conn.close()
        self._closed.set()
        if self.message_log is not None:
            self.message_log.disconnected("")

    # ------------------------------------------------------------------
    # the pump: the one place effects are carried out
    # ------------------------------------------------------------------
    def _kick(self) -> None:
        """Effects are waiting outside the reader and the deliverer: pump
        them in a task unless a pump is already running."""
        if self._pump_idle.is_set() and (self._pump_task is None or self._pump_task.done()):
            self._pump_task = asyncio.get_running_loop().create_task(self._pump())

    async def _drain(self) -> None:
        """Wait until every effect so far is carried out and settled."""
        while True:
            if not self._pump_idle.is_set():
                await self._pump_idle.wait()
            elif self.session.has_effects or self._target_due:
                await self._pump()
            elif self._flusher.busy:
                await self._flusher.settled()
            else:
                return

    async def _pump(self) -> None:
        """Carry out the session's effects, commit them and go on while more
        come; returns at once when a pump is already running."""
        if not self._pump_idle.is_set():
            return
        self._pump_idle.clear()
        session = self.session
        flusher = self._flusher
        try:
            while session.has_effects or self._target_due:
                self._target_due = False
                aborts = self._aborts
                for effect in session.take_effects():
                    step = _EFFECTS[type(effect)](self, effect)
                    if step is not None:
                        await step
                    if self._aborts != aborts:
                        break  # the connection was dropped: the rest is void
                if flusher.depth > 1 and flusher.busy:
                    await flusher.room()
                flusher.commit(self._deliveries.take_goal())
                conn = self._conn
                if conn is not None and conn.write_backlog > WRITE_HIGH_WATER:
                    with contextlib.suppress(ConnectionError):
                        await conn.writer.drain()
        except Exception:
            log.exception("%s: internal error while carrying out session effects",
                          self.session_id)
            self._abort("internal error")
        finally:
            self._pump_idle.set()
            self._reschedule()
            if self.on_state_change is not None:
                self.on_state_change(self)

    async def _settle(self) -> None:
        """Commit the open batch and wait until everything before is durable
        and written (before an effect that must come after all of it)."""
        self._flusher.commit(self._deliveries.take_goal())
        await self._flusher.settled()

    # -- one handler per effect type (the _EFFECTS table below) ---------------
    def _on_send(self, send: fx.Send) -> Awaitable[None] | None:
        if send.admin:
            return self._send_admin(send)
        self._queue(send)
        return None

    async def _send_admin(self, send: fx.Send) -> None:
        await self._call(self.app.to_admin(send.msg, self))
        self._queue(send)

    def _queue(self, send: fx.Send) -> None:
        """Encode a message into the open batch's rows and writes."""
        data = encode(send.msg)
        batch = self._flusher.open
        if send.persist:
            # The stored copy of a Logon carries no password (the wire copy does).
            batch.rows.append((send.seq, mask_credentials(data) if send.admin else data))
            batch.seqs.append(send.seq)
        if send.write:
            batch.writes.append(data)
            self.session.stats.sent[send.msg.msg_type] += 1

    def _on_set_target(self, effect: fx.SetTarget) -> None:
        self._deliveries.wanted = effect.next_target

    def _on_deliver(self, effect: fx.Deliver) -> None:
        # Released to the application once the commit it joins settles.  An
        # application message holds the durable target back until from_app
        # is done with it (delivery.py).
        if effect.admin:
            self._flusher.open.releases.append(("admin", effect.msg))
        else:
            self._deliveries.received(effect.msg)
            self._flusher.open.releases.append(("app", effect.msg))

    def _on_authorize(self, effect: fx.AuthorizeLogon) -> None:
        self._flusher.open.releases.append(("authorize", effect.msg))

    def _on_logged_on(self, effect: fx.LoggedOn) -> None:
        log.info("%s: logged on", self.session_id)
        if self.message_log is not None:
            self.message_log.logged_on()
            self.message_log.event("logged on")
        self._flusher.open.releases.append(("logon", None))

    def _on_logged_out(self, effect: fx.LoggedOut) -> None:
        log.log(operational_level(effect.reason), "%s: logged out: %s", self.session_id,
                effect.reason)
        if self.message_log is not None:
            self.message_log.event(f"logged out: {effect.reason}")
        self._flusher.open.releases.append(("logout", effect.reason))

    def _on_log(self, effect: fx.Log) -> None:
        log.log(logging.WARNING if effect.level == "warning" else logging.INFO,
                "%s: %s", self.session_id, effect.text)
        if self.message_log is not None:
            self.message_log.event(effect.text)
        if self.audit is not None and effect.text.startswith(AUDITED_EVENTS):
            self.audit("session.sequence", session=self.session_id, event=effect.text)

    async def _on_disconnect(self, effect: fx.Disconnect) -> None:
        await self._settle()
        log.log(operational_level(effect.reason), "%s: disconnecting: %s", self.session_id,
                effect.reason)
        if self.message_log is not None:
            self.message_log.event(f"disconnecting: {effect.reason}")
        if self._conn is not None:
            self._close(self._conn)

    async def _on_reset_store(self, effect: fx.ResetStore) -> None:
        await self._settle()
        await self.store.reset(effect.now_ns)
        self._deliveries.restart(1)

    async def _on_load_resend(self, effect: fx.LoadResend) -> None:
        await self._settle()
        try:
            await self._load_resend(effect.begin, effect.end)
        finally:
            self._resume.set()

    def _abort(self, reason: str, err: Exception | None = None) -> None:
        """Drop the connection after an internal or store failure; the
        session reloads from the store before its next logon (or send).
        Every waiting ``send()`` fails: nothing numbered so far that is not
        yet durable will ever be written."""
        self._reload = True
        self._aborts += 1
        self._flusher.fail_waiters(RetryableError(reason))
        self.session.take_effects()  # void: nothing of them may reach the wire
        dropped = self._flusher.drop()
        self._deliveries.lost_commits()
        self._deliveries.drop([payload for kind, payload in dropped if kind == "app"])
        # The application still hears about a logon it was told of, and its end.
        self._release([item for item in dropped if item[0] in ("logon", "logout")])
        if self._conn is not None:
            self.session.closed(self.clock(), reason)
            self._close(self._conn)
            for effect in self.session.take_effects():
                if isinstance(effect, fx.LoggedOut | fx.Log):
                    _EFFECTS[type(effect)](self, effect)
            self._release(self._flusher.drop())
            if self._deliveries.goal() is not None:
                # What the application finished with is not delivered again
                # (one attempt: a failure of it drops nothing more).
                self._target_due = True
                self._kick()

    # ------------------------------------------------------------------
    # resends
    # ------------------------------------------------------------------
    async def _load_resend(self, begin: int, end: int) -> None:
        try:
            rows = await read_stored(self.store, begin, end, self.store_failure,
                                     lambda: self._stopping)
        except (FixError, OSError) as exc:
            # Never gap-fill messages we could not read: drop the connection,
            # the counterparty asks again after the next logon.
            log.error("%s: cannot read messages %d..%d for a resend, dropping the "
                      "connection: %s", self.session_id, begin, end, exc)
            self._abort(f"store failure during a resend: {exc}")
            return
        stored = await resendable(rows, self.app, self, self.session_id)
        if self.session.state in (State.ACTIVE, State.LOGOUT_SENT, State.LOGON_RECEIVED):
            self.session.resend_loaded(begin, end, stored, self.clock())

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
        if self.session.has_effects:
            self._kick()
        else:
            self._reschedule()

    # ------------------------------------------------------------------
    # the application
    # ------------------------------------------------------------------
    async def _call(self, coro: Awaitable[None]) -> None:
        try:
            await coro
        except Exception:
            log.exception("%s: application callback failed", self.session_id)

    def _release(self, items: list[tuple[str, Any]]) -> None:
        if items:
            self._deliverer.release(items)

    def _durable_target(self, target: int) -> None:
        self._deliveries.durable = target

    async def _deliver(self, kind: str, payload: Any) -> None:
        """A released item other than an application message (those go
        to ``from_app`` straight from the deliverer)."""
        if kind == "admin":
            await self.app.from_admin(payload, self)
        elif kind == "authorize":
            await self._authorize(payload)
        elif kind == "logon":
            await self.app.on_logon(self)
        elif kind == "logout":
            self.logout_reason = payload if isinstance(payload, str) else None
            await self.app.on_logout(self)

    def _rejected(self, msg: Message, exc: AppRejection) -> None:
        self.session.app_rejected(msg, exc, self.clock())

    async def _after_callbacks(self) -> None:
        """What the callbacks sent goes out in one commit."""
        if self.session.has_effects:
            await self._pump()

    async def _authorize(self, logon: Message) -> None:
        session = self.session
        verdict: str | None = None
        try:
            await self.app.from_admin(logon, self)
        except RejectLogon as exc:
            verdict = str(exc)
        except Exception:
            log.exception("%s: from_admin failed on Logon; refusing it", self.session_id)
            verdict = "Logon refused"
        # The connection may have gone while the application decided.
        if session.state is State.LOGON_RECEIVED and session.pending_logon is logon:
            if verdict is None:
                session.logon_authorized(self.clock())
            else:
                session.logon_refused(verdict, self.clock())
        self._resume.set()

    def _handled(self, msg: Message) -> None:
        """from_app is done with ``msg``: it may now count as received for
        good.  The durable target moves on with the next commit, or on its
        own once no commit came for ``_TARGET_DELAY`` seconds."""
        if self._deliveries.done(msg) and self._target_timer is None:
            self._target_timer = asyncio.get_running_loop().call_later(
                _TARGET_DELAY, self._on_target_timer)

    def _on_target_timer(self) -> None:
        self._target_timer = None
        if self._deliveries.goal() is None or self._stopping:
            return
        idle = time.perf_counter() - self._flusher.last_commit
        if idle < _TARGET_DELAY:  # a commit came meanwhile: wait for the next lull
            self._target_timer = asyncio.get_running_loop().call_later(
                _TARGET_DELAY - idle, self._on_target_timer)
            return
        if self._reload:
            return  # the store is reloaded before anything is written again
        self._target_due = True
        self._kick()


#: How the pump carries out each effect: a plain call, or a coroutine it awaits.
_EFFECTS: dict[type[fx.Effect], Callable[[Any, Any], Awaitable[None] | None]] = {
    fx.Send: SessionDriver._on_send,
    fx.SetTarget: SessionDriver._on_set_target,
    fx.Deliver: SessionDriver._on_deliver,
    fx.AuthorizeLogon: SessionDriver._on_authorize,
    fx.LoadResend: SessionDriver._on_load_resend,
    fx.Disconnect: SessionDriver._on_disconnect,
    fx.ResetStore: SessionDriver._on_reset_store,
    fx.LoggedOn: SessionDriver._on_logged_on,
    fx.LoggedOut: SessionDriver._on_logged_out,
    fx.Log: SessionDriver._on_log,
}
