"""The only module that talks to the Kubernetes API server.

Objects are written with server-side apply (``PATCH`` with
``application/apply-patch+yaml``, field manager ``fixplus-operator``,
``force=true``): the operator owns the fields it renders, and a field
someone else changed is taken back on the next reconcile (drift
correction), while fields it never sets (an HPA's replica count, a
kubectl annotation) are left alone.

The client is the official ``kubernetes`` package's ``ApiClient``, used at
the REST level: paths come from :data:`PLURALS`, so no discovery round
trips are needed.
"""

from __future__ import annotations

import json
import threading
from typing import Any, cast

import kubernetes
from kubernetes.client.exceptions import ApiException

from .render.common import MANAGER, Obj

#: (apiVersion, kind) -> resource (plural) name.
PLURALS: dict[tuple[str, str], str] = {
    ("v1", "ConfigMap"): "configmaps",
    ("v1", "Secret"): "secrets",
    ("v1", "Service"): "services",
    ("v1", "ServiceAccount"): "serviceaccounts",
    ("v1", "Pod"): "pods",
    ("v1", "Event"): "events",
    ("apps/v1", "Deployment"): "deployments",
    ("policy/v1", "PodDisruptionBudget"): "poddisruptionbudgets",
    ("autoscaling/v2", "HorizontalPodAutoscaler"): "horizontalpodautoscalers",
    ("networking.k8s.io/v1", "NetworkPolicy"): "networkpolicies",
    ("networking.istio.io/v1", "VirtualService"): "virtualservices",
    ("networking.istio.io/v1", "DestinationRule"): "destinationrules",
    ("security.istio.io/v1", "PeerAuthentication"): "peerauthentications",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitors",
    ("fixplus.io/v1alpha1", "FixSession"): "fixsessions",
    ("fixplus.io/v1alpha1", "FixCluster"): "fixclusters",
    ("fixplus.io/v1alpha1", "MessageStore"): "messagestores",
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"): "customresourcedefinitions",
    ("coordination.k8s.io/v1", "Lease"): "leases",
}

#: The field manager that keeps a Deployment's replica count when the
#: operator stops setting it (autoscaling switched on).
HANDOVER = f"{MANAGER}-replicas-handover"


class KubeError(Exception):
    """An API call failed; ``status`` is the HTTP status (0 if none)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


_lock = threading.Lock()
_clients: dict[str, Any] = {}
#: Connections kept to the API server (and the handler threads using them).
POOL_SIZE = 16


def client() -> Any:
    """The shared ``ApiClient`` (in-cluster config, else the kubeconfig)."""
    with _lock:
        if "api" not in _clients:
            loader: Any = kubernetes.config  # its loaders are not annotated
            try:
                loader.load_incluster_config()
            except loader.ConfigException:
                loader.load_kube_config()
            configuration: Any = kubernetes.client.Configuration.get_default_copy()
            configuration.connection_pool_maxsize = POOL_SIZE + 4  # + lease, events
            _clients["api"] = kubernetes.client.ApiClient(configuration)
        return _clients["api"]


def path(api_version: str, kind: str, namespace: str | None, name: str | None = None) -> str:
    plural = PLURALS[(api_version, kind)]
    base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    if namespace is not None:
        base += f"/namespaces/{namespace}"
    base += f"/{plural}"
    return f"{base}/{name}" if name else base


def _call(method: str, url: str, *, body: Any = None, query: list[tuple[str, str]] | None = None,
          content_type: str = "application/json") -> Obj:
    api = client()
    try:
        method, full_url, headers, payload, _ = api.param_serialize(
            method=method, resource_path=url, query_params=query or [],
            header_params={"Accept": "application/json", "Content-Type": content_type},
            body=body, auth_settings=["BearerToken"])
        response = api.call_api(method, full_url, header_params=headers, body=payload,
                                _request_timeout=30)
        raw = response.read()
    except ApiException as exc:  # transport-level failures
        raise KubeError(_message(exc.body, str(exc.reason)), exc.status or 0) from None
    if not 200 <= response.status < 300:
        raise KubeError(_message(raw, str(response.reason)), response.status)
    return cast(Obj, json.loads(raw) if raw else {})


def _message(body: Any, fallback: str) -> str:
    """The API server's ``Status.message``, or ``fallback``."""
    try:
        return str(json.loads(body or b"").get("message") or fallback)
    except (TypeError, ValueError, AttributeError):
        return fallback


