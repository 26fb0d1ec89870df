"""Conditions: transition times kept while a status holds, observedGeneration."""

from __future__ import annotations

from pyfixmsg_plus.operator import status


def test_merge_keeps_the_transition_time_while_the_status_holds() -> None:
    first = status.merge(None, status.failed("StoreNotFound", "no store"), 3, "T1")
    assert {c["type"]: c["status"] for c in first} == {
        "Reconciled": "False", "Ready": "False", "Degraded": "True"}
    assert all(c["observedGeneration"] == 3 and c["lastTransitionTime"] == "T1" for c in first)
    ready = status.Cond(status.READY, "False", "PodsNotAvailable", "0 of 1")
    second = status.merge(first, status.reconciled(ready), 4, "T2")
    by_type = {c["type"]: c for c in second}
    assert by_type["Ready"]["lastTransitionTime"] == "T1"  # still False
    assert by_type["Reconciled"]["lastTransitionTime"] == "T2"  # False -> True
    assert by_type["Degraded"]["status"] == "False"
    assert by_type["Ready"]["observedGeneration"] == 4


def test_deployment_readiness() -> None:
    assert status.deployment_ready(None, paused=False).status == "Unknown"
    assert status.deployment_ready({}, paused=True).reason == "Paused"
    waiting = {"spec": {"replicas": 1}, "status": {}}
    assert status.deployment_ready(waiting, paused=False).reason == "PodsNotAvailable"
    up = {"spec": {"replicas": 2}, "status": {"availableReplicas": 2}}
    assert status.deployment_ready(up, paused=False).status == "True"
    assert status.get([{"type": "Ready"}], "Ready") == {"type": "Ready"}


def test_a_fix_session_is_ready_when_logged_on() -> None:
    """A FixSession pod's readiness probe is /readyz?logon=1: an available pod
    is a logged-on session."""
    waiting = {"spec": {"replicas": 1}, "status": {"replicas": 1}}
    cond = status.deployment_ready(waiting, paused=False, logon=True)
    assert (cond.status, cond.reason) == ("False", "NotLoggedOn")
    up = {"spec": {"replicas": 1}, "status": {"availableReplicas": 1}}
    cond = status.deployment_ready(up, paused=False, logon=True)
    assert (cond.status, cond.reason) == ("True", "LoggedOn")
    assert status.deployment_ready(up, paused=True, logon=True).reason == "Paused"
