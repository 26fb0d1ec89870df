"""The chart's operator as a pod, and the examples of manifests/ on the node.

The operator runs in its pod with the chart's ServiceAccount (in-cluster
configuration: no kubeconfig is given to it) and is the only operator of the
release's namespace: every resource reconciled here was reconciled by it.

Each example of manifests/ is applied as it is, except what points outside
this host: database and counterparty addresses become the host's (the test
PostgreSQL and Redis, through relays on the host's address), the placeholder
TLS Secret is made, Vault credentials of a store become a Secret, and CPU
requests fit the 2-core node.  Every engine pod of the example must then
become Ready through its own probes.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.e2e.conftest import Cluster, Namespace, Postgres, Release, free_port, wait_for
from tests.e2e.hostproxy import HostProxy
from tests.realparts import REPO, env_value, missing

pytestmark = pytest.mark.integration

MANIFESTS = sorted((REPO / "manifests").glob("*.yaml"))
PREFIX = {"FixSession": "fixs", "FixCluster": "fixc"}


def test_operator_runs_in_a_pod_with_the_charts_service_account(
        cluster: Cluster, release: Release) -> None:
    pod = release.operator_pod
    spec = pod["spec"]
    assert spec["serviceAccountName"] == f"{release.name}-pyfixmsg-plus"
    container = spec["containers"][0]
    assert container["command"] == ["fixplus-operator"]
    assert container["image"].endswith(cluster.image.rsplit("/", 1)[-1])
    assert not any(e["name"] == "KUBECONFIG" for e in container.get("env", []))
    # the engine image it hands out comes from the chart's image setting
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    assert env["FIXPLUS_ENGINE_IMAGE"].endswith(cluster.image.rsplit("/", 1)[-1])
    # it reconciles with that identity: a MessageStore gets its status
    ns = release.namespace
    ns.apply([{"apiVersion": "fixplus.io/v1alpha1", "kind": "MessageStore",
               "metadata": {"name": "probe-store"}, "spec": {"type": "sqlite"}}])
    wait_for("the operator pod to reconcile a MessageStore", lambda: any(
        c["type"] == "Reconciled" and c["status"] == "True"
        for c in ((ns.get("messagestore", "probe-store") or {}).get("status") or {})
        .get("conditions", [])), 90)
    ns.run("delete", "messagestore", "probe-store", "--wait=true", "--timeout=60s", check=False)


@pytest.fixture(scope="module")
def redis(cluster: Cluster) -> Iterator[tuple[HostProxy, str]]:
    url = env_value("FIXPLUS_REDIS_URL")
    if not url:
        missing("no Redis: tests/env/11-redis.sh sets FIXPLUS_REDIS_URL")
    parts = urlsplit(str(url))
    assert parts.hostname and parts.port and parts.password
    proxy = HostProxy(cluster.host_ip, parts.hostname, parts.port)
    proxy.start()
    try:
        yield proxy, parts.password
    finally:
        proxy.stop()


def _tls_secret(ns: Namespace, name: str, where: Path) -> None:
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    "tls.key", "-out", "tls.crt", "-days", "2", "-subj", "/CN=fix-acceptor"],
                   cwd=where, check=True, capture_output=True)
    (where / "ca.crt").write_bytes((where / "tls.crt").read_bytes())
    ns.run("create", "secret", "generic", name, "--type=kubernetes.io/tls",
           f"--from-file={where / 'tls.crt'}", f"--from-file={where / 'tls.key'}",
           f"--from-file={where / 'ca.crt'}")
    ns.run("label", "secret", name, "fixplus.io/allow-reference=true")


def _local(docs: list[dict[str, Any]], cluster: Cluster, postgres: Postgres,
           redis: tuple[HostProxy, str]) -> list[dict[str, Any]]:
    """The example, with what points outside this host pointed at it."""
    closed_port = free_port(cluster.host_ip)  # nothing listens: initiators retry
    out: list[dict[str, Any]] = []
    for doc in docs:
        kind, spec = doc["kind"], doc.get("spec", {})
        if kind == "Secret" and "username" in doc.get("stringData", {}):
            doc["stringData"] = {"username": postgres.user, "password": postgres.password}
        if kind == "MessageStore" and spec["type"] == "postgresql":
            spec["postgresql"].update(host=postgres.host, port=postgres.port,
                                      database=postgres.database, sslMode="disable")
        if kind == "MessageStore" and spec["type"] == "redis":
            proxy, password = redis
            spec["redis"] = {"host": cluster.host_ip, "port": proxy.port}
            spec.pop("encryption", None)
            name = f"{doc['metadata']['name']}-password"
            out.append({"apiVersion": "v1", "kind": "Secret",
                        "metadata": {"name": name,
                                     "labels": {"fixplus.io/allow-reference": "true"}},
                        "stringData": {"username": "default", "password": password}})
            spec["credentials"] = {"secretRef": {"name": name}}
        sessions = spec.get("sessions", [spec]) if kind in PREFIX else []
        for session in sessions:
            for endpoint in session.get("connect", []):
                endpoint.update(host=cluster.host_ip, port=closed_port)
        requests = spec.get("resources", {}).get("requests", {})
        if "cpu" in requests:
            requests["cpu"] = "100m"
            spec["resources"].get("limits", {}).pop("cpu", None)
        out.append(doc)
    return out


@pytest.mark.parametrize("manifest", MANIFESTS, ids=[m.stem for m in MANIFESTS])
def test_every_example_runs_and_its_pods_become_ready(
        cluster: Cluster, release: Release, postgres: Postgres,
        redis: tuple[HostProxy, str], tmp_path: Path, manifest: Path) -> None:
    ns = release.namespace
    docs = [d for d in yaml.safe_load_all(manifest.read_text()) if d]
    tls = {d["spec"]["tls"]["secretName"] for d in docs
           if d["kind"] == "FixSession" and d["spec"].get("tls")}
    for name in tls:
        if ns.get("secret", name) is None:
            _tls_secret(ns, name, tmp_path)
    local = _local(docs, cluster, postgres, redis)
    ns.apply(local)
    owners = [d for d in local if d["kind"] in PREFIX]
    try:
        for owner in owners:
            child = f"{PREFIX[owner['kind']]}-{owner['metadata']['name']}"
            want = int(owner["spec"].get("minReplicas", 1))

            if owner["kind"] == "FixSession":
                # A FixSession pod is Ready once its FIX session is logged on
                # (docs/operator.md); an example with no counterparty here never
                # is.  Its probes must still pass as they should: the engine
                # started and live (no restart), and the operator reading the
                # logon state through the readiness probe (Ready False,
                # NotLoggedOn) rather than a failing pod.
                name = owner["metadata"]["name"]

                def ready(child: str = child, want: int = want,
                          name: str = name) -> list[str] | None:
                    names = [p["metadata"]["name"] for p in ns.pods(child)
                             if p["status"].get("phase") == "Running"
                             and all(c.get("started") and c.get("restartCount", 0) == 0
                                     for c in p["status"].get("containerStatuses", []))]
                    status = (ns.get("fixsession", name) or {}).get("status") or {}
                    reasons = {c["reason"] for c in status.get("conditions", [])
                               if c["type"] == "Ready"}
                    if not reasons - {"DeploymentMissing", "Paused"}:
                        return None  # the operator has not read the pods yet
                    return names if len(names) >= want else None
            else:
                def ready(child: str = child, want: int = want,
                          name: str = "") -> list[str] | None:
                    names = [p["metadata"]["name"] for p in ns.pods(child)
                             if any(c["type"] == "Ready" and c["status"] == "True"
                                    for c in p["status"].get("conditions", []))]
                    return names if len(names) >= want else None
            wait_for(f"{want} started pod(s) of {child} ({manifest.name})", ready, 150,
                     describe=lambda child=child: ns.describe(child))  # type: ignore[misc]
    finally:
        for doc in reversed(local):
            ns.run("delete", doc["kind"].lower(), doc["metadata"]["name"], "--wait=true",
                   "--timeout=60s", check=False)