def get(api_version: str, kind: str, namespace: str | None, name: str) -> Obj | None:
    """The object, or None when it does not exist."""
    try:
        return _call("GET", path(api_version, kind, namespace, name))
    except KubeError as exc:
        if exc.status == 404:
            return None
        raise


def list_objects(api_version: str, kind: str, namespace: str | None,
                 label_selector: str | None = None) -> list[Obj]:
    query = [("labelSelector", label_selector)] if label_selector else []
    items = _call("GET", path(api_version, kind, namespace), query=query).get("items", [])
    return cast(list[Obj], items)


def apply(obj: Obj) -> Obj:
    """Server-side apply ``obj`` as the operator's field manager (forcing conflicts)."""
    meta = obj["metadata"]
    url = path(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])
    return _call("PATCH", url, body=obj,
                 query=[("fieldManager", MANAGER), ("force", "true")],
                 content_type="application/apply-patch+yaml")


def merge_patch(api_version: str, kind: str, namespace: str | None, name: str, body: Obj,
                subresource: str | None = None) -> Obj:
    url = path(api_version, kind, namespace, name) + (f"/{subresource}" if subresource else "")
    return _call("PATCH", url, body=body, content_type="application/merge-patch+json")


def replace(obj: Obj) -> Obj:
    """PUT ``obj`` (with its resourceVersion: refused with 409 if it changed)."""
    meta = obj["metadata"]
    return _call("PUT", path(obj["apiVersion"], obj["kind"], meta.get("namespace"),
                             meta["name"]), body=obj)


def create(obj: Obj) -> Obj:
    meta = obj["metadata"]
    return _call("POST", path(obj["apiVersion"], obj["kind"], meta.get("namespace")), body=obj)


def _owns_replicas(deployment: Obj, manager: str) -> bool:
    for entry in deployment["metadata"].get("managedFields") or ():
        if entry.get("manager") == manager and entry.get("operation") == "Apply":
            fields = entry.get("fieldsV1") or {}
            return "f:replicas" in (fields.get("f:spec") or {})
    return False


def hand_over_replicas(namespace: str, name: str) -> bool:
    """Before the operator applies a Deployment without ``spec.replicas``
    (an HPA now sets it), let a second field manager take the field over at
    its current value: otherwise server-side apply would remove the field
    the operator owned, and the count would fall back to 1.  Only when the
    operator still owns the field; True when it handed it over."""
    deployment = get("apps/v1", "Deployment", namespace, name)
    if deployment is None or not _owns_replicas(deployment, MANAGER):
        return False
    replicas = (deployment.get("spec") or {}).get("replicas", 1)
    _call("PATCH", path("apps/v1", "Deployment", namespace, name),
          body={"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": name, "namespace": namespace},
                "spec": {"replicas": replicas}},
          query=[("fieldManager", HANDOVER), ("force", "true")],
          content_type="application/apply-patch+yaml")
    return True


def delete(api_version: str, kind: str, namespace: str | None, name: str) -> bool:
    """Delete the object (foreground-free); False when it was already gone."""
    try:
        _call("DELETE", path(api_version, kind, namespace, name),
              body={"propagationPolicy": "Background"})
    except KubeError as exc:
        if exc.status == 404:
            return False
        raise
    return True


def crd_exists(name: str) -> bool:
    return get("apiextensions.k8s.io/v1", "CustomResourceDefinition", None, name) is not None


def secret_keys(namespace: str, name: str) -> tuple[frozenset[str], dict[str, str]] | None:
    """The keys a Secret holds (never its values) and its labels, or None
    when it is missing."""
    secret = get("v1", "Secret", namespace, name)
    if secret is None:
        return None
    keys = frozenset(secret.get("data") or {}) | frozenset(secret.get("stringData") or {})
    return keys, dict(secret["metadata"].get("labels") or {})
