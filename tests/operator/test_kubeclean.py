"""tests/kubeclean.py against the real API server: a namespace holding a
FixSession with the operator's finalizer, and no operator to take it off."""

from __future__ import annotations

import json
import uuid

import pytest

from tests import kubeclean

pytestmark = pytest.mark.integration

KOPF_FINALIZER = "kopf.zalando.org/KopfFinalizerMarker"


def _stranded(cluster: kubeclean.Cluster) -> str:
    """A namespace with a FixSession carrying kopf's finalizer."""
    name = f"fixplus-clean-{uuid.uuid4().hex[:8]}"
    kubeclean.create_namespace(cluster, name)
    doc = {"apiVersion": "fixplus.io/v1alpha1", "kind": "FixSession",
           "metadata": {"name": "held", "namespace": name, "finalizers": [KOPF_FINALIZER]},
           "spec": {"role": "initiator", "beginString": "FIX.4.4", "senderCompId": "A",
                    "targetCompId": "B", "connect": [{"host": "h", "port": 1}]}}
    proc = cluster.run("create", "-f", "-", stdin=json.dumps(doc))
    assert proc.returncode == 0, proc.stderr
    return name


def test_delete_namespace_takes_the_stopped_operators_finalizers_off(
        kube_env: tuple[str, str, list[str]], crds_installed: None) -> None:
    kubeconfig, kubectl, _ = kube_env
    cluster = kubeclean.Cluster(kubectl, kubeconfig)
    name = _stranded(cluster)
    labels = json.loads(cluster.run("get", "namespace", name, "-o", "json").stdout)[
        "metadata"]["labels"]
    assert labels[kubeclean.RUN_LABEL] == kubeclean.RUN_ID
    kubeclean.delete_namespace(cluster, name)
    left, _ = kubeclean.leftovers([name])  # (gone, or at worst still being emptied)
    assert left == []
    assert name not in kubeclean.created()


def test_a_namespace_held_by_a_finalizer_is_reported(
        kube_env: tuple[str, str, list[str]], crds_installed: None) -> None:
    kubeconfig, kubectl, _ = kube_env
    cluster = kubeclean.Cluster(kubectl, kubeconfig)
    name = _stranded(cluster)
    try:
        cluster.run("delete", "namespace", name, "--wait=false")  # the finalizer left on
        left, _ = kubeclean.leftovers([name], timeout=3)
        assert len(left) == 1 and name in left[0], left
        assert "FixSession/held" in left[0] and KOPF_FINALIZER in left[0], left
    finally:
        kubeclean.delete_namespace(cluster, name)
        kubeclean.remember(cluster, name)  # the end-of-run check sees it go


def test_a_namespace_never_deleted_is_reported_at_once(
        kube_env: tuple[str, str, list[str]], crds_installed: None) -> None:
    kubeconfig, kubectl, _ = kube_env
    cluster = kubeclean.Cluster(kubectl, kubeconfig)
    name = f"fixplus-clean-{uuid.uuid4().hex[:8]}"
    kubeclean.create_namespace(cluster, name)
    try:
        left, _ = kubeclean.leftovers([name], timeout=60)
        assert left == [f"namespace {name}: never deleted"]
    finally:
        kubeclean.delete_namespace(cluster, name)
        kubeclean.remember(cluster, name)
