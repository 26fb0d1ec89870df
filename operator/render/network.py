"""NetworkPolicy, Istio routing and the Prometheus ServiceMonitor.

The NetworkPolicy opens the FIX port only to the counterparty CIDRs and lets
the pod reach only DNS, its message store, Vault (when used), istiod (when
in the mesh) and the counterparty.  With Istio, the DestinationRule keeps
quiet sessions alive: TCP keepalive and an idle timeout longer than the
heartbeat (Istio cuts idle TCP connections after an hour by default).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..models import IstioSpec, NetworkPolicySpec, PodSettings
from .common import Obj, Owner, meta, selector_labels
from .workload import FIX_PORT_NAME, METRICS_PORT_NAME

DNS_PORTS = [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
VAULT_PORT = 8200
ISTIOD_PORT = 15012


@dataclasses.dataclass(frozen=True)
class NetworkInput:
    fix_port: int | None  # acceptor port
    counterparty_ports: tuple[int, ...] = ()  # initiator: ports it connects to
    store_port: int | None = None
    vault: bool = False
    metrics_port: int | None = None


def network_policy(owner: Owner, spec: NetworkPolicySpec, istio: IstioSpec,
                   inp: NetworkInput) -> Obj | None:
    if not spec.enabled:
        return None
    cidrs: list[dict[str, Any]] = [{"ipBlock": {"cidr": c}} for c in spec.counterparty_cidrs]
    if spec.counterparty_pods:
        cidrs.append({"podSelector": {"matchLabels": dict(spec.counterparty_pods)}})
    ingress: list[dict[str, Any]] = []
    if inp.fix_port is not None and cidrs:
        ingress.append({"from": cidrs, "ports": [{"protocol": "TCP", "port": inp.fix_port}]})
    if inp.metrics_port is not None:
        ingress.append({
            "from": [{"namespaceSelector": {"matchLabels": dict(spec.metrics_namespace_selector)}}],
            "ports": [{"protocol": "TCP", "port": inp.metrics_port}],
        })
    egress: list[dict[str, Any]] = [{"ports": DNS_PORTS}]
    if inp.store_port is not None:
        egress.append({"ports": [{"protocol": "TCP", "port": inp.store_port}]})
    if inp.counterparty_ports:
        rule: dict[str, Any] = {
            "ports": [{"protocol": "TCP", "port": p} for p in sorted(set(inp.counterparty_ports))]
        }
        if cidrs:
            rule = {"to": cidrs, **rule}
        egress.append(rule)
    if inp.vault:
        egress.append({"ports": [{"protocol": "TCP", "port": VAULT_PORT}]})
    if istio.enabled:
        egress.append({"ports": [{"protocol": "TCP", "port": ISTIOD_PORT}]})
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": meta(owner),
        "spec": {
            "podSelector": {"matchLabels": selector_labels(owner)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": ingress,
            "egress": egress,
        },
    }


def istio_objects(owner: Owner, istio: IstioSpec, fix_port: int | None) -> list[Obj]:
    """VirtualService (a ``tcp`` route), DestinationRule, PeerAuthentication."""
    if not istio.enabled:
        return []
    host = owner.service_host
    objects: list[Obj] = []
    if fix_port is not None:
        objects.append({
            "apiVersion": "networking.istio.io/v1",
            "kind": "VirtualService",
            "metadata": meta(owner),
            "spec": {
                "hosts": [host],
                "tcp": [{"match": [{"port": fix_port}],
                         "route": [{"destination": {"host": host,
                                                    "port": {"number": fix_port}}}]}],
            },
        })
    keep = istio.tcp_keepalive
    objects.append({
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": meta(owner),
        "spec": {
            "host": host,
            "trafficPolicy": {
                "connectionPool": {"tcp": {
                    "connectTimeout": istio.connect_timeout,
                    "idleTimeout": istio.idle_timeout,
                    "tcpKeepalive": {"time": keep.time, "interval": keep.interval,
                                     "probes": keep.probes},
                }},
                "tls": {"mode": "ISTIO_MUTUAL" if istio.mtls_mode == "STRICT" else "DISABLE"},
            },
        },
    })
    objects.append({
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": meta(owner),
        "spec": {"selector": {"matchLabels": selector_labels(owner)},
                 "mtls": {"mode": istio.mtls_mode}},
    })
    return objects


#: The token Prometheus presents: its own service account's (it needs RBAC
#: ``get`` on the non-resource URL of the metrics path).
PROMETHEUS_TOKEN_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/token"


def service_monitor(owner: Owner, pod: PodSettings) -> Obj | None:
    """Scrape the metrics port; over HTTPS (verified against the Secret's CA
    for the Service's name) and with Prometheus's bearer token when the
    engine asks for them."""
    m = pod.metrics
    if not m.enabled:
        return None
    endpoint: dict[str, Any] = {"port": METRICS_PORT_NAME, "path": m.path, "interval": "30s"}
    if m.tls is not None:
        tls_config: dict[str, Any] = {"serverName": owner.service_host}
        if m.tls.ca_key:
            tls_config["ca"] = {"secret": {"name": m.tls.secret_name, "key": m.tls.ca_key}}
        else:
            tls_config["insecureSkipVerify"] = True
        endpoint.update({"scheme": "https", "tlsConfig": tls_config})
    if m.authorization == "tokenReview":
        endpoint["bearerTokenFile"] = PROMETHEUS_TOKEN_FILE
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": meta(owner),
        "spec": {
            "selector": {"matchLabels": selector_labels(owner)},
            "namespaceSelector": {"matchNames": [owner.namespace]},
            "endpoints": [endpoint],
        },
    }


__all__ = ["FIX_PORT_NAME", "NetworkInput", "istio_objects", "network_policy",
           "service_monitor"]
