"""The scripted FIX counterparty: plays definitions against an acceptor.

Theory of operation
-------------------
Each file runs on fresh connections, numbered as in the script.  A step
either succeeds or produces a :class:`StepFailure`; the first failure stops
the file.  At the end of a file every connection still open is closed.

* ``iCONNECT``: open a TCP connection, retrying refused connections until
  ``connect_timeout``.  A connection that already exists under that number is
  closed first.
* ``iDISCONNECT``: close our side *gracefully*: send FIN, wait (at most
  ``linger`` seconds) for the acceptor to close its side, then close.  The
  wait proves the acceptor has seen the disconnect before the next step or
  file logs the same session on again, which QuickFIX's runner only
  approximates with a sleep.  It costs nothing when the acceptor behaves.
* ``I``: render the line (placeholders, then BodyLength/CheckSum, see
  :func:`~.script.fixify`) at send time and write it.
* ``E``: cut the next frame out of the received bytes with the codec's
  :class:`~pyfixmsg_plus.engine.codec.Framer` within ``timeout`` and compare
  it with the rendered line (:class:`~.compare.Matcher`).  A garbled frame,
  end of stream or timeout is a failure.
* ``eDISCONNECT``: the acceptor must close the connection within
  ``timeout`` seconds and send nothing more first: any byte received before
  end of stream (including bytes already buffered) is a failure.

Nothing sleeps except while waiting for bytes (and the short pause between
refused connection attempts).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from ..codec.framer import Frame, Framer, Garbled
from .compare import Matcher, Mismatch, load_patterns
from .script import Script, ScriptSyntaxError, Step, Verb, load_script, printable

__all__ = [
    "FileResult",
    "ScriptReport",
    "StepFailure",
    "run_file",
    "run_script",
    "run_scripts",
]

Clock = Callable[[], datetime]
OnResult = Callable[["FileResult"], object | Awaitable[object]]

_READ_SIZE: Final = 65536


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class StepFailure:
    """The step that failed and why."""

    line_no: int
    line: bytes
    reason: str
    expected: bytes | None = None
    received: bytes | None = None
    mismatch: Mismatch | None = None

    def explain(self) -> Iterator[str]:
        yield f"line {self.line_no}: {printable(self.line)}"
        if self.mismatch is not None:
            yield from self.mismatch.explain()
            return
        yield self.reason
        if self.expected is not None:
            yield f"expected: {printable(self.expected)}"
        if self.received is not None:
            yield f"received: {printable(self.received)}"


@dataclass(frozen=True, slots=True)
class FileResult:
    path: Path
    failure: StepFailure | None
    duration: float
    steps_run: int

    @property
    def passed(self) -> bool:
        return self.failure is None


@dataclass(slots=True)
class ScriptReport:
    results: list[FileResult] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(1 for r in self.results if r.passed)

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def summary(self) -> str:
        return f"{self.passed} passed, {self.failed} failed"


class _StepFailed(Exception):
    def __init__(self, failure: StepFailure) -> None:
        super().__init__(failure.reason)
        self.failure = failure


class _Connection:
    """One client connection: the stream pair plus a framer over its input."""

    __slots__ = ("eof", "framer", "frames", "reader", "tail", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.framer = Framer()
        self.frames: deque[Frame] = deque()
        self.tail = b""  # the bytes the framer holds, for failure reports
        self.eof = False

    async def read(self, timeout: float) -> bytes:
        """Up to 64 KiB, ``b""`` at end of stream.  Raises TimeoutError."""
        try:
            data = await asyncio.wait_for(self.reader.read(_READ_SIZE), timeout)
        except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError):
            data = b""
        if not data:
            self.eof = True
        return data

    async def next_frame(self, deadline: float) -> Frame | None:
        """The next frame, or None at end of stream.  Raises TimeoutError."""
        loop = asyncio.get_running_loop()
        while not self.frames:
            if self.eof:
                return None
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError
            data = await self.read(remaining)
            if data:
                self.frames.extend(self.framer.feed_and_drain(data))
                n = self.framer.buffered
                self.tail = (self.tail + data)[-n:] if n else b""
        return self.frames.popleft()

    def unread(self) -> bytes:
        """Bytes received and not consumed by an ``E`` step."""
        parts = [f.data if isinstance(f, Garbled) else f for f in self.frames]
        parts.append(self.tail)
        return b"".join(parts)

    async def write(self, data: bytes, timeout: float) -> None:
        self.writer.write(data)
        await asyncio.wait_for(self.writer.drain(), timeout)

    async def close(self, linger: float) -> None:
        """Half-close, wait up to ``linger`` s for the peer to close, then close."""
        try:
            if not self.eof and linger > 0 and self.writer.can_write_eof():
                self.writer.write_eof()
                loop = asyncio.get_running_loop()
                deadline = loop.time() + linger
                while not self.eof:
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    try:
                        await self.read(remaining)
                    except TimeoutError:
                        break
        except OSError:
            pass
        finally:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()


async def _connect(
    host: str, port: int, timeout: float
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    pause = 0.02
    while True:
        remaining = deadline - loop.time()
        try:
            return await asyncio.wait_for(asyncio.open_connection(host, port), max(remaining, 0.01))
        except OSError:
            if deadline - loop.time() <= pause:
                raise
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.25)


@dataclass(frozen=True, slots=True)
class _Settings:
    host: str
    port: int
    matcher: Matcher
    timeout: float
    connect_timeout: float
    linger: float
    clock: Clock


class _FileRun:
    """The state of one file's run: its connections and settings."""

    def __init__(self, settings: _Settings) -> None:
        self.host = settings.host
        self.port = settings.port
        self.matcher = settings.matcher
        self.timeout = settings.timeout
        self.connect_timeout = settings.connect_timeout
        self.linger = settings.linger
        self.clock = settings.clock
        self.conns: dict[int, _Connection] = {}

    def _fail(self, step: Step, reason: str, **kw: bytes | Mismatch | None) -> _StepFailed:
        expected = kw.get("expected")
        received = kw.get("received")
        mismatch = kw.get("mismatch")
        return _StepFailed(
            StepFailure(
                step.line_no,
                step.line,
                reason,
                expected if isinstance(expected, bytes) else None,
                received if isinstance(received, bytes) else None,
                mismatch if isinstance(mismatch, Mismatch) else None,
            )
        )

    def _conn(self, step: Step, what: str) -> _Connection:
        conn = self.conns.get(step.conn)
        if conn is None:
            raise self._fail(step, f"cannot {what}: connection {step.conn} is not open")
        return conn

    async def step(self, step: Step) -> None:
        loop = asyncio.get_running_loop()
        if step.verb is Verb.CONNECT:
            old = self.conns.pop(step.conn, None)
            if old is not None:
                await old.close(self.linger)
            try:
                reader, writer = await _connect(self.host, self.port, self.connect_timeout)
            except (OSError, TimeoutError) as exc:
                raise self._fail(
                    step, f"cannot connect to {self.host}:{self.port}: {exc or 'timed out'}"
                ) from exc
            self.conns[step.conn] = _Connection(reader, writer)
        elif step.verb is Verb.DISCONNECT:
            conn = self._conn(step, "disconnect")
            del self.conns[step.conn]
            await conn.close(self.linger)
        elif step.verb is Verb.SEND:
            conn = self._conn(step, "send")
            data = step.render(self.clock())
            if conn.eof:
                raise self._fail(
                    step, "cannot send: the acceptor has closed the connection", expected=data
                )
            try:
                await conn.write(data, self.timeout)
            except (OSError, TimeoutError) as exc:
                raise self._fail(step, f"cannot send: {exc!r}", expected=data) from exc
        elif step.verb is Verb.EXPECT:
            conn = self._conn(step, "receive")
            expected = step.render(self.clock())
            try:
                frame = await conn.next_frame(loop.time() + self.timeout)
            except TimeoutError:
                raise self._fail(
                    step,
                    f"no message received within {self.timeout:g} s",
                    expected=expected,
                    received=conn.unread() or None,
                ) from None
            if frame is None:
                raise self._fail(
                    step,
                    "the acceptor closed the connection; a message was expected",
                    expected=expected,
                    received=conn.unread() or None,
                )
            if isinstance(frame, Garbled):
                raise self._fail(
                    step,
                    f"received a garbled frame ({frame.reason})",
                    expected=expected,
                    received=frame.data,
                )
            mismatch = self.matcher.compare(expected, frame)
            if mismatch is not None:
                raise self._fail(
                    step, mismatch.reason, expected=expected, received=frame, mismatch=mismatch
                )
        else:  # Verb.EXPECT_DISCONNECT
            conn = self._conn(step, "wait for a disconnect")
            pending = conn.unread()
            if not pending and not conn.eof:
                try:
                    pending = await conn.read(self.timeout)
                except TimeoutError:
                    raise self._fail(
                        step,
                        f"the acceptor did not close the connection within {self.timeout:g} s",
                    ) from None
            if pending:
                raise self._fail(step, "expected a disconnect, received data", received=pending)
            # Closed, but kept under its number (as QuickFIX does): a later
            # iDISCONNECT of it is fine, a send or an expectation fails.
            await conn.close(0)

    async def close_all(self) -> None:
        conns = list(self.conns.values())
        self.conns.clear()
        await asyncio.gather(*(c.close(self.linger) for c in conns), return_exceptions=True)


