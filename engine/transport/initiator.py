"""The initiator: dial the counterparty, keep the session connected.

Endpoints are tried in turn (failover); after a failed round, or after a
connection ends, the initiator waits ``backoff.next_delay()`` seconds.  A
connection that reached logon resets the backoff.  Outside the session
schedule it does not dial at all and sleeps until the window opens.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl

from ..config import Endpoint
from .backoff import Backoff, ExponentialBackoff
from .driver import SessionDriver
from .tls import client_context


def error_reason(exc: BaseException) -> str:
    """What went wrong, never empty: a TLS error's verification message or
    reason, else the exception's text, else its type (a timeout has no text)."""
    verify = getattr(exc, "verify_message", None)
    if isinstance(exc, ssl.SSLCertVerificationError) and verify:
        return f"certificate verify failed: {verify}"
    text = str(exc)
    reason = getattr(exc, "reason", None)  # set by the ssl module, not by every SSLError
    if isinstance(exc, ssl.SSLError) and reason and str(reason) not in text:
        text = f"{reason}: {text}" if text else str(reason)
    return text if text not in ("", "()") else type(exc).__name__


log = logging.getLogger("pyfixmsg_plus.transport")


def tune_socket(writer: asyncio.StreamWriter, nodelay: bool, keepalive: bool) -> None:
    sock = writer.get_extra_info("socket")
    if sock is None:
        return
    with contextlib.suppress(OSError):
        if nodelay:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if keepalive:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)


class Initiator:
    def __init__(self, driver: SessionDriver, backoff: Backoff | None = None,
                 connect_timeout: float = 10.0) -> None:
        self.driver = driver
        settings = driver.session.settings
        self.endpoints: list[Endpoint] = list(settings.connect)
        self.backoff = backoff or ExponentialBackoff(settings.reconnect)
        self.connect_timeout = connect_timeout
        self._ssl = client_context(settings.tls)
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._next = 0
        self.connections = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"initiator {self.driver.session_id}")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _run(self) -> None:
        driver = self.driver
        session = driver.session
        settings = session.settings
        while not self._stopping.is_set():
            now = driver.clock()
            if not session.schedule.is_session_time(now):
                boundary = session.schedule.next_boundary(now)
                wait = 60.0 if boundary is None else max(1.0, (boundary - now) / 1e9)
                log.info("%s: outside the session schedule; next try in %.0f s",
                         driver.session_id, wait)
                await self._sleep(min(wait, 3600.0))
                continue
            for _ in range(len(self.endpoints)):
                endpoint = self.endpoints[self._next % len(self.endpoints)]
                session.start_connect(driver.clock())
                session.stats.reconnect_attempts += 1
                try:
                    reader, writer = await asyncio.wait_for(
                        asyncio.open_connection(
                            endpoint.host, endpoint.port, ssl=self._ssl,
                            server_hostname=(settings.tls.server_name or endpoint.host)
                            if self._ssl else None,
                        ),
                        self.connect_timeout,
                    )
                except (TimeoutError, OSError) as exc:
                    if isinstance(exc, ssl.SSLError):  # configuration, not a passing fault
                        log.warning("%s: TLS handshake with %s:%d failed: %s",
                                    driver.session_id, endpoint.host, endpoint.port,
                                    error_reason(exc))
                    else:
                        log.warning("%s: cannot connect to %s:%d: %s", driver.session_id,
                                    endpoint.host, endpoint.port, error_reason(exc))
                    if driver.message_log is not None:
                        driver.message_log.event(f"cannot connect to {endpoint.host}:"
                                                 f"{endpoint.port}: {error_reason(exc)}")
                    session.connect_failed(driver.clock())
                    self._next += 1
                    continue
                tune_socket(writer, settings.tcp_nodelay, settings.tcp_keepalive)
                self.connections += 1
                log.info("%s: connected to %s:%d", driver.session_id, endpoint.host, endpoint.port)
                if driver.message_log is not None:
                    driver.message_log.event(f"connected to {endpoint.host}:{endpoint.port}")
                reached_logon = False

                def watch(d: SessionDriver) -> None:
                    nonlocal reached_logon
                    reached_logon = reached_logon or d.logged_on

                driver.on_state_change = watch
                try:
                    await driver.run_connection(reader, writer)
                finally:
                    driver.on_state_change = None
                if reached_logon:
                    self.backoff.reset()
                break
            if self._stopping.is_set():
                break
            await self._sleep(self.backoff.next_delay())
