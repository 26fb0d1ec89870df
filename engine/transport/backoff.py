"""Retry delays: exponential backoff with jitter, as an object passed in.

The one backoff of the engine: the initiator's reconnects, and the retries
of the message store through an outage (flush.py) or for a resend
(driver.py) use it.  Tests pass :class:`NoWait` so that reconnect logic runs
without sleeping.
"""

from __future__ import annotations

import random
from typing import Protocol

from ..config import ReconnectSettings


class Backoff(Protocol):
    def next_delay(self) -> float:
        """Seconds to wait before the next attempt."""
        ...

    def reset(self) -> None:
        """A connection succeeded: start again from the initial delay."""
        ...


class ExponentialBackoff:
    """initial * multiplier**n, capped at max, each spread by +/- jitter."""

    def __init__(self, settings: ReconnectSettings, rng: random.Random | None = None) -> None:
        self.settings = settings
        self._rng = rng or random.Random()
        self._attempt = 0

    @classmethod
    def doubling(cls, initial: float, maximum: float) -> ExponentialBackoff:
        """initial, 2 x initial, ... capped at ``maximum``, no jitter (retries
        of one session's own store: nobody to spread out from)."""
        return cls(ReconnectSettings(initial_delay=initial, max_delay=max(initial, maximum),
                                     multiplier=2.0, jitter=0.0))

    def next_delay(self) -> float:
        s = self.settings
        base = min(s.max_delay, s.initial_delay * s.multiplier**self._attempt)
        self._attempt += 1
        spread = base * s.jitter
        return max(0.0, base + self._rng.uniform(-spread, spread))

    def reset(self) -> None:
        self._attempt = 0


class NoWait:
    """Never waits (tests)."""

    def __init__(self) -> None:
        self.calls = 0

    def next_delay(self) -> float:
        self.calls += 1
        return 0.0

    def reset(self) -> None:
        return None
