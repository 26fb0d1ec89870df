"""Metrics authorisation against the real kube-apiserver of the test environment.

The engine reviews tokens with its own service account token (bound to
``system:auth-delegator``, as the chart binds the engines' accounts); a
scraper's token with ``get`` on the non-resource URL ``/metrics`` is
accepted, a token without it and a made-up one are refused.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pyfixmsg_plus.engine.config import MetricsSettings
from pyfixmsg_plus.engine.observability.httpserver import HealthServer, new_registry

from tests import kubeclean
from tests.httptools import make_ca, make_server_cert, request
from tests.realparts import env_value, missing

pytestmark = pytest.mark.integration


class Kubectl:
    def __init__(self, kubectl: str, kubeconfig: str) -> None:
        self.kubectl, self.kubeconfig = kubectl, kubeconfig
        self.base = [kubectl, "--kubeconfig", kubeconfig]

    def __call__(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        proc = subprocess.run([*self.base, *args], input=stdin, capture_output=True, text=True,
                              timeout=60, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {proc.stderr}")
        return proc.stdout


@pytest.fixture(scope="module")
def kube() -> tuple[Kubectl, dict[str, Any]]:
    kubeconfig = env_value("FIXPLUS_KUBECONFIG")
    kubectl = env_value("FIXPLUS_KUBECTL")
    if not (kubeconfig and kubectl and Path(kubeconfig).is_file()):
        missing("no kube-apiserver: tests/env/20-kube.sh sets FIXPLUS_KUBECONFIG and "
                "FIXPLUS_KUBECTL (run tests/env/setup.sh)")
    assert kubeconfig and kubectl
    k = Kubectl(kubectl, kubeconfig)
    try:
        k("get", "--raw", "/readyz")
    except AssertionError as exc:
        missing(f"the kube-apiserver of {kubeconfig} does not answer: {exc}")
    config = yaml.safe_load(Path(kubeconfig).read_text())
    return k, config["clusters"][0]["cluster"]


@pytest.fixture(scope="module")
def accounts(kube: tuple[Kubectl, dict[str, Any]]) -> Iterator[dict[str, str]]:
    """Service accounts ``engine`` (may review), ``scraper`` (may get
    /metrics) and ``nobody``, in a new namespace; their tokens."""
    k, _ = kube
    ns = f"fixplus-metrics-{uuid.uuid4().hex[:8]}"
    cluster = kubeclean.Cluster(k.kubectl, k.kubeconfig)
    kubeclean.create_namespace(cluster, ns)
    objects = f"""
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: {ns}-auth-delegator}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:auth-delegator}}
subjects: [{{kind: ServiceAccount, name: engine, namespace: {ns}}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: {ns}-metrics-reader}}
rules: [{{nonResourceURLs: [/metrics], verbs: [get]}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: {ns}-metrics-reader}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {ns}-metrics-reader}}
subjects: [{{kind: ServiceAccount, name: scraper, namespace: {ns}}}]
"""
    try:
        for name in ("engine", "scraper", "nobody"):
            k("-n", ns, "create", "serviceaccount", name)
        k("apply", "-f", "-", stdin=objects)
        for user, args in ((f"system:serviceaccount:{ns}:engine",
                            ("create", "tokenreviews.authentication.k8s.io")),
                           (f"system:serviceaccount:{ns}:scraper", ("get", "/metrics"))):
            deadline = time.monotonic() + 30
            while k("auth", "can-i", *args, "--as", user, check=False).strip() != "yes":
                assert time.monotonic() < deadline, f"RBAC for {user} not in effect"
                time.sleep(0.2)
        yield {name: k("-n", ns, "create", "token", name, "--duration", "10m").strip()
               for name in ("engine", "scraper", "nobody")}
    finally:
        k("delete", "clusterrolebinding", f"{ns}-auth-delegator", f"{ns}-metrics-reader",
          "--ignore-not-found", check=False)
        k("delete", "clusterrole", f"{ns}-metrics-reader", "--ignore-not-found", check=False)
        kubeclean.delete_namespace(cluster, ns)


async def test_real_token_review(kube: tuple[Kubectl, dict[str, Any]],
                                 accounts: dict[str, str], tmp_path: Path) -> None:
    _, cluster = kube
    cert = make_server_cert(tmp_path, make_ca(tmp_path))
    token_file = tmp_path / "token"
    token_file.write_text(accounts["engine"])
    settings = MetricsSettings.model_validate({
        "enabled": True, "port": 0,
        "tls": {"certFile": str(cert.cert), "keyFile": str(cert.key)},
        "authorization": "tokenReview",
        "tokenReview": {"apiServer": cluster["server"],
                        "caFile": cluster["certificate-authority"],
                        "tokenFile": str(token_file)},
    })
    server = HealthServer(settings, new_registry(), list)
    await server.start()
    port = server.bound_port
    try:
        ok = await request(port, "/metrics", ca=cert.ca, token=accounts["scraper"])
        assert ok.status == 200 and b"process_resident_memory_bytes" in ok.body
        assert server.reviewer is not None and server.reviewer.api_calls == 2
        for _ in range(3):  # cached
            assert (await request(port, "/metrics", ca=cert.ca,
                                  token=accounts["scraper"])).status == 200
        assert server.reviewer.api_calls == 2
        # valid token, but no right to /metrics (the SubjectAccessReview says no)
        assert (await request(port, "/metrics", ca=cert.ca,
                              token=accounts["nobody"])).status == 403
        # a made-up token (well formed, wrong signature)
        bogus = accounts["scraper"][:-8] + "AAAAAAAA"
        assert (await request(port, "/metrics", ca=cert.ca, token=bogus)).status == 403
        assert (await request(port, "/metrics", ca=cert.ca, token="bogus")).status == 403
        assert (await request(port, "/metrics", ca=cert.ca)).status == 401
        assert (await request(port, "/readyz", ca=cert.ca)).status == 200
    finally:
        await server.stop()

    # an engine token without the right to review tokens gets no verdict: 503
    token_file.write_text(accounts["nobody"])
    server = HealthServer(settings, new_registry(), list)
    await server.start()
    try:
        answer = await request(server.bound_port, "/metrics", ca=cert.ca,
                               token=accounts["scraper"])
        assert answer.status == 503
    finally:
        await server.stop()
