"""One connection of a session: the reader.

Theory of operation
-------------------
A :class:`Connection` serves one TCP or TLS stream for one session, in the
task that called ``serve`` (the driver's ``run_connection``).  It is the
only reading loop of the engine, whatever the store:

1. read a chunk (``StreamReader.read``), feed it to the bounded framer;
2. feed each frame to the session (decoded here; a frame that cannot be
   decoded goes in as garbled), and have the pump carry out what the
   frames caused every ``FLUSH_EVERY`` frames and at the end of the chunk,
   so that answers leave while the rest of a big chunk is processed;
3. before each frame, hold while ``session.paused`` (a Logon being
   authorised, a resend being read from the store: the session never sees a
   message it cannot take yet) and while ``maxPendingDeliveries``
   application messages wait for the application (back-pressure: until half
   of them are handled the socket is not read, TCP slows the peer down).

Writes come from the flusher, once what they carry is durable.  ``close``
is idempotent; a closed connection wakes a reader that waits.

``peer_gone`` tells, without reading anything the session would miss,
whether the peer has already closed its side: end of stream seen by the
stream reader, the transport closing, or a FIN (or a reset) that reached
the socket while the reader was not reading (a paused session, a full
delivery queue, a loop that has not got to it yet), found from the TCP
state (Linux) or a peek that takes nothing.  The acceptor asks it
when a Logon arrives for a session whose connection is still attached.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from ..codec import Framer, Garbled, Message, decode
from ..codec.msgtypes import OTHER_MSG_TYPE, STANDARD_MSG_TYPES
from ..codec.values import parse_seq_num
from ..errors import GarbledMessageError
from ..session import Session
from .delivery import Deliverer, Deliveries
from .observer import MessageObserver

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

READ_SIZE = 1 << 16
# The reader has the pump carry out what a run of this many frames caused
# (answers written, callbacks released) before it feeds the next frames of
# a big chunk: the peer starts on the first answers while the rest are
# processed, instead of both sides taking turns with whole windows (4 costs
# more in writes, 32 pipelines less).
FLUSH_EVERY = 16


class Connection:
    """The reading side of one connection, and its writer."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        session: Session,
        *,
        clock: Callable[[], int],
        pump: Callable[[], Awaitable[None]],
        deliveries: Deliveries,
        deliverer: Deliverer,
        resume: asyncio.Event,
        max_message_size: int,
        span_attributes: Callable[[Message, int | None], dict[str, str | int]],
        tracer: Tracer | None,
        message_log: MessageObserver | None = None,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.session = session
        self._clock = clock
        self._pump = pump
        self._deliveries = deliveries
        self._deliverer = deliverer
        self._resume = resume
        self._framer = Framer(max_message_size)
        self._span_attributes = span_attributes
        self._tracer = tracer
        self._message_log = message_log
        self._open = True

    async def serve(self, data: bytes) -> None:
        """Read until the connection closes (``data``: bytes already read)."""
        framer = self._framer
        session = self.session
        deliveries = self._deliveries
        pump = self._pump
        await pump()
        while self.is_open():
            if data:
                framer.feed(data)
                fed = 0
                while (frame := framer.next_frame()) is not None:
                    if session.paused or deliveries.full:
                        await pump()
                        await self._wait_to_feed()
                        if not self.is_open():
                            return
                    self.feed(frame)
                    fed += 1
                    if fed == FLUSH_EVERY:
                        fed = 0
                        await pump()
                        if self._deliverer.items:
                            # Let the deliverer call the application with
                            # what is released so far: its answers go out
                            # while the rest of the chunk is processed.
                            await asyncio.sleep(0)
                await pump()
                if not self.is_open():
                    return
            data = await self.reader.read(READ_SIZE)
            if not data:
                return

    async def _wait_to_feed(self) -> None:
        while self.session.paused and self.is_open():
            self._resume.clear()
            await self._resume.wait()
        if self._deliveries.full and self.is_open():
            self._deliveries.stall()
            await self._deliveries.room.wait()

    def feed(self, frame: bytes | Garbled) -> None:
        """One frame into the session (decoded, counted, traced)."""
        session = self.session
        now = self._clock()
        if self._message_log is not None:
            if isinstance(frame, Garbled):
                self._message_log.garbled(frame.reason, session.logged_on)
            else:
                self._message_log.incoming(frame, session.logged_on)
        if isinstance(frame, Garbled):
            session.receive_garbled(frame.reason, now)
            return
        try:
            msg = decode(frame)
        except (GarbledMessageError, ValueError) as exc:
            # ValueError: a number too long for int() in a tag or length.
            session.receive_garbled(str(exc)[:200], now)
            return
        mt = msg.msg_type  # made-up MsgTypes share one counter (metrics label "other")
        session.stats.received[mt if mt in STANDARD_MSG_TYPES else OTHER_MSG_TYPE] += 1
        if self._tracer is None or msg.is_admin():
            session.receive(msg, now)
        else:
            with self._tracer.start_as_current_span("fix.receive") as span:
                span.set_attributes(self._span_attributes(
                    msg, parse_seq_num(msg.get(34) or b"")))  # never raises
                session.receive(msg, now)

    def is_open(self) -> bool:
        return self._open

    def peer_gone(self) -> bool:
        """True when the peer has closed (or reset) its side of this
        connection, or the connection is already closing; False while it
        may be alive.  Bytes the peer sent before closing and the session
        has not read are not taken: their sequence numbers are not used,
        so the next Logon asks for them again."""
        if not self._open or self.writer.is_closing() or self.reader.at_eof():
            return True
        if self.reader.exception() is not None:
            return True
        return _fin_pending(self.writer)

    def write(self, data: bytes) -> None:
        if self._open and not self.writer.is_closing():
            self.writer.write(data)

    @property
    def write_backlog(self) -> int:
        return self.writer.transport.get_write_buffer_size()

    def close(self, *, abort: bool = False) -> None:
        """Close (``abort``: at once, dropping what is not written yet and
        not waiting for a TLS close_notify: for a peer that has gone)."""
        self._open = False
        if abort:
            self.writer.transport.abort()
        elif not self.writer.is_closing():
            self.writer.close()
        self._resume.set()  # a reader waiting on the session sees the close
        self._deliveries.room.set()  # a reader waiting for room sees the close


_TCP_ESTABLISHED = 1  # tcpi_state of Linux's struct tcp_info


def _fin_pending(writer: asyncio.StreamWriter) -> bool:
    """Whether the peer's FIN (or a reset) has reached the socket, read or
    not.  On Linux the TCP state says it, whatever bytes wait before it
    (TLS too: a close_notify waits there); elsewhere a peek without taking
    anything: a zero-byte read is the FIN, a reset is a dead peer, nothing
    to read (or bytes waiting) is a live peer as far as can be told."""
    sock = writer.get_extra_info("socket")
    if sock is None:
        return False
    fileno = sock.fileno()
    if fileno < 0:
        return True  # already closed
    if hasattr(socket, "TCP_INFO") and sock.family in (socket.AF_INET, socket.AF_INET6):
        try:
            info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)
        except OSError:
            pass
        else:
            return bool(info[0] != _TCP_ESTABLISHED)
    # A duplicate of the descriptor (the transport's own socket object may
    # not be read from); MSG_PEEK leaves the bytes for the stream reader.
    probe = socket.socket(fileno=socket.dup(fileno))
    try:
        data = probe.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True  # ECONNRESET and the like
    finally:
        probe.close()
    return data == b""
