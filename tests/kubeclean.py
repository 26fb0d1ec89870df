"""What the tests create in the shared kube-apiserver, and taking it away.

Every namespace a test creates goes through :func:`create_namespace`: it is
labelled with this run's id (``fixplus.io/test-run``) and remembered.
:func:`delete_namespace` first takes the finalizers off the fixplus
resources in it (kopf puts one on each, and only a running operator takes
it off: with the operator under test stopped, they would hold the namespace
in ``Terminating`` for ever), then deletes the namespace.  At the end of the
session ``tests/conftest.py`` calls :func:`leftovers`, which waits for this
run's namespaces to be gone and reports what is left and what holds it; a
leftover fails the run.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from dataclasses import dataclass

RUN_LABEL = "fixplus.io/test-run"
#: One id per pytest process (FIXPLUS_TEST_RUN_ID names it, e.g. in CI logs).
RUN_ID = os.environ.get("FIXPLUS_TEST_RUN_ID") or uuid.uuid4().hex[:10]
#: The kinds whose objects carry the operator's finalizer.
FINALIZED_KINDS = ("fixsessions.fixplus.io", "fixclusters.fixplus.io",
                   "messagestores.fixplus.io")


@dataclass(frozen=True)
class Cluster:
    kubectl: str
    kubeconfig: str

    def run(self, *args: str, stdin: str | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.kubectl, "--kubeconfig", self.kubeconfig, *args],
                              input=stdin, capture_output=True, text=True, timeout=timeout,
                              check=False)


_created: dict[str, Cluster] = {}


def created() -> list[str]:
    """The namespaces this run created and has not checked yet."""
    return list(_created)


def create_namespace(cluster: Cluster, name: str) -> None:
    """Create ``name`` labelled with this run's id, and remember it."""
    doc = {"apiVersion": "v1", "kind": "Namespace",
           "metadata": {"name": name, "labels": {RUN_LABEL: RUN_ID}}}
    _created[name] = cluster
    proc = cluster.run("create", "-f", "-", stdin=json.dumps(doc))
    if proc.returncode != 0:
        raise AssertionError(f"cannot create namespace {name}: {proc.stderr}")


def release_finalizers(cluster: Cluster, namespace: str) -> None:
    """Take the operator's finalizers off the fixplus resources in
    ``namespace`` (call it once the operator watching them has stopped)."""
    for kind in FINALIZED_KINDS:
        proc = cluster.run("get", kind, "-n", namespace, "-o", "name")
        for obj in proc.stdout.split():
            cluster.run("patch", obj, "-n", namespace, "--type=merge",
                        "-p", '{"metadata":{"finalizers":null}}')


def delete_namespace(cluster: Cluster, name: str) -> None:
    """Release the finalizers in ``name`` and delete it (without waiting:
    :func:`leftovers` checks at the end of the run that it went)."""
    release_finalizers(cluster, name)
    cluster.run("delete", "namespace", name, "--wait=false")


def _held_by(cluster: Cluster, namespace: str) -> str:
    """What still lives in a namespace that does not go away."""
    held = []
    for kind in FINALIZED_KINDS:
        proc = cluster.run("get", kind, "-n", namespace, "-o", "json")
        if proc.returncode != 0:
            continue
        for item in json.loads(proc.stdout).get("items", []):
            meta = item["metadata"]
            held.append(f"{kind.split('.')[0]}/{meta['name']} "
                        f"finalizers={meta.get('finalizers') or []}")
    proc = cluster.run("get", "namespace", namespace, "-o", "json")
    if proc.returncode == 0:
        status = json.loads(proc.stdout).get("status", {})
        for cond in status.get("conditions") or []:
            if cond.get("status") == "True":
                held.append(f"{cond['type']}: {cond.get('message', '')}")
        held.insert(0, f"phase {status.get('phase')}")
    return "; ".join(held)


def leftovers(timeout: float = 90.0) -> list[str]:
    """This run's namespaces still in the API server after ``timeout``
    seconds (each with what holds it); [] when everything went.

    Without kube-controller-manager (``FIXPLUS_KUBE_GC`` is not 1) no
    namespace ever finishes terminating: then a namespace counts as gone
    once it is Terminating with no fixplus resource left in it."""
    from tests.realparts import env_value

    namespace_controller = env_value("FIXPLUS_KUBE_GC") == "1"
    pending = dict(_created)
    left: list[str] = []
    deadline = time.monotonic() + timeout
    while pending:
        for name, cluster in list(pending.items()):
            proc = cluster.run("get", "namespace", name, "-o", "json")
            if proc.returncode != 0:
                if "NotFound" in proc.stderr:
                    del pending[name]
                continue
            phase = json.loads(proc.stdout).get("status", {}).get("phase")
            if phase != "Terminating":  # its test never deleted it: no use waiting
                left.append(f"namespace {name}: never deleted")
                del pending[name]
            elif not namespace_controller and not any(
                    cluster.run("get", kind, "-n", name, "-o", "name").stdout.strip()
                    for kind in FINALIZED_KINDS):
                del pending[name]
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(1)
    _created.clear()
    return left + [f"namespace {name}: {_held_by(cluster, name)}"
                   for name, cluster in pending.items()]
