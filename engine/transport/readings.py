"""What the runtime, the metrics and the health checks read of a session
driver: read-only views of its session, flusher, deliveries and link.

:class:`DriverReadings` is a base of :class:`.driver.SessionDriver`; it
holds no state of its own (the driver sets the attributes it names).
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from ..config import SessionSettings, StoreFailureSettings
from ..dictionary import DataDictionary, SessionDictionaries
from ..session import Session, State
from ..session.stats import SessionStats
from ..store.base import SessionStore
from .delivery import Deliveries
from .flush import Flusher


class Link(enum.Enum):
    """Where a driver is with its (at most one) connection."""

    #: No connection.
    NONE = "none"
    #: A connection is claimed while the store's state is (re)loaded: a
    #: second one is refused meanwhile.
    ATTACHING = "attaching"
    #: A connection is served (``_conn``).
    SERVING = "serving"


class DriverReadings:
    """The read side of a session driver."""

    session: Session
    clock: Callable[[], int]
    _flusher: Flusher
    _deliveries: Deliveries
    _link: Link

    @property
    def store(self) -> SessionStore:
        return self._flusher.store

    @store.setter
    def store(self, store: SessionStore) -> None:
        self._flusher.use_store(store)

    @property
    def store_failure(self) -> StoreFailureSettings:
        return self._flusher.policy

    @store_failure.setter
    def store_failure(self, policy: StoreFailureSettings) -> None:
        self._flusher.policy = policy

    @property
    def logged_on(self) -> bool:
        return self.session.logged_on

    @property
    def settings(self) -> SessionSettings:
        return self.session.settings

    @property
    def dictionaries(self) -> DataDictionary | SessionDictionaries | None:
        found = getattr(self.session.validator, "dictionaries", None)
        return found if isinstance(found, DataDictionary | SessionDictionaries) else None

    @property
    def default_appl_ver_id(self) -> str | None:
        return self.session.settings.appl_ver_id_code

    @property
    def counterparty(self) -> str:
        return self.session.settings.target_comp_id

    @property
    def stats(self) -> SessionStats:
        return self.session.stats

    @property
    def state(self) -> State:
        return self.session.state

    @property
    def next_sender(self) -> int:
        return self.session.next_sender

    @property
    def next_target(self) -> int:
        return self.session.next_target

    @property
    def queued(self) -> int:
        return len(self.session.queue)

    @property
    def pending_deliveries(self) -> int:
        """Application messages received and not yet handled by ``from_app``."""
        return len(self._deliveries.pending)

    @property
    def delivery_stalls(self) -> int:
        """How often reading stopped because ``maxPendingDeliveries`` were pending."""
        return self._deliveries.stalls

    @property
    def store_available(self) -> bool:
        """False while an outage of the message store is being ridden out."""
        return self._flusher.outage_since is None

    @property
    def connected(self) -> bool:
        return self._link is not Link.NONE

    def in_schedule(self) -> bool:
        return self.session.schedule.is_session_time(self.clock())
