"""The chart against the real kube-apiserver (tests/env/20-kube.sh).

Every value set is validated by a server-side dry run.  Releases go
through ``helm install``, ``helm upgrade`` (a value change and a CRD
change) and ``helm uninstall``, and the API server is asked what exists
after each step.  The tests that only look at a release share one
(``installed``); each test that changes one gets its own (``release``,
in namespaces of its own), so that any test passes alone or in any order.  With no kubelet the operator pod never runs, so the
operator is started here instead, authenticated with a token of the
chart's ServiceAccount: it reconciles the example resources with exactly
the permissions the chart grants, which proves the RBAC is sufficient (the
static test in test_chart.py proves it is not more than needed).

The API server is shared with the operator's tests, which apply the same
CRDs with kubectl: the chart's CRDs are in its crds/ folder, which Helm
creates when missing and otherwise leaves alone, so the release installs
beside them; ``helm upgrade`` and ``helm uninstall`` never touch them.
test_fresh_install.py installs on an API server without the CRDs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from tests.helm.conftest import CHART, Helm, Kube, delete_namespaces, docs, new_namespaces
from tests.helm.values import value_sets, write
from tests.realparts import REPO, env_value

pytestmark = pytest.mark.integration

T = TypeVar("T")
OPERATOR = Path(sys.executable).parent / "fixplus-operator"
CRDS = ("fixsessions.fixplus.io", "fixclusters.fixplus.io", "messagestores.fixplus.io")
#: How long the garbage collector may take to remove an object whose owner went.
GC_TIMEOUT = 180.0


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 60.0) -> T:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


@pytest.fixture(scope="module")
def fixplus_crds(kube: Kube) -> None:
    """This tree's CRDs exist (the example resources of a dry run need them;
    the shared API server may hold another version)."""
    kube.run("apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds"))
    kube.run("wait", "--for=condition=established", "--timeout=60s",
             *[f"crd/{name}" for name in CRDS])


@pytest.mark.parametrize("name", sorted(value_sets(("a", "b"))))
def test_server_side_dry_run(helm: Helm, kube: Kube, namespaces: list[str], fixplus_crds: None,
                             prometheus_rule_crd: None, tmp_path: Path, name: str) -> None:
    release_ns, watch_a, watch_b = namespaces
    values, extra = value_sets((watch_a, watch_b))[name]
    manifest = helm.template("--values", str(write(tmp_path, name, values)), *extra,
                             namespace=release_ns, release=f"dry-{name}")
    kinds = {d["kind"] for d in docs(manifest)}
    if name == "prometheus-rule":
        assert "PrometheusRule" in kinds
    if name == "examples":
        assert {"FixSession", "MessageStore"} <= kinds
    proc = kube.dry_run(manifest)
    assert proc.returncode == 0, f"the API server refused the {name} manifest:\n{proc.stderr}"
    assert proc.stdout.count("(server dry run)") == len(docs(manifest)), proc.stdout


def test_server_rejects_what_the_schema_would_not_catch(kube: Kube, helm: Helm,
                                                        namespaces: list[str]) -> None:
    """The dry run is a real check: a broken object is refused."""
    manifest = helm.template("--set", "operator.extraEnv[0].name=X",
                             "--set", "operator.extraEnv[0].valueFrom.nope=1",
                             namespace=namespaces[0])
    proc = kube.dry_run(manifest)
    assert proc.returncode != 0 and "nope" in proc.stderr, proc.stderr


# -- one release, installed, upgraded and uninstalled ---------------------------------


class Release:
    def __init__(self, helm: Helm, kube: Kube, namespaces: list[str], tmp: Path) -> None:
        self.helm, self.kube, self.tmp = helm, kube, tmp
        self.namespace, self.watch_a, self.watch_b = namespaces
        self.name = f"fx{uuid.uuid4().hex[:6]}"
        self.fullname = f"{self.name}-pyfixmsg-plus"
        self.operator: subprocess.Popen[bytes] | None = None
        self.operator_log = tmp / "operator.log"

    def helm_run(self, *args: str, chart: Path = CHART) -> str:
        return self.helm.run(*args, self.name, str(chart), "--namespace", self.namespace,
                             "--timeout", "2m").stdout

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        return self.kube.get(kind, name, namespace)

    def deployment(self) -> dict[str, Any]:
        obj = self.get("deployment", self.fullname, self.namespace)
        assert obj is not None
        return obj


def install(rel: Release) -> str:
    """``helm install`` of ``rel`` (the CRDs are there before: left alone)."""
    return rel.helm_run("install", "--set", f"watch.namespaces={{{rel.watch_a},{rel.watch_b}}}",
                        "--set", "examples.enabled=true",
                        "--set", f"image.repository={IMAGE_REPOSITORY}")


def remove(rel: Release) -> None:
    """Stop its operator (reaped) and uninstall it, whatever state it is in."""
    if rel.operator is not None:
        stop_operator(rel)
    rel.helm.run("uninstall", rel.name, "--namespace", rel.namespace, check=False)


@dataclass
class Installed:
    release: Release
    output: str  # what ``helm install`` printed
    crds: dict[str, dict[str, Any]]  # the CRDs right after the install


@pytest.fixture(scope="module")
def installed(helm_binary: str, kube: Kube, namespaces: list[str], fixplus_crds: None,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    """One release, installed once for the tests that only look at it (or
    only start its operator)."""
    tmp = tmp_path_factory.mktemp("release")
    rel = Release(Helm(helm_binary, tmp / "helm-home", kubeconfig=kube.kubeconfig), kube,
                  namespaces, tmp)
    try:
        output = install(rel)
        crds = {name: kube.get("crd", name) or {} for name in CRDS}
        yield Installed(rel, output, crds)
    finally:
        remove(rel)  # the namespaces fixture then takes off what finalizers remain


@pytest.fixture
def release(helm_binary: str, kube: Kube, fixplus_crds: None,
            tmp_path: Path) -> Iterator[Release]:
    """A release of its own, installed in namespaces of its own, for a test
    that changes it (upgrade, uninstall): no test depends on another's."""
    names = new_namespaces(kube)
    rel = Release(Helm(helm_binary, tmp_path / "helm-home", kubeconfig=kube.kubeconfig), kube,
                  names, tmp_path)
    try:
        assert "STATUS: deployed" in install(rel)
        yield rel
    finally:
        remove(rel)
        delete_namespaces(kube, names)


