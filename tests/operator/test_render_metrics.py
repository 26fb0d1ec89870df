"""The metrics endpoint as the operator renders it: bind address, TLS,
token authorisation, probes and the ServiceMonitor."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from pyfixmsg_plus.engine.config import parse_config
from pyfixmsg_plus.operator import crdgen
from pyfixmsg_plus.operator.models import FixClusterSpec, FixSessionSpec, MessageStoreSpec
from pyfixmsg_plus.operator.render import (
    ClusterContext,
    Owner,
    RenderError,
    SessionContext,
    render_fix_cluster,
    render_fix_session,
)
from pyfixmsg_plus.operator.render.config import StoreInput

OWNER = Owner("fixplus.io/v1alpha1", "FixSession", "orders", "trading", "uid-123", 2)
ACCEPTOR: dict[str, Any] = {"role": "acceptor", "beginString": "FIX.4.4", "senderCompId": "BRK",
                            "targetCompId": "CLI", "acceptPort": 9878,
                            "authentication": {"mode": "none"}}
SECURED = {"metrics": {"tls": {"secretName": "metrics-cert"}, "authorization": "tokenReview"}}


def _session(extra: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    spec = FixSessionSpec.model_validate({**ACCEPTOR, **(extra or {})})
    rendered = render_fix_session(SessionContext(OWNER, spec, service_monitor=True))
    return {o["kind"]: o for o in rendered.objects}


def _engine_metrics(objs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    data = yaml.safe_load(objs["ConfigMap"]["data"]["engine.yaml"])
    return dict(data["metrics"])


def test_pods_listen_on_every_address_explicitly() -> None:
    objs = _session()
    metrics = _engine_metrics(objs)
    assert metrics == {"enabled": True, "host": "0.0.0.0", "port": 9464, "path": "/metrics"}
    config = parse_config(yaml.safe_load(objs["ConfigMap"]["data"]["engine.yaml"]),
                          resolve_secrets=False)
    assert config.metrics.host == "0.0.0.0" and config.metrics.authorization == "none"
    pod = objs["Deployment"]["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert "tlsConfig" not in objs["ServiceMonitor"]["spec"]["endpoints"][0]


def test_tls_and_token_review_in_config_pod_and_service_monitor() -> None:
    objs = _session(SECURED)
    config = parse_config(yaml.safe_load(objs["ConfigMap"]["data"]["engine.yaml"]),
                          resolve_secrets=False)
    m = config.metrics
    assert m.host == "0.0.0.0" and m.authorization == "tokenReview"
    assert m.tls is not None
    assert m.tls.cert_file == "/var/run/secrets/fixplus/metrics-tls/tls.crt"
    assert m.tls.key_file == "/var/run/secrets/fixplus/metrics-tls/tls.key"
    # the in-cluster defaults: the pod's own token and CA, the API server from the environment
    assert m.token_review.api_server is None and m.token_review.subject_access_review
    assert m.token_review.token_file == "/var/run/secrets/kubernetes.io/serviceaccount/token"

    pod = objs["Deployment"]["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is True  # the engine reviews with it
    assert {"name": "metrics-tls", "secret": {
        "secretName": "metrics-cert", "defaultMode": 0o440,
        "items": [{"key": "tls.crt", "path": "tls.crt"}, {"key": "tls.key", "path": "tls.key"}],
    }} in pod["volumes"]
    container = pod["containers"][0]
    assert {"name": "metrics-tls", "mountPath": "/var/run/secrets/fixplus/metrics-tls",
            "readOnly": True} in container["volumeMounts"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        get = container[probe]["httpGet"]
        assert get["scheme"] == "HTTPS" and "httpHeaders" not in get  # no token for probes
    annotations = objs["Deployment"]["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scheme"] == "https"

    (endpoint,) = objs["ServiceMonitor"]["spec"]["endpoints"]
    assert endpoint["scheme"] == "https"
    assert endpoint["tlsConfig"] == {
        "serverName": "fixs-orders.trading.svc.cluster.local",
        "ca": {"secret": {"name": "metrics-cert", "key": "ca.crt"}}}
    assert endpoint["bearerTokenFile"] == "/var/run/secrets/kubernetes.io/serviceaccount/token"


def test_tls_without_ca_skips_verification_and_sar_can_be_off() -> None:
    objs = _session({"metrics": {"tls": {"secretName": "metrics-cert", "caKey": None},
                                 "authorization": "tokenReview",
                                 "subjectAccessReview": False}})
    (endpoint,) = objs["ServiceMonitor"]["spec"]["endpoints"]
    assert endpoint["tlsConfig"]["insecureSkipVerify"] is True
    assert _engine_metrics(objs)["tokenReview"] == {"subjectAccessReview": False}
    tls_only = _session({"metrics": {"tls": {"secretName": "metrics-cert"}}})
    assert "bearerTokenFile" not in tls_only["ServiceMonitor"]["spec"]["endpoints"][0]
    pod = tls_only["Deployment"]["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False


def test_token_review_without_tls_is_refused() -> None:
    with pytest.raises(RenderError, match="needs tls"):
        _session({"metrics": {"authorization": "tokenReview"}})
    crd = yaml.safe_load(crdgen.render_files()["fixsessions.fixplus.io.yaml"])
    metrics = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"][
        "properties"]["metrics"]
    assert any("tokenReview" in r["rule"] for r in metrics["x-kubernetes-validations"])


def test_cluster_pods_get_the_same() -> None:
    owner = Owner("fixplus.io/v1alpha1", "FixCluster", "gw", "trading", "uid-9", 1)
    spec = FixClusterSpec.model_validate({"port": 9878, "storeRef": "pg", **SECURED,
                                          "sessions": [ACCEPTOR]})
    store = StoreInput("pg", MessageStoreSpec.model_validate(
        {"type": "postgresql", "postgresql": {"host": "db", "database": "fix"}}))
    objs = {o["kind"]: o for o in render_fix_cluster(
        ClusterContext(owner, spec, store, service_monitor=True)).objects}
    assert _engine_metrics(objs)["authorization"] == "tokenReview"
    assert objs["Deployment"]["spec"]["template"]["spec"]["automountServiceAccountToken"] is True
    assert objs["ServiceMonitor"]["spec"]["endpoints"][0]["scheme"] == "https"