async def run_script(
    script: Script,
    host: str,
    port: int,
    *,
    matcher: Matcher | None = None,
    timeout: float = 10.0,
    connect_timeout: float = 5.0,
    linger: float = 1.0,
    clock: Clock = utc_now,
) -> FileResult:
    """Play one parsed script against ``host:port``."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    run = _FileRun(
        _Settings(
            host,
            port,
            matcher if matcher is not None else Matcher(),
            timeout,
            connect_timeout,
            min(linger, timeout),
            clock,
        )
    )
    failure: StepFailure | None = None
    steps_run = 0
    try:
        for step in script.steps:
            steps_run += 1
            try:
                await run.step(step)
            except _StepFailed as exc:
                failure = exc.failure
                break
            except Exception as exc:  # a bug or an unexpected OS error: still a report
                failure = StepFailure(step.line_no, step.line, f"error: {exc!r}")
                break
    finally:
        await run.close_all()
    return FileResult(script.path, failure, loop.time() - started, steps_run)


async def run_file(
    path: Path,
    host: str,
    port: int,
    *,
    matcher: Matcher | None = None,
    timeout: float = 10.0,
    connect_timeout: float = 5.0,
    linger: float = 1.0,
    clock: Clock = utc_now,
) -> FileResult:
    """Load and play one definition file; syntax errors become failures."""
    try:
        script = load_script(path)
    except ScriptSyntaxError as exc:
        failure = StepFailure(exc.line_no, exc.line, f"syntax error: {exc.why}")
        return FileResult(path, failure, 0, 0)
    except OSError as exc:
        return FileResult(path, StepFailure(0, b"", f"cannot read the file: {exc}"), 0, 0)
    return await run_script(
        script,
        host,
        port,
        matcher=matcher,
        timeout=timeout,
        connect_timeout=connect_timeout,
        linger=linger,
        clock=clock,
    )


async def run_scripts(
    host: str,
    port: int,
    files: Sequence[Path],
    *,
    fields_fmt: Path | None,
    timeout: float = 10.0,
    on_result: OnResult | None = None,
    jobs: int = 1,
    connect_timeout: float = 5.0,
    linger: float = 1.0,
    clock: Clock = utc_now,
) -> ScriptReport:
    """Play every file against ``host:port``; results come back in ``files`` order.

    ``fields_fmt`` names the ``TAG=regex`` file of pattern-compared fields
    (None: the QuickFIX suite's patterns, :data:`~.compare.DEFAULT_PATTERNS`).
    ``on_result`` is called (and awaited if it returns an awaitable) as each
    file finishes.  ``jobs`` > 1 runs that many files at once, which is only
    safe when concurrently running files use different sessions (CompIDs).
    """
    matcher = Matcher(load_patterns(fields_fmt))
    results: list[FileResult | None] = [None] * len(files)
    semaphore = asyncio.Semaphore(max(1, jobs))

    async def one(index: int, path: Path) -> None:
        async with semaphore:
            result = await run_file(
                path,
                host,
                port,
                matcher=matcher,
                timeout=timeout,
                connect_timeout=connect_timeout,
                linger=linger,
                clock=clock,
            )
        results[index] = result
        if on_result is not None:
            outcome = on_result(result)
            if inspect.isawaitable(outcome):
                await outcome

    if jobs <= 1:
        for i, path in enumerate(files):
            await one(i, path)
    else:
        async with asyncio.TaskGroup() as group:
            for i, path in enumerate(files):
                group.create_task(one(i, path))
    return ScriptReport([r for r in results if r is not None])