def stop_operator(rel: Release) -> None:
    assert rel.operator is not None
    rel.operator.terminate()
    try:
        rel.operator.wait(20)
    except subprocess.TimeoutExpired:
        rel.operator.kill()
        rel.operator.wait(5)
    rel.operator = None


def replica_sets(rel: Release) -> list[str]:
    return rel.kube.run("get", "rs", "-n", rel.namespace, "-l",
                        f"app.kubernetes.io/instance={rel.name}", "-o", "name").stdout.split()


#: The chart's image setting in the release (the operator's and the engine pods').
IMAGE_REPOSITORY = "registry.example/fix/pyfixmsg-plus"


def start_operator(rel: Release) -> None:
    """Run fixplus-operator as the Deployment's pod would: its arguments (less
    the liveness endpoint), its environment and a token of the chart's
    ServiceAccount."""
    if rel.operator is not None:
        stop_operator(rel)  # it releases its Lease: the new one leads at once
    token = rel.kube.run("create", "token", rel.fullname, "-n", rel.namespace,
                         "--duration=1h").stdout.strip()
    admin = yaml.safe_load(Path(rel.kube.kubeconfig).read_text())
    config = {
        "apiVersion": "v1", "kind": "Config", "clusters": admin["clusters"],
        "users": [{"name": "operator", "user": {"token": token}}],
        "contexts": [{"name": "operator", "context": {
            "cluster": admin["clusters"][0]["name"], "user": "operator"}}],
        "current-context": "operator",
    }
    kubeconfig = rel.tmp / "operator-kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config))
    container = rel.deployment()["spec"]["template"]["spec"]["containers"][0]
    args = [a for a in container["args"] if not a.startswith("--liveness")]
    chart_env = {e["name"]: e["value"] for e in container.get("env") or [] if "value" in e}
    env = {**os.environ, **chart_env, "KUBECONFIG": str(kubeconfig)}
    rel.operator_log = rel.tmp / f"operator-{time.monotonic_ns()}.log"
    with rel.operator_log.open("w") as out:
        rel.operator = subprocess.Popen([str(OPERATOR), *args], env=env, stdout=out,
                                        stderr=subprocess.STDOUT)


#: A refused API call in the operator's log: urllib3's debug line for a 403
#: answer, the kubernetes client's ApiException "(403)", kopf's "forbidden".
#: (Not a bare "403": at debug level timestamps and sizes contain it too.)
_FORBIDDEN = re.compile(r'HTTP/1\.1" 403 |\(403\)|[Ff]orbidden')


