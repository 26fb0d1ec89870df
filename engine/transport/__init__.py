"""asyncio transports: the session driver, initiator and acceptor, TLS, backoff."""

from .acceptor import Acceptor
from .backoff import Backoff, ExponentialBackoff, NoWait
from .driver import SessionDriver
from .initiator import Initiator

__all__ = ["Acceptor", "Backoff", "ExponentialBackoff", "Initiator", "NoWait", "SessionDriver"]
