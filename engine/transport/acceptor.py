"""The acceptor: one listening socket, many sessions.

A new connection is bound to a session by its first message, which must be
a Logon: the Logon's BeginString, SenderCompID and TargetCompID (ours
reversed) select the session, or a dynamic-session template makes one.  An
unknown session, a garbled first message, or a session that already has a
connection (duplicate logon) close the connection without an answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from ..codec import Framer, Garbled, Message, decode
from ..config import TlsSettings
from ..errors import GarbledMessageError
from .driver import SessionDriver
from .initiator import tune_socket
from .tls import server_context

log = logging.getLogger("pyfixmsg_plus.transport")

Router = Callable[[Message], Awaitable[SessionDriver | None]]


class Acceptor:
    def __init__(self, host: str, port: int, router: Router, tls: TlsSettings | None = None,
                 *, logon_timeout: float = 10.0, nodelay: bool = True,
                 keepalive: bool = True, backlog: int = 4096) -> None:
        self.host = host
        #: Pending connections the kernel queues: thousands of sessions log
        #: on at once after an acceptor restart.
        self.backlog = backlog
        self.port = port
        self.router = router
        self.logon_timeout = logon_timeout
        self.nodelay = nodelay
        self.keepalive = keepalive
        self._ssl = server_context(tls) if tls is not None else None
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

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
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, OSError) as exc:
            log.info("connection error: %s", exc)
        finally:
            if task is not None:
                self._connections.discard(task)
            if not writer.is_closing():
                writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        tune_socket(writer, self.nodelay, self.keepalive)
        if self._ssl is not None:
            try:
                async with asyncio.timeout(self.logon_timeout):
                    await writer.start_tls(self._ssl)
            except (TimeoutError, OSError) as exc:
                log.warning("%s: TLS handshake failed: %s", peer,
                            str(exc) or type(exc).__name__)
                return
        framer = Framer()
        received = bytearray()
        frame: bytes | Garbled | None = None
        try:
            async with asyncio.timeout(self.logon_timeout):
                while frame is None:
                    data = await reader.read(65536)
                    if not data:
                        return
                    received += data
                    framer.feed(data)
                    frame = framer.next_frame()
                    while isinstance(frame, Garbled) and frame.reason.startswith("bytes before"):
                        frame = framer.next_frame()
        except TimeoutError:
            log.info("%s: no Logon within %.0f s", peer, self.logon_timeout)
            return
        if isinstance(frame, Garbled):
            log.info("%s: garbled first message (%s); closing", peer, frame.reason)
            return
        try:
            msg = decode(frame)
        except GarbledMessageError as exc:
            log.info("%s: garbled first message (%s); closing", peer, exc)
            return
        driver = await self.router(msg)
        if driver is None:
            log.info("%s: no session for %s %s->%s; closing", peer,
                     msg.get_str(8), msg.get_str(49), msg.get_str(56))
            return
        if driver.connected:
            log.warning("%s: session %s is already connected; refusing a second connection",
                        peer, driver.session_id)
            return
        await driver.run_connection(reader, writer, bytes(received))