def assert_never_forbidden(rel: Release) -> None:
    log = rel.operator_log.read_text()
    m = _FORBIDDEN.search(log)
    assert m is None, log[max(0, m.start() - 2000):m.end() + 2000] if m else ""


def test_install(installed: Installed) -> None:
    rel, out = installed.release, installed.output
    assert "STATUS: deployed" in out
    notes = out[out.index("NOTES:"):]
    assert "runs as 1 pod(s); one leads" in notes
    assert f"Engine pods run {IMAGE_REPOSITORY}:0.1.0." in notes
    assert 'Resources may reference only the Secrets labelled fixplus.io/allow-reference="true".' \
        in notes
    assert f"in: {rel.watch_a}, {rel.watch_b}." in notes
    assert "3 dashboards in ConfigMaps labelled grafana_dashboard=1 in " + rel.namespace in notes
    assert "PrometheusRule" in notes  # created, or why not

    deployment = rel.deployment()
    assert deployment["spec"]["replicas"] == 1
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert f"--namespace={rel.watch_a}" in container["args"]
    assert rel.get("serviceaccount", rel.fullname, rel.namespace)
    for suffix in ("reconcile", "cluster"):
        assert rel.get("clusterrole", f"{rel.fullname}-{suffix}")
    assert rel.get("clusterrolebinding", f"{rel.fullname}-cluster")
    assert rel.get("clusterrolebinding", f"{rel.fullname}-reconcile") is None
    for ns in (rel.watch_a, rel.watch_b):
        assert rel.get("rolebinding", f"{rel.fullname}-reconcile", ns)
    for board in ("overview", "session", "store"):
        cm = rel.get("configmap", f"{rel.fullname}-fixplus-{board}", rel.namespace)
        assert cm and cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    for name in CRDS:  # there before: left as they were, not taken into the release
        assert installed.crds[name]
    manifest = rel.helm.run("get", "manifest", rel.name, "--namespace", rel.namespace).stdout
    assert "kind: CustomResourceDefinition" not in manifest
    assert rel.get("role", f"{rel.fullname}-leader", rel.namespace)
    for role in ("acceptor", "initiator"):
        assert rel.get("fixsession", f"{rel.fullname}-example-{role}", rel.watch_a)
    if env_value("FIXPLUS_KUBE_GC") == "1":
        # the deployment controller runs: it makes the ReplicaSet (its pod never starts)
        wait_for("the operator's ReplicaSet", lambda: replica_sets(rel))
    status = rel.helm.run("status", rel.name, "--namespace", rel.namespace).stdout
    assert "STATUS: deployed" in status and "REVISION: 1" in status


def test_service_account_can_do_what_the_operator_does_and_no_more(installed: Installed
                                                                    ) -> None:
    rel = installed.release
    who = f"system:serviceaccount:{rel.namespace}:{rel.fullname}"

    def can(verb: str, resource: str, ns: str | None = None) -> bool:
        args = ["auth", "can-i", verb, resource, "--as", who]
        args += ["-n", ns] if ns else ["--all-namespaces"]
        proc = rel.kube.run(*args, check=False)
        return proc.stdout.strip() == "yes"

    a = rel.watch_a
    assert can("watch", "fixsessions.fixplus.io", a)
    assert can("patch", "fixsessions.fixplus.io/status", a)
    assert can("patch", "deployments.apps", a) and can("delete", "configmaps", a)
    assert can("create", "events", a) and can("watch", "secrets", a)
    assert can("update", "leases.coordination.k8s.io", rel.namespace)
    assert not can("update", "leases.coordination.k8s.io", a)
    assert can("watch", "customresourcedefinitions.apiextensions.k8s.io")
    assert can("list", "namespaces") and not can("get", "namespaces")
    # namespaced watch: nothing outside the watched namespaces
    assert not can("watch", "fixsessions.fixplus.io")
    assert not can("patch", "deployments.apps", rel.namespace)
    assert not can("get", "secrets", "default")
    # and never more than the operator uses, even where it works
    assert not can("patch", "secrets", a)
    assert not can("get", "pods", a)
    assert not can("update", "deployments.apps", a)
    assert not can("create", "rolebindings.rbac.authorization.k8s.io", a)
    assert not can("delete", "customresourcedefinitions.apiextensions.k8s.io")


