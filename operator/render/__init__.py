"""Pure functions from a custom resource to the Kubernetes objects it owns.

``render_fix_session`` and ``render_fix_cluster`` take what the reconciler
gathered (the parsed spec, the referenced MessageStore, which keys the TLS
Secrets hold, whether the ServiceMonitor CRD exists) and return every
object to apply.  No kopf, no API client: everything here is unit-tested
without a cluster.
"""

from __future__ import annotations

import dataclasses

from pyfixmsg_plus.engine.config import Role

from ..models import FixClusterSpec, FixSessionSpec, PodSettings, SessionFields, StoreType
from ..policy import Policy, PolicyError
from . import config as cfg
from . import network, workload
from .common import CONFIG_HASH, Obj, Owner, PodLayout
from .secrets import RenderError, Wiring

__all__ = ["ClusterContext", "Obj", "Owner", "PodLayout", "Policy", "RenderError", "Rendered",
           "SessionContext", "render_fix_cluster", "render_fix_session"]


@dataclasses.dataclass(frozen=True)
class Rendered:
    objects: list[Obj]
    config: dict[str, object]
    config_hash: str
    session_ids: list[str]


@dataclasses.dataclass(frozen=True)
class SessionContext:
    owner: Owner
    spec: FixSessionSpec
    store: cfg.StoreInput | None = None
    tls_keys: frozenset[str] = frozenset()
    service_monitor: bool = False
    layout: PodLayout = dataclasses.field(default_factory=PodLayout)
    policy: Policy = dataclasses.field(default_factory=Policy)


@dataclasses.dataclass(frozen=True)
class ClusterContext:
    owner: Owner
    spec: FixClusterSpec
    store: cfg.StoreInput
    #: FixSessions the selector picked: (name, settings, keys of their TLS Secret).
    selected: tuple[tuple[str, SessionFields, frozenset[str]], ...] = ()
    #: Keys of each inline session's TLS Secret, by the session's index.
    inline_tls_keys: tuple[frozenset[str], ...] = ()
    service_monitor: bool = False
    layout: PodLayout = dataclasses.field(default_factory=PodLayout)
    policy: Policy = dataclasses.field(default_factory=Policy)


def _session_id(f: SessionFields) -> str:
    text = f"{f.begin_string}:{f.sender_comp_id}->{f.target_comp_id}"
    return f"{text}:{f.session_qualifier}" if f.session_qualifier else text


def _store_port(store: cfg.StoreInput | None) -> int | None:
    if store is None:
        return None
    if store.spec.type is StoreType.POSTGRESQL and store.spec.postgresql:
        return store.spec.postgresql.port
    if store.spec.type is StoreType.REDIS and store.spec.redis:
        return store.spec.redis.port
    if store.spec.type is StoreType.MYSQL and store.spec.mysql:
        return store.spec.mysql.port
    if store.spec.type is StoreType.MONGODB and store.spec.mongodb:
        return store.spec.mongodb.port
    return None


def _sqlite_claim(store: cfg.StoreInput | None) -> str | None:
    if store is not None and store.spec.type is StoreType.SQLITE and store.spec.sqlite:
        return store.spec.sqlite.claim_name
    return None


def ephemeral_store(store: cfg.StoreInput | None) -> str | None:
    """Why a session's sequence numbers would not survive its pod (None: they do)."""
    if store is None:
        return ("no spec.storeRef: the session keeps its state in SQLite on an emptyDir, "
                "which a new pod (any configuration change) starts empty; reference a "
                "MessageStore (postgresql, redis, mysql, mongodb, or sqlite with a claimName)")
    sqlite = store.spec.sqlite
    if store.spec.type is StoreType.SQLITE and not (sqlite and (sqlite.claim_name or
                                                                sqlite.ephemeral)):
        return (f"MessageStore {store.name!r} is SQLite on an emptyDir, which a new pod "
                "starts empty: give it a claimName, or set sqlite.ephemeral: true if that "
                "is meant")
    return None


def _image(policy: Policy, pod: PodSettings) -> str:
    try:
        return policy.image(pod.image)
    except PolicyError as exc:
        raise RenderError(str(exc), reason=exc.reason) from None


