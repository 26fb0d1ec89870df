"""Leader election with a ``coordination.k8s.io/v1`` Lease.

Theory of operation.  Every operator replica campaigns for one Lease (by
default ``fixplus-operator`` in the operator's namespace).  A replica takes
the Lease when it is free, held by nobody, or not renewed for longer than
its ``leaseDurationSeconds``; every write is a PUT carrying the
``resourceVersion`` that was read, so of two replicas racing for an expired
Lease exactly one wins (the other gets 409 Conflict and keeps waiting).

The leader renews every ``retry`` seconds.  If it cannot renew for
``renew_deadline`` seconds (shorter than the lease duration) it stops
leading before anybody else may take over: it sets the stop flag, kopf
stops, and the process exits non-zero (the pod restarts and campaigns
again).  A leader that stops cleanly releases the Lease, so a standby takes
over at once instead of after the lease duration.

Only the leader runs kopf: standbys make one GET every ``retry`` seconds.
The operator is not on the FIX data path, and its reconcile is idempotent
(server-side apply), so the short overlap a paused process could cause
(a leader frozen longer than the renew deadline) writes the same objects.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable

from . import k8s
from .render.common import Obj

log = logging.getLogger("pyfixmsg_plus.operator.leader")

LEASE_API = "coordination.k8s.io/v1"


@dataclasses.dataclass(frozen=True)
class Election:
    namespace: str
    name: str
    identity: str
    lease_seconds: int = 15
    renew_deadline: float = 10.0
    retry: float = 2.0


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _stamp(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return dt.datetime.strptime(text, fmt).replace(tzinfo=dt.UTC)
        except ValueError:
            continue
    return None


class Elector:
    """Campaign for and keep a Lease; ``clock`` is injectable for tests."""

    def __init__(self, election: Election, clock: Callable[[], dt.datetime] = _now) -> None:
        self.election = election
        self.clock = clock
        self.transitions = 0

    def _body(self, current: Obj | None) -> Obj:
        e = self.election
        now = _stamp(self.clock())
        spec = dict((current or {}).get("spec") or {})
        if spec.get("holderIdentity") != e.identity:
            spec["acquireTime"] = now
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + (
                1 if current is not None else 0)
        spec.update({"holderIdentity": e.identity, "leaseDurationSeconds": e.lease_seconds,
                     "renewTime": now})
        meta: Obj = {"name": e.name, "namespace": e.namespace}
        if current is not None:
            meta["resourceVersion"] = current["metadata"]["resourceVersion"]
        return {"apiVersion": LEASE_API, "kind": "Lease", "metadata": meta, "spec": spec}

    def holder(self, lease: Obj | None) -> str | None:
        """Who holds ``lease`` now (None when free or expired)."""
        if lease is None:
            return None
        spec = lease.get("spec") or {}
        who = spec.get("holderIdentity") or None
        renewed = _parse(spec.get("renewTime")) or _parse(spec.get("acquireTime"))
        duration = int(spec.get("leaseDurationSeconds") or self.election.lease_seconds)
        if who is None or renewed is None:
            return None
        if (self.clock() - renewed).total_seconds() > duration:
            return None
        return str(who)

    def try_acquire(self) -> bool:
        """One attempt to take or renew the Lease."""
        e = self.election
        try:
            current = k8s.get(LEASE_API, "Lease", e.namespace, e.name)
            holder = self.holder(current)
            if holder not in (None, e.identity):
                return False
            body = self._body(current)
            if current is None:
                k8s.create(body)
            else:
                k8s.replace(body)
        except k8s.KubeError as exc:
            if exc.status not in (409, 404):
                log.warning("lease %s/%s: %s", e.namespace, e.name, exc)
            return False
        return True

    def release(self) -> None:
        """Give the Lease up (only if still ours)."""
        e = self.election
        try:
            current = k8s.get(LEASE_API, "Lease", e.namespace, e.name)
            if current is None or (current.get("spec") or {}).get("holderIdentity") != e.identity:
                return
            body = self._body(current)
            body["spec"]["holderIdentity"] = None
            body["spec"]["renewTime"] = None
            k8s.replace(body)
        except k8s.KubeError as exc:
            log.warning("could not release lease %s/%s: %s", e.namespace, e.name, exc)

    def acquire(self, stop: threading.Event) -> bool:
        """Wait until leading (True) or ``stop`` is set (False)."""
        announced = False
        while not stop.is_set():
            if self.try_acquire():
                log.info("leading as %s (lease %s/%s)", self.election.identity,
                         self.election.namespace, self.election.name)
                return True
            if not announced:
                log.info("standing by: another replica holds lease %s/%s",
                         self.election.namespace, self.election.name)
                announced = True
            stop.wait(self.election.retry)
        return False

    def keep(self, stop: threading.Event, lost: threading.Event) -> None:
        """Renew until ``stop``; set ``lost`` (and ``stop``) if renewing failed
        for ``renew_deadline`` seconds or someone else took the Lease."""
        last_ok = time.monotonic()
        while not stop.wait(self.election.retry):
            if self.try_acquire():
                last_ok = time.monotonic()
                continue
            if time.monotonic() - last_ok >= self.election.renew_deadline:
                log.error("lost lease %s/%s: stopping", self.election.namespace,
                          self.election.name)
                lost.set()
                stop.set()
                return
