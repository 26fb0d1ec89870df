"""The chart tests: a real ``helm`` (tests/env/25-helm.sh) and, for the
install tests, the real kube-apiserver of tests/env/20-kube.sh.

There is no kubelet: pods never run, so the tests assert on the objects the
API server holds (and on what the operator does when it is started here,
outside the cluster, with the chart's ServiceAccount token).
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import kubeclean
from tests.realparts import REPO, env_value, missing

CHART = REPO / "charts" / "pyfixmsg-plus"
PROMETHEUS_RULE_API = "monitoring.coreos.com/v1/PrometheusRule"


@dataclass
class Helm:
    """The helm binary, with its state kept under a temporary folder."""

    binary: str
    home: Path
    kubeconfig: str | None = None
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("config", "cache", "data"):
            (self.home / name).mkdir(parents=True, exist_ok=True)
        self.env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(self.home),
            "HELM_CONFIG_HOME": str(self.home / "config"),
            "HELM_CACHE_HOME": str(self.home / "cache"),
            "HELM_DATA_HOME": str(self.home / "data"),
        }
        if self.kubeconfig:
            self.env["KUBECONFIG"] = self.kubeconfig

    def run(self, *args: str, check: bool = True,
            timeout: float = 180) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([self.binary, *args], env=self.env, capture_output=True,
                              text=True, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"helm {' '.join(args)} failed ({proc.returncode}):\n"
                                 f"{proc.stderr}{proc.stdout[-2000:]}")
        return proc

    def template(self, *args: str, chart: Path = CHART, namespace: str = "fixplus-system",
                 release: str = "fixplus") -> str:
        return self.run("template", release, str(chart), "--namespace", namespace,
                        *args).stdout


def docs(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


def find(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [o for o in objects
            if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


@pytest.fixture(scope="session")
def helm_binary() -> str:
    binary = env_value("FIXPLUS_HELM")
    if not binary or not Path(binary).is_file():
        missing("no helm binary: tests/env/25-helm.sh builds it and sets FIXPLUS_HELM "
                "(run tests/env/setup.sh)")
    assert binary
    return binary


@pytest.fixture(scope="module")
def helm(helm_binary: str, tmp_path_factory: pytest.TempPathFactory) -> Helm:
    return Helm(helm_binary, tmp_path_factory.mktemp("helm-home"))


# -- the API server ----------------------------------------------------------------


@dataclass
class Kube:
    kubeconfig: str
    kubectl_bin: str

    def run(self, *args: str, stdin: str | None = None, check: bool = True,
            kubeconfig: str | None = None) -> subprocess.CompletedProcess[str]:
        cmd = [self.kubectl_bin, "--kubeconfig", kubeconfig or self.kubeconfig, *args]
        proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=120,
                              check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{proc.stderr}")
        return proc

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        ns = ["-n", namespace] if namespace else []
        proc = self.run("get", kind, name, *ns, "-o", "json", check=False)
        if proc.returncode != 0:
            if "NotFound" in proc.stderr:
                return None
            raise AssertionError(proc.stderr)
        data = json.loads(proc.stdout)
        assert isinstance(data, dict)
        return data

    def dry_run(self, manifest: str) -> subprocess.CompletedProcess[str]:
        """``kubectl apply --dry-run=server``: the API server validates and
        admits every object (schemas, CEL rules, RBAC escalation checks) but
        stores nothing."""
        return self.run("apply", "--dry-run=server", "--server-side", "--force-conflicts",
                        "--field-manager=fixplus-helm-test", "-f", "-", stdin=manifest,
                        check=False)

    @property
    def cluster(self) -> kubeclean.Cluster:
        return kubeclean.Cluster(self.kubectl_bin, self.kubeconfig)


@pytest.fixture(scope="session")
def kube() -> Kube:
    kubeconfig = env_value("FIXPLUS_KUBECONFIG")
    kubectl = env_value("FIXPLUS_KUBECTL")
    if not (kubeconfig and kubectl):
        missing("no kube-apiserver: tests/env/20-kube.sh sets FIXPLUS_KUBECONFIG and "
                "FIXPLUS_KUBECTL (run tests/env/setup.sh)")
    assert kubeconfig and kubectl
    k = Kube(kubeconfig, kubectl)
    probe = k.run("get", "--raw", "/readyz", check=False)
    if probe.returncode != 0:
        missing(f"the kube-apiserver of {kubeconfig} does not answer: {probe.stderr.strip()}")
    return k


@pytest.fixture(scope="session")
def prometheus_rule_crd(kube: Kube) -> None:
    """The prometheus-operator's PrometheusRule CRD in the API server."""
    path = env_value("FIXPLUS_PROMETHEUSRULE_CRD")
    if not path or not Path(path).is_file():
        missing("no PrometheusRule CRD: tests/env/25-helm.sh fetches it and sets "
                "FIXPLUS_PROMETHEUSRULE_CRD (run tests/env/setup.sh)")
    assert path
    kube.run("apply", "--server-side", "--force-conflicts", "-f", path)
    kube.run("wait", "--for=condition=established", "--timeout=60s",
             "crd/prometheusrules.monitoring.coreos.com")


def new_namespaces(kube: Kube) -> list[str]:
    """Three fresh namespaces: a release's and two watched ones (delete
    them with :func:`delete_namespaces`)."""
    suffix = uuid.uuid4().hex[:6]
    names = [f"fixplus-helm-{suffix}", f"fixplus-helm-{suffix}-a", f"fixplus-helm-{suffix}-b"]
    for name in names:
        kubeclean.create_namespace(kube.cluster, name)
    return names


def delete_namespaces(kube: Kube, names: list[str]) -> None:
    """Delete them, taking off the finalizers of resources a stopped
    operator would have removed (tests/kubeclean.py)."""
    for name in names:
        kubeclean.delete_namespace(kube.cluster, name)


@pytest.fixture(scope="module")
def namespaces(kube: Kube) -> Iterator[list[str]]:
    names = new_namespaces(kube)
    try:
        yield names
    finally:
        delete_namespaces(kube, names)
