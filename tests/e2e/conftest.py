"""End to end: real pods on the node of tests/env/21-node.sh.

The operator is installed by the Helm chart and runs as a pod (in-cluster
configuration, its ServiceAccount); engine pods run the image built from the
Dockerfile; counterparties run on the host.  Pods reach the host at
``FIXPLUS_NODE_HOST_IP``; the host reaches acceptor pods through NodePort
Services on that address.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
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

from tests.e2e.hostproxy import HostProxy
from tests.realparts import REPO, env_value, missing

T = TypeVar("T")
CHART = REPO / "charts" / "pyfixmsg-plus"
FIXPLUS = Path(sys.executable).parent / "fixplus"


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 120.0,
             describe: Callable[[], str] | None = None) -> T:
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
        time.sleep(0.5)
    more = f"\n{describe()}" if describe else ""
    raise AssertionError(f"timed out waiting for {what} (last: {last!r}){more}")


@dataclass
class Cluster:
    """kubectl and helm against the test API server that has the node."""

    kubeconfig: str
    kubectl_bin: str
    helm_bin: str
    node: str
    image: str
    host_ip: str
    logs: Path

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True,
                timeout: float = 120) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([self.kubectl_bin, "--kubeconfig", self.kubeconfig, *args],
                              input=stdin, capture_output=True, text=True, timeout=timeout,
                              check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{proc.stderr}")
        return proc

    def helm(self, *args: str, home: Path) -> str:
        env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "KUBECONFIG": self.kubeconfig,
               "HELM_CONFIG_HOME": str(home / "config"), "HELM_CACHE_HOME": str(home / "cache"),
               "HELM_DATA_HOME": str(home / "data")}
        proc = subprocess.run([self.helm_bin, *args], env=env, capture_output=True, text=True,
                              timeout=300, check=False)
        if proc.returncode != 0:
            raise AssertionError(f"helm {' '.join(args)} failed:\n{proc.stderr}{proc.stdout}")
        return proc.stdout


@dataclass
class Namespace:
    cluster: Cluster
    name: str

    def run(self, *args: str, stdin: str | None = None,
            check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.cluster.kubectl("-n", self.name, *args, stdin=stdin, check=check)

    def apply(self, objects: list[dict[str, Any]] | str) -> None:
        text = objects if isinstance(objects, str) else yaml.safe_dump_all(objects)
        self.run("apply", "-f", "-", stdin=text)

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        proc = self.run("get", kind, name, "-o", "json", check=False)
        if proc.returncode != 0:
            if "NotFound" in proc.stderr:
                return None
            raise AssertionError(proc.stderr)
        data = json.loads(proc.stdout)
        assert isinstance(data, dict)
        return data

    def items(self, kind: str, selector: str | None = None) -> list[dict[str, Any]]:
        args = ["get", kind, "-o", "json"] + (["-l", selector] if selector else [])
        return list(json.loads(self.run(*args).stdout)["items"])

    def pods(self, instance: str) -> list[dict[str, Any]]:
        """The running (not terminating) pods of a resource."""
        return [p for p in self.items("pods", f"app.kubernetes.io/instance={instance}")
                if not p["metadata"].get("deletionTimestamp")]

    def ready_pod(self, instance: str, timeout: float = 180) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            for pod in self.pods(instance):
                conds = {c["type"]: c["status"] for c in pod["status"].get("conditions", [])}
                if conds.get("Ready") == "True":
                    return pod
            return None
        return wait_for(f"a Ready pod of {instance} in {self.name}", probe, timeout,
                        describe=lambda: self.describe(instance))

    def started_pod(self, instance: str, timeout: float = 180) -> dict[str, Any]:
        """A running pod whose containers have started (an acceptor's pod is
        Ready only once its FIX session is logged on: docs/operator.md)."""
        def probe() -> dict[str, Any] | None:
            for pod in self.pods(instance):
                statuses = pod["status"].get("containerStatuses") or []
                if pod["status"].get("phase") == "Running" and statuses and all(
                        c.get("started") for c in statuses):
                    return pod
            return None
        return wait_for(f"a started pod of {instance} in {self.name}", probe, timeout,
                        describe=lambda: self.describe(instance))

    def logs(self, pod: str) -> str:
        return self.run("logs", pod, "--all-containers", check=False).stdout

    def describe(self, instance: str) -> str:
        lines = []
        for pod in self.items("pods", f"app.kubernetes.io/instance={instance}"):
            name = pod["metadata"]["name"]
            lines.append(f"pod {name}: {json.dumps(pod['status'].get('containerStatuses'))}")
            lines.append(self.logs(name)[-3000:])
        events = self.run("get", "events", "--sort-by=.lastTimestamp", check=False).stdout
        return "\n".join([*lines, events[-3000:]])


@pytest.fixture(scope="session")
def cluster() -> Cluster:
    values = {key: env_value(key) for key in (
        "FIXPLUS_KUBECONFIG", "FIXPLUS_KUBECTL", "FIXPLUS_HELM", "FIXPLUS_NODE",
        "FIXPLUS_NODE_IMAGE", "FIXPLUS_NODE_HOST_IP", "FIXPLUS_NODE_LOGS")}
    absent = [key for key, value in values.items() if not value]
    if absent:
        missing(f"no node to run pods on: tests/env/20-kube.sh, 21-node.sh and 25-helm.sh set "
                f"{', '.join(absent)} (run tests/env/setup.sh)")
    c = Cluster(str(values["FIXPLUS_KUBECONFIG"]), str(values["FIXPLUS_KUBECTL"]),
                str(values["FIXPLUS_HELM"]), str(values["FIXPLUS_NODE"]),
                str(values["FIXPLUS_NODE_IMAGE"]), str(values["FIXPLUS_NODE_HOST_IP"]),
                Path(str(values["FIXPLUS_NODE_LOGS"])))
    proc = c.kubectl("get", "node", c.node, "-o",
                     "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}", check=False)
    if proc.returncode != 0 or proc.stdout.strip() != "True":
        missing(f"the node {c.node} is not Ready ({proc.stdout.strip()}{proc.stderr.strip()}); "
                f"its logs are in {c.logs}")
    for crd in (REPO / "crds", *(env_value("FIXPLUS_KUBE_CRDS") or "").split(":")):
        if str(crd):
            c.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(crd))
    c.kubectl("wait", "--for", "condition=established", "--timeout=60s", "crd", "--all")
    return c


@dataclass
class Release:
    namespace: Namespace
    name: str
    operator_pod: dict[str, Any]


@pytest.fixture(scope="module")
def release(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Release]:
    """A namespace of its own with the operator installed by the chart and
    running as a pod that watches it."""
    name = f"fixplus-e2e-{uuid.uuid4().hex[:8]}"
    ns = Namespace(cluster, name)
    cluster.kubectl("create", "namespace", name)
    home = tmp_path_factory.mktemp("helm-home")
    repository, _, tag = cluster.image.rpartition(":")
    release_name = "e2e"
    try:
        cluster.helm("install", release_name, str(CHART), "--namespace", name, "--wait",
                     "--timeout", "4m",
                     "--set", f"image.repository={repository.removeprefix('docker.io/library/')}",
                     "--set", f"image.tag={tag}", "--set", "image.pullPolicy=Never",
                     "--skip-crds", "--set", "dashboards.enabled=false",
                     "--set", "alerts.enabled=false",
                     "--set", f"watch.namespaces={{{name}}}", home=home)
        pod = ns.ready_pod(release_name, timeout=60)
        yield Release(ns, release_name, pod)
    finally:
        # FixSessions first, while the operator runs to take their finalizers off
        for kind in ("fixsessions", "fixclusters", "messagestores"):
            ns.run("delete", kind, "--all", "--wait=true", "--timeout=60s", check=False)
        with contextlib.suppress(AssertionError):
            cluster.helm("uninstall", release_name, "--namespace", name, "--wait", home=home)
        cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


@dataclass
class Postgres:
    """The test PostgreSQL of the host, reached by pods through a proxy on
    the host's address; a database of its own."""

    host: str
    port: int
    database: str
    user: str
    password: str


