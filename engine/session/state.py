"""Session states, the events that drive them, and the one transition table.

Every (state, event) pair the session accepts is listed in ``TRANSITIONS``
with the handler that runs and the states it may lead to.  A pair that is not
in the table is a protocol error: for a *remote* event (something the
counterparty sent) the session logs out and disconnects; for a *local* event
(something our side asked for at the wrong time) it raises
``LocalProtocolError``.  Property tests walk every pair.

Sub-states of ACTIVE (a TestRequest outstanding, a ResendRequest
outstanding, messages queued above a gap) are flags on the session, not
states: they can hold together.
"""

from __future__ import annotations

import enum
from typing import Final


class State(enum.Enum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"  # initiator dialling
    RECONNECTING = "reconnecting"  # initiator waiting before the next dial
    AWAITING_LOGON = "awaiting_logon"  # acceptor connected, no Logon yet
    LOGON_SENT = "logon_sent"  # initiator sent Logon, waiting for the answer
    LOGON_RECEIVED = "logon_received"  # Logon received, the application is deciding
    ACTIVE = "active"
    LOGOUT_SENT = "logout_sent"  # we sent Logout, waiting for the answer

    # Members are singletons compared by identity: hash them the same way
    # (Enum's own __hash__ is Python code, run on every transition lookup).
    __hash__ = object.__hash__

    @property
    def connected(self) -> bool:
        return self in _CONNECTED


_CONNECTED: Final = frozenset(
    {State.AWAITING_LOGON, State.LOGON_SENT, State.LOGON_RECEIVED, State.ACTIVE, State.LOGOUT_SENT}
)


class Event(enum.Enum):
    # local
    START_CONNECT = "start_connect"
    CONNECTED = "connected"
    CONNECT_FAILED = "connect_failed"
    LOGON_AUTHORIZED = "logon_authorized"
    LOGON_REFUSED = "logon_refused"
    SEND = "send"
    LOGOUT = "logout"
    TIMER = "timer"
    RESEND_LOADED = "resend_loaded"
    CLOSED = "closed"  # transport closed (either side)
    # remote
    LOGON = "logon"
    LOGOUT_MSG = "logout_msg"
    MESSAGE = "message"  # any other message
    GARBLED = "garbled"

    __hash__ = object.__hash__

    @property
    def remote(self) -> bool:
        return self in _REMOTE


_REMOTE: Final = frozenset({Event.LOGON, Event.LOGOUT_MSG, Event.MESSAGE, Event.GARBLED})

S = State
E = Event

#: (state, event) -> (handler name, states the handler may move to)
TRANSITIONS: Final[dict[tuple[State, Event], tuple[str, frozenset[State]]]] = {}


def _add(states: list[State], event: Event, handler: str, to: set[State]) -> None:
    for state in states:
        TRANSITIONS[(state, event)] = (handler, frozenset(to))


_DISCONNECTABLE = {S.DISCONNECTED, S.RECONNECTING}
_DOWN = _DISCONNECTABLE
_SENT_LOGOUT = {S.LOGOUT_SENT}
_ALL_CONNECTED = [S.AWAITING_LOGON, S.LOGON_SENT, S.LOGON_RECEIVED, S.ACTIVE, S.LOGOUT_SENT]

_add([S.DISCONNECTED, S.RECONNECTING], E.START_CONNECT, "_on_start_connect", {S.CONNECTING})
_add([S.CONNECTING], E.CONNECTED, "_on_connected_initiator", {S.LOGON_SENT, S.DISCONNECTED})
_add([S.DISCONNECTED], E.CONNECTED, "_on_connected_acceptor", {S.AWAITING_LOGON, S.DISCONNECTED})
_add([S.CONNECTING], E.CONNECT_FAILED, "_on_connect_failed", {S.RECONNECTING})
_add([S.AWAITING_LOGON, S.LOGON_SENT], E.LOGON, "_on_logon", {S.LOGON_RECEIVED} | _DISCONNECTABLE)
_add([S.ACTIVE, S.LOGOUT_SENT], E.LOGON, "_on_logon_while_active",
     {S.ACTIVE, S.LOGON_RECEIVED} | _DOWN)
_add([S.LOGON_RECEIVED], E.LOGON_AUTHORIZED, "_on_logon_authorized",
     {S.ACTIVE, S.LOGOUT_SENT} | _DOWN)
_add([S.LOGON_RECEIVED], E.LOGON_REFUSED, "_on_logon_refused", _DISCONNECTABLE)
_add([S.AWAITING_LOGON], E.MESSAGE, "_on_message_before_logon", _DISCONNECTABLE)
_add([S.LOGON_SENT, S.ACTIVE, S.LOGOUT_SENT], E.MESSAGE, "_on_message",
     _SENT_LOGOUT | _DOWN)
_add([S.AWAITING_LOGON], E.LOGOUT_MSG, "_on_message_before_logon", _DISCONNECTABLE)
_add([S.LOGON_SENT, S.ACTIVE, S.LOGOUT_SENT], E.LOGOUT_MSG, "_on_logout_msg",
     _SENT_LOGOUT | _DOWN)
_add(_ALL_CONNECTED, E.GARBLED, "_on_garbled", set(_ALL_CONNECTED) | _DISCONNECTABLE)
_add(list(State), E.SEND, "_on_send", set())
_add([S.ACTIVE], E.LOGOUT, "_on_local_logout", {S.LOGOUT_SENT})
_add([S.AWAITING_LOGON, S.LOGON_SENT, S.LOGON_RECEIVED], E.LOGOUT,
     "_on_local_logout_early", _DOWN)
_add([S.LOGOUT_SENT, S.DISCONNECTED, S.RECONNECTING, S.CONNECTING], E.LOGOUT, "_on_noop", set())
_add(list(State), E.TIMER, "_on_timer", _DISCONNECTABLE | {S.CONNECTING, S.LOGOUT_SENT})
_add([S.ACTIVE, S.LOGOUT_SENT, S.LOGON_RECEIVED], E.RESEND_LOADED, "_on_resend_loaded", set())
_add([*_ALL_CONNECTED, S.CONNECTING], E.CLOSED, "_on_closed", _DISCONNECTABLE)
_add([S.DISCONNECTED, S.RECONNECTING], E.CLOSED, "_on_noop", set())