def test_operator_reconciles_with_the_charts_service_account(installed: Installed) -> None:
    """fixplus-operator with a token of the chart's ServiceAccount (and so only
    its RBAC) reconciles the example resources, as the pod would."""
    rel = installed.release
    start_operator(rel)
    def reconciled(name: str) -> dict[str, Any] | None:
        obj = rel.get("fixsession", name, rel.watch_a)
        for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
            if cond["type"] == "Reconciled" and cond["status"] == "True":
                return obj
        return None

    try:
        for role in ("acceptor", "initiator"):
            name = f"{rel.fullname}-example-{role}"
            obj = wait_for(f"FixSession {name} reconciled", lambda n=name: reconciled(n))
            owned = obj["status"]["owned"]
            assert {"apiVersion": "apps/v1", "kind": "Deployment",
                    "name": f"fixs-{name}"} in owned
            # the chart's image reaches the engine pods
            engine = rel.get("deployment", f"fixs-{name}", rel.watch_a)
            assert engine is not None
            assert engine["spec"]["template"]["spec"]["containers"][0]["image"] == \
                f"{IMAGE_REPOSITORY}:0.1.0"
            for o in owned:  # everything it applied, it was allowed to apply
                api_group, _, version = o["apiVersion"].rpartition("/")
                resource = f"{o['kind']}.{version}.{api_group}" if api_group else o["kind"]
                assert rel.get(resource, o["name"], rel.watch_a), o
        store = wait_for("the example MessageStore ready", lambda: (rel.get(
            "messagestore", f"{rel.fullname}-example-store", rel.watch_a) or {}).get("status"))
        assert store["conditions"]
    finally:
        assert_never_forbidden(rel)


def run_operator_until_reconciled(rel: Release) -> None:
    """The release's operator running, its examples reconciled (and so
    carrying kopf's finalizers and state)."""
    start_operator(rel)
    for role in ("acceptor", "initiator"):
        name = f"{rel.fullname}-example-{role}"
        wait_for(f"FixSession {name} reconciled", lambda n=name: any(
            c["type"] == "Reconciled" and c["status"] == "True"
            for c in ((rel.get("fixsession", n, rel.watch_a) or {}).get("status") or {}).get(
                "conditions") or []))