@pytest.fixture(scope="module")
def postgres(cluster: Cluster) -> Iterator[Postgres]:
    dsn = env_value("FIXPLUS_PG_DSN")
    if not dsn:
        missing("no PostgreSQL: tests/env/10-postgres.sh sets FIXPLUS_PG_DSN")
    assert dsn
    from urllib.parse import urlsplit
    url = urlsplit(dsn)
    assert url.hostname and url.port and url.username and url.password
    database = f"fixplus_e2e_{uuid.uuid4().hex[:8]}"
    admin = [sys.executable, "-c", (
        "import asyncio, asyncpg, sys\n"
        "async def main():\n"
        "    conn = await asyncpg.connect(sys.argv[1])\n"
        "    await conn.execute(sys.argv[2])\n"
        "    await conn.close()\n"
        "asyncio.run(main())\n")]
    subprocess.run([*admin, dsn, f'CREATE DATABASE "{database}"'], check=True, timeout=60)
    proxy = HostProxy(cluster.host_ip, url.hostname, url.port)
    proxy.start()
    try:
        yield Postgres(cluster.host_ip, proxy.port, database, url.username, url.password)
    finally:
        proxy.stop()
        subprocess.run([*admin, dsn, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'],
                       check=False, timeout=60)


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class HostEngine:
    """A counterparty process on the host: ``fixplus run`` with the
    application of tests/e2e/counterparty.py."""

    def __init__(self, where: Path, session: dict[str, Any], orders: int = 0,
                 prefix: str = "o") -> None:
        self.where = where
        where.mkdir(parents=True, exist_ok=True)
        self.config = where / "engine.yaml"
        self.events_file = where / "events.jsonl"
        self.log = where / "engine.log"
        self.config.write_text(yaml.safe_dump({
            "store": f"sqlite:///{where / 'store.db'}",
            "sessions": [session],
            "metrics": {"enabled": False},
        }))
        self.env = {**os.environ, "PYTHONPATH": str(REPO), "FIXPLUS_E2E_EVENTS":
                    str(self.events_file), "FIXPLUS_E2E_ORDERS": str(orders),
                    "FIXPLUS_E2E_PREFIX": prefix}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> HostEngine:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [str(FIXPLUS), "run", "-c", str(self.config), "--log-level", "info",
                 "--app", "tests.e2e.counterparty:Counterparty"],
                env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd=str(REPO))
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        if not self.events_file.exists():
            return []
        out = [json.loads(line) for line in self.events_file.read_text().splitlines() if line]
        return [e for e in out if kind is None or e["event"] == kind]

    def wait_events(self, kind: str, count: int, timeout: float = 90) -> list[dict[str, Any]]:
        def probe() -> list[dict[str, Any]] | None:
            found = self.events(kind)
            return found if len(found) >= count else None
        return wait_for(f"{count} {kind} events of the host engine", probe, timeout,
                        describe=lambda: self.log.read_text()[-3000:])
