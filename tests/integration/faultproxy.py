"""A fault-injecting TCP proxy for integration tests, written with asyncio.

``FaultProxy`` listens on 127.0.0.1 (an ephemeral port) and forwards every
connection to ``upstream``.  While traffic flows, a test can:

* ``cut()`` every live connection now (both sockets aborted, so each peer sees
  a reset or an end of file in the middle of whatever it was doing);
* ``cut_after(n, direction)``: cut once ``n`` more bytes went through in one
  direction (``"up"``: client to server, ``"down"``: server to client, or
  ``"any"``), which lands in the middle of a message most of the time;
* ``delay``: seconds to wait before forwarding each chunk;
* ``chunk``: forward in pieces of at most this many bytes (1: byte by byte),
  each piece a separate socket write (TCP_NODELAY, the event loop runs
  between pieces, ``chunk_pause`` seconds of pause) so the peer really
  receives it in pieces;
* ``stall()`` / ``resume()``: hold every byte (in both directions) without
  closing anything, as a dead network path or a frozen peer would;
* ``refuse``: accept and immediately drop new connections;
* change ``upstream`` to point new connections elsewhere (a restarted server).

Counters (``connections``, ``cuts``, ``bytes_up``, ``bytes_down``) let tests
say how much fault they really injected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import Literal

log = logging.getLogger("tests.faultproxy")

Direction = Literal["up", "down", "any"]


class _Link:
    """One proxied connection: a client socket and its upstream socket."""

    def __init__(self, proxy: FaultProxy, client_w: asyncio.StreamWriter,
                 server_w: asyncio.StreamWriter) -> None:
        self.proxy = proxy
        self.client_w = client_w
        self.server_w = server_w
        self.closed = False

    def abort(self) -> None:
        if self.closed:
            return
        self.closed = True
        for w in (self.client_w, self.server_w):
            with contextlib.suppress(Exception):
                w.transport.abort()


class FaultProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream: tuple[str, int] = (upstream_host, upstream_port)
        self.delay = 0.0
        self.chunk: int | None = None
        self.chunk_pause = 0.0
        self.refuse = False
        self.connections = 0
        self.cuts = 0
        self.bytes_up = 0
        self.bytes_down = 0
        self._links: set[_Link] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._cut_at: tuple[Direction, int] | None = None
        self._server: asyncio.Server | None = None

    # -- life cycle -----------------------------------------------------
    async def start(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        self.cut(count=False)
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    async def __aenter__(self) -> FaultProxy:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- faults ---------------------------------------------------------
    @property
    def live(self) -> int:
        return sum(1 for link in self._links if not link.closed)

    def cut(self, *, count: bool = True) -> int:
        """Abort every live connection; returns how many were cut."""
        links = [link for link in self._links if not link.closed]
        for link in links:
            link.abort()
        if links and count:
            self.cuts += 1
            log.info("proxy: cut %d connection(s)", len(links))
        return len(links)

    def cut_after(self, n: int, direction: Direction = "any") -> None:
        """Cut the connections once ``n`` more bytes went through ``direction``."""
        self._cut_at = (direction, n)

    def stall(self) -> None:
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    # -- forwarding -----------------------------------------------------
    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refuse:
            writer.transport.abort()
            return
        try:
            up_r, up_w = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            return
        self.connections += 1
        for w in (writer, up_w):
            sock = w.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        link = _Link(self, writer, up_w)
        self._links.add(link)
        up = asyncio.ensure_future(self._pipe(link, reader, up_w, "up"))
        down = asyncio.ensure_future(self._pipe(link, up_r, writer, "down"))
        for t in (up, down):
            self._tasks.add(t)
            t.add_done_callback(self._tasks.discard)
        try:
            await asyncio.gather(up, down, return_exceptions=True)
        finally:
            self._links.discard(link)
            link.abort()

    def _account(self, direction: Literal["up", "down"], n: int) -> tuple[int, bool]:
        """Count ``n`` bytes; returns how many may pass, and whether to cut after them."""
        if direction == "up":
            self.bytes_up += n
        else:
            self.bytes_down += n
        cut = self._cut_at
        if cut is None or cut[0] not in (direction, "any"):
            return n, False
        remaining = cut[1]
        if n < remaining:
            self._cut_at = (cut[0], remaining - n)
            return n, False
        self._cut_at = None
        return remaining, True

    async def _pipe(self, link: _Link, reader: asyncio.StreamReader,
                    writer: asyncio.StreamWriter, direction: Literal["up", "down"]) -> None:
        try:
            while not link.closed:
                data = await reader.read(65536)
                if not data:
                    # half close: pass the end of file on
                    with contextlib.suppress(Exception):
                        if writer.can_write_eof():
                            writer.write_eof()
                    return
                await self._flowing.wait()
                if self.delay:
                    await asyncio.sleep(self.delay)
                got = len(data)
                allowed, cut_now = self._account(direction, got)
                data = data[:allowed]
                size = self.chunk or len(data) or 1
                for i in range(0, len(data), size):
                    await self._flowing.wait()
                    if link.closed:
                        return
                    writer.write(data[i:i + size])
                    await writer.drain()
                    if self.chunk:
                        await asyncio.sleep(self.chunk_pause)
                if cut_now:
                    self.cuts += 1
                    log.info("proxy: cut mid-flow (%s, after %d bytes of a %d-byte read)",
                             direction, allowed, got)
                    link.abort()
                    return
        except (ConnectionError, OSError):
            return
