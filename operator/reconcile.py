"""One reconcile of a resource: read references, render, apply, prune, report.

Each ``reconcile_*`` takes the resource as the API server returned it and
gives back a :class:`Result`: the status to write and the events to post.
It reads and writes owned objects through :mod:`.k8s` only; it knows
nothing of kopf (the handlers post the events and write the status).

Problems with the resource itself — a missing MessageStore or Secret, a
configuration the engine would reject, an apply the API server refuses —
become a ``Reconciled=False`` / ``Degraded=True`` condition with a readable
reason and a Warning event, never an exception that kopf would retry in a
loop.  The objects applied before stay as they are, so a running session
keeps its last good configuration.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pyfixmsg_plus.engine.config import Role

from . import drift, k8s, policy, status
from .models import (
    API_VERSION,
    FixClusterSpec,
    FixSessionSpec,
    LabelSelector,
    MessageStoreSpec,
    SessionFields,
    StoreCredentials,
    known_fields,
)
from .policy import Policy
from .reads import LiveReads, Reads
from .render import (
    ClusterContext,
    Obj,
    Owner,
    Rendered,
    RenderError,
    SessionContext,
    ephemeral_store,
    render_fix_cluster,
    render_fix_session,
)
from .render.config import StoreInput

SERVICE_MONITOR_CRD = "servicemonitors.monitoring.coreos.com"

Event = tuple[str, str, str]
M = TypeVar("M", bound=BaseModel)  # type (Normal/Warning), reason, message


@dataclasses.dataclass
class Result:
    status: dict[str, Any]
    events: list[Event] = dataclasses.field(default_factory=list)


class Problem(Exception):
    """A reason (CamelCase) and a message for the conditions; ``refused_secret``
    names a Secret the resource may not (or no longer) reference."""

    def __init__(self, reason: str, message: str, refused_secret: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.refused_secret = refused_secret


def owner_of(body: Mapping[str, Any]) -> Owner:
    meta = body["metadata"]
    return Owner(api_version=body.get("apiVersion", API_VERSION), kind=body["kind"],
                 name=meta["name"], namespace=meta["namespace"], uid=meta["uid"],
                 generation=meta.get("generation", 1))


def _spec(model: type[M], obj: Mapping[str, Any]) -> M:
    """The resource's spec as ``model`` (fields of a newer or older CRD ignored)."""
    return model.model_validate(known_fields(model, obj.get("spec") or {}))


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"])
        parts.append(f"spec.{where}: {err['msg']}")
    return "; ".join(parts)


def _no_references(body: Mapping[str, Any]) -> None:
    """A resource never holds ``${ENV:…}``/``${FILE:…}`` references: the
    engine would resolve them in the pod, from the pod's files and
    variables, into whatever setting they sit in."""
    paths = policy.references(body.get("spec") or {})
    if paths:
        raise Problem("SecretReferenceNotAllowed", policy.reference_problem(paths))


def _secret(namespace: str, name: str, needed: set[str], what: str,
            rules: Policy, reads: Reads) -> frozenset[str]:
    """The keys of a Secret the resource may reference (checked before any is read)."""
    found = reads.secret_keys(namespace, name)
    if found is None:
        raise Problem("SecretNotFound", f"{what}: Secret {name!r} does not exist in "
                      f"namespace {namespace!r}")
    keys, labels = found
    if not rules.secret_allowed(namespace, name, labels):
        raise Problem("SecretNotAllowed", f"{what}: Secret {name!r} may not be referenced: "
                      f"{rules.secret_rule()}", refused_secret=name)
    missing = needed - keys
    if missing:
        raise Problem("SecretKeyMissing", f"{what}: Secret {name!r} has no key "
                      f"{', '.join(sorted(missing))}")
    return keys


def _check_store_credentials(namespace: str, store: str, creds: StoreCredentials | None,
                             rules: Policy, reads: Reads) -> None:
    if creds is None or creds.secret_ref is None:
        return
    ref = creds.secret_ref
    needed = {ref.password_key} | ({ref.username_key} if ref.username_key else set())
    _secret(namespace, ref.name, needed, f"MessageStore {store!r} credentials", rules, reads)


def _store(namespace: str, name: str, rules: Policy, reads: Reads) -> StoreInput:
    body = reads.resource("MessageStore", namespace, name)
    if body is None:
        raise Problem("StoreNotFound",
                      f"MessageStore {name!r} does not exist in namespace {namespace!r}")
    try:
        spec = _spec(MessageStoreSpec, body)
    except ValidationError as exc:
        raise Problem("InvalidStore", f"MessageStore {name!r}: {_describe(exc)}") from None
    _check_store_credentials(namespace, name, spec.credentials, rules, reads)
    return StoreInput(name, spec)