def test_upgrade_changes_the_deployment_and_the_watched_namespaces(release: Release) -> None:
    rel = release
    run_operator_until_reconciled(rel)  # the old pod
    before = rel.deployment()
    out = rel.helm_run("upgrade", "--reuse-values", "--set", "operator.logLevel=debug",
                       "--set", f"watch.namespaces={{{rel.watch_a}}}")
    assert "STATUS: deployed" in out and "REVISION: 2" in out
    after = rel.deployment()
    assert after["metadata"]["generation"] > before["metadata"]["generation"]
    args = after["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--log-level=debug" in args and f"--namespace={rel.watch_b}" not in args
    # the RoleBinding of the namespace no longer watched is gone
    assert rel.get("rolebinding", f"{rel.fullname}-reconcile", rel.watch_a)
    assert rel.get("rolebinding", f"{rel.fullname}-reconcile", rel.watch_b) is None
    if env_value("FIXPLUS_KUBE_GC") == "1":
        wait_for("a second ReplicaSet", lambda: len(replica_sets(rel)) == 2)
    # the new pod: it reconciles in the namespace still watched, with the
    # permissions left
    start_operator(rel)
    for what in ("leading as", "Handler 'on-resume' succeeded"):
        wait_for(what, lambda w=what: w in rel.operator_log.read_text())
    assert_never_forbidden(rel)


def test_upgrade_leaves_the_crds_alone(release: Release) -> None:
    """A new chart version whose CRD changed: `helm upgrade` does not touch the
    CRDs (crds/ folder); the upgrade notes say to apply them (docs/helm.md)."""
    rel = release
    chart = rel.tmp / "chart-next" / "pyfixmsg-plus"
    shutil.copytree(CHART, chart)
    crd_file = chart / "crds" / "fixsessions.fixplus.io.yaml"
    crd = yaml.safe_load(crd_file.read_text())
    crd["spec"]["versions"][0].setdefault("additionalPrinterColumns", []).append(
        {"name": "Chart-Upgrade-Test", "type": "string", "jsonPath": ".spec.senderCompId",
         "priority": 1})
    crd_file.write_text(yaml.safe_dump(crd))
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    meta["version"] = "0.1.1-test"
    (chart / "Chart.yaml").write_text(yaml.safe_dump(meta))
    before = rel.get("crd", "fixsessions.fixplus.io")
    assert before is not None
    out = rel.helm_run("upgrade", "--reuse-values", chart=chart)
    assert "kubectl apply --server-side -f crds/" in out
    after = rel.get("crd", "fixsessions.fixplus.io")
    assert after is not None
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert "pyfixmsg-plus-0.1.1-test" in rel.deployment()["metadata"]["labels"]["helm.sh/chart"]
    rel.helm_run("upgrade", "--reuse-values")  # and back
    history = rel.helm.run("history", rel.name, "--namespace", rel.namespace).stdout
    assert len(history.strip().splitlines()) == 1 + 3, history  # install, upgrade, back


def test_uninstalling_as_documented(release: Release) -> None:
    """docs/helm.md, uninstalling: the examples go with the release while the
    operator runs (no finalizer holds them), then ``helm uninstall`` removes
    the operator and keeps the CRDs.  One test: it is one procedure."""
    rel = release
    # -- examples off while the operator runs ---------------------------------
    run_operator_until_reconciled(rel)
    rel.helm_run("upgrade", "--reuse-values", "--set", "examples.enabled=false")
    for role in ("acceptor", "initiator"):
        name = f"{rel.fullname}-example-{role}"
        wait_for(f"FixSession {name} gone",
                 lambda n=name: rel.get("fixsession", n, rel.watch_a) is None, timeout=60)
        if env_value("FIXPLUS_KUBE_GC") == "1":
            # (the garbage collector of a shared controller-manager works
            # through one queue for every namespace: give it time)
            wait_for(f"Deployment fixs-{name} collected",
                     lambda n=name: rel.get("deployment", f"fixs-{n}", rel.watch_a) is None,
                     timeout=GC_TIMEOUT)
    wait_for("the example MessageStore gone", lambda: rel.get(
        "messagestore", f"{rel.fullname}-example-store", rel.watch_a) is None)

    # -- then the release ------------------------------------------------------
    if rel.operator is not None:
        stop_operator(rel)
    rel.helm.run("uninstall", rel.name, "--namespace", rel.namespace)
    assert rel.get("deployment", rel.fullname, rel.namespace) is None
    assert rel.get("serviceaccount", rel.fullname, rel.namespace) is None
    for suffix in ("reconcile", "cluster"):
        assert rel.get("clusterrole", f"{rel.fullname}-{suffix}") is None
        assert rel.get("clusterrolebinding", f"{rel.fullname}-{suffix}") is None
    assert rel.get("rolebinding", f"{rel.fullname}-reconcile", rel.watch_a) is None
    assert rel.get("configmap", f"{rel.fullname}-fixplus-overview", rel.namespace) is None
    for name in CRDS:
        crd = rel.get("crd", name)
        assert crd is not None, f"{name} must survive helm uninstall"
        assert crd["status"]["acceptedNames"]["kind"]
    listed = rel.helm.run("list", "--namespace", rel.namespace, "-q").stdout
    assert rel.name not in listed


def test_cluster_wide_release_grants_every_namespace(helm_binary: str, kube: Kube,
                                                     namespaces: list[str],
                                                     tmp_path: Path) -> None:
    """The default (watch every namespace): one ClusterRoleBinding.  The CRDs
    are left out (--skip-crds), and the operator is not
    started: cluster-wide, it would reconcile the other tests' resources."""
    helm = Helm(helm_binary, tmp_path / "helm-home", kubeconfig=kube.kubeconfig)
    name, namespace = f"cw{uuid.uuid4().hex[:6]}", namespaces[0]
    helm.run("install", name, str(CHART), "--namespace", namespace,
             "--skip-crds", "--set", "dashboards.enabled=false")
    try:
        who = f"system:serviceaccount:{namespace}:{name}-pyfixmsg-plus"

        def can(verb: str, resource: str, *where: str) -> bool:
            proc = kube.run("auth", "can-i", verb, resource, "--as", who, *where, check=False)
            return proc.stdout.strip() == "yes"

        assert can("watch", "fixsessions.fixplus.io", "--all-namespaces")
        assert can("patch", "deployments.apps", "-n", namespaces[2])
        assert not can("list", "namespaces")  # kopf does not need them cluster-wide
        assert can("list", "secrets", "-n", namespaces[2])  # watched: keys and labels
        assert not can("patch", "secrets", "-n", namespaces[2])
        assert kube.get("clusterrolebinding", f"{name}-pyfixmsg-plus-reconcile")
    finally:
        helm.run("uninstall", name, "--namespace", namespace)
    assert kube.get("clusterrolebinding", f"{name}-pyfixmsg-plus-reconcile") is None
