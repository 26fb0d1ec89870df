"""The acceptor: one listening socket, many sessions.

Theory of operation
-------------------
Bytes from a new connection are hostile until its Logon is authenticated.
A connection goes through these steps, and nothing of any session changes
before the last one:

1. admission (:mod:`.guard`): accept rate, connections not yet logged on
   (in total and per source address), addresses blocked after repeated
   refused Logons.  Refused: closed at once;
2. TLS handshake, when the port has TLS;
3. the first complete message, read within ``logonTimeout`` seconds and
   ``maxLogonBytes`` bytes; it must be a Logon;
4. routing (``Router``): the Logon's BeginString, CompIDs (ours reversed)
   and sub/location ids select a configured session or a dynamic-session
   template, without creating anything;
5. authentication (:mod:`.auth`) against the session's settings;
6. only now: a dynamic session is created, and the connection is handed to
   the session's driver, which processes the Logon (the application's
   ``from_admin`` may still refuse it with ``RejectLogon``).

A session has one connection.  When the Logon's session still holds a
connection, that one is probed: if its peer has already gone (a quick
reconnect: the FIN, or the end of stream, not yet acted upon), it is
dropped, its session closed the ordinary way (effects settled,
``on_logout``), and the new Logon is served, as QuickFIX C++ does; if it
is alive, the new connection is closed without an answer and nothing of
the session changes (a second live connection is a hijack attempt or a
confused twin).

A refused Logon (steps 3-5) is closed without an answer: sending a Logout
would need a sequence number, which is session state.  It is logged at
WARNING with the peer address, the session and the reason (wire text made
safe first), counted in ``fixplus_logons_refused_total{reason}``, and
counted against the source address.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..codec import Framer, Garbled, Message, decode
from ..codec.safetext import safe_text
from ..config import AcceptorLimits, AuthenticationSettings, SessionSettings, TlsSettings
from ..errors import GarbledMessageError
from ..store.audit import AuditSink
from .auth import Authenticator, Peer, Verdict
from .driver import SessionDriver
from .guard import Guard
from .initiator import tune_socket
from .tls import server_context

log = logging.getLogger("pyfixmsg_plus.transport")


@dataclass
class Route:
    """Where a Logon leads: a session's settings and its driver, or (for a
    dynamic-session template) a way to create the session once the Logon
    is authenticated, and to let it go when its connection ends."""

    settings: SessionSettings
    driver: SessionDriver | None = None
    create: Callable[[], Awaitable[SessionDriver | None]] | None = None
    release: Callable[[SessionDriver], Awaitable[None]] | None = None

    @property
    def authentication(self) -> AuthenticationSettings:
        auth = self.settings.authentication
        # EngineConfig refuses acceptor sessions without it; a session built
        # by hand without it accepts nobody.
        return auth if auth is not None else _NOBODY


_NOBODY = AuthenticationSettings(allowed_addresses=["0.0.0.0/32"])

Router = Callable[[Message], Route | None]


def _describe_logon(msg: Message) -> str:
    return (f"{safe_text(msg.get(8) or b'-', 16)}:{safe_text(msg.get(56) or b'-')}"
            f"->{safe_text(msg.get(49) or b'-')}")


class Acceptor:
    def __init__(self, host: str, port: int, router: Router, tls: TlsSettings | None = None,
                 *, logon_timeout: float = 10.0, nodelay: bool = True,
                 keepalive: bool = True, backlog: int = 4096,
                 limits: AcceptorLimits | None = None, guard: Guard | None = None,
                 authenticator: Authenticator | None = None) -> None:
        self.host = host
        #: Pending connections the kernel queues: thousands of sessions log
        #: on at once after an acceptor restart.
        self.backlog = backlog
        self.port = port
        self.router = router
        self.logon_timeout = logon_timeout
        self.nodelay = nodelay
        self.keepalive = keepalive
        self.limits = limits or AcceptorLimits()
        self.guard = guard or Guard(self.limits, time.monotonic)
        self.authenticator = authenticator or Authenticator(
            self.limits.max_concurrent_password_checks)
        self._ssl = server_context(tls) if tls is not None else None
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        #: The audit trail's ``event`` (set by the engine when audit is on).
        self.audit: AuditSink | None = None

    @property
    def listening(self) -> bool:
        return self._server is not None and self._server.is_serving()

    @property
    def bound_port(self) -> int:
        assert self._server is not None and self._server.sockets
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        # TLS is started per connection in _serve, so that a failed handshake
        # (no or a wrong client certificate) is logged: asyncio's own server
        # TLS drops it silently.
        self._server = await asyncio.start_server(self._handle, self.host, self.port,
                                                  backlog=self.backlog)
        log.info("accepting on %s:%d", self.host, self.bound_port)

    async def stop_listening(self) -> None:
        """Accept no new connections; live ones go on."""
        if self._server is not None:
            self._server.close()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        for task in list(self._connections):
            task.cancel()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peername = writer.get_extra_info("peername")
        source = str(peername[0]) if isinstance(peername, tuple) and peername else "unknown"
        if self.guard.admit(source) is not None:
            writer.close()
            return
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        admitted = [True]
        try:
            await self._serve(reader, writer, source, admitted)
        except (ConnectionError, OSError) as exc:
            log.info("%s: connection error: %s", source, exc)
        finally:
            if admitted[0]:
                self.guard.release(source)
            if task is not None:
                self._connections.discard(task)
            if not writer.is_closing():
                writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     source: str, admitted: list[bool]) -> None:
        tune_socket(writer, self.nodelay, self.keepalive)
        certificate: bytes | None = None
        if self._ssl is not None:
            try:
                async with asyncio.timeout(self.logon_timeout):
                    await writer.start_tls(self._ssl)
            except (TimeoutError, OSError) as exc:
                self.guard.warn(source, "tls", f"TLS handshake failed: "
                                f"{safe_text(str(exc) or type(exc).__name__, 200)}")
                return
            ssl_object = writer.get_extra_info("ssl_object")
            if ssl_object is not None:
                certificate = ssl_object.getpeercert(binary_form=True)
        first = await self._read_logon(reader, source)
        if first is None:
            return
        msg, initial = first
        route = self.router(msg)
        if route is None:
            self._refused(source, Verdict(False, "unknown_session",
                                          f"no session for {_describe_logon(msg)}"))
            return
        verdict = await self.authenticator.check(route.authentication, msg,
                                                 Peer(source, certificate))
        session_id = route.settings.session_id
        if not verdict.ok:
            self._refused(source, verdict, session_id)
            return
        # Authenticated: from here on the peer may change session state.
        admitted[0] = False
        self.guard.release(source)
        driver = route.driver
        if driver is None:
            assert route.create is not None
            driver = await route.create()
            if driver is None:
                self._refused(source, Verdict(False, "limit", "dynamic session limit reached"),
                              session_id)
                return
        try:
            if driver.connected and not await driver.release_dead_connection(
                    self.logon_timeout):
                log.warning("%s: session %s is already connected; refusing a second "
                            "connection", source, driver.session_id)
                if self.audit is not None:
                    self.audit("logon.refused", peer=source, session=driver.session_id,
                               reason="already_connected")
                return
            log.info("%s: Logon authenticated for %s", source, driver.session_id)
            if self.audit is not None:
                self.audit("logon.accepted", peer=source, session=driver.session_id)
            await driver.run_connection(reader, writer, initial)
        finally:
            if route.release is not None:
                await route.release(driver)

    async def _read_logon(self, reader: asyncio.StreamReader,
                          source: str) -> tuple[Message, bytes] | None:
        """The connection's first message, which must be a Logon, and the
        bytes from its start on; None (connection to close) otherwise."""
        limit = self.limits.max_logon_bytes
        framer = Framer(limit)
        taken = 0
        frame: bytes | Garbled | None = None
        try:
            async with asyncio.timeout(self.logon_timeout):
                while frame is None or (isinstance(frame, Garbled)
                                        and frame.reason.startswith("bytes before")):
                    if frame is None:
                        data = await reader.read(min(65536, limit - taken + 1))
                        if not data:
                            return None
                        taken += len(data)
                        if taken > limit:
                            self._refused(source, Verdict(
                                False, "invalid_logon",
                                f"no complete Logon within {limit} bytes"))
                            return None
                        framer.feed(data)
                    frame = framer.next_frame()
        except TimeoutError:
            self.guard.warn(source, "timeout", f"no Logon within {self.logon_timeout:g} s")
            return None
        if isinstance(frame, Garbled):
            self._refused(source, Verdict(False, "invalid_logon",
                                          f"garbled first message ({frame.reason})"))
            return None
        try:
            msg = decode(frame)
        except (GarbledMessageError, ValueError) as exc:
            self._refused(source, Verdict(False, "invalid_logon",
                                          f"garbled first message ({safe_text(str(exc), 120)})"))
            return None
        if msg.msg_type != b"A":
            self._refused(source, Verdict(
                False, "not_logon", f"first message is MsgType {safe_text(msg.msg_type, 8)}, "
                "not a Logon"))
            return None
        return msg, frame + framer.take_buffered()

    def _refused(self, source: str, verdict: Verdict, session_id: str | None = None) -> None:
        self.guard.logon_refused(source, verdict.reason)
        if self.audit is not None:
            self.audit("logon.refused", peer=source, session=session_id, reason=verdict.reason,
                       detail=verdict.detail)
        where = f" for {session_id}" if session_id else ""
        self.guard.warn(source, verdict.reason, f"Logon refused{where}: {verdict.detail}")
