"""The fuzzer against a running engine: real sockets, the real driver.

The ``engine`` target of ``fuzz_long.py`` (on demand, not in CI: it found
a timing-dependent RecursionError in ``SessionDriver._drain`` that a
bounded run would hit only now and then).  An acceptor engine (tracing on,
a FIX.4.4 dictionary) runs in a thread of its own; each example connects,
logs on (ResetSeqNumFlag=Y, so every connection starts at 1) and writes a
stream of mutated messages.  Nothing may reach the engine's error log (an
exception in the driver, asyncio's "Fatal error: protocol.data_received()
call failed").
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from typing import Any

from pyfixmsg_plus.engine.codec import Framer, decode
from pyfixmsg_plus.engine.config import EngineConfig
from pyfixmsg_plus.engine.runtime import Engine

from tests.integration.conftest import RecordingApp, acceptor
from tests.unit.session_harness import Solo
from tests.unit.session_harness import settings as session_settings

from .fuzz import EXECUTIONS, _spec, templates

SESSION = "FIX.4.4:BROKER->CLIENT"

_probe = Solo(session_settings("acceptor", "BROKER", "CLIENT"))
LOGON = next(m for m in templates(_probe) if b"\x0135=A\x01" in m)  # seq 1, 141=Y
_probe.peer_seq = 2
BASES = templates(_probe)


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class _EngineThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.engine: Engine | None = None
        self.port = 0
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()
        cfg = EngineConfig.model_validate({
            "store": "memory://",
            "sessions": [acceptor(validation={
                "checkLatency": False, "dataDictionary": str(_spec() / "FIX44.xml")})],
            "tracing": {"enabled": True},
        })
        self.engine = Engine(cfg, RecordingApp("broker", broker=True))
        asyncio.run_coroutine_threadsafe(self.engine.start(), self.loop).result(10)
        (acc,) = self.engine.acceptors.values()
        self.port = acc.bound_port

    def connected(self) -> bool:
        assert self.engine is not None
        return bool(self.engine.driver(SESSION).connected)

    def stop(self) -> None:
        if self.engine is not None:
            asyncio.run_coroutine_threadsafe(self.engine.stop(1.0), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


_RUNNING: list[tuple[_EngineThread, _Errors]] = []


def running() -> tuple[_EngineThread, _Errors]:
    """The engine and its error log, started on first use."""
    if not _RUNNING:
        errors = _Errors()
        for name in ("pyfixmsg_plus", "asyncio"):
            logging.getLogger(name).addHandler(errors)
        engine = _EngineThread()
        engine.start()
        _RUNNING.append((engine, errors))
    return _RUNNING[0]


def stop() -> None:
    while _RUNNING:
        engine, errors = _RUNNING.pop()
        engine.stop()
        for name in ("pyfixmsg_plus", "asyncio"):
            logging.getLogger(name).removeHandler(errors)


def _exchange(port: int, data: list[bytes], wait_for: bytes | None = None) -> list[Any]:
    """Write ``data`` on a new connection; read until ``wait_for`` arrives or
    the engine is quiet; return the MsgTypes read."""
    got: list[Any] = []
    framer = Framer()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        try:
            for chunk in data:
                sock.sendall(chunk)
        except ConnectionError:
            return got  # the engine closed first
        sock.settimeout(0.05 if wait_for is None else 5)
        try:
            while wait_for is None or wait_for not in got:
                more = sock.recv(65536)
                if not more:
                    break
                got += [decode(f).msg_type for f in framer.feed_and_drain(more)
                        if isinstance(f, bytes)]
        except (TimeoutError, ConnectionError):
            pass
    return got


def _wait_disconnected(engine: _EngineThread) -> None:
    deadline = time.monotonic() + 2
    while engine.connected() and time.monotonic() < deadline:
        time.sleep(0.005)


def _no_errors(errors: _Errors) -> None:
    assert not errors.records, [(r.name, r.getMessage()[:300], r.exc_text) for r in
                                errors.records[:3]]


def check_engine(stream: list[bytes]) -> None:
    """One connection: Logon, then ``stream``; no error logged by the engine."""
    EXECUTIONS["engine"] += 1
    engine, errors = running()
    errors.records.clear()  # each example answers for its own connection
    _exchange(engine.port, [LOGON, *stream])
    _wait_disconnected(engine)
    _no_errors(errors)
