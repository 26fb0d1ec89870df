"""The engine's HTTP endpoint: Prometheus metrics and Kubernetes probes.

* ``GET /metrics``: every metric of :mod:`.metrics` plus process metrics;
* ``GET /healthz``: liveness.  The answer comes from the event loop itself,
  and says how late the loop's own heartbeat task ran: a loop blocked by
  user code for longer than ``max_loop_lag`` seconds answers 503;
* ``GET /readyz``: readiness.  200 when every acceptor port is bound and the
  message store answers; 503 with the reasons otherwise.

A deliberately small HTTP/1.1 server on asyncio streams: no web framework
in the engine's dependencies, one request per connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    ProcessCollector,
    generate_latest,
)

log = logging.getLogger("pyfixmsg_plus.http")

ReadyCheck = Callable[[], Awaitable[list[str]]]


class HealthServer:
    def __init__(
        self,
        host: str,
        port: int,
        registry: CollectorRegistry,
        ready: ReadyCheck,
        *,
        metrics_path: str = "/metrics",
        max_loop_lag: float = 5.0,
        tick: float = 0.5,
    ) -> None:
        self.host = host
        self.port = port
        self.registry = registry
        self.ready = ready
        self.metrics_path = metrics_path
        self.max_loop_lag = max_loop_lag
        self.tick = tick
        self._server: asyncio.Server | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._last_tick = time.monotonic()
        self.loop_lag = 0.0

    @property
    def bound_port(self) -> int:
        assert self._server is not None and self._server.sockets
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self._ticker = asyncio.create_task(self._tick(), name="loop heartbeat")
        log.info("metrics and health on http://%s:%d", self.host, self.bound_port)

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    async def _tick(self) -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(self.tick)
            now = time.monotonic()
            self.loop_lag = max(0.0, now - before - self.tick)
            self._last_tick = now

    def alive(self) -> tuple[bool, str]:
        stale = time.monotonic() - self._last_tick - self.tick
        lag = max(self.loop_lag, stale)
        if lag > self.max_loop_lag:
            return False, f"event loop {lag:.1f} s late"
        return True, f"event loop lag {lag * 1000:.1f} ms"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(10):
                request = await reader.readline()
                while await reader.readline() not in (b"\r\n", b"\n", b""):
                    pass
            parts = request.decode("latin-1").split()
            method, path = (parts[0], parts[1]) if len(parts) >= 2 else ("", "")
            status, ctype, body = await self._route(method, path.split("?", 1)[0])
            head = (f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
            writer.write(head.encode("latin-1") + (body if method != "HEAD" else b""))
            await writer.drain()
        except (TimeoutError, ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _route(self, method: str, path: str) -> tuple[str, str, bytes]:
        if method not in ("GET", "HEAD"):
            return "405 Method Not Allowed", "text/plain", b"GET only\n"
        if path == self.metrics_path:
            return "200 OK", CONTENT_TYPE_LATEST, generate_latest(self.registry)
        if path == "/healthz":
            ok, text = self.alive()
            return ("200 OK" if ok else "503 Service Unavailable"), "text/plain", \
                f"{'ok' if ok else 'unhealthy'}: {text}\n".encode()
        if path == "/readyz":
            try:
                async with asyncio.timeout(5):
                    problems = await self.ready()
            except TimeoutError:
                problems = ["readiness checks timed out"]
            body = json.dumps({"ready": not problems, "problems": problems}).encode() + b"\n"
            return ("200 OK" if not problems else "503 Service Unavailable",
                    "application/json", body)
        return "404 Not Found", "text/plain", b"not found\n"


def new_registry(with_process: bool = True) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=True)
    if with_process:
        ProcessCollector(registry=registry)
    return registry
