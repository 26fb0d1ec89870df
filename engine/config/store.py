"""The message store: its URL, outages and retention."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from .base import ConfigModel

StoreUrl = Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z][A-Za-z0-9+.-]*:")]


class StoreFailureSettings(ConfigModel):
    """What happens while the message store cannot be written (docs/stores.md).

    Outgoing messages are always held (never written to the socket) until
    their sequence numbers are durable.  ``wait``: the application's
    ``send()`` waits for the store to come back, at most ``waitTimeout``
    seconds of outage, then fails with ``StoreUnavailableError``.  ``fail``:
    ``send()`` fails at once while the store is down.  Either way the engine
    retries the store with exponential backoff and resumes by itself.
    """

    mode: Literal["wait", "fail"] = "wait"
    #: Seconds of outage after which waiting sends fail (mode ``wait``).
    wait_timeout: float = Field(default=30.0, gt=0)
    #: First and longest delay (seconds) between attempts to reach the store.
    retry_initial_delay: float = Field(default=0.05, gt=0)
    retry_max_delay: float = Field(default=2.0, gt=0)


class RetentionSettings(ConfigModel):
    """Deleting old data from the message store (also ``fixplus store prune``)."""

    #: Delete stored messages sent more than this many days ago (None: keep).
    max_age_days: float | None = Field(default=None, gt=0)
    #: Delete whole sessions (state and messages) not updated for this many
    #: days; never a session this engine runs (None: keep).
    session_idle_days: float | None = Field(default=None, gt=0)
    #: Seconds between two prunes while the engine runs.
    interval: float = Field(default=3600.0, gt=0)
