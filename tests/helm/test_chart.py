"""The chart with the real helm binary alone: lint, rendering, the values schema."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from pyfixmsg_plus.operator import k8s
from pyfixmsg_plus.operator.models import FixSessionSpec, MessageStoreSpec
from pyfixmsg_plus.operator.reads import WATCHED_OWNED
from pyfixmsg_plus.operator.render import (
    Owner,
    SessionContext,
    ephemeral_store,
    render_fix_session,
)
from pyfixmsg_plus.operator.render.config import StoreInput

from tests.helm.conftest import CHART, PROMETHEUS_RULE_API, Helm, docs, find
from tests.helm.values import value_sets, write
from tests.realparts import REPO

WATCHED = ("trading-a", "trading-b")
SETS = value_sets(WATCHED)


def render(helm: Helm, tmp_path: Path, name: str) -> list[dict[str, Any]]:
    values, extra = SETS[name]
    return docs(helm.template("--values", str(write(tmp_path, name, values)), *extra))


def test_chart_crds_are_the_generated_crds() -> None:
    generated = sorted(p.name for p in (REPO / "crds").glob("*.yaml"))
    copied = sorted(p.name for p in (CHART / "crds").glob("*.yaml"))
    assert copied == generated
    for name in generated:
        assert (CHART / "crds" / name).read_text() == (REPO / "crds" / name).read_text(), (
            f"charts/pyfixmsg-plus/crds/{name} differs from crds/{name}: run "
            "`.venv/bin/python -m pyfixmsg_plus.operator.crdgen charts/pyfixmsg-plus/crds`")


@pytest.mark.parametrize("name", sorted(SETS))
def test_lint_strict_is_clean(helm: Helm, tmp_path: Path, name: str) -> None:
    values, _ = SETS[name]
    proc = helm.run("lint", "--strict", str(CHART), "--namespace", "fixplus-system",
                    "--values", str(write(tmp_path, name, values)), check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 chart(s) failed" in proc.stdout
    assert "[WARNING]" not in proc.stdout and "[ERROR]" not in proc.stdout, proc.stdout


def test_defaults(helm: Helm, tmp_path: Path) -> None:
    objects = render(helm, tmp_path, "defaults")
    kinds = sorted(o["kind"] for o in objects)
    # the CRDs are in crds/ (helm template leaves them out without --include-crds)
    assert kinds == sorted(["ServiceAccount", "ClusterRole", "ClusterRole", "ClusterRoleBinding",
                            "ClusterRoleBinding", "Role", "RoleBinding", "Deployment",
                            "ConfigMap", "ConfigMap", "ConfigMap"])

    (deployment,) = find(objects, "Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 1
    pod = spec["template"]["spec"]
    assert pod["serviceAccountName"] == "fixplus-pyfixmsg-plus"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    (container,) = pod["containers"]
    assert container["image"] == "pyfixmsg-plus:0.1.0"
    assert container["command"] == ["fixplus-operator"]
    assert container["args"] == ["--liveness=http://0.0.0.0:8080/healthz", "--log-level=info",
                                 "--leader-election-namespace=fixplus-system",
                                 "--leader-election-name=fixplus-pyfixmsg-plus",
                                 "--lease-seconds=15"]
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]} and sc["runAsUser"] == 10001
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert container["ports"] == [{"name": "health", "containerPort": 8080, "protocol": "TCP"}]
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}} \
        in container["env"]
    (role,) = find(objects, "Role")
    assert role["rules"] == [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                              "verbs": ["get", "create", "update"]}]

    crds = docs(helm.template("--include-crds"))
    crds = find(crds, "CustomResourceDefinition")
    assert sorted(c["metadata"]["name"] for c in crds) == [
        "fixclusters.fixplus.io", "fixsessions.fixplus.io", "messagestores.fixplus.io"]
    for crd in crds:  # files, not templates: exactly the generated CRDs
        source = yaml.safe_load((REPO / "crds" / f"{crd['metadata']['name']}.yaml").read_text())
        assert crd == source

    dashboards = find(objects, "ConfigMap")
    assert len(dashboards) == 3
    for cm in dashboards:
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert cm["metadata"]["annotations"] == {"grafana_folder": "PyFixMsg Plus"}
        ((key, text),) = cm["data"].items()
        assert json.loads(text) == json.loads((CHART / "dashboards" / key).read_text())
    assert not find(objects, "PrometheusRule"), "no PrometheusRule without the API"


def test_rbac_is_least_privilege(helm: Helm, tmp_path: Path) -> None:
    """Only the verbs the operator uses (operator/k8s.py, reconcile.py, kopf)."""
    objects = render(helm, tmp_path, "defaults")
    roles = {r["metadata"]["name"]: r["rules"] for r in find(objects, "ClusterRole")}
    grants: dict[tuple[str, str], set[str]] = {}
    for rules in roles.values():
        for rule in rules:
            assert "*" not in rule["verbs"] and "*" not in rule["resources"]
            assert "*" not in rule["apiGroups"] and "resourceNames" not in rule
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    grants.setdefault((group, resource), set()).update(rule["verbs"])

    def group(api_version: str) -> str:
        return api_version.split("/", maxsplit=1)[0] if "/" in api_version else ""

    owned = {key: plural for key, plural in k8s.PLURALS.items()
             if group(key[0]) not in ("fixplus.io", "apiextensions.k8s.io")
             and key[1] not in ("Secret", "Event", "Pod", "Lease")}
    watched = {(a, k) for a, k, _ in WATCHED_OWNED}
    for (api_version, kind), plural in owned.items():
        # server-side apply creates or patches; pruning deletes; reconcile reads;
        # kopf watches what it can rely on existing (not Istio's or Prometheus's)
        verbs = {"get", "create", "patch", "delete"}
        if (api_version, kind) in watched:
            verbs |= {"list", "watch"}
        assert grants.pop((group(api_version), plural)) == verbs, plural
    for plural in ("fixsessions", "fixclusters", "messagestores"):
        assert grants.pop(("fixplus.io", plural)) == {"get", "list", "watch", "patch"}
        assert grants.pop(("fixplus.io", f"{plural}/status")) == {"get", "patch"}
    # watched for their keys and labels (values are never kept); never written
    assert grants.pop(("", "secrets")) == {"get", "list", "watch"}
    assert grants.pop(("", "events")) == {"create"}
    assert grants.pop(("apiextensions.k8s.io", "customresourcedefinitions")) == {
        "get", "list", "watch"}
    assert grants == {}, f"granted but not used: {grants}"

    (binding,) = find(objects, "ClusterRoleBinding", "fixplus-pyfixmsg-plus-reconcile")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "fixplus-pyfixmsg-plus",
                                    "namespace": "fixplus-system"}]


def test_namespaced_watch(helm: Helm, tmp_path: Path) -> None:
    objects = render(helm, tmp_path, "namespaced-watch")
    assert not find(objects, "ClusterRoleBinding", "fixplus-pyfixmsg-plus-reconcile")
    bindings = find(objects, "RoleBinding", "fixplus-pyfixmsg-plus-reconcile")
    assert sorted(b["metadata"]["namespace"] for b in bindings) == sorted(WATCHED)
    for b in bindings:
        assert b["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                "name": "fixplus-pyfixmsg-plus-reconcile"}
    # CRDs are cluster objects: that read stays cluster-wide; kopf lists the
    # namespaces (else it retries for a minute at start-up, then warns)
    assert find(objects, "ClusterRoleBinding", "fixplus-pyfixmsg-plus-cluster")
    (cluster,) = find(objects, "ClusterRole", "fixplus-pyfixmsg-plus-cluster")
    assert {"apiGroups": [""], "resources": ["namespaces"],
            "verbs": ["list", "watch"]} in cluster["rules"]
    (deployment,) = find(objects, "Deployment")
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert [a for a in args if a.startswith("--namespace")] == [
        "--namespace=trading-a", "--namespace=trading-b"]


def test_examples(helm: Helm, tmp_path: Path) -> None:
    assert not find(render(helm, tmp_path, "defaults"), "FixSession")
    objects = render(helm, tmp_path, "examples")
    sessions = find(objects, "FixSession")
    (store,) = find(objects, "MessageStore")
    assert sorted(s["spec"]["role"] for s in sessions) == ["acceptor", "initiator"]
    for obj in [*sessions, store]:
        assert obj["metadata"]["namespace"] == WATCHED[0]
    (secret,) = find(objects, "Secret")
    assert secret["metadata"]["labels"]["fixplus.io/allow-reference"] == "true"
    assert len(base64.b64decode(secret["data"]["password"])) == 24
    ref = {"name": secret["metadata"]["name"], "key": "password"}
    for s in sessions:
        assert s["spec"]["storeRef"] == store["metadata"]["name"]
        assert "image" not in s["spec"]  # the operator's engine image (engine.image)
    by_role = {s["spec"]["role"]: s["spec"] for s in sessions}
    assert by_role["acceptor"]["authentication"] == {"username": "EXAMPLE-CLIENT",
                                                     "passwordSecretRef": ref}
    assert by_role["initiator"]["logon"] == {"username": "EXAMPLE-CLIENT",
                                             "passwordSecretRef": ref}
    assert store["spec"]["sqlite"] == {"ephemeral": True}  # not Degraded: meant


def test_the_example_pair_passes_its_network_policies(helm: Helm, tmp_path: Path) -> None:
    """Rendered by the operator as it would be: the acceptor's NetworkPolicy
    lets the initiator's pod in on the FIX port, and the initiator's lets it
    out to that port; neither session is Degraded for its store."""
    objects = render(helm, tmp_path, "examples")
    (store_body,) = find(objects, "MessageStore")
    store = StoreInput(store_body["metadata"]["name"],
                       MessageStoreSpec.model_validate(store_body["spec"]))
    assert ephemeral_store(store) is None
    rendered: dict[str, dict[str, dict[str, Any]]] = {}
    for body in find(objects, "FixSession"):
        meta = body["metadata"]
        owner = Owner("fixplus.io/v1alpha1", "FixSession", meta["name"], meta["namespace"],
                      "uid", 1)
        spec = FixSessionSpec.model_validate(body["spec"])
        out = render_fix_session(SessionContext(owner, spec, store, frozenset()))
        rendered[spec.role.value] = {o["kind"]: o for o in out.objects}
    acceptor, initiator = rendered["acceptor"], rendered["initiator"]
    pod_labels = initiator["Deployment"]["spec"]["template"]["metadata"]["labels"]
    port = acceptor["Service"]["spec"]["ports"][0]["port"]
    allowed = [rule for rule in acceptor["NetworkPolicy"]["spec"]["ingress"]
               if {"protocol": "TCP", "port": port} in rule["ports"]]
    assert any(all(pod_labels.get(k) == v
                   for k, v in peer["podSelector"]["matchLabels"].items())
               for rule in allowed for peer in rule["from"] if "podSelector" in peer)
    egress = initiator["NetworkPolicy"]["spec"]["egress"]
    assert any({"protocol": "TCP", "port": port} in rule["ports"] and "to" not in rule
               for rule in egress)


def test_engine_image_and_secret_rules_reach_the_operator(helm: Helm, tmp_path: Path) -> None:
    def env(values: dict[str, Any]) -> dict[str, str]:
        objects = docs(helm.template("--values", str(write(tmp_path, "v", values))))
        (deployment,) = find(objects, "Deployment")
        return {e["name"]: e.get("value") for e in
                deployment["spec"]["template"]["spec"]["containers"][0]["env"]}

    defaults = env({})
    assert defaults["FIXPLUS_ENGINE_IMAGE"] == "pyfixmsg-plus:0.1.0"
    assert defaults["FIXPLUS_ENGINE_IMAGE_PULL_POLICY"] == "IfNotPresent"
    assert defaults["FIXPLUS_ALLOWED_IMAGES"] == ""
    assert defaults["FIXPLUS_SECRET_ALLOW_LABEL"] == "fixplus.io/allow-reference"
    assert defaults["FIXPLUS_ALLOWED_SECRETS"] == ""
    chart_image = env({"image": {"repository": "registry.example/fix/pyfixmsg-plus",
                                 "tag": "0.2.0", "pullPolicy": "Always"}})
    assert chart_image["FIXPLUS_ENGINE_IMAGE"] == "registry.example/fix/pyfixmsg-plus:0.2.0"
    assert chart_image["FIXPLUS_ENGINE_IMAGE_PULL_POLICY"] == "Always"
    own = env({"engine": {"image": "registry.example/fix/engine:1", "pullPolicy": "Never",
                          "allowedImages": ["registry.example/fix/engine:*", "debug:1"]},
               "secrets": {"allowLabel": "", "allowed": ["trading/pg", "risk/*"]}})
    assert own["FIXPLUS_ENGINE_IMAGE"] == "registry.example/fix/engine:1"
    assert own["FIXPLUS_ENGINE_IMAGE_PULL_POLICY"] == "Never"
    assert own["FIXPLUS_ALLOWED_IMAGES"] == "registry.example/fix/engine:*,debug:1"
    assert own["FIXPLUS_SECRET_ALLOW_LABEL"] == ""
    assert own["FIXPLUS_ALLOWED_SECRETS"] == "trading/pg,risk/*"


def test_dashboards_off(helm: Helm, tmp_path: Path) -> None:
    objects = render(helm, tmp_path, "no-dashboards")
    assert not find(objects, "ConfigMap")
    groups = {g for r in find(objects, "ClusterRole") for rule in r["rules"]
              for g in rule["apiGroups"]}
    assert not groups & {"networking.istio.io", "security.istio.io", "monitoring.coreos.com"}
    assert not find(docs(helm.template()), "CustomResourceDefinition")


def test_prometheus_rule_when_the_api_exists(helm: Helm, tmp_path: Path) -> None:
    text = helm.template("--values", str(write(tmp_path, "p", SETS["prometheus-rule"][0])),
                         "--api-versions", PROMETHEUS_RULE_API)
    (rule,) = find(docs(text), "PrometheusRule")
    source = yaml.safe_load((CHART / "alerts" / "fixplus-alerts.yaml").read_text())
    assert rule["spec"] == source, "the rules must reach the PrometheusRule unchanged"
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    # Prometheus's own templates pass through Helm untouched
    assert "{{ $labels.session }}" in text
    for cm in find(docs(text), "ConfigMap"):
        labels = cm["metadata"]["labels"]
        assert labels["grafana.io/dashboard"] == "fixplus" and labels["team"] == "trading"
        assert "grafana_dashboard" not in labels
    (deployment,) = find(docs(text), "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.example:5000/fix/pyfixmsg-plus:0.1.0"
    assert "--log-level=debug" in container["args"]


BAD_VALUES: list[tuple[list[str], list[str]]] = [
    (["--set", "image.pullPolicy=Sometimes"], ["/image/pullPolicy", "Always"]),
    (["--set", "watch.namespaces={Trading_A}"], ["/watch/namespaces/0", "Trading_A"]),
    (["--set", "operator.replicas=0"], ["/operator/replicas"]),
    (["--set", "operator.resyncSeconds=60"], ["resyncSeconds"]),
    (["--set", "operator.healthPort=80"], ["/operator/healthPort"]),
    (["--set", "operator.logLevel=verbose"], ["/operator/logLevel", "info"]),
    (["--set", "crds.install=true"], ["crds"]),
    (["--set", "dashboards.labelValue=not ok"], ["/dashboards/labelValue"]),
    (["--set", "operator.resources.limits.memory=lots"], ["/operator/resources/limits/memory"]),
    (["--set", "examples.enable=true"], ["enable"]),
    (["--set", "engine.allowedImages={a b}"], ["/engine/allowedImages/0"]),
    (["--set", "secrets.allowed={pg}"], ["/secrets/allowed/0"]),
    (["--set", "serviceAccount.create=false"], ["/serviceAccount/name"]),
]


@pytest.mark.parametrize(("args", "expected"), BAD_VALUES,
                         ids=[" ".join(a[1:]) for a, _ in BAD_VALUES])
def test_schema_rejects_bad_values(helm: Helm, args: list[str], expected: list[str]) -> None:
    proc = helm.run("template", "fixplus", str(CHART), *args, check=False)
    assert proc.returncode != 0, f"accepted: {args}"
    assert "values don't meet the specifications of the schema" in proc.stderr, proc.stderr
    for piece in expected:
        assert piece in proc.stderr, proc.stderr
    assert len(proc.stderr) < 1500, f"an unreadable wall of text: {proc.stderr}"
