"""Pods and what schedules them: ServiceAccount, Deployment, Service, HPA, PDB.

A FixSession gets one pod and the ``Recreate`` strategy: a FIX session must
be live in one pod at a time, so the old pod logs out and stops before the
new one logs on.  A FixCluster gets a pool behind one Service; its HPA may
add pods but does not remove them unless the resource allows it, because
removing a pod moves the live sessions it holds.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from ..models import Disruption, FixClusterSpec, PodSettings
from .common import CONFIG_HASH, Obj, Owner, PodLayout, meta, selector_labels
from .secrets import Wiring

ENGINE_UID = 10001
FIX_PORT_NAME = "tcp-fix"
METRICS_PORT_NAME = "http-metrics"


@dataclasses.dataclass(frozen=True)
class PodInput:
    """What the pod template needs besides the resource's pod settings."""

    config_hash: str
    fix_port: int | None  # acceptors listen; initiators have none
    wiring: Wiring
    image: str  # chosen by the operator's policy (the resource may only ask)
    image_pull_policy: str = "IfNotPresent"
    layout: PodLayout = dataclasses.field(default_factory=PodLayout)
    sqlite_claim: str | None = None
    logout_timeout: float = 2.0
    extra_annotations: dict[str, str] = dataclasses.field(default_factory=dict)
    #: The pod is Ready only while its FIX session is logged on (a FixSession).
    logon_ready: bool = False


def service_account(owner: Owner) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": meta(owner),
        "automountServiceAccountToken": False,
    }


def _probes(pod: PodSettings, fix_port: int | None, logon_ready: bool) -> dict[str, Any]:
    """The engine's HTTP endpoint (on the metrics port) answers ``/healthz``
    (the event loop runs) and ``/readyz`` (acceptor ports listening, store
    not failing; with ``?logon=1`` the FIX session logged on too) without a
    token, over HTTPS when the metrics have TLS (the kubelet does not verify
    the certificate).  Without it, an acceptor's FIX port stands in.

    Liveness restarts a pod, which for FIX is a logout and a failover: it
    fails only after a minute without an answer (six probes 10 s apart, each
    allowed 10 s), so a busy event loop or a slow node does not kill a pod;
    the engine's own ``/healthz`` already tolerates 5 s of loop lag.
    Readiness is separate and quick (it only takes the pod out of the
    Service's ready endpoints and says whether the session is logged on)."""
    if pod.metrics.enabled:
        scheme = {"scheme": "HTTPS"} if pod.metrics.tls is not None else {}
        live: dict[str, Any] = {"httpGet": {"path": "/healthz", "port": METRICS_PORT_NAME,
                                            **scheme}}
        ready: dict[str, Any] = {"httpGet": {
            "path": "/readyz?logon=1" if logon_ready else "/readyz", "port": METRICS_PORT_NAME,
            **scheme}}
    elif fix_port is not None:
        live = ready = {"tcpSocket": {"port": FIX_PORT_NAME}}
    else:
        return {}
    return {
        "startupProbe": {**live, "periodSeconds": 2, "timeoutSeconds": 5,
                         "failureThreshold": 60},
        "readinessProbe": {**ready, "periodSeconds": 5, "timeoutSeconds": 5,
                           "failureThreshold": 2},
        "livenessProbe": {**live, "periodSeconds": 10, "timeoutSeconds": 10,
                          "failureThreshold": 6},
    }


def reviews_tokens(pod: PodSettings) -> bool:
    """The engine checks scrapers' tokens with a TokenReview (made with the
    pod's own service account token)."""
    return pod.metrics.enabled and pod.metrics.authorization == "tokenReview"


def pod_template(owner: Owner, pod: PodSettings, inp: PodInput) -> Obj:
    layout = inp.layout
    ports: list[dict[str, Any]] = []
    if inp.fix_port is not None:
        ports.append({"name": FIX_PORT_NAME, "containerPort": inp.fix_port, "protocol": "TCP"})
    if pod.metrics.enabled:
        ports.append({"name": METRICS_PORT_NAME, "containerPort": pod.metrics.port,
                      "protocol": "TCP"})
    data_volume: dict[str, Any] = (
        {"persistentVolumeClaim": {"claimName": inp.sqlite_claim}}
        if inp.sqlite_claim else {"emptyDir": {}}
    )
    volumes = [
        {"name": "config", "configMap": {"name": f"{owner.child_name}-config"}},
        {"name": "data", **data_volume},
        {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}},
        *inp.wiring.volumes,
    ]
    mounts = [
        {"name": "config", "mountPath": layout.config_dir, "readOnly": True},
        {"name": "data", "mountPath": layout.data_dir},
        {"name": "tmp", "mountPath": "/tmp"},
        *inp.wiring.mounts,
    ]
    env = [
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        *inp.wiring.env,
    ]
    annotations = {CONFIG_HASH: inp.config_hash, **inp.wiring.annotations,
                   **inp.extra_annotations}
    if pod.metrics.enabled:
        annotations.update({"prometheus.io/scrape": "true",
                            "prometheus.io/port": str(pod.metrics.port),
                            "prometheus.io/path": pod.metrics.path,
                            "prometheus.io/scheme": "https" if pod.metrics.tls else "http"})
    if pod.istio.enabled:
        drain = int(inp.logout_timeout) + 5
        annotations.update({
            "sidecar.istio.io/inject": "true",
            "proxy.istio.io/config": json.dumps(
                {"holdApplicationUntilProxyStarts": True,
                 "terminationDrainDuration": f"{drain}s"}, sort_keys=True),
        })
    container = {
        "name": "engine",
        "image": inp.image,
        "imagePullPolicy": pod.image_pull_policy or inp.image_pull_policy,
        "command": ["fixplus"],
        "args": ["run", "-c", layout.config_file, "--log-level", pod.log_level],
        "ports": ports,
        "env": env,
        "resources": pod.resources.model_dump(mode="json", exclude_none=True),
        "volumeMounts": mounts,
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        **_probes(pod, inp.fix_port, inp.logon_ready),
    }
    return {
        "metadata": {"labels": meta(owner)["labels"], "annotations": annotations},
        "spec": {
            "serviceAccountName": owner.child_name,
            # The Vault agent logs in with the pod's service account token,
            # and the engine reviews scrapers' tokens with it.
            "automountServiceAccountToken": inp.wiring.uses_vault or reviews_tokens(pod),
            # Room for a graceful Logout before SIGKILL.
            "terminationGracePeriodSeconds": 30,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": ENGINE_UID,
                "runAsGroup": ENGINE_UID,
                "fsGroup": ENGINE_UID,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [container],
            "volumes": volumes,
        },
    }


