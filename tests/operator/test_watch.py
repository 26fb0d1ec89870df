"""What the watches do with an event, without a cluster: drift or not, Ready
refreshed from a Deployment, reads answered from the indexes."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pyfixmsg_plus.operator import drift, handlers, k8s
from pyfixmsg_plus.operator.reads import CachedReads, index_name

CM: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap",
                      "metadata": {"name": "fixs-a-config", "namespace": "ns",
                                   "labels": {"fixplus.io/owner-name": "a",
                                              "fixplus.io/owner-kind": "FixSession"}},
                      "data": {"engine.yaml": "sessions: []\n"}}
NP: dict[str, Any] = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                      "metadata": {"name": "fixs-a", "namespace": "ns"},
                      "spec": {"ingress": [{"from": [{"namespaceSelector": {
                          "matchLabels": {}}}], "ports": [{"protocol": "TCP", "port": 9464}]}],
                          "policyTypes": ["Ingress", "Egress"]}}


@pytest.fixture(autouse=True)
def _forget() -> None:
    for obj in (CM, NP):
        drift.forget(obj["apiVersion"], obj["kind"], "ns", obj["metadata"]["name"])


def test_what_others_add_is_not_drift_what_they_change_is() -> None:
    assert not drift.drifted(CM)  # nothing applied yet: the first reconcile will
    drift.remember(CM, "7")
    live = copy.deepcopy(CM)
    live["metadata"].update({"resourceVersion": "8", "annotations": {"kubectl": "x"}})
    assert not drift.drifted(live)
    live["data"]["engine.yaml"] = "sessions: [x]\n"
    assert drift.drifted(live)
    del live["metadata"]["labels"]["fixplus.io/owner-name"]
    assert drift.drifted(live)


def test_empty_maps_the_api_server_drops_are_not_drift() -> None:
    drift.remember(NP, "3")
    live = copy.deepcopy(NP)
    del live["spec"]["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"]
    live["spec"]["ingress"][0]["ports"][0]["endPort"] = None
    assert not drift.drifted(live)
    live["spec"]["ingress"][0]["ports"].append({"protocol": "TCP", "port": 22})
    assert drift.drifted(live)


def test_an_object_applied_and_untouched_is_not_sent_again() -> None:
    drift.remember(CM, "7")
    assert drift.unchanged(CM, "7")
    assert not drift.unchanged(CM, "8")  # someone wrote it since
    assert not drift.unchanged({**CM, "data": {"engine.yaml": "new"}}, "7")
    assert not drift.unchanged(CM, None)


def test_one_event_per_reason() -> None:
    events = [("Normal", "Created", "created ConfigMap a"),
              ("Normal", "Created", "created Deployment b"),
              ("Warning", "DriftCorrected", "Service c")]
    assert handlers._grouped(events) == [
        ("Normal", "Created", "created ConfigMap a; created Deployment b"),
        ("Warning", "DriftCorrected", "Service c")]


class Store(list[Any]):
    """What a kopf index holds per key."""


def test_reads_come_from_the_indexes() -> None:
    body = {"metadata": {"name": "pg", "namespace": "ns"}, "spec": {"type": "sqlite"}}
    session = {"metadata": {"name": "s", "namespace": "ns", "labels": {"pool": "a"}}}
    reads = CachedReads({
        index_name("messagestores"): {("ns", "pg"): Store([body])},
        index_name("fixsessions"): {("ns", "s"): Store([session]),
                                    ("other", "t"): Store([session])},
        index_name("secrets"): {("ns", "logon"): Store([(frozenset({"password"}), {})])},
        index_name("configmaps"): {("ns", "fixs-a-config"): Store(["41"])},
    })
    assert reads.resource("MessageStore", "ns", "pg") == body
    assert reads.resource("MessageStore", "ns", "nope") is None
    assert reads.fix_sessions("ns", {"pool": "a"}) == [session]
    assert reads.fix_sessions("ns", {"pool": "b"}) == []
    assert reads.secret_keys("ns", "logon") == (frozenset({"password"}), {})
    assert reads.secret_keys("ns", "gone") is None
    assert reads.resource_version("v1", "ConfigMap", "ns", "fixs-a-config") == "41"


def test_a_deployment_event_refreshes_ready(monkeypatch: pytest.MonkeyPatch) -> None:
    patches: list[dict[str, Any]] = []
    monkeypatch.setattr(k8s, "merge_patch", lambda *a, **kw: patches.append(a[4]) or {})
    owner = {"metadata": {"name": "a", "namespace": "ns", "generation": 2},
             "spec": {"role": "acceptor"},
             "status": {"conditions": [
                 {"type": "Reconciled", "status": "True", "reason": "Applied"},
                 {"type": "Ready", "status": "False", "reason": "NotLoggedOn"},
                 {"type": "Degraded", "status": "False", "reason": "Applied"}]}}
    up = {"spec": {"replicas": 1}, "status": {"availableReplicas": 1}}
    handlers._refresh_ready("FixSession", owner, up)
    (patch,) = patches
    conditions = patch["status"]["conditions"]
    assert [c["type"] for c in conditions] == ["Reconciled", "Ready", "Degraded"]
    assert conditions[1]["status"] == "True" and conditions[1]["reason"] == "LoggedOn"
    # the same state again writes nothing
    owner["status"]["conditions"] = conditions
    handlers._refresh_ready("FixSession", owner, up)
    assert len(patches) == 1