def render_fix_session(ctx: SessionContext) -> Rendered:
    """ConfigMap, ServiceAccount, Deployment (one pod), Service, NetworkPolicy,
    PodDisruptionBudget, Istio objects and the ServiceMonitor of a FixSession."""
    spec, owner = ctx.spec, ctx.owner
    image = _image(ctx.policy, spec)
    wiring = Wiring()
    session = cfg.SessionInput("session", spec, ctx.tls_keys)
    config = cfg.engine_config([session], ctx.store, spec, wiring, ctx.layout)
    config_map = cfg.config_map(owner, config)
    config_hash = config_map["metadata"]["annotations"][CONFIG_HASH]
    fix_port = spec.accept_port if spec.role is Role.ACCEPTOR else None
    pod = workload.PodInput(config_hash=config_hash, fix_port=fix_port, wiring=wiring,
                            image=image, image_pull_policy=ctx.policy.default_pull_policy,
                            layout=ctx.layout, sqlite_claim=_sqlite_claim(ctx.store),
                            logout_timeout=spec.logout_timeout, logon_ready=True)
    objects: list[Obj | None] = [
        config_map,
        workload.service_account(owner),
        workload.deployment(owner, spec, pod, replicas=0 if spec.paused else 1, rolling=False),
        workload.service(owner, spec, fix_port, logon_ready=True),
        network.network_policy(owner, spec.network_policy, spec.istio, network.NetworkInput(
            fix_port=fix_port,
            counterparty_ports=tuple(e.port for e in spec.connect),
            store_port=_store_port(ctx.store), vault=wiring.uses_vault,
            metrics_port=spec.metrics.port if spec.metrics.enabled else None)),
        workload.pod_disruption_budget(owner, spec.disruption),
        *network.istio_objects(owner, spec.istio, fix_port),
        network.service_monitor(owner, spec) if ctx.service_monitor else None,
    ]
    return Rendered([o for o in objects if o is not None], config, config_hash,
                    [_session_id(spec)])


def render_fix_cluster(ctx: ClusterContext) -> Rendered:
    """The pool of a FixCluster: every session an acceptor on ``spec.port``."""
    spec, owner = ctx.spec, ctx.owner
    if ctx.store.spec.type is StoreType.SQLITE:
        raise RenderError(
            f"MessageStore {ctx.store.name!r} is sqlite: the pods of a FixCluster need a "
            "shared store (postgresql, redis, mysql or mongodb)")
    image = _image(ctx.policy, spec)
    inputs: list[cfg.SessionInput] = []
    for name, fields, keys in ctx.selected:
        if fields.role is not Role.ACCEPTOR:
            raise RenderError(f"FixSession {name!r} is an initiator: a FixCluster serves "
                              "acceptor sessions only")
        inputs.append(cfg.SessionInput(f"fs-{name}", fields, keys, accept_port=spec.port,
                                       where=f"FixSession {name!r}"))
    for index, fields in enumerate(spec.sessions):
        keys = ctx.inline_tls_keys[index] if index < len(ctx.inline_tls_keys) else frozenset()
        inputs.append(cfg.SessionInput(f"s{index}", fields, keys, accept_port=spec.port,
                                       where=f"spec.sessions[{index}]"))
    if not inputs:
        raise RenderError("no sessions: the selector matches no FixSession and none is inline")
    wiring = Wiring()
    config = cfg.engine_config(inputs, ctx.store, spec, wiring, ctx.layout)
    config_map = cfg.config_map(owner, config)
    config_hash = config_map["metadata"]["annotations"][CONFIG_HASH]
    pod = workload.PodInput(config_hash=config_hash, fix_port=spec.port, wiring=wiring,
                            image=image, image_pull_policy=ctx.policy.default_pull_policy,
                            layout=ctx.layout,
                            logout_timeout=max(i.fields.logout_timeout for i in inputs))
    replicas = None if spec.autoscaling.enabled else spec.min_replicas
    objects: list[Obj | None] = [
        config_map,
        workload.service_account(owner),
        workload.deployment(owner, spec, pod, replicas=0 if spec.paused else replicas,
                            rolling=True),
        workload.service(owner, spec, spec.port),
        None if spec.paused else workload.horizontal_pod_autoscaler(owner, spec),
        network.network_policy(owner, spec.network_policy, spec.istio, network.NetworkInput(
            fix_port=spec.port, store_port=_store_port(ctx.store), vault=wiring.uses_vault,
            metrics_port=spec.metrics.port if spec.metrics.enabled else None)),
        workload.pod_disruption_budget(owner, spec.disruption),
        *network.istio_objects(owner, spec.istio, spec.port),
        network.service_monitor(owner, spec) if ctx.service_monitor else None,
    ]
    return Rendered([o for o in objects if o is not None], config, config_hash,
                    [_session_id(i.fields) for i in inputs])