def _session_secrets(namespace: str, fields: SessionFields, what: str,
                     rules: Policy, reads: Reads) -> frozenset[str]:
    """Check the Logon and authentication Secrets; return the keys of the TLS Secret."""
    logon, auth = fields.logon, fields.authentication
    refs = [(logon.password_secret_ref if logon else None, "logon password")]
    if auth is not None:
        refs += [(auth.password_secret_ref, "authentication password"),
                 (auth.password_hash_secret_ref, "authentication password hash")]
    for ref, purpose in refs:
        if ref is not None:
            _secret(namespace, ref.name, {ref.key}, f"{what} {purpose}", rules, reads)
    if fields.tls is None:
        return frozenset()
    return _secret(namespace, fields.tls.secret_name, set(), f"{what} TLS", rules, reads)


def _key(obj: Mapping[str, Any]) -> tuple[str, str, str]:
    return (obj["apiVersion"], obj["kind"], obj["metadata"]["name"])


def apply_all(owner: Owner, objects: list[Obj], old_status: Mapping[str, Any],
              reads: Reads) -> tuple[list[Event], Obj | None]:
    """Apply every object; delete what was owned before and is not rendered now.
    Returns the events and the Deployment as the API server answered the apply."""
    spec_changed = old_status.get("observedGeneration") != owner.generation
    events: list[Event] = []
    deployment: Obj | None = None
    for obj in objects:
        api_version, kind, name = _key(obj)
        before = reads.resource_version(api_version, kind, owner.namespace, name)
        if kind != "Deployment" and drift.unchanged(obj, before):
            continue  # applied as it is, and untouched since: nothing to send
        if kind == "Deployment" and "replicas" not in obj["spec"] and before is not None:
            last = drift.previous(obj)
            if last is None or "replicas" in last["spec"]:
                k8s.hand_over_replicas(owner.namespace, name)
        try:
            after = k8s.apply(obj)
        except k8s.KubeError as exc:
            raise Problem("ApplyFailed", f"{kind} {name}: {exc}") from None
        drift.remember(obj, after["metadata"].get("resourceVersion"))
        if kind == "Deployment":
            deployment = after
        if before is None:
            events.append(("Normal", "Created", f"created {kind} {name}"))
        elif before != after["metadata"].get("resourceVersion"):
            if spec_changed:
                events.append(("Normal", "Updated", f"updated {kind} {name}"))
            else:
                events.append(("Warning", "DriftCorrected",
                               f"{kind} {name} was changed outside the operator; restored"))
    rendered = {_key(o) for o in objects}
    for old in old_status.get("owned") or ():
        key = (old.get("apiVersion"), old.get("kind"), old.get("name"))
        if key in rendered or (key[0], key[1]) not in k8s.PLURALS:
            continue
        drift.forget(key[0], key[1], owner.namespace, key[2])
        if k8s.delete(key[0], key[1], owner.namespace, key[2]):
            events.append(("Normal", "Deleted", f"deleted {key[1]} {key[2]} (no longer needed)"))
    return events, deployment


def _finish(owner: Owner, body: Mapping[str, Any], rendered: Rendered,
            ready: Callable[[Mapping[str, Any] | None], status.Cond], reads: Reads,
            degraded: status.Cond | None = None) -> Result:
    """Apply, then judge readiness from the Deployment as the apply returned it."""
    old = body.get("status") or {}
    events, deployment = apply_all(owner, rendered.objects, old, reads)
    conditions = status.reconciled(ready(deployment), degraded)
    return Result(
        status={
            "observedGeneration": owner.generation,
            "conditions": status.merge(old.get("conditions"), conditions, owner.generation),
            "owned": [{"apiVersion": o["apiVersion"], "kind": o["kind"],
                       "name": o["metadata"]["name"]} for o in rendered.objects],
            "configHash": rendered.config_hash,
            "sessionIds": rendered.session_ids,
        },
        events=events,
    )


def _failed(owner: Owner, body: Mapping[str, Any], problem: Problem) -> Result:
    old = body.get("status") or {}
    conditions = status.merge(old.get("conditions"), status.failed(problem.reason,
                                                                  problem.message),
                              owner.generation)
    before = status.get(old.get("conditions"), status.RECONCILED)
    repeated = before is not None and before.get("reason") == problem.reason \
        and before.get("message") == problem.message
    events = [] if repeated else [("Warning", problem.reason, problem.message)]
    if problem.refused_secret is not None:
        events += _withdraw(owner, problem.refused_secret)
    return Result(status={**{k: v for k, v in old.items() if k != "conditions"},
                          "observedGeneration": owner.generation, "conditions": conditions},
                  events=events)


