"""The engine's HTTP endpoint: Prometheus metrics and Kubernetes probes.

* ``GET /metrics`` (``metrics.path``): every metric of :mod:`.metrics` plus
  process metrics; with ``authorization: tokenReview`` only for a bearer
  token the Kubernetes API accepts (see :mod:`.httpauth`);
* ``GET /healthz``: liveness.  The answer comes from the event loop itself,
  and says how late the loop's own heartbeat task ran: a loop blocked by
  user code for longer than ``max_loop_lag`` seconds answers 503;
* ``GET /readyz``: readiness, from state the engine already holds (see
  :mod:`.health`); 503 with the reasons when not ready.  With the query
  ``?logon=1`` the configured sessions must also be logged on (the
  operator's FixSession pods use it: their pod is Ready when the FIX session
  is).

The probes need no token: they say only "alive" or "ready" and why not, in
words that name no session, counterparty or secret.

HTTP is aiohttp's low-level server.  Around it, every connection is held by
a small guard that bounds what a client can hold: at most
``max_connections`` open at once (at the limit, the connection that has
waited longest without a request being served is dropped to make room, so
that clients holding half-sent requests cannot lock the kubelet's probes
out; when every connection is being served, the new one is closed), and a
connection that has not started a request ``request_timeout`` seconds after
it was accepted or after its previous request started is dropped (a slow
TLS handshake, slow headers or an unread answer all end there).  Request
lines and headers are size-limited by the parser, a request with a body is
answered 413 and closed, methods other than GET and HEAD get 405, unknown
paths 404.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import ssl
import time
from collections.abc import Callable

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    ProcessCollector,
    generate_latest,
)

from ..config import MetricsSettings, MetricsTlsSettings
from ..errors import ConfigError
from .httpauth import ReviewUnavailable, TokenReviewer, bearer_token

log = logging.getLogger("pyfixmsg_plus.http")


class _MalformedRequests(logging.Filter):
    """aiohttp logs a malformed request (too long a line, a bad header) at
    ERROR with a traceback: from the network that is hostile input, not an
    engine error.  Such records are dropped and counted; every other record
    (a failure of our own handler) passes."""

    def __init__(self) -> None:
        super().__init__()
        self.dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            self.dropped += 1
            return False
        return True


#: aiohttp's server messages go to this logger, filtered.
_requests_log = logging.getLogger("pyfixmsg_plus.http.requests")
MALFORMED = _MalformedRequests()
_requests_log.addFilter(MALFORMED)

ReadyCheck = Callable[[], list[str]]

_PROBES = ("/healthz", "/readyz")
_TLS_VERSIONS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}
#: Parser limits: a request line, one header line, the number of headers.
MAX_LINE = 4096
MAX_FIELD = 8192 + 64  # a bearer token of up to 8 KiB fits
MAX_HEADERS = 32


class CertReloader:
    """An HTTPS context whose certificate follows its files: ``check()``
    loads them again when either changed (a failed load keeps the old pair)."""

    def __init__(self, tls: MetricsTlsSettings) -> None:
        self.tls = tls
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.minimum_version = _TLS_VERSIONS[tls.min_version]
        self.loads = 0
        self._seen: tuple[object, ...] | None = None
        try:
            self._load()
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"metrics.tls: {exc}") from exc

    def _signature(self) -> tuple[object, ...]:
        out: list[object] = []
        for path in (self.tls.cert_file, self.tls.key_file):
            st = os.stat(path)  # follows the ..data symlink of a Secret volume
            out += [os.path.realpath(path), st.st_ino, st.st_mtime_ns, st.st_size]
        return tuple(out)

    def _load(self) -> None:
        signature = self._signature()
        self.context.load_cert_chain(self.tls.cert_file, self.tls.key_file)
        self._seen = signature
        self.loads += 1

    def check(self) -> bool:
        """True when a new certificate was loaded."""
        try:
            if self._signature() == self._seen:
                return False
            self._load()
        except (OSError, ssl.SSLError) as exc:
            log.warning("metrics TLS certificate not reloaded (kept the previous one): %s", exc)
            return False
        log.info("metrics TLS certificate reloaded from %s", self.tls.cert_file)
        return True


class _Refused(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.abort()  # type: ignore[attr-defined]


class _Guard(asyncio.Protocol):
    """One connection: counts against the limit and carries the deadline;
    everything else goes to aiohttp's protocol."""

    def __init__(self, owner: HealthServer, inner: asyncio.Protocol) -> None:
        self.owner = owner
        self.inner = inner
        self.transport: asyncio.Transport | None = None
        self.done = False
        #: A request of this connection is being answered.
        self.busy = False
        self.since = 0.0
        self._timer: asyncio.TimerHandle | None = None
        owner.live.add(self)
        self.restart()

    def restart(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        loop = asyncio.get_running_loop()
        self.since = loop.time()
        self._timer = loop.call_later(self.owner.settings.request_timeout, self._expire)

    def evict(self) -> None:
        """Make room for a new connection: drop this one now."""
        transport = self.transport
        self._release()
        if transport is not None:
            transport.abort()

    def _expire(self) -> None:
        self._timer = None
        self.owner.timed_out += 1
        if self.transport is not None:
            self.transport.abort()  # connection_lost releases the slot
        else:
            self._release()  # still in the TLS handshake: asyncio ends that one

    def _release(self) -> None:
        if self.done:
            return
        self.done = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.owner.open_connections -= 1
        self.owner.live.discard(self)
        if self.transport is not None:
            self.owner.guards.pop(self.transport, None)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        if self.done:  # its time ran out during the handshake
            transport.abort()
            return
        self.transport = transport
        self.owner.guards[transport] = self
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.inner.connection_lost(exc)
        self._release()

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


class HealthServer:
    """The metrics and probes endpoint (see the module notes)."""

    def __init__(
        self,
        settings: MetricsSettings,
        registry: CollectorRegistry,
        ready: ReadyCheck,
        *,
        logon: ReadyCheck | None = None,
        max_loop_lag: float = 5.0,
        tick: float = 0.5,
        cert_check: float = 5.0,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.ready = ready
        self.logon = logon
        self.max_loop_lag = max_loop_lag
        self.tick = tick
        self.cert_check = cert_check
        self.certs = CertReloader(settings.tls) if settings.tls is not None else None
        self.reviewer: TokenReviewer | None = None
        self.open_connections = 0
        self.guards: dict[asyncio.BaseTransport, _Guard] = {}
        #: Every open connection, its TLS handshake included.
        self.live: set[_Guard] = set()
        self.evicted = 0
        #: Connections closed at once (limit) or dropped (deadline).
        self.refused = 0
        self.timed_out = 0
        #: Metrics requests refused: no or a malformed token (401), a
        #: token the API refused (403).
        self.unauthenticated = 0
        self.forbidden = 0
        #: ... and those the API server gave no verdict for (503).
        self.unavailable = 0
        self._warned_at = -60.0
        self._http: web.Server | None = None
        self._server: asyncio.Server | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._last_tick = time.monotonic()
        self.loop_lag = 0.0

    @property
    def bound_port(self) -> int:
        assert self._server is not None and self._server.sockets
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def scheme(self) -> str:
        return "https" if self.certs is not None else "http"

    async def start(self) -> None:
        s = self.settings
        if s.authorization == "tokenReview":
            self.reviewer = TokenReviewer(s.token_review, s.path)
        self._http = web.Server(
            self._handle, access_log=None, keepalive_timeout=s.request_timeout,
            max_line_size=MAX_LINE, max_field_size=MAX_FIELD, max_headers=MAX_HEADERS,
            lingering_time=0, logger=_requests_log)
        loop = asyncio.get_running_loop()
        ctx = self.certs.context if self.certs is not None else None
        self._server = await loop.create_server(
            self._accept, s.host, s.port, ssl=ctx,
            ssl_handshake_timeout=s.request_timeout if ctx is not None else None)
        self._tasks.append(asyncio.create_task(self._tick(), name="loop heartbeat"))
        if self.certs is not None:
            self._tasks.append(asyncio.create_task(self._watch_certs(), name="metrics certs"))
        log.info("metrics and health on %s://%s:%d (metrics authorisation: %s)",
                 self.scheme, s.host, self.bound_port, s.authorization)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._server is not None:
            self._server.close()
        for guard in list(self.guards.values()):
            if guard.transport is not None:
                guard.transport.abort()
        if self._http is not None:
            with contextlib.suppress(Exception):
                await self._http.shutdown(1.0)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        if self.reviewer is not None:
            await self.reviewer.close()

    def _accept(self) -> asyncio.Protocol:
        if self.open_connections >= self.settings.max_connections:
            idle = [g for g in self.live if not g.busy]
            if not idle:
                self.refused += 1
                return _Refused()
            min(idle, key=lambda g: g.since).evict()
            self.evicted += 1
        assert self._http is not None
        self.open_connections += 1
        return _Guard(self, self._http())

    async def _tick(self) -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(self.tick)
            now = time.monotonic()
            self.loop_lag = max(0.0, now - before - self.tick)
            self._last_tick = now

    async def _watch_certs(self) -> None:
        assert self.certs is not None
        while True:
            await asyncio.sleep(self.cert_check)
            self.certs.check()

    def alive(self) -> tuple[bool, str]:
        stale = time.monotonic() - self._last_tick - self.tick
        lag = max(self.loop_lag, stale)
        if lag > self.max_loop_lag:
            return False, f"event loop {lag:.1f} s late"
        return True, f"event loop lag {lag * 1000:.1f} ms"

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        guard = self.guards.get(request.transport) if request.transport else None
        if guard is not None:
            guard.restart()
            guard.busy = True
        try:
            return await self._answer(request)
        finally:
            if guard is not None:
                guard.busy = False

    async def _answer(self, request: web.BaseRequest) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD"):
            return web.Response(status=405, text="GET or HEAD only\n",
                                headers={"Allow": "GET, HEAD"})
        if request.content_length or "Transfer-Encoding" in request.headers:
            response = web.Response(status=413, text="no request body expected\n")
            response.force_close()
            return response
        path = request.path
        if path == "/healthz":
            ok, text = self.alive()
            return web.Response(status=200 if ok else 503,
                                text=f"{'ok' if ok else 'unhealthy'}: {text}\n")
        if path == "/readyz":
            problems = self.ready()
            if self.logon is not None and request.query.get("logon") in ("1", "true"):
                problems = problems + self.logon()
            body = json.dumps({"ready": not problems, "problems": problems}) + "\n"
            return web.Response(status=200 if not problems else 503, text=body,
                                content_type="application/json")
        if path == self.settings.path:
            refusal = await self._authorise(request)
            if refusal is not None:
                return refusal
            response = web.Response(body=generate_latest(self.registry))
            response.headers["Content-Type"] = CONTENT_TYPE_LATEST
            return response
        return web.Response(status=404, text="not found\n")

    async def _authorise(self, request: web.BaseRequest) -> web.Response | None:
        """None when the request may read the metrics, else the refusal."""
        if self.reviewer is None:
            return None
        token = bearer_token(request.headers.get("Authorization"))
        if token is None:
            self.unauthenticated += 1
            return web.Response(status=401, text="bearer token required\n",
                                headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
        try:
            verdict = await self.reviewer.review(token)
        except ReviewUnavailable as exc:
            self.unavailable += 1
            now = time.monotonic()
            if now - self._warned_at >= 60:  # at most one line a minute
                self._warned_at = now
                log.warning("metrics request not authorised: no answer from the API server "
                            "(%d so far): %s", self.unavailable, exc)
            return web.Response(status=503, text="authorisation unavailable\n")
        if not verdict.allowed:
            self.forbidden += 1
            log.debug("metrics request refused: %s", verdict.reason)
            return web.Response(status=403, text="forbidden\n")
        return None


def new_registry(with_process: bool = True) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=True)
    if with_process:
        ProcessCollector(registry=registry)
    return registry
