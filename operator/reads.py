"""What a reconcile reads besides the resource itself, live or from the cache.

A reconcile needs the MessageStore and FixCluster a resource references, the
FixSessions of a namespace (a FixCluster's selector), the keys and labels of
referenced Secrets, whether the ServiceMonitor CRD exists, and the
``resourceVersion`` of each object it applies (to say "created", "updated"
or "drift corrected").

:class:`LiveReads` asks the API server each time (tests, one-off runs).
:class:`CachedReads` answers from kopf indexes, which kopf keeps current
from its watches and fills completely before any handler runs
(:mod:`.handlers`): a reconcile then costs only its writes.  Objects that
are not watched (Istio, ServiceMonitor) fall back to a live read.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any, Protocol

from . import k8s
from .models import API_VERSION
from .render.common import Obj

SecretInfo = tuple[frozenset[str], dict[str, str]]

#: Owned kinds that the operator watches (by the label it puts on them):
#: (apiVersion, kind, plural).  Istio objects and ServiceMonitors are not
#: watched: their APIs may be absent, and their permissions optional.
WATCHED_OWNED: tuple[tuple[str, str, str], ...] = (
    ("v1", "ConfigMap", "configmaps"),
    ("v1", "Service", "services"),
    ("v1", "ServiceAccount", "serviceaccounts"),
    ("apps/v1", "Deployment", "deployments"),
    ("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets"),
    ("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers"),
    ("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies"),
)
_WATCHED = {(a, k): p for a, k, p in WATCHED_OWNED}
RESOURCE_PLURALS = {"FixSession": "fixsessions", "FixCluster": "fixclusters",
                    "MessageStore": "messagestores"}


def index_name(plural: str) -> str:
    """The kopf index (handler id) that holds objects of ``plural``."""
    return f"idx_{plural}"


def secret_info(secret: Mapping[str, Any]) -> SecretInfo:
    """The keys a Secret holds (never its values) and its labels."""
    keys = frozenset(secret.get("data") or {}) | frozenset(secret.get("stringData") or {})
    meta = secret.get("metadata") or {}
    return keys, dict(meta.get("labels") or {})


class Reads(Protocol):
    def resource(self, kind: str, namespace: str, name: str) -> Obj | None: ...

    def fix_sessions(self, namespace: str, labels: Mapping[str, str]) -> list[Obj]: ...

    def secret_keys(self, namespace: str, name: str) -> SecretInfo | None: ...

    def crd_exists(self, name: str) -> bool: ...

    def resource_version(self, api_version: str, kind: str, namespace: str,
                         name: str) -> str | None: ...


class LiveReads:
    """Every read is an API request."""

    def resource(self, kind: str, namespace: str, name: str) -> Obj | None:
        return k8s.get(API_VERSION, kind, namespace, name)

    def fix_sessions(self, namespace: str, labels: Mapping[str, str]) -> list[Obj]:
        selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        return k8s.list_objects(API_VERSION, "FixSession", namespace, selector)

    def secret_keys(self, namespace: str, name: str) -> SecretInfo | None:
        return k8s.secret_keys(namespace, name)

    def crd_exists(self, name: str) -> bool:
        return k8s.crd_exists(name)

    def resource_version(self, api_version: str, kind: str, namespace: str,
                         name: str) -> str | None:
        obj = k8s.get(api_version, kind, namespace, name)
        return None if obj is None else str(obj["metadata"].get("resourceVersion"))


class _CrdCache:
    """Whether a CRD exists, asked at most every ``ttl`` seconds."""

    def __init__(self, ttl: float = 300.0) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._known: dict[str, tuple[float, bool]] = {}

    def exists(self, name: str) -> bool:
        now = time.monotonic()
        with self._lock:
            hit = self._known.get(name)
            if hit is not None and now - hit[0] < self.ttl:
                return hit[1]
        found = k8s.crd_exists(name)
        with self._lock:
            self._known[name] = (now, found)
        return found


CRDS = _CrdCache()


def snapshot(index: Any) -> list[tuple[Any, list[Any]]]:
    """The (key, values) of a kopf index, copied: handlers run in threads
    while kopf updates its indexes in its event loop, and iterating a dict
    that changes raises; a copy is retried until it was taken whole."""
    if not index:
        return []
    for _ in range(100):
        try:
            return [(key, list(store)) for key, store in list(index.items())]
        except RuntimeError:  # changed during iteration
            continue
    return [(key, list(store)) for key, store in list(index.items())]


def first(index: Any, key: Any) -> Any:
    """The value an index holds for ``key`` (kopf keeps a store per key), or None."""
    if index is None:
        return None
    for _ in range(100):
        try:
            return next(iter(list(index.get(key) or ())), None)
        except RuntimeError:  # changed during iteration
            continue
    return None


class CachedReads:
    """Reads from the kopf indexes passed to a handler (``**kwargs``)."""

    def __init__(self, indexes: Mapping[str, Any]) -> None:
        self.indexes = indexes

    def _index(self, plural: str) -> Any:
        return self.indexes.get(index_name(plural))

    def resource(self, kind: str, namespace: str, name: str) -> Obj | None:
        found = first(self._index(RESOURCE_PLURALS[kind]), (namespace, name))
        return None if found is None else dict(found)

    def fix_sessions(self, namespace: str, labels: Mapping[str, str]) -> list[Obj]:
        out: list[Obj] = []
        for (ns, _name), store in snapshot(self._index("fixsessions")):
            if ns != namespace:
                continue
            for body in store:
                have = (body.get("metadata") or {}).get("labels") or {}
                if all(have.get(k) == v for k, v in labels.items()):
                    out.append(dict(body))
        return out

    def secret_keys(self, namespace: str, name: str) -> SecretInfo | None:
        found = first(self._index("secrets"), (namespace, name))
        return None if found is None else (frozenset(found[0]), dict(found[1]))

    def crd_exists(self, name: str) -> bool:
        return CRDS.exists(name)

    def resource_version(self, api_version: str, kind: str, namespace: str,
                         name: str) -> str | None:
        plural = _WATCHED.get((api_version, kind))
        if plural is None:
            return LiveReads().resource_version(api_version, kind, namespace, name)
        found = first(self._index(plural), (namespace, name))
        return None if found is None else str(found)