def _uses_secret(pod: Mapping[str, Any], secret: str) -> bool:
    """Whether a pod spec mounts ``secret`` or reads it into a variable."""
    for volume in pod.get("volumes") or ():
        if (volume.get("secret") or {}).get("secretName") == secret:
            return True
    for container in [*(pod.get("containers") or ()), *(pod.get("initContainers") or ())]:
        for env in container.get("env") or ():
            if ((env.get("valueFrom") or {}).get("secretKeyRef") or {}).get("name") == secret:
                return True
        for source in container.get("envFrom") or ():
            if (source.get("secretRef") or {}).get("name") == secret:
                return True
    return False


def _withdraw(owner: Owner, secret: str) -> list[Event]:
    """Delete the resource's Deployment if its pods use a Secret that may no
    longer be referenced (the admin took the permission back): objects
    applied before a refusal otherwise stay as they were."""
    deployment = k8s.get("apps/v1", "Deployment", owner.namespace, owner.child_name)
    if deployment is None:
        return []
    refs = deployment["metadata"].get("ownerReferences") or ()
    if not any(r.get("uid") == owner.uid for r in refs):
        return []
    pod = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    if not _uses_secret(pod, secret):
        return []
    k8s.delete("apps/v1", "Deployment", owner.namespace, owner.child_name)
    return [("Warning", "SecretWithdrawn",
             f"deleted Deployment {owner.child_name}: its pods use Secret {secret!r}, which "
             "may no longer be referenced")]


def _selects(selector: LabelSelector | None, labels: Mapping[str, str]) -> bool:
    if selector is None or not selector.match_labels:
        return False
    return all(labels.get(k) == v for k, v in selector.match_labels.items())


def _joined_cluster(namespace: str, name: str, labels: Mapping[str, str],
                    spec: FixSessionSpec, reads: Reads) -> str | None:
    """The FixCluster that serves this session: both sides must say so."""
    cluster = spec.cluster_ref
    if cluster is None:
        return None
    if spec.role is not Role.ACCEPTOR:
        raise Problem("NotAcceptedByCluster", f"spec.clusterRef {cluster!r}: a FixCluster "
                      "serves acceptor sessions only")
    body = reads.resource("FixCluster", namespace, cluster)
    if body is None:
        raise Problem("ClusterNotFound", f"spec.clusterRef: FixCluster {cluster!r} does not "
                      f"exist in namespace {namespace!r}")
    try:
        selector = _spec(FixClusterSpec, body).session_selector
    except ValidationError as exc:
        raise Problem("InvalidCluster", f"FixCluster {cluster!r}: {_describe(exc)}") from None
    if not _selects(selector, labels):
        wanted = ", ".join(f"{k}={v}" for k, v in sorted(
            (selector.match_labels if selector else {}).items())) or "none"
        raise Problem("NotAcceptedByCluster",
                      f"FixCluster {cluster!r} does not accept FixSession {name!r}: its "
                      f"spec.sessionSelector (matchLabels: {wanted}) does not match the "
                      "session's labels")
    return cluster


def reconcile_fix_session(body: Mapping[str, Any], rules: Policy | None = None,
                          reads: Reads | None = None) -> Result:
    owner = owner_of(body)
    rules = rules or Policy.from_env()
    reads = reads or LiveReads()
    try:
        _no_references(body)
        try:
            spec = _spec(FixSessionSpec, body)
        except ValidationError as exc:
            raise Problem("InvalidSpec", _describe(exc)) from None
        store = _store(owner.namespace, spec.store_ref, rules, reads) if spec.store_ref \
            else None
        tls_keys = _session_secrets(owner.namespace, spec, f"FixSession {owner.name!r}", rules,
                                    reads)
        cluster = _joined_cluster(owner.namespace, owner.name,
                                  body["metadata"].get("labels") or {}, spec, reads)
        if cluster is not None:
            # A session is live in one pod at a time: the cluster's pods serve it.
            spec = spec.model_copy(update={"paused": True})
        ctx = SessionContext(owner, spec, store, tls_keys,
                             service_monitor=reads.crd_exists(SERVICE_MONITOR_CRD),
                             policy=rules)
        try:
            rendered = render_fix_session(ctx)
        except RenderError as exc:
            raise Problem(exc.reason, str(exc)) from None
        paused = spec.paused

        def ready(deployment: Mapping[str, Any] | None) -> status.Cond:
            if cluster is not None:
                return status.Cond(status.READY, "False", "ServedByFixCluster",
                                   f"FixCluster {cluster!r} serves this session")
            return status.deployment_ready(deployment, paused, logon=spec.metrics.enabled)

        lost = ephemeral_store(store) if cluster is None else None
        degraded = None if lost is None else status.Cond(status.DEGRADED, "True",
                                                         "EphemeralStore", lost)
        return _finish(owner, body, rendered, ready, reads, degraded)
    except Problem as problem:
        return _failed(owner, body, problem)


