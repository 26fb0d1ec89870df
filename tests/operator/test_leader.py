"""Leader election: the Lease rules with a fake clock and store, then two
operator processes against the real kube-apiserver."""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import subprocess
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from pyfixmsg_plus.operator import k8s, leader
from pyfixmsg_plus.operator.leader import Election, Elector

from tests.operator.conftest import OPERATOR, Kube, condition, wait_for


class FakeLeases:
    """A Lease store that refuses stale writes (409), as the API server does."""

    def __init__(self) -> None:
        self.obj: dict[str, Any] | None = None
        self.version = 0

    def get(self, *_: Any) -> dict[str, Any] | None:
        return copy.deepcopy(self.obj)

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        if self.obj is not None:
            raise k8s.KubeError("exists", 409)
        return self._store(obj)

    def replace(self, obj: dict[str, Any]) -> dict[str, Any]:
        assert self.obj is not None
        if obj["metadata"]["resourceVersion"] != self.obj["metadata"]["resourceVersion"]:
            raise k8s.KubeError("conflict", 409)
        return self._store(obj)

    def _store(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.version += 1
        self.obj = copy.deepcopy(obj)
        self.obj["metadata"]["resourceVersion"] = str(self.version)
        return copy.deepcopy(self.obj)


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture()
def leases(monkeypatch: pytest.MonkeyPatch) -> FakeLeases:
    fake = FakeLeases()
    monkeypatch.setattr(k8s, "get", fake.get)
    monkeypatch.setattr(k8s, "create", fake.create)
    monkeypatch.setattr(k8s, "replace", fake.replace)
    return fake


def test_one_holder_until_the_lease_expires(leases: FakeLeases) -> None:
    clock = Clock()
    a = Elector(Election("ops", "fixplus", "a", lease_seconds=15), clock)
    b = Elector(Election("ops", "fixplus", "b", lease_seconds=15), clock)
    assert a.try_acquire()
    assert not b.try_acquire()
    clock.advance(10)
    assert a.try_acquire()  # renewed
    clock.advance(14)
    assert not b.try_acquire()  # renewed 14 s ago: still a's
    clock.advance(2)
    assert b.try_acquire()  # a stopped renewing: b takes over
    assert leases.obj is not None
    assert leases.obj["spec"]["holderIdentity"] == "b"
    assert leases.obj["spec"]["leaseTransitions"] == 1
    assert not a.try_acquire()


def test_a_released_lease_is_taken_at_once(leases: FakeLeases) -> None:
    clock = Clock()
    a = Elector(Election("ops", "fixplus", "a"), clock)
    b = Elector(Election("ops", "fixplus", "b"), clock)
    assert a.try_acquire()
    a.release()
    assert b.try_acquire()


def test_of_two_racing_writers_one_wins(leases: FakeLeases) -> None:
    clock = Clock()
    a = Elector(Election("ops", "fixplus", "a"), clock)
    b = Elector(Election("ops", "fixplus", "b"), clock)
    assert a.try_acquire()
    clock.advance(60)
    seen = leases.get()
    assert b.try_acquire()
    # a read the expired Lease before b wrote: its write carries a stale version
    body = a._body(seen)
    with pytest.raises(k8s.KubeError):
        leases.replace(body)


def test_the_leader_stops_when_it_cannot_renew(leases: FakeLeases,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    a = Elector(Election("ops", "fixplus", "a", renew_deadline=0.0, retry=0.01), clock)
    assert a.try_acquire()

    def refuse(*_: Any) -> Any:
        raise k8s.KubeError("unavailable", 503)

    monkeypatch.setattr(k8s, "get", refuse)
    stop, lost = threading.Event(), threading.Event()
    a.keep(stop, lost)
    assert lost.is_set() and stop.is_set()


def test_holder_is_none_without_renew_time() -> None:
    e = Elector(Election("ops", "fixplus", "a"), Clock())
    assert e.holder({"spec": {"holderIdentity": "x"}}) is None
    assert leader.LEASE_API == "coordination.k8s.io/v1"


# -- two operators, one API server ------------------------------------------------------


def _start(kube: Kube, lease: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "KUBECONFIG": kube.kubeconfig, "POD_NAME": log.stem}
    with log.open("w") as out:
        return subprocess.Popen(
            [str(OPERATOR), "--namespace", kube.namespace, "--leader-election-namespace",
             kube.namespace, "--leader-election-name", lease, "--lease-seconds", "6"],
            env=env, stdout=out, stderr=subprocess.STDOUT)


def _session(kube: Kube, name: str, port: int) -> None:
    doc = {"apiVersion": "fixplus.io/v1alpha1", "kind": "FixSession",
           "metadata": {"name": name},
           "spec": {"role": "acceptor", "beginString": "FIX.4.4", "senderCompId": "LEAD",
                    "targetCompId": name.upper(), "acceptPort": port,
                    "authentication": {"mode": "none"}}}
    kube.run("apply", "-f", "-", stdin=json.dumps(doc))


def _reconciled(kube: Kube, name: str) -> bool:
    cond = condition(kube.get("fixsession", name), "Reconciled")
    return bool(cond and cond["status"] == "True")


def test_two_operators_one_leader_and_a_takeover(kube_bare: Kube, tmp_path: Path) -> None:
    kube = kube_bare
    lease = f"fixplus-{uuid.uuid4().hex[:6]}"
    logs = [tmp_path / "op-a.log", tmp_path / "op-b.log"]
    procs = [_start(kube, lease, logs[0]), _start(kube, lease, logs[1])]
    try:
        holder = wait_for("a leader", lambda: (kube.get("lease", lease) or {}).get(
            "spec", {}).get("holderIdentity"))
        leading = 0 if holder == "op-a" else 1
        standby = 1 - leading
        wait_for("the standby waits", lambda: "standing by" in logs[standby].read_text())
        _session(kube, "first", 7301)
        wait_for("first reconciled", lambda: _reconciled(kube, "first"))
        # only the leader ran kopf: the standby never reconciled anything
        assert "leading as" not in logs[standby].read_text()
        assert "Handler" not in logs[standby].read_text()
        procs[leading].terminate()
        assert procs[leading].wait(30) == 0
        wait_for("the standby leads", lambda: "leading as" in logs[standby].read_text())
        lease_obj = kube.get("lease", lease)
        assert lease_obj and lease_obj["spec"]["holderIdentity"] == f"op-{'ab'[standby]}"
        _session(kube, "second", 7302)
        wait_for("second reconciled by the new leader", lambda: _reconciled(kube, "second"))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
        kube.run("delete", "lease", lease, check=False)
