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


def remember(cluster: Cluster, name: str) -> None:
    """Have the end-of-run check look for namespace ``name`` too."""
    _created[name] = cluster


def create_namespace(cluster: Cluster, name: str) -> None:
    """Create ``name`` labelled with this run's id, and remember it."""
    doc = {"apiVersion": "v1", "kind": "Namespace",
           "metadata": {"name": name, "labels": {RUN_LABEL: RUN_ID}}}
    remember(cluster, name)
    proc = cluster.run("create", "-f", "-", stdin=json.dumps(doc))
    if proc.returncode != 0:
        raise AssertionError(f"cannot create namespace {name}: {proc.stderr}")


def release_finalizers(cluster: Cluster, namespace: str) -> None:
    """Take the operator's finalizers off the fixplus resources in
    ``namespace`` (call it once the operator watching them has stopped)."""
    proc = cluster.run("get", ",".join(FINALIZED_KINDS), "-n", namespace, "-o", "json")
    if proc.returncode != 0:
        return
    for item in json.loads(proc.stdout).get("items", []):
        meta = item["metadata"]
        if meta.get("finalizers"):
            group = item["apiVersion"].split("/")[0]
            cluster.run("patch", f"{item['kind'].lower()}.{group}/{meta['name']}",
                        "-n", namespace, "--type=merge",
                        "-p", '{"metadata":{"finalizers":null}}')


def delete_namespace(cluster: Cluster, name: str) -> None:
    """Release the finalizers in ``name`` and delete it (without waiting:
    :func:`leftovers` checks at the end of the run that it went)."""
    release_finalizers(cluster, name)
    cluster.run("delete", "namespace", name, "--wait=false")


#: Namespace conditions saying that something holds the deletion: content
#: finalizers (only their controller takes them off) or a failed deletion.
#: (NamespaceContentRemaining alone is the namespace controller at work.)
_HOLDING = ("NamespaceFinalizersRemaining", "NamespaceDeletionContentFailure",
            "NamespaceDeletionDiscoveryFailure", "NamespaceDeletionGroupVersionParsingFailure")


def _held_by(cluster: Cluster, namespace: str) -> tuple[bool, str]:
    """Whether something holds a namespace that did not go away (fixplus
    resources with finalizers, or a condition saying so), and what."""
    held = False
    what = []
    proc = cluster.run("get", ",".join(FINALIZED_KINDS), "-n", namespace, "-o", "json")
    if proc.returncode == 0:
        for item in json.loads(proc.stdout).get("items", []):
            meta = item["metadata"]
            held = held or bool(meta.get("finalizers"))
            what.append(f"{item['kind']}/{meta['name']} "
                        f"finalizers={meta.get('finalizers') or []}")
    proc = cluster.run("get", "namespace", namespace, "-o", "json")
    if proc.returncode == 0:
        status = json.loads(proc.stdout).get("status", {})
        for cond in status.get("conditions") or []:
            if cond.get("status") == "True":
                held = held or cond.get("type") in _HOLDING
                what.append(f"{cond['type']}: {cond.get('message', '')}")
        what.insert(0, f"phase {status.get('phase')}")
    return held, "; ".join(what)


def leftovers(names: list[str] | None = None,
              timeout: float = 90.0) -> tuple[list[str], list[str]]:
    """This run's namespaces (or those of ``names``) still in the API server
    after ``timeout`` seconds: ``(left, slow)``.  ``left`` are those never
    deleted or held (by a finalizer, a failed deletion), each with what
    holds it: a test's fault.  ``slow`` are those the namespace controller
    is still emptying, nothing holding them (a loaded, shared API server).
    The namespaces checked are forgotten.

    Without kube-controller-manager (``FIXPLUS_KUBE_GC`` is not 1) no
    namespace ever finishes terminating: then a namespace counts as gone
    once it is Terminating with no fixplus resource left in it."""
    from tests.realparts import env_value

    namespace_controller = env_value("FIXPLUS_KUBE_GC") == "1"
    pending = {name: _created.pop(name) for name in list(_created)
               if names is None or name in names}
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
            elif not namespace_controller and not cluster.run(
                    "get", ",".join(FINALIZED_KINDS), "-n", name, "-o", "name").stdout.strip():
                del pending[name]
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(1)
    slow: list[str] = []
    for name, cluster in pending.items():
        held, what = _held_by(cluster, name)
        (left if held else slow).append(f"namespace {name}: {what}")
    return left, slow
