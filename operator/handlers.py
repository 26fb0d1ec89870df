"""Thin kopf handlers: watch, read the cache, reconcile, post events, write status.

Nothing is polled.  kopf watches, and keeps as indexes (in memory, filled
completely before any handler runs):

* the FixSessions, FixClusters and MessageStores (their bodies);
* the Secrets of the watched namespaces (their keys and labels, never their
  values);
* the objects the operator owns, by its ``app.kubernetes.io/managed-by``
  label, filtered by the API server (their resourceVersions).

A resource is reconciled when it is created, changed or found at start-up;
when a MessageStore or Secret it references appears, changes its keys or
labels, or goes; when a FixSession joins or leaves a FixCluster; and when
an object it owns is deleted or loses a value the operator set
(:mod:`.drift`).  A Deployment's status change only refreshes ``Ready``.
Deletion needs no handler and no finalizer: every owned object carries an
owner reference, and the garbage collector removes it with its owner.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any, cast

import kopf

from . import drift, k8s, reconcile, status
from .models import API_VERSION, GROUP, VERSION
from .policy import Policy
from .reads import (
    RESOURCE_PLURALS,
    WATCHED_OWNED,
    CachedReads,
    first,
    index_name,
    secret_info,
    snapshot,
)
from .render.common import MANAGER, OWNER_KIND, OWNER_NAME

log = logging.getLogger("pyfixmsg_plus.operator")

#: Images and Secrets the resources may use (the chart's values, docs/helm.md).
POLICY = Policy.from_env()

Reconciler = Callable[..., reconcile.Result]
RECONCILERS: dict[str, Reconciler] = {
    "FixSession": reconcile.reconcile_fix_session,
    "FixCluster": reconcile.reconcile_fix_cluster,
    "MessageStore": reconcile.reconcile_message_store,
}
OWNED_SELECTOR = f"app.kubernetes.io/managed-by={MANAGER}"

_locks_guard = threading.Lock()
_locks: dict[tuple[str, str, str], threading.Lock] = {}


def _lock(kind: str, namespace: str, name: str) -> threading.Lock:
    """One reconcile of a resource at a time (kopf's and the watches')."""
    with _locks_guard:
        return _locks.setdefault((kind, namespace, name), threading.Lock())


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    # Keep kopf's bookkeeping in annotations: the status schema is ours.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration")
    settings.posting.level = logging.WARNING  # our own events say what changed
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    # Reconciles wait on the API server, not on the CPU: enough threads (and
    # as many pooled connections, operator/k8s.py) for a first pass over a
    # thousand resources to overlap its requests.
    settings.execution.max_workers = k8s.POOL_SIZE
    # Only the operator's own objects are watched (the API server filters).
    for api_version, _kind, plural in WATCHED_OWNED:
        group = api_version.rpartition("/")[0]
        settings.watching.label_selectors[group, plural] = OWNED_SELECTOR


# -- indexes ---------------------------------------------------------------------


def _index_resource(namespace: str | None, name: str, body: kopf.Body, **_: Any) -> Any:
    return {(namespace, name): dict(body)}


for _plural in RESOURCE_PLURALS.values():
    kopf.index(GROUP, VERSION, _plural, id=index_name(_plural))(_index_resource)


@kopf.index("", "v1", "secrets", id=index_name("secrets"))
def _index_secret(namespace: str | None, name: str, body: kopf.Body, **_: Any) -> Any:
    return {(namespace, name): secret_info(body)}


def _index_owned(namespace: str | None, name: str, meta: kopf.Meta, **_: Any) -> Any:
    return {(namespace, name): meta.get("resourceVersion")}


for _api_version, _kind, _plural in WATCHED_OWNED:
    _group, _, _version = _api_version.rpartition("/")
    kopf.index(_group, _version, _plural, id=index_name(_plural),
               labels={"app.kubernetes.io/managed-by": MANAGER})(_index_owned)


# -- reconcile -------------------------------------------------------------------


def run(kind: str, body: Mapping[str, Any], indexes: Mapping[str, Any],
        patch: kopf.Patch | None = None) -> None:
    """Reconcile one resource; write its status into ``patch`` (a kopf
    handler's) or, from a watch, with a merge patch of the status."""
    meta = body["metadata"]
    if meta.get("deletionTimestamp"):
        return
    with _lock(kind, meta["namespace"], meta["name"]):
        result = RECONCILERS[kind](body, POLICY, CachedReads(indexes))
        for type_, reason, message in _grouped(result.events):
            kopf.event(cast(kopf.Body, body), type=type_, reason=reason, message=message)
        current = dict(body.get("status") or {})
        if not any(current.get(k) != v for k, v in result.status.items()):
            return
        if patch is not None:
            for key, value in result.status.items():
                patch.status[key] = value
            return
        try:
            k8s.merge_patch(API_VERSION, kind, meta["namespace"], meta["name"],
                            {"status": result.status}, subresource="status")
        except k8s.KubeError as exc:
            if exc.status != 404:
                raise


def _grouped(events: list[reconcile.Event]) -> list[reconcile.Event]:
    """One event per type and reason ("created ConfigMap a; created Deployment
    b; ..."): a first reconcile posts one event, not one per object."""
    merged: dict[tuple[str, str], list[str]] = {}
    for type_, reason, message in events:
        merged.setdefault((type_, reason), []).append(message)
    return [(t, r, "; ".join(m)[:1000]) for (t, r), m in merged.items()]


def _again(kind: str, namespace: str, name: str, indexes: Mapping[str, Any],
           why: str) -> None:
    """Reconcile a resource from the cache (a watch saw something it uses change)."""
    body = first(indexes.get(index_name(RESOURCE_PLURALS[kind])), (namespace, name))
    if body is not None:
        log.info("reconciling %s %s/%s: %s", kind, namespace, name, why)
        run(kind, body, indexes)


def _register(kind: str) -> None:
    plural = RESOURCE_PLURALS[kind]

    def resumed(body: kopf.Body, patch: kopf.Patch, **kwargs: Any) -> None:
        run(kind, body, kwargs, patch)  # every resource resumes: none reconciles another

    def changed(body: kopf.Body, patch: kopf.Patch, **kwargs: Any) -> None:
        run(kind, body, kwargs, patch)
        _dependents(kind, body, kwargs)

    resumed.__name__ = f"resume_{plural}"
    changed.__name__ = f"reconcile_{plural}"
    kopf.on.resume(GROUP, VERSION, plural, id="on-resume")(resumed)
    kopf.on.create(GROUP, VERSION, plural, id="on-create")(changed)
    kopf.on.update(GROUP, VERSION, plural, id="on-update")(changed)


def _resources(indexes: Mapping[str, Any], kind: str,
               namespace: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for (ns, name), store in snapshot(indexes.get(index_name(RESOURCE_PLURALS[kind]))):
        if ns == namespace:
            for body in store:
                yield name, body


def _dependents(kind: str, body: Mapping[str, Any], indexes: Mapping[str, Any]) -> None:
    """A MessageStore changed: its sessions and clusters; a FixSession changed:
    the FixClusters of its namespace that it names (or named)."""
    meta = body["metadata"]
    namespace, name = meta["namespace"], meta["name"]
    if kind == "MessageStore":
        for user in ("FixSession", "FixCluster"):
            for other, spec_body in _resources(indexes, user, namespace):
                if (spec_body.get("spec") or {}).get("storeRef") == name:
                    _again(user, namespace, other, indexes, f"MessageStore {name} changed")
    elif kind == "FixSession" and (body.get("spec") or {}).get("clusterRef"):
        cluster = body["spec"]["clusterRef"]
        _again("FixCluster", namespace, cluster, indexes, f"FixSession {name} changed")


@kopf.on.event(GROUP, VERSION, "fixsessions", id="watch-deletions")
def _session_gone(type: str, body: kopf.Body, namespace: str | None, name: str,
                  **kwargs: Any) -> None:
    """A deleted FixSession (no finalizer: kopf's deletion handlers would not
    see it) leaves the FixCluster that served it."""
    if type != "DELETED":
        return
    namespace = namespace or ""
    drift.forget_owner(namespace, name, "FixSession")
    cluster = (body.get("spec") or {}).get("clusterRef")
    if cluster:
        _again("FixCluster", namespace, cluster, kwargs, f"FixSession {name} was deleted")


@kopf.on.event(GROUP, VERSION, "fixclusters", id="watch-deletions")
def _cluster_gone(type: str, namespace: str | None, name: str, **_: Any) -> None:
    if type == "DELETED":
        drift.forget_owner(namespace or "", name, "FixCluster")


for _kind in RECONCILERS:
    _register(_kind)


# -- watches of what the resources use ------------------------------------------------

_secrets_seen: dict[tuple[str, str], Any] = {}


@kopf.on.event("", "v1", "secrets")
def _secret_event(type: str, body: kopf.Body, namespace: str | None, name: str,
                  **kwargs: Any) -> None:
    namespace = namespace or ""
    info = None if type == "DELETED" else secret_info(body)
    before = _secrets_seen.get((namespace, name), "unseen")
    if info is None:
        _secrets_seen.pop((namespace, name), None)
    else:
        _secrets_seen[(namespace, name)] = info
    if type is None or before == info or (before == "unseen" and type != "ADDED"):
        return  # the initial listing, or the values changed (the pods see them)
    needle = json.dumps(name)
    stores = {n for n, b in _resources(kwargs, "MessageStore", namespace)
              if needle in json.dumps(b.get("spec") or {})}
    for store in sorted(stores):
        _again("MessageStore", namespace, store, kwargs, f"Secret {name} changed")
    for kind in ("FixSession", "FixCluster"):
        for other, other_body in _resources(kwargs, kind, namespace):
            spec = other_body.get("spec") or {}
            if needle in json.dumps(spec) or spec.get("storeRef") in stores:
                _again(kind, namespace, other, kwargs, f"Secret {name} changed")


def _owned_event(type: str, body: kopf.Body, namespace: str | None, name: str,
                 **kwargs: Any) -> None:
    namespace = namespace or ""
    labels = body["metadata"].get("labels") or {}
    kind, owner = labels.get(OWNER_KIND), labels.get(OWNER_NAME)
    if type is None or kind not in RESOURCE_PLURALS or not owner:
        return
    cached = first(kwargs.get(index_name(RESOURCE_PLURALS[kind])), (namespace, owner))
    if cached is None or cached["metadata"].get("deletionTimestamp"):
        return
    obj = dict(body)
    if type == "DELETED":
        # Mostly the garbage collector following a deleted owner, which the
        # cache may not know of yet: ask before re-creating anything.
        live = k8s.get(API_VERSION, kind, namespace, owner)
        if live is None or live["metadata"].get("deletionTimestamp") or \
                live["metadata"].get("uid") not in _owner_uids(body):
            return
        log.info("reconciling %s %s/%s: %s %s was deleted", kind, namespace, owner,
                 body["kind"], name)
        run(kind, live, kwargs)
    elif drift.drifted(obj):
        _again(kind, namespace, owner, kwargs, f"{body['kind']} {name} was changed")
    elif body["kind"] == "Deployment":
        _refresh_ready(kind, cached, obj)


def _owner_uids(body: Mapping[str, Any]) -> set[str]:
    return {str(r.get("uid")) for r in body["metadata"].get("ownerReferences") or ()}


def _refresh_ready(kind: str, owner: Mapping[str, Any], deployment: Mapping[str, Any]) -> None:
    """Ready from the Deployment's status, without a reconcile."""
    old = owner.get("status") or {}
    conditions = old.get("conditions") or []
    ready = status.get(conditions, status.READY)
    reconciled = status.get(conditions, status.RECONCILED)
    if ready is None or reconciled is None or reconciled.get("status") != "True" \
            or ready.get("reason") == "ServedByFixCluster":
        return
    spec = owner.get("spec") or {}
    metrics = (spec.get("metrics") or {}).get("enabled", True)
    cond = status.deployment_ready(deployment, bool(spec.get("paused")),
                                   logon=kind == "FixSession" and bool(metrics))
    if (ready.get("status"), ready.get("reason")) == (cond.status, cond.reason):
        return
    merged = status.merge(conditions, [cond], owner["metadata"].get("generation"))[0]
    updated = [merged if c.get("type") == status.READY else c for c in conditions]
    meta = owner["metadata"]
    try:
        k8s.merge_patch(API_VERSION, kind, meta["namespace"], meta["name"],
                        {"status": {"conditions": updated}}, subresource="status")
    except k8s.KubeError as exc:
        if exc.status != 404:
            raise


for _api_version, _kind, _plural in WATCHED_OWNED:
    _group, _, _version = _api_version.rpartition("/")
    kopf.on.event(_group, _version, _plural, id=f"watch-{_plural}",
                  labels={"app.kubernetes.io/managed-by": MANAGER})(_owned_event)