Selected = tuple[str, SessionFields, frozenset[str]]


def _joining_sessions(owner: Owner, spec: FixClusterSpec, rules: Policy,
                      reads: Reads) -> tuple[list[Selected], list[str]]:
    """The FixSessions that asked to join and that the selector accepts,
    and why each one that did so cannot be served (it is left out; its own
    status says why, and the other sessions of the pool keep being served)."""
    selected: list[Selected] = []
    skipped: list[str] = []
    if spec.session_selector is None or not spec.session_selector.match_labels:
        return selected, skipped
    for item in reads.fix_sessions(owner.namespace, spec.session_selector.match_labels):
        name = item["metadata"]["name"]
        if (item.get("spec") or {}).get("clusterRef") != owner.name:
            continue  # the session did not ask to join this cluster
        what = f"FixSession {name!r}"
        try:
            if policy.references(item.get("spec") or {}):
                raise Problem("SecretReferenceNotAllowed", "holds a secret reference")
            try:
                fields = _spec(FixSessionSpec, item)
            except ValidationError as exc:
                raise Problem("InvalidSession", _describe(exc)) from None
            if fields.role is not Role.ACCEPTOR:
                raise Problem("NotAcceptedByCluster", "is an initiator")
            if fields.authentication is None:
                raise Problem("AuthenticationMissing", "has no authentication")
            keys = _session_secrets(owner.namespace, fields, what, rules, reads)
        except Problem as problem:
            skipped.append(f"{what} is not served: {problem.message}")
            continue
        selected.append((name, fields, keys))
    return sorted(selected, key=lambda s: s[0]), skipped


def reconcile_fix_cluster(body: Mapping[str, Any], rules: Policy | None = None,
                          reads: Reads | None = None) -> Result:
    owner = owner_of(body)
    rules = rules or Policy.from_env()
    reads = reads or LiveReads()
    try:
        _no_references(body)
        try:
            spec = _spec(FixClusterSpec, body)
        except ValidationError as exc:
            raise Problem("InvalidSpec", _describe(exc)) from None
        store = _store(owner.namespace, spec.store_ref, rules, reads)
        selected, skipped = _joining_sessions(owner, spec, rules, reads)
        inline = tuple(_session_secrets(owner.namespace, s, f"spec.sessions[{i}]", rules, reads)
                       for i, s in enumerate(spec.sessions))
        ctx = ClusterContext(owner, spec, store, tuple(selected), inline,
                             service_monitor=reads.crd_exists(SERVICE_MONITOR_CRD),
                             policy=rules)
        try:
            rendered = render_fix_cluster(ctx)
        except RenderError as exc:
            raise Problem(exc.reason, str(exc)) from None
        paused = spec.paused
        old = body.get("status") or {}
        result = _finish(owner, body, rendered, lambda d: status.deployment_ready(d, paused),
                         reads)
        if old.get("sessionIds") != rendered.session_ids or \
                old.get("observedGeneration") != owner.generation:
            result.events += [("Warning", "SessionNotServed", m) for m in skipped]
        return result
    except Problem as problem:
        return _failed(owner, body, problem)


def reconcile_message_store(body: Mapping[str, Any], rules: Policy | None = None,
                            reads: Reads | None = None) -> Result:
    """A MessageStore owns nothing; its status says whether its references resolve."""
    owner = owner_of(body)
    rules = rules or Policy.from_env()
    reads = reads or LiveReads()
    try:
        _no_references(body)
        try:
            spec = _spec(MessageStoreSpec, body)
        except ValidationError as exc:
            raise Problem("InvalidSpec", _describe(exc)) from None
        _check_store_credentials(owner.namespace, owner.name, spec.credentials, rules, reads)
    except Problem as problem:
        return _failed(owner, body, problem)
    old = body.get("status") or {}
    via = ("Vault" if spec.credentials and spec.credentials.vault else
           "a Secret" if spec.credentials else "no credentials")
    ready = status.Cond(status.READY, "True", "ReferencesResolved",
                        f"{spec.type.value} store; credentials from {via}")
    return Result(status={
        "observedGeneration": owner.generation,
        "conditions": status.merge(old.get("conditions"), status.reconciled(ready),
                                   owner.generation),
    })
