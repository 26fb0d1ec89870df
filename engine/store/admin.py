"""Administration of a message store: what ``fixplus store`` and retention use.

The engine itself needs only :class:`~.base.MessageStore`.  Operators also
need to look into a store, prune it and move sessions between stores; every
backend implements :class:`StoreAdmin` for that (``admin_of`` checks it).

* ``sessions()``: every session key the store knows, with its state,
  last update time and message count;
* ``query()``: stored messages of one session with their send time and
  MsgType, filtered by sequence range, time range and MsgType;
* ``prune()``: delete messages sent before a time (all sessions), and/or
  whole sessions (state and messages) not updated since a time;
* ``export_session()`` / ``import_session()``: a session's whole state
  (sequence numbers, creation time, every message with its send time) read
  from one store and written into another in one atomic step, for
  ``fixplus store migrate``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Protocol, runtime_checkable

from .base import MessageStore, SessionKey, StoreState
from .errors import PermanentStoreError

__all__ = [
    "MessageQuery",
    "PruneResult",
    "SessionExport",
    "SessionInfo",
    "StoreAdmin",
    "StoredMessage",
    "admin_of",
    "match_query",
    "msg_type_of",
]


@dataclasses.dataclass(frozen=True, slots=True)
class StoredMessage:
    seq: int
    sent_time_ns: int
    msg_type: str | None
    data: bytes


@dataclasses.dataclass(frozen=True, slots=True)
class SessionInfo:
    key: SessionKey
    state: StoreState
    updated_ns: int
    messages: int


@dataclasses.dataclass(frozen=True, slots=True)
class MessageQuery:
    """Filters for :meth:`StoreAdmin.query`; every bound is inclusive except
    ``until_ns`` (exclusive); ``end`` 0 = no upper sequence bound."""

    begin: int = 1
    end: int = 0
    since_ns: int | None = None
    until_ns: int | None = None
    msg_types: frozenset[str] | None = None
    limit: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class PruneResult:
    messages: int = 0
    sessions: int = 0


@dataclasses.dataclass(frozen=True, slots=True)
class SessionExport:
    key: SessionKey
    state: StoreState
    messages: Sequence[StoredMessage]


@runtime_checkable
class StoreAdmin(Protocol):
    async def sessions(self) -> list[SessionInfo]: ...

    async def query(self, key: SessionKey, q: MessageQuery) -> list[StoredMessage]: ...

    async def prune(
        self,
        *,
        messages_before_ns: int | None = None,
        sessions_idle_before_ns: int | None = None,
        keep: Iterable[SessionKey] = (),
    ) -> PruneResult:
        """Delete messages sent before ``messages_before_ns`` and sessions
        last updated before ``sessions_idle_before_ns``; sessions in
        ``keep`` (the ones an engine runs) are never dropped whole."""
        ...

    async def export_session(self, key: SessionKey) -> SessionExport | None: ...

    async def import_session(self, data: SessionExport, *, replace: bool = False) -> None:
        """Write a session's whole state atomically; an existing session
        with messages or sequence numbers beyond 1/1 is a
        ``PermanentStoreError`` unless ``replace``."""
        ...


def admin_of(store: MessageStore) -> StoreAdmin:
    if not isinstance(store, StoreAdmin):
        raise PermanentStoreError(f"{type(store).__name__} does not support administration")
    return store


def msg_type_of(data: bytes) -> str | None:
    """MsgType(35) of wire bytes, or None."""
    i = data.find(b"\x0135=")
    if i < 0:
        return None
    j = data.find(b"\x01", i + 4)
    return data[i + 4 : j].decode("ascii", "replace") if j > i else None


def match_query(m: StoredMessage, q: MessageQuery) -> bool:
    """Whether ``m`` passes ``q``'s filters (limit aside)."""
    if m.seq < q.begin or (q.end and m.seq > q.end):
        return False
    if q.since_ns is not None and m.sent_time_ns < q.since_ns:
        return False
    if q.until_ns is not None and m.sent_time_ns >= q.until_ns:
        return False
    return q.msg_types is None or m.msg_type in q.msg_types