def deployment(owner: Owner, pod: PodSettings, inp: PodInput, *,
               replicas: int | None, rolling: bool) -> Obj:
    """``replicas`` None leaves the count to the HPA."""
    spec: dict[str, Any] = {
        "selector": {"matchLabels": selector_labels(owner)},
        "strategy": (
            {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
            if rolling else {"type": "Recreate"}
        ),
        "revisionHistoryLimit": 3,
        "template": pod_template(owner, pod, inp),
    }
    if replicas is not None:
        spec = {"replicas": replicas, **spec}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(owner), "spec": spec}


def service(owner: Owner, pod: PodSettings, fix_port: int | None, *,
            logon_ready: bool = False) -> Obj | None:
    """The FIX port (``tcp-fix``, appProtocol tcp) and the metrics port.

    ``spec.service.type`` NodePort or LoadBalancer reaches an acceptor from
    outside the cluster; ``externalTrafficPolicy: Local`` keeps the
    counterparty's address (no SNAT to a node's), which the NetworkPolicy's
    counterpartyCidrs and the engine's source-address checks need.  A pod
    that is Ready only once logged on is published before it is ready:
    the counterparty's connection is what logs it on."""
    ports: list[dict[str, Any]] = []
    svc = pod.service
    if fix_port is not None:
        fix: dict[str, Any] = {"name": FIX_PORT_NAME, "port": fix_port,
                               "targetPort": FIX_PORT_NAME, "protocol": "TCP",
                               "appProtocol": "tcp"}
        if svc.node_port is not None and svc.type != "ClusterIP":
            fix["nodePort"] = svc.node_port
        ports.append(fix)
    if pod.metrics.enabled:
        ports.append({"name": METRICS_PORT_NAME, "port": pod.metrics.port,
                      "targetPort": METRICS_PORT_NAME, "protocol": "TCP", "appProtocol": "http"})
    if not ports:
        return None
    spec: dict[str, Any] = {
        "type": svc.type if fix_port is not None else "ClusterIP",
        "selector": selector_labels(owner), "ports": ports,
        # a reconnecting counterparty should find the pod that holds its session
        "sessionAffinity": "ClientIP",
    }
    if spec["type"] != "ClusterIP":
        spec["externalTrafficPolicy"] = "Local"
    if logon_ready and fix_port is not None:
        spec["publishNotReadyAddresses"] = True
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(owner, annotations=dict(svc.annotations) or None),
        "spec": spec,
    }


def pod_disruption_budget(owner: Owner, disruption: Disruption) -> Obj:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": meta(owner),
        "spec": {"maxUnavailable": disruption.max_unavailable,
                 "selector": {"matchLabels": selector_labels(owner)}},
    }


def horizontal_pod_autoscaler(owner: Owner, spec: FixClusterSpec) -> Obj | None:
    auto = spec.autoscaling
    if not auto.enabled:
        return None
    metrics: list[dict[str, Any]] = [{
        "type": "Resource",
        "resource": {"name": "cpu", "target": {"type": "Utilization",
                                               "averageUtilization": auto.target_cpu_utilization}},
    }]
    if auto.target_memory_utilization is not None:
        metrics.append({"type": "Resource", "resource": {
            "name": "memory", "target": {"type": "Utilization",
                                         "averageUtilization": auto.target_memory_utilization}}})
    scale_down: dict[str, Any] = {"stabilizationWindowSeconds":
                                  auto.scale_down_stabilization_seconds}
    if auto.allow_scale_down:
        scale_down["policies"] = [{"type": "Pods", "value": 1, "periodSeconds": 300}]
    else:
        scale_down["selectPolicy"] = "Disabled"
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta(owner),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                               "name": owner.child_name},
            "minReplicas": spec.min_replicas,
            "maxReplicas": spec.max_replicas,
            "metrics": metrics,
            "behavior": {
                "scaleUp": {"stabilizationWindowSeconds": 60,
                            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]},
                "scaleDown": scale_down,
            },
        },
    }
