"""What a kubelet and a counterparty outside the cluster see: Service type,
probes that do not kill a busy pod, readiness from the FIX logon, stores that
outlive their pod.  Pure (no cluster)."""

from __future__ import annotations

from typing import Any

import pytest
from pyfixmsg_plus.operator.models import FixSessionSpec, MessageStoreSpec
from pyfixmsg_plus.operator.render import (
    Owner,
    SessionContext,
    ephemeral_store,
    render_fix_session,
)
from pyfixmsg_plus.operator.render.config import StoreInput

OWNER = Owner("fixplus.io/v1alpha1", "FixSession", "orders", "trading", "uid-123", 2)
ACCEPTOR: dict[str, Any] = {"role": "acceptor", "beginString": "FIX.4.4", "senderCompId": "BRK",
                            "targetCompId": "CLI", "acceptPort": 9878,
                            "authentication": {"mode": "none"}}


def session(extra: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    spec = FixSessionSpec.model_validate({**ACCEPTOR, **(extra or {})})
    return {o["kind"]: o for o in render_fix_session(SessionContext(OWNER, spec)).objects}


def test_cluster_ip_by_default_and_published_before_logon() -> None:
    spec = session()["Service"]["spec"]
    assert spec["type"] == "ClusterIP"
    assert "externalTrafficPolicy" not in spec
    # the pod is Ready once logged on; the Logon comes through this Service
    assert spec["publishNotReadyAddresses"] is True


@pytest.mark.parametrize("kind", ["NodePort", "LoadBalancer"])
def test_outside_counterparties_keep_their_address(kind: str) -> None:
    svc = session({"service": {"type": kind, "nodePort": 30878,
                               "annotations": {"lb.example/internal": "true"}}})["Service"]
    assert svc["spec"]["type"] == kind
    assert svc["spec"]["externalTrafficPolicy"] == "Local"
    fix = svc["spec"]["ports"][0]
    assert fix["name"] == "tcp-fix" and fix["nodePort"] == 30878
    assert "nodePort" not in svc["spec"]["ports"][1]  # metrics stay inside
    assert svc["metadata"]["annotations"] == {"lb.example/internal": "true"}


def test_probes_are_generous_and_readiness_is_the_logon() -> None:
    c = session()["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    live, ready = c["livenessProbe"], c["readinessProbe"]
    assert live["httpGet"]["path"] == "/healthz"
    # a restart is a failover: a minute without an answer before the kubelet kills
    assert live["timeoutSeconds"] >= 10
    assert live["periodSeconds"] * live["failureThreshold"] >= 60
    assert ready["httpGet"]["path"] == "/readyz?logon=1"
    assert ready != live
    assert c["startupProbe"]["httpGet"]["path"] == "/healthz"


def test_counterparty_pods_open_the_fix_port() -> None:
    pods = {"fixplus.io/owner-name": "client"}
    np = session({"networkPolicy": {"counterpartyPods": pods}})["NetworkPolicy"]["spec"]
    assert np["ingress"][0] == {"from": [{"podSelector": {"matchLabels": pods}}],
                                "ports": [{"protocol": "TCP", "port": 9878}]}


def _store(spec: dict[str, Any]) -> StoreInput:
    return StoreInput("st", MessageStoreSpec.model_validate(spec))


def test_a_store_that_a_new_pod_starts_empty_is_named() -> None:
    assert "no spec.storeRef" in (ephemeral_store(None) or "")
    assert "emptyDir" in (ephemeral_store(_store({"type": "sqlite"})) or "")
    assert ephemeral_store(_store({"type": "sqlite", "sqlite": {"ephemeral": True}})) is None
    assert ephemeral_store(_store({"type": "sqlite", "sqlite": {"claimName": "fix-data"}})) \
        is None
    assert ephemeral_store(_store({
        "type": "redis", "redis": {"host": "r"},
        "credentials": {"secretRef": {"name": "x"}}})) is None
