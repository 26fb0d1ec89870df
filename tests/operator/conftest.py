"""A real kube-apiserver (tests/env/20-kube.sh), the CRDs and a running operator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests import kubeclean
from tests.realparts import REPO, env_value, missing

T = TypeVar("T")
OPERATOR = Path(sys.executable).parent / "fixplus-operator"


class Kube:
    """kubectl against the test API server, in one namespace."""

    def __init__(self, kubeconfig: str, kubectl: str, namespace: str) -> None:
        self.kubeconfig = kubeconfig
        self.kubectl_bin = kubectl
        self.namespace = namespace

    def run(self, *args: str, stdin: str | None = None, check: bool = True,
            namespaced: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [self.kubectl_bin, "--kubeconfig", self.kubeconfig]
        if namespaced:
            cmd += ["-n", self.namespace]
        proc = subprocess.run([*cmd, *args], check=False, input=stdin, capture_output=True, text=True,
                              timeout=60)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{proc.stderr}")
        return proc

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        proc = self.run("get", kind, name, "-o", "json", "--show-managed-fields", check=False)
        if proc.returncode != 0:
            if "NotFound" in proc.stderr:
                return None
            raise AssertionError(proc.stderr)
        data = json.loads(proc.stdout)
        assert isinstance(data, dict)
        return data

    def items(self, kind: str, selector: str | None = None) -> list[dict[str, Any]]:
        args = ["get", kind, "-o", "json"] + (["-l", selector] if selector else [])
        data = json.loads(self.run(*args).stdout)
        return list(data["items"])

    def events(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.items("events")
                if e.get("involvedObject", {}).get("name") == name]


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 30.0) -> T:
    """Poll ``probe`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except AssertionError as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def condition(obj: dict[str, Any] | None, type_: str) -> dict[str, Any] | None:
    for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == type_:
            return dict(cond)
    return None


@pytest.fixture(scope="session")
def kube_env() -> tuple[str, str, list[str]]:
    kubeconfig = env_value("FIXPLUS_KUBECONFIG")
    kubectl = env_value("FIXPLUS_KUBECTL")
    crds = env_value("FIXPLUS_KUBE_CRDS")
    if not (kubeconfig and kubectl and crds):
        missing("no kube-apiserver: tests/env/20-kube.sh sets FIXPLUS_KUBECONFIG, "
                "FIXPLUS_KUBECTL and FIXPLUS_KUBE_CRDS (run tests/env/setup.sh)")
    assert kubeconfig and kubectl and crds
    probe = subprocess.run([kubectl, "--kubeconfig", kubeconfig, "get", "--raw", "/readyz"],
                           check=False, capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        missing(f"the kube-apiserver of {kubeconfig} does not answer: {probe.stderr.strip()}")
    return kubeconfig, kubectl, crds.split(":")


@pytest.fixture(scope="session")
def crds_installed(kube_env: tuple[str, str, list[str]]) -> None:
    kubeconfig, kubectl, extra = kube_env
    base = [kubectl, "--kubeconfig", kubeconfig]
    for path in [str(REPO / "crds"), *extra]:
        subprocess.run([*base, "apply", "--server-side", "--force-conflicts", "-f", path],
                       check=True, capture_output=True, timeout=120)
    subprocess.run([*base, "wait", "--for", "condition=established", "--timeout=60s",
                    "crd", "--all"], check=True, capture_output=True, timeout=90)


@pytest.fixture(scope="module")
def kube(kube_env: tuple[str, str, list[str]], crds_installed: None,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kube]:
    """A fresh namespace with the operator watching it.

    Teardown stops the operator, reaps it, and deletes the namespace with
    any finalizers taken off (tests/kubeclean.py), so that it does not stay
    Terminating."""
    kubeconfig, kubectl, _ = kube_env
    namespace = f"fixplus-it-{uuid.uuid4().hex[:8]}"
    k = Kube(kubeconfig, kubectl, namespace)
    cluster = kubeclean.Cluster(kubectl, kubeconfig)
    kubeclean.create_namespace(cluster, namespace)
    log = tmp_path_factory.mktemp("operator") / "operator.log"
    env = {**os.environ, "KUBECONFIG": kubeconfig}
    with log.open("w") as out:
        proc = subprocess.Popen([str(OPERATOR), "--namespace", namespace], env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        yield k
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        kubeclean.delete_namespace(cluster, namespace)
        text = log.read_text()
        if "Traceback" in text:
            print(f"operator log ({log}):\n{text[-5000:]}")


@pytest.fixture()
def kube_bare(kube_env: tuple[str, str, list[str]], crds_installed: None) -> Iterator[Kube]:
    """A fresh namespace and no operator (the test starts its own)."""
    kubeconfig, kubectl, _ = kube_env
    k = Kube(kubeconfig, kubectl, f"fixplus-it-{uuid.uuid4().hex[:8]}")
    k.run("create", "namespace", k.namespace, namespaced=False)
    try:
        yield k
    finally:
        k.run("delete", "namespace", k.namespace, "--wait=false", check=False, namespaced=False)
