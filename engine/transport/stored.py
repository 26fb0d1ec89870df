"""Stored messages read back for a ResendRequest.

The session asks for them with a ``LoadResend`` effect and takes the answer
through ``Session.resend_loaded``: ``(seq, message)`` per stored row, the
message None where it is to be gap-filled (a session message, a row that
does not decode, or one the application vetoes by raising ``DoNotSend``
from ``to_app`` for its PossDup copy).  A store outage is ridden out with
the engine's one backoff for at most ``storeFailure.waitTimeout``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from ..application import Application, DoNotSend, SessionHandle
from ..codec import Message, decode
from ..config import StoreFailureSettings
from ..errors import GarbledMessageError, RetryableError
from ..store.base import SessionStore
from .backoff import ExponentialBackoff

log = logging.getLogger("pyfixmsg_plus.session")


async def read_stored(store: SessionStore, begin: int, end: int, policy: StoreFailureSettings,
                      stopping: Callable[[], bool]) -> list[tuple[int, bytes]]:
    """``get_range``, retried with backoff through a store outage of at
    most ``policy.wait_timeout`` (or until ``stopping()``)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + policy.wait_timeout
    backoff = ExponentialBackoff.doubling(policy.retry_initial_delay, policy.retry_max_delay)
    while True:
        try:
            return await store.get_range(begin, end)
        except (RetryableError, OSError):
            delay = backoff.next_delay()
            if stopping() or loop.time() + delay > deadline:
                raise
        await asyncio.sleep(delay)


async def resendable(rows: list[tuple[int, bytes]], app: Application, handle: SessionHandle,
                     session_id: str) -> list[tuple[int, Message | None]]:
    """What of ``rows`` may be sent again (None: gap-fill it)."""
    stored: list[tuple[int, Message | None]] = []
    for seq, data in rows:
        try:
            msg: Message | None = decode(data)
        except GarbledMessageError:
            msg = None
        if msg is not None and not msg.is_admin():
            probe = msg.copy()
            probe.set(43, b"Y")
            try:
                await app.to_app(probe, handle)
            except DoNotSend:
                msg = None
            except Exception:
                log.exception("%s: to_app failed during resend", session_id)
        else:
            msg = None
        stored.append((seq, msg))
    return stored
