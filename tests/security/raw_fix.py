"""A FIX counterparty written by hand, for attacks: it sends whatever bytes
it is told to (wrong BodyLength, 4,300-digit numbers, control characters)
and reads what comes back with bounded waits.

Blocking sockets with timeouts: every read and write is bounded in time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import select
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Sequence

SOH = b"\x01"
Field = tuple[int, bytes | str | int]


def _bytes(value: bytes | str | int) -> bytes:
    if isinstance(value, bytes):
        return value
    return str(value).encode("latin-1")


def now_text() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H:%M:%S.%f")[:-3]


def encode(fields: Sequence[Field], begin: str = "FIX.4.4",
           body_length: int | None = None) -> bytes:
    """``8=BEGIN|9=LEN|<fields>|10=CHK|`` with a right CheckSum; a given
    ``body_length`` is written as is (right or not)."""
    body = b"".join(b"%d=%s\x01" % (tag, _bytes(value)) for tag, value in fields)
    length = len(body) if body_length is None else body_length
    head = b"8=%s\x019=%d\x01" % (begin.encode(), length)
    checksum = sum(head + body) % 256
    return head + body + b"10=%03d\x01" % checksum


def parse(frame: bytes) -> list[tuple[int, bytes]]:
    out = []
    for part in frame.split(SOH):
        if part:
            tag, _, value = part.partition(b"=")
            out.append((int(tag), value))
    return out


class Msg:
    """A received message: its fields in order, and lookups."""

    def __init__(self, frame: bytes) -> None:
        self.raw = frame
        self.fields = parse(frame)

    def get(self, tag: int) -> bytes | None:
        for t, v in self.fields:
            if t == tag:
                return v
        return None

    @property
    def msg_type(self) -> str:
        return (self.get(35) or b"").decode()

    @property
    def seq(self) -> int:
        return int(self.get(34) or b"0")

    def text(self) -> str:
        return (self.get(58) or b"").decode("utf-8", "replace")

    def __repr__(self) -> str:
        return self.raw.replace(SOH, b"|").decode("latin-1")[:300]


class Closed(Exception):
    """The other end closed the connection (or reset it)."""


class FixConn:
    """One TCP (or TLS) connection to an acceptor, as the counterparty
    ``sender`` of session ``target``."""

    def __init__(self, port: int, *, sender: str = "CLIENT", target: str = "BROKER",
                 begin: str = "FIX.4.4", tls: ssl.SSLContext | None = None,
                 timeout: float = 5.0) -> None:
        self.sender, self.target, self.begin = sender, target, begin
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock: socket.socket = (tls.wrap_socket(sock, server_hostname="localhost")
                                    if tls is not None else sock)
        self.sock.settimeout(timeout)
        self.seq = 1
        self.buffer = b""
        self.received: list[Msg] = []
        self.closed = False

    # -- sending ------------------------------------------------------
    def header(self, msg_type: str, seq: int | bytes | None = None) -> list[Field]:
        if seq is None:
            seq, self.seq = self.seq, self.seq + 1
        return [(35, msg_type), (49, self.sender), (56, self.target), (34, seq),
                (52, now_text())]

    def message(self, msg_type: str, body: Iterable[Field] = (),
                seq: int | bytes | None = None) -> bytes:
        return encode([*self.header(msg_type, seq), *body], self.begin)

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send(self, msg_type: str, body: Iterable[Field] = (),
             seq: int | bytes | None = None) -> None:
        self.send_raw(self.message(msg_type, body, seq))

    def logon_message(self, *, username: str | None = None, password: str | None = None,
                      heartbeat: int | str = 30, reset: bool = False,
                      extra: Iterable[Field] = (), seq: int | bytes | None = None) -> bytes:
        body: list[Field] = [(98, 0), (108, heartbeat)]
        if reset:
            body.append((141, "Y"))
        if username is not None:
            body.append((553, username))
        if password is not None:
            body.append((554, password))
        body.extend(extra)
        return self.message("A", body, seq)

    def logon(self, **kwargs: object) -> None:
        self.send_raw(self.logon_message(**kwargs))  # type: ignore[arg-type]

    # -- receiving ----------------------------------------------------
    def _frame(self) -> bytes | None:
        end = self.buffer.find(b"\x0110=")
        if end < 0:
            return None
        stop = self.buffer.find(SOH, end + 4)
        if stop < 0:
            return None
        frame, self.buffer = self.buffer[:stop + 1], self.buffer[stop + 1:]
        return frame

    def read(self, timeout: float = 5.0) -> Msg:
        """The next message; raises Closed when the connection ends first,
        TimeoutError when nothing complete comes within ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            frame = self._frame()
            if frame is not None:
                msg = Msg(frame)
                self.received.append(msg)
                return msg
            if self.closed:
                raise Closed(f"closed; {len(self.buffer)} bytes left over")
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no message within {timeout} s")
            pending = self.sock.pending() if isinstance(self.sock, ssl.SSLSocket) else 0
            if not pending and not select.select([self.sock], [], [], min(left, 0.5))[0]:
                continue
            try:
                data = self.sock.recv(65536)
            except (TimeoutError, ssl.SSLWantReadError):
                continue
            except (ConnectionError, ssl.SSLError, OSError):
                data = b""
            if not data:
                self.closed = True
            self.buffer += data

    def read_until(self, msg_type: str, timeout: float = 5.0) -> Msg:
        deadline = time.monotonic() + timeout
        while True:
            msg = self.read(max(0.01, deadline - time.monotonic()))
            if msg.msg_type == msg_type:
                return msg

    def read_all(self, timeout: float = 5.0) -> list[Msg]:
        """Every message until the connection closes or ``timeout`` passes."""
        out = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                out.append(self.read(max(0.01, deadline - time.monotonic())))
            except (Closed, TimeoutError):
                return out

    def closed_silently(self, timeout: float = 5.0) -> bool:
        """Whether the other end closes within ``timeout`` without sending a
        single byte."""
        try:
            msg = self.read(timeout)
        except Closed:
            return not self.buffer
        except TimeoutError:
            return False
        raise AssertionError(f"expected no answer, got {msg!r}")

    def logout(self, timeout: float = 5.0) -> Msg:
        self.send("5")
        return self.read_until("5", timeout)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self) -> FixConn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def valid_logon(port: int, username: str, password: str, *, seq: int = 1,
                sender: str = "CLIENT", reset: bool = False, timeout: float = 5.0) -> FixConn:
    """A connection whose Logon was answered by a Logon (else AssertionError)."""
    conn = FixConn(port, sender=sender, timeout=timeout)
    conn.seq = seq
    conn.logon(username=username, password=password, reset=reset)
    try:
        answer = conn.read(timeout)
    except (Closed, TimeoutError) as exc:
        conn.close()
        raise AssertionError(f"the valid Logon was not answered: {exc}") from None
    if answer.msg_type != "A":
        conn.close()
        raise AssertionError(f"the valid Logon was answered by {answer!r}")
    return conn


class Drain:
    """Reads a connection in a thread (while the test writes a lot to it)
    and keeps every message; stops when the connection ends."""

    def __init__(self, conn: FixConn, timeout: float = 60.0) -> None:
        self.conn = conn
        self.timeout = timeout
        self.messages: list[Msg] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            try:
                self.messages.append(self.conn.read(min(1.0, deadline - time.monotonic())))
            except TimeoutError:
                continue
            except Closed:
                return

    def __enter__(self) -> Drain:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.join()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(self.timeout if timeout is None else timeout)
