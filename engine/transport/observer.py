"""What a session driver tells a message log (docs/logs.md): the frames it
reads and writes, and the session's events.  Implemented above the
transport (``observability.messagelog``); every call must return at once."""

from __future__ import annotations

from typing import Protocol


class MessageObserver(Protocol):
    def incoming(self, frame: bytes, trusted: bool) -> None:
        """A frame read; ``trusted`` once the session is logged on."""

    def outgoing(self, frames: list[bytes]) -> None:
        """Messages written to the connection, in order."""

    def garbled(self, reason: str, trusted: bool) -> None:
        """A frame that could not be read (``reason``: engine text)."""

    def event(self, text: str) -> None:
        """A session event, as one line of engine text."""

    def logged_on(self) -> None:
        """The Logon was accepted (what was held back may be written)."""

    def disconnected(self, reason: str) -> None:
        """The connection ended."""
