"""The operator against a real kube-apiserver and etcd (tests/env/20-kube.sh).

There is no kubelet and no scheduler: pods are never started, so ``Ready``
stays False (``NotLoggedOn`` for a FixSession, whose pod is ready only when
its FIX session is logged on; ``PodsNotAvailable`` for a FixCluster), which
the tests assert too.  When the
environment also runs kube-controller-manager (``FIXPLUS_KUBE_GC=1``), its
garbage collector, deployment and replica-set controllers let the tests see
deletion cascade through owner references and an update roll a new
ReplicaSet; without it they check the owner references only.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.operator.conftest import Kube, condition, wait_for
from tests.realparts import REPO, env_value, missing

pytestmark = pytest.mark.integration

CONFIG_HASH = "fixplus.io/config-hash"
ALLOW = "fixplus.io/allow-reference"
NO_AUTH = {"authentication": {"mode": "none"}}  # test sessions: any counterparty


def _reconciled(kube: Kube, kind: str, name: str) -> dict[str, Any] | None:
    obj = kube.get(kind, name)
    cond = condition(obj, "Reconciled")
    if obj and cond and cond["status"] == "True" and \
            obj["status"].get("observedGeneration") == obj["metadata"]["generation"]:
        return obj
    return None


def _tls_secret(kube: Kube, tmp: Path, name: str) -> None:
    def ssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=tmp, check=True, capture_output=True)

    ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "tls.key", "-out", "tls.crt",
        "-days", "2", "-subj", "/CN=fix-acceptor")
    (tmp / "ca.crt").write_bytes((tmp / "tls.crt").read_bytes())
    kube.run("create", "secret", "generic", name, "--type=kubernetes.io/tls",
             f"--from-file={tmp / 'tls.crt'}", f"--from-file={tmp / 'tls.key'}",
             f"--from-file={tmp / 'ca.crt'}")
    kube.run("label", "secret", name, f"{ALLOW}=true")


def _degraded(kube: Kube, kind: str, name: str, reason: str) -> dict[str, Any]:
    """The Degraded condition once it has ``reason`` (for this generation)."""
    def probe() -> dict[str, Any] | None:
        obj = kube.get(kind, name)
        cond = condition(obj, "Degraded")
        if obj and cond and cond["status"] == "True" and cond["reason"] == reason and \
                cond.get("observedGeneration") == obj["metadata"]["generation"]:
            return cond
        return None
    return wait_for(f"{kind} {name} Degraded ({reason})", probe)


def test_api_server_rejects_invalid_resources_with_readable_messages(kube: Kube) -> None:
    base = {"apiVersion": "fixplus.io/v1alpha1", "kind": "FixSession",
            "metadata": {"name": "bad"}}
    session = {"role": "initiator", "beginString": "FIX.4.4", "senderCompId": "A",
               "targetCompId": "B", "connect": [{"host": "h", "port": 1}]}
    cases = [
        ({**session, "connect": []}, "an initiator session needs at least one connect endpoint"),
        ({**session, "beginString": "FIX.9.9"}, 'Unsupported value: "FIX.9.9"'),
        ({**session, "heartbeatIntreval": 5}, 'unknown field "spec.heartbeatIntreval"'),
        ({**session, "beginString": "FIXT.1.1"},
         "defaultApplVerId is required for FIXT.1.1 sessions and only allowed there"),
        ({**session, "heartbeatInterval": 7200, "istio": {"enabled": True, "idleTimeout": "3h"}},
         "istio.idleTimeout must be longer than twice heartbeatInterval"),
        ({**session, "logon": {"passwordSecretRef": {"name": "a"},
                               "vault": {"role": "r", "path": "p"}}},
         "give the password either as passwordSecretRef or from vault, not both"),
        ({**session, "networkPolicy": {"counterpartyCidrs": ["not-a-cidr"]}},
         "spec.networkPolicy.counterpartyCidrs[0]"),
        ({**session, **NO_AUTH}, "authentication is for acceptor sessions"),
        ({**session, "role": "acceptor", "acceptPort": 1,
          "authentication": {"mode": "none", "username": "U"}},
         "authentication.mode none allows no other authentication key"),
        ({**session, "role": "acceptor", "acceptPort": 1, "authentication": {}},
         "authentication.mode required needs at least one check"),
        ({**session, "role": "acceptor", "acceptPort": 1,
          "authentication": {"certificate": {"subject": "CN=x"}}},
         "authentication.certificate needs tls.requireClientCert: true"),
    ]
    for spec, message in cases:
        proc = kube.run("apply", "-f", "-", stdin=json.dumps({**base, "spec": spec}),
                        check=False)
        assert proc.returncode != 0, f"accepted: {spec}"
        assert message in proc.stderr, proc.stderr
    cluster = {"apiVersion": "fixplus.io/v1alpha1", "kind": "FixCluster",
               "metadata": {"name": "bad"},
               "spec": {"storeRef": "s", "minReplicas": 5, "maxReplicas": 2,
                        "sessions": [{**session, "role": "initiator"}]}}
    proc = kube.run("apply", "-f", "-", stdin=json.dumps(cluster), check=False)
    assert "minReplicas must not exceed maxReplicas" in proc.stderr
    assert "a FixCluster serves acceptor sessions" in proc.stderr
    store = {"apiVersion": "fixplus.io/v1alpha1", "kind": "MessageStore",
             "metadata": {"name": "bad"}, "spec": {"type": "postgresql"}}
    proc = kube.run("apply", "-f", "-", stdin=json.dumps(store), check=False)
    assert "a postgresql store needs the postgresql connection settings" in proc.stderr
    for kind in ("fixsession", "fixcluster", "messagestore"):
        assert kube.get(kind, "bad") is None, f"a refused {kind} was stored"


@pytest.fixture(scope="module")
def examples(kube: Kube) -> Kube:
    """The example resources of manifests/ applied in the module's namespace
    (the tests below that change them wait for them to settle again)."""
    for path in sorted((REPO / "manifests").glob("*.yaml")):
        kube.run("apply", "-f", str(path))
    wait_for("broker-orders reconciled", lambda: _reconciled(kube, "fixsession",
                                                              "broker-orders"))
    wait_for("gateway reconciled", lambda: _reconciled(kube, "fixcluster", "gateway"))
    return kube


def test_examples_reconcile_to_their_owned_objects(examples: Kube, tmp_path: Path) -> None:
    kube = examples

    # -- initiator with a PostgreSQL MessageStore ---------------------------------
    fs = wait_for("broker-orders reconciled", lambda: _reconciled(kube, "fixsession",
                                                                   "broker-orders"))
    uid = fs["metadata"]["uid"]
    st = fs["status"]
    assert st["sessionIds"] == ["FIX.4.4:CLIENT1->BROKER"]
    ready = condition(fs, "Ready")
    assert ready and ready["status"] == "False" and ready["reason"] == "NotLoggedOn"
    assert ready["observedGeneration"] == fs["metadata"]["generation"]
    owned = {(o["kind"], o["name"]) for o in st["owned"]}
    assert owned == {("ConfigMap", "fixs-broker-orders-config"),
                     ("ServiceAccount", "fixs-broker-orders"),
                     ("Deployment", "fixs-broker-orders"), ("Service", "fixs-broker-orders"),
                     ("NetworkPolicy", "fixs-broker-orders"),
                     ("PodDisruptionBudget", "fixs-broker-orders"),
                     ("ServiceMonitor", "fixs-broker-orders")}
    for kind, name in owned:
        obj = kube.get(kind, name)
        assert obj is not None, (kind, name)
        refs = obj["metadata"]["ownerReferences"]
        assert refs[0]["uid"] == uid and refs[0]["controller"] is True
        assert obj["metadata"]["managedFields"][0]["manager"] == "fixplus-operator"
        assert obj["metadata"]["managedFields"][0]["operation"] == "Apply"
    cm = kube.get("configmap", "fixs-broker-orders-config")
    assert cm is not None
    text = cm["data"]["engine.yaml"]
    assert "change-me" not in text
    config = yaml.safe_load(text)
    assert config["store"].startswith("postgresql://${FIXPLUS_STORE_USERNAME}@postgres.")
    assert config["retention"] == {"maxAgeDays": 30.0, "sessionIdleDays": 90.0,
                                   "interval": 3600.0}
    assert config["sessions"][0]["password"] == (
        "${FILE:/var/run/secrets/fixplus/logon-session/password}")
    dep = kube.get("deployment", "fixs-broker-orders")
    assert dep is not None
    spec = dep["spec"]
    assert spec["replicas"] == 1 and spec["strategy"]["type"] == "Recreate"
    pod = spec["template"]
    assert pod["metadata"]["annotations"][CONFIG_HASH] == st["configHash"] == \
        cm["metadata"]["annotations"][CONFIG_HASH]
    container = pod["spec"]["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert pod["spec"]["serviceAccountName"] == "fixs-broker-orders"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert {"name": "FIXPLUS_STORE_USERNAME", "valueFrom": {"secretKeyRef": {
        "name": "fix-store-credentials", "key": "username"}}} in container["env"]
    np = kube.get("networkpolicy", "fixs-broker-orders")
    assert np is not None
    assert {"ports": [{"protocol": "TCP", "port": 5432}]} in np["spec"]["egress"]
    store = wait_for("orders-store ready", lambda: _reconciled(kube, "messagestore",
                                                                "orders-store"))
    assert condition(store, "Ready")["status"] == "True"  # type: ignore[index]
    reasons = {e["reason"] for e in kube.events("broker-orders")}
    assert "Created" in reasons
    table = kube.run("get", "fixsessions").stdout
    assert "READY" in table and "broker-orders" in table

    # -- acceptor with TLS: a missing Secret is a condition, then it resolves ----
    gw = wait_for("client-gateway reports the missing Secret", lambda: (
        (c := condition(kube.get("fixsession", "client-gateway"), "Reconciled"))
        and c["reason"] == "SecretNotFound" and c))
    assert gw["status"] == "False" and "fix-acceptor-tls" in gw["message"]
    degraded = condition(kube.get("fixsession", "client-gateway"), "Degraded")
    assert degraded and degraded["status"] == "True"
    assert kube.get("deployment", "fixs-client-gateway") is None
    assert any(e["reason"] == "SecretNotFound" and e["type"] == "Warning"
               for e in kube.events("client-gateway"))
    _tls_secret(kube, tmp_path, "fix-acceptor-tls")
    wait_for("client-gateway reconciled", lambda: _reconciled(kube, "fixsession",
                                                               "client-gateway"))
    svc = kube.get("service", "fixs-client-gateway")
    assert svc is not None
    fix_port = svc["spec"]["ports"][0]
    assert fix_port["name"] == "tcp-fix" and fix_port["appProtocol"] == "tcp"
    assert fix_port["port"] == 9443
    assert svc["spec"]["ports"][1]["name"] == "http-metrics"
    # reachable from outside, keeping the client's address; published before logon
    assert svc["spec"]["type"] == "NodePort" and fix_port["nodePort"] >= 30000
    assert svc["spec"]["externalTrafficPolicy"] == "Local"
    assert svc["spec"]["publishNotReadyAddresses"] is True
    # its SQLite store is declared ephemeral: not Degraded
    assert condition(kube.get("fixsession", "client-gateway"), "Degraded")["status"] \
        == "False"  # type: ignore[index]
    gw_config = yaml.safe_load(kube.get("configmap", "fixs-client-gateway-config")
                               ["data"]["engine.yaml"])  # type: ignore[index]
    tls = gw_config["sessions"][0]["tls"]
    assert tls["requireClientCert"] is True and tls["caFile"].endswith("/ca.crt")
    assert gw_config["sessions"][0]["authentication"] == {
        "mode": "required", "username": "CLIENT2",
        "password": "${FILE:/var/run/secrets/fixplus/auth-session/password}",
        "certificate": {"dnsNames": ["client2.example"]},
        "allowedAddresses": ["192.0.2.0/24"]}
    assert "change-me-client2" not in str(gw_config)
    pdb = kube.get("poddisruptionbudget", "fixs-client-gateway")
    assert pdb is not None and pdb["spec"]["maxUnavailable"] == 0

    # -- low latency: busyPollUs in the engine config, Guaranteed resources ------
    wait_for("fast-orders reconciled", lambda: _reconciled(kube, "fixsession", "fast-orders"))
    fast = yaml.safe_load(kube.get("configmap", "fixs-fast-orders-config")
                          ["data"]["engine.yaml"])  # type: ignore[index]
    assert fast["busyPollUs"] == 200
    fast_dep = kube.get("deployment", "fixs-fast-orders")
    assert fast_dep is not None
    res = fast_dep["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert res["requests"] == res["limits"] == {"cpu": "2", "memory": "512Mi"}

    # -- FixCluster with autoscaling and Istio ----------------------------------
    fc = wait_for("gateway reconciled", lambda: _reconciled(kube, "fixcluster", "gateway"))
    # (other tests may have added sessions of their own to the pool)
    assert {"FIX.4.2:GATEWAY->FUND1", "FIX.4.4:GATEWAY->FUND2"} <= set(fc["status"]["sessionIds"])
    hpa = kube.get("hpa", "fixc-gateway")
    assert hpa is not None and hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["minReplicas"] == 2 and hpa["spec"]["maxReplicas"] == 6
    assert hpa["spec"]["behavior"]["scaleDown"]["selectPolicy"] == "Disabled"
    vs = kube.get("virtualservices.networking.istio.io", "fixc-gateway")
    assert vs is not None and vs["spec"]["tcp"][0]["match"] == [{"port": 5001}]
    dr = kube.get("destinationrules.networking.istio.io", "fixc-gateway")
    assert dr is not None
    tcp = dr["spec"]["trafficPolicy"]["connectionPool"]["tcp"]
    assert tcp["idleTimeout"] == "4h" and tcp["tcpKeepalive"]["probes"] == 3
    pa = kube.get("peerauthentications.security.istio.io", "fixc-gateway")
    assert pa is not None and pa["spec"]["mtls"]["mode"] == "STRICT"
    assert kube.get("servicemonitors.monitoring.coreos.com", "fixc-gateway") is not None
    cdep = kube.get("deployment", "fixc-gateway")
    assert cdep is not None
    ann = cdep["spec"]["template"]["metadata"]["annotations"]
    assert ann["vault.hashicorp.com/role"] == "fixplus-store"
    assert ann["vault.hashicorp.com/agent-inject-secret-store-password"] == \
        "secret/data/fixplus/redis"
    assert ann["sidecar.istio.io/inject"] == "true"


def test_update_rolls_the_pods(examples: Kube) -> None:
    kube = examples
    before = wait_for("broker-orders", lambda: _reconciled(kube, "fixsession", "broker-orders"))
    old_hash = before["status"]["configHash"]
    kube.run("patch", "fixsession", "broker-orders", "--type=merge",
             "-p", '{"spec": {"heartbeatInterval": 10}}')
    after = wait_for("new config hash", lambda: (
        (o := _reconciled(kube, "fixsession", "broker-orders"))
        and o["status"]["configHash"] != old_hash and o))
    assert after["status"]["observedGeneration"] == before["metadata"]["generation"] + 1
    dep = kube.get("deployment", "fixs-broker-orders")
    assert dep is not None
    assert dep["spec"]["template"]["metadata"]["annotations"][CONFIG_HASH] == \
        after["status"]["configHash"]
    cm = kube.get("configmap", "fixs-broker-orders-config")
    assert "heartbeatInterval: 10" in cm["data"]["engine.yaml"]  # type: ignore[index]
    assert any(e["reason"] == "Updated" for e in kube.events("broker-orders"))
    if env_value("FIXPLUS_KUBE_GC") == "1":
        # the deployment controller rolls a new ReplicaSet for the new template
        def hashes() -> set[str] | None:
            sets = kube.items("replicasets", "app.kubernetes.io/instance=fixs-broker-orders")
            found = {rs["spec"]["template"]["metadata"]["annotations"][CONFIG_HASH]
                     for rs in sets}
            return found if {old_hash, after["status"]["configHash"]} <= found else None
        wait_for("a ReplicaSet for each config", hashes)


def test_drift_is_corrected(examples: Kube) -> None:
    kube = examples
    wait_for("broker-orders", lambda: _reconciled(kube, "fixsession", "broker-orders"))
    kube.run("scale", "deployment", "fixs-broker-orders", "--replicas=3")
    kube.run("patch", "configmap", "fixs-broker-orders-config", "--type=merge",
             "-p", '{"data": {"engine.yaml": "sessions: []\\n"}}')
    kube.run("delete", "service", "fixs-broker-orders")
    wait_for("replicas restored", lambda: (
        kube.get("deployment", "fixs-broker-orders") or {}).get("spec", {}).get("replicas") == 1)
    wait_for("config restored", lambda: "CLIENT1" in (
        kube.get("configmap", "fixs-broker-orders-config") or {}).get("data", {}).get(
            "engine.yaml", ""))
    wait_for("service recreated", lambda: kube.get("service", "fixs-broker-orders"))
    wait_for("drift event", lambda: any(e["reason"] == "DriftCorrected"
                                        for e in kube.events("broker-orders")))


def test_missing_store_is_a_condition_until_it_appears(kube: Kube) -> None:
    doc = {"apiVersion": "fixplus.io/v1alpha1", "kind": "FixSession",
           "metadata": {"name": "late-store"},
           "spec": {"role": "acceptor", "beginString": "FIX.4.4", "senderCompId": "S",
                    "targetCompId": "T", "acceptPort": 7001, "storeRef": "not-yet",
                    **NO_AUTH}}
    kube.run("apply", "-f", "-", stdin=json.dumps(doc))
    cond = wait_for("StoreNotFound", lambda: (
        (c := condition(kube.get("fixsession", "late-store"), "Reconciled"))
        and c["reason"] == "StoreNotFound" and c))
    assert cond["message"] == (f"MessageStore 'not-yet' does not exist in namespace "
                               f"'{kube.namespace}'")
    ready = condition(kube.get("fixsession", "late-store"), "Ready")
    assert ready and ready["status"] == "False" and ready["reason"] == "StoreNotFound"
    store = {"apiVersion": "fixplus.io/v1alpha1", "kind": "MessageStore",
             "metadata": {"name": "not-yet"}, "spec": {"type": "sqlite"}}
    kube.run("apply", "-f", "-", stdin=json.dumps(store))
    wait_for("late-store reconciled", lambda: _reconciled(kube, "fixsession", "late-store"))
    # reconciled, and warned: SQLite on an emptyDir does not survive a new pod
    degraded = wait_for("EphemeralStore", lambda: (
        (c := condition(kube.get("fixsession", "late-store"), "Degraded"))
        and c["reason"] == "EphemeralStore" and c))
    assert degraded["status"] == "True" and "claimName" in degraded["message"]
    store["spec"] = {"type": "sqlite", "sqlite": {"ephemeral": True}}
    kube.run("apply", "-f", "-", stdin=json.dumps(store))
    wait_for("declared ephemeral: not Degraded", lambda: (
        (c := condition(kube.get("fixsession", "late-store"), "Degraded"))
        and c["status"] == "False"))


def test_a_session_selected_by_a_cluster_runs_in_the_cluster_only(examples: Kube) -> None:
    kube = examples
    doc = {"apiVersion": "fixplus.io/v1alpha1", "kind": "FixSession",
           "metadata": {"name": "pooled", "labels": {"fixplus.io/pool": "gateway"}},
           "spec": {"role": "acceptor", "beginString": "FIX.4.4", "senderCompId": "GATEWAY",
                    "targetCompId": "FUND3", "acceptPort": 7002, "clusterRef": "gateway",
                    **NO_AUTH}}
    kube.run("apply", "-f", "-", stdin=json.dumps(doc))
    wait_for("pooled served by the cluster", lambda: (
        (c := condition(kube.get("fixsession", "pooled"), "Ready"))
        and c["reason"] == "ServedByFixCluster"))
    dep = kube.get("deployment", "fixs-pooled")
    assert dep is not None and dep["spec"]["replicas"] == 0
    wait_for("cluster config has the session", lambda: "FIX.4.4:GATEWAY->FUND3" in (
        (kube.get("fixcluster", "gateway") or {}).get("status", {}).get("sessionIds", [])))


def test_a_cluster_that_does_not_accept_the_session_leaves_it_degraded(examples: Kube) -> None:
    """Naming a FixCluster is not enough: its sessionSelector must match too."""
    kube = examples
    doc = {"apiVersion": "fixplus.io/v1alpha1", "kind": "FixSession",
           "metadata": {"name": "gatecrasher", "labels": {"fixplus.io/pool": "other"}},
           "spec": {"role": "acceptor", "beginString": "FIX.4.4", "senderCompId": "GATEWAY",
                    "targetCompId": "INTRUDER", "acceptPort": 7003, "clusterRef": "gateway",
                    **NO_AUTH}}
    kube.run("apply", "-f", "-", stdin=json.dumps(doc))
    cond = _degraded(kube, "fixsession", "gatecrasher", "NotAcceptedByCluster")
    assert cond["message"] == (
        "FixCluster 'gateway' does not accept FixSession 'gatecrasher': its "
        "spec.sessionSelector (matchLabels: fixplus.io/pool=gateway) does not match the "
        "session's labels")
    assert any(e["reason"] == "NotAcceptedByCluster" and e["type"] == "Warning"
               for e in kube.events("gatecrasher"))
    assert kube.get("deployment", "fixs-gatecrasher") is None
    ids = wait_for("gateway reconciled", lambda: _reconciled(kube, "fixcluster", "gateway"))[
        "status"]["sessionIds"]
    assert "FIX.4.4:GATEWAY->INTRUDER" not in ids
    # a session that carries the pool label but does not name the cluster runs alone
    alone = {**doc, "metadata": {"name": "pool-label-only",
                                 "labels": {"fixplus.io/pool": "gateway"}},
             "spec": {**doc["spec"], "targetCompId": "ALONE", "acceptPort": 7004}}
    del alone["spec"]["clusterRef"]
    kube.run("apply", "-f", "-", stdin=json.dumps(alone))
    fs = wait_for("pool-label-only", lambda: _reconciled(kube, "fixsession", "pool-label-only"))
    assert condition(fs, "Ready")["reason"] != "ServedByFixCluster"  # type: ignore[index]
    dep = kube.get("deployment", "fixs-pool-label-only")
    assert dep is not None and dep["spec"]["replicas"] == 1


def test_a_secret_the_admin_did_not_allow_is_refused_and_not_mounted(kube: Kube) -> None:
    kube.run("create", "secret", "generic", "unlabelled-logon",
             "--from-literal=password=do-not-mount")
    doc = {"apiVersion": "fixplus.io/v1alpha1", "kind": "FixSession",
           "metadata": {"name": "borrows-a-secret"},
           "spec": {"role": "acceptor", "beginString": "FIX.4.4", "senderCompId": "S",
                    "targetCompId": "BORROW", "acceptPort": 7005,
                    "authentication": {"username": "BORROW",
                                       "passwordSecretRef": {"name": "unlabelled-logon"}}}}
    kube.run("apply", "-f", "-", stdin=json.dumps(doc))
    cond = _degraded(kube, "fixsession", "borrows-a-secret", "SecretNotAllowed")
    assert cond["message"].startswith(
        "FixSession 'borrows-a-secret' authentication password: Secret 'unlabelled-logon' "
        f"may not be referenced: a Secret a resource references must carry the label {ALLOW}")
    assert any(e["reason"] == "SecretNotAllowed" and e["type"] == "Warning"
               for e in kube.events("borrows-a-secret"))
    assert kube.get("deployment", "fixs-borrows-a-secret") is None
    assert kube.get("configmap", "fixs-borrows-a-secret-config") is None
    mounted = [d for d in kube.items("deployments") if "unlabelled-logon" in json.dumps(d)]
    assert mounted == []
    # the admin allows it: now it is mounted (as a file, never via subPath)
    kube.run("label", "secret", "unlabelled-logon", f"{ALLOW}=true")
    wait_for("borrows-a-secret reconciled",
             lambda: _reconciled(kube, "fixsession", "borrows-a-secret"))
    dep = kube.get("deployment", "fixs-borrows-a-secret")
    assert dep is not None
    pod = dep["spec"]["template"]["spec"]
    assert {"name": "auth-session", "secret": {
        "secretName": "unlabelled-logon", "items": [{"key": "password", "path": "password"}],
        "defaultMode": 0o440}} in pod["volumes"]
    assert not any("subPath" in m for m in pod["containers"][0]["volumeMounts"])
    # the admin takes the permission back: the pods that mount it go
    kube.run("label", "secret", "unlabelled-logon", f"{ALLOW}-")
    wait_for("the Deployment withdrawn",
             lambda: kube.get("deployment", "fixs-borrows-a-secret") is None)
    assert any(e["reason"] == "SecretWithdrawn" for e in kube.events("borrows-a-secret"))


def test_an_image_the_admin_did_not_allow_is_refused(examples: Kube) -> None:
    kube = examples
    doc = {"apiVersion": "fixplus.io/v1alpha1", "kind": "FixSession",
           "metadata": {"name": "own-image"},
           "spec": {"role": "initiator", "beginString": "FIX.4.4", "senderCompId": "S",
                    "targetCompId": "T", "connect": [{"host": "h", "port": 1}],
                    "image": "evil.example/miner:1"}}
    kube.run("apply", "-f", "-", stdin=json.dumps(doc))
    cond = _degraded(kube, "fixsession", "own-image", "ImageNotAllowed")
    assert cond["message"].startswith("spec.image 'evil.example/miner:1' is not allowed by the "
                                      "operator (allowed: pyfixmsg-plus:")
    assert any(e["reason"] == "ImageNotAllowed" and e["type"] == "Warning"
               for e in kube.events("own-image"))
    assert kube.get("deployment", "fixs-own-image") is None
    stored = kube.get("fixsession", "broker-orders")
    assert stored is not None and "image" not in stored["spec"]  # no CRD default stored
    dep = kube.get("deployment", "fixs-broker-orders")
    assert dep is not None
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"].startswith(
        "pyfixmsg-plus:")  # the operator's engine image
    kube.run("patch", "fixsession", "own-image", "--type=json",
             "-p", '[{"op": "remove", "path": "/spec/image"}]')
    wait_for("own-image reconciled", lambda: _reconciled(kube, "fixsession", "own-image"))


def test_a_secret_reference_in_a_resource_is_refused(kube: Kube) -> None:
    doc = {"apiVersion": "fixplus.io/v1alpha1", "kind": "FixSession",
           "metadata": {"name": "leaky"},
           "spec": {"role": "initiator", "beginString": "FIX.4.4", "senderCompId": "S",
                    "targetCompId": "T", "connect": [{"host": "h", "port": 1}],
                    "sessionQualifier": "${FILE:/var/run/secrets/fixplus/store/password}"}}
    kube.run("apply", "-f", "-", stdin=json.dumps(doc))
    cond = _degraded(kube, "fixsession", "leaky", "SecretReferenceNotAllowed")
    assert cond["message"].startswith("spec.sessionQualifier: ${ENV:…} and ${FILE:…} "
                                      "references are not taken from a resource")
    assert kube.get("configmap", "fixs-leaky-config") is None


def test_deletion_cleans_up_through_owner_references(kube: Kube) -> None:
    doc = {"apiVersion": "fixplus.io/v1alpha1", "kind": "FixSession",
           "metadata": {"name": "doomed"},
           "spec": {"role": "acceptor", "beginString": "FIX.4.4", "senderCompId": "S",
                    "targetCompId": "DOOMED", "acceptPort": 7006, **NO_AUTH}}
    kube.run("apply", "-f", "-", stdin=json.dumps(doc))
    fs = wait_for("doomed", lambda: _reconciled(kube, "fixsession", "doomed"))
    names = [(o["kind"], o["name"]) for o in fs["status"]["owned"]]
    assert ("Deployment", "fixs-doomed") in names
    for kind, name in names:
        obj = kube.get(kind, name)
        assert obj and obj["metadata"]["ownerReferences"][0]["uid"] == fs["metadata"]["uid"]
    kube.run("delete", "fixsession", "doomed", "--wait=false")
    wait_for("doomed gone", lambda: kube.get("fixsession", "doomed") is None)
    if env_value("FIXPLUS_KUBE_GC") != "1":
        missing("no kube-controller-manager (FIXPLUS_KUBE_GC=1 from tests/env/20-kube.sh): "
                "owner references checked, garbage collection not")
    for kind, name in names:
        # (the garbage collector of a shared controller-manager works through
        # one queue for every namespace: give it time)
        wait_for(f"{kind} {name} collected", lambda k=kind, n=name: kube.get(k, n) is None,
                 timeout=180)


def test_resources_carry_no_finalizer_and_go_without_the_operator(kube: Kube) -> None:
    """Nothing polls, so kopf needs no finalizer: a deletion never waits for
    the operator, even one that has stopped (no namespace stuck Terminating)."""
    names = [f"churn-{i}" for i in range(10)]
    for i, name in enumerate(names):
        doc = {"apiVersion": "fixplus.io/v1alpha1", "kind": "FixSession",
               "metadata": {"name": name},
               "spec": {"role": "acceptor", "beginString": "FIX.4.4", "senderCompId": "CHURN",
                        "targetCompId": f"C{i}", "acceptPort": 7100 + i, **NO_AUTH}}
        kube.run("apply", "-f", "-", stdin=json.dumps(doc))
    for name in names:
        body = wait_for(f"{name} reconciled", lambda n=name: _reconciled(kube, "fixsession", n))
        assert not body["metadata"].get("finalizers"), body["metadata"].get("finalizers")
    for name in names:
        kube.run("delete", "fixsession", name, "--wait=false")
    for name in names:
        wait_for(f"{name} gone", lambda n=name: kube.get("fixsession", n) is None, timeout=10)


def test_replicas_are_kept_when_autoscaling_is_switched_on(kube: Kube) -> None:
    """Server-side apply would drop the replica count the operator no longer
    sets (and the Deployment would fall to 1): the operator hands it over."""
    store = {"apiVersion": "fixplus.io/v1alpha1", "kind": "MessageStore",
             "metadata": {"name": "pool-redis"},
             "spec": {"type": "redis", "redis": {"host": "redis.example"},
                      "credentials": {"vault": {"role": "fix", "path": "secret/data/r"}}}}
    cluster = {"apiVersion": "fixplus.io/v1alpha1", "kind": "FixCluster",
               "metadata": {"name": "pool"},
               "spec": {"storeRef": "pool-redis", "minReplicas": 3, "maxReplicas": 6,
                        "autoscaling": {"enabled": False},
                        "sessions": [{"role": "acceptor", "beginString": "FIX.4.4",
                                      "senderCompId": "POOL", "targetCompId": "P1",
                                      **NO_AUTH}]}}
    kube.run("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List",
                                                   "items": [store, cluster]}))
    wait_for("pool reconciled", lambda: _reconciled(kube, "fixcluster", "pool"))
    dep = kube.get("deployment", "fixc-pool")
    assert dep and dep["spec"]["replicas"] == 3
    kube.run("patch", "fixcluster", "pool", "--type=merge",
             "-p", '{"spec": {"autoscaling": {"enabled": true}}}')
    wait_for("the HPA", lambda: kube.get("horizontalpodautoscaler", "fixc-pool"))
    wait_for("pool reconciled again", lambda: (
        (o := _reconciled(kube, "fixcluster", "pool"))
        and o["status"]["observedGeneration"] == o["metadata"]["generation"]))
    dep = kube.get("deployment", "fixc-pool")
    assert dep is not None
    assert dep["spec"]["replicas"] == 3
    managers = {m["manager"]: m for m in dep["metadata"]["managedFields"]}
    assert "f:replicas" in managers["fixplus-operator-replicas-handover"]["fieldsV1"]["f:spec"]
    assert "f:replicas" not in managers["fixplus-operator"]["fieldsV1"]["f:spec"]
