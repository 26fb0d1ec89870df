"""FIX sessions in real pods, with counterparties on the host.

* an acceptor pod (store: the host's PostgreSQL) is reached from the host
  through a NodePort Service; a counterparty process logs on and sends
  orders, which the pod receives;
* a configuration change rolls the pod, and deleting the pod replaces it:
  each time the counterparty logs on again and the pod's Logon carries the
  next sequence number of the same session (its store survived the pod);
* an initiator pod logs on to an acceptor on the host and receives its orders;
* the store's password is a Secret mounted as a file that the non-root engine
  reads; the image's HEALTHCHECK command passes inside the pod.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import (
    Cluster,
    HostEngine,
    Namespace,
    Postgres,
    Release,
    free_port,
    wait_for,
)

pytestmark = pytest.mark.integration

ALLOW = {"fixplus.io/allow-reference": "true"}


def _store(ns: Namespace, postgres: Postgres, name: str) -> None:
    ns.apply([
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"{name}-db", "labels": ALLOW},
         "type": "Opaque",
         "stringData": {"username": postgres.user, "password": postgres.password}},
        {"apiVersion": "fixplus.io/v1alpha1", "kind": "MessageStore", "metadata": {"name": name},
         "spec": {"type": "postgresql",
                  "postgresql": {"host": postgres.host, "port": postgres.port,
                                 "database": postgres.database, "sslMode": "disable"},
                  "credentials": {"secretRef": {"name": f"{name}-db"}}}},
    ])


def _node_port(ns: Namespace, child: str) -> int:
    """A NodePort Service in front of the acceptor pod (same selector and
    port as the operator's own Service)."""
    svc = wait_for(f"the Service {child}", lambda: ns.get("service", child), 60)
    ns.apply([{
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": f"{child}-np"},
        "spec": {"type": "NodePort", "selector": svc["spec"]["selector"],
                 # the pod is Ready once logged on: reachable before that
                 "publishNotReadyAddresses": True,
                 "externalTrafficPolicy": "Local",
                 "ports": [{"name": "tcp-fix", "port": svc["spec"]["ports"][0]["port"],
                            "targetPort": "tcp-fix", "protocol": "TCP"}]},
    }])
    created = ns.get("service", f"{child}-np")
    assert created is not None
    return int(created["spec"]["ports"][0]["nodePort"])


def _logons(host: HostEngine, count: int) -> list[int]:
    return [int(e["seq"]) for e in host.wait_events("logon-received", count, timeout=180)]


def _new_pod(ns: Namespace, child: str, old_uid: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        pod = ns.started_pod(child)
        return pod if pod["metadata"]["uid"] != old_uid else None
    return wait_for(f"a new started pod of {child}", probe, 240)


def test_acceptor_pod_keeps_its_session_across_config_change_and_pod_deletion(
        cluster: Cluster, release: Release, postgres: Postgres, tmp_path: Path) -> None:
    ns = release.namespace
    client = f"C{uuid.uuid4().hex[:6].upper()}"
    _store(ns, postgres, "orders-pg")
    session = {"role": "acceptor", "beginString": "FIX.4.4", "senderCompId": "BROKER",
               "targetCompId": client, "acceptPort": 9878, "heartbeatInterval": 30,
               "authentication": {"mode": "none"}, "storeRef": "orders-pg"}
    ns.apply([{"apiVersion": "fixplus.io/v1alpha1", "kind": "FixSession",
               "metadata": {"name": "gateway"}, "spec": session}])
    child = "fixs-gateway"
    # (Ready only once logged on: the counterparty below logs on to a started pod)
    pod = ns.started_pod(child)
    node_port = _node_port(ns, child)

    host = HostEngine(tmp_path / "client", {
        "role": "initiator", "beginString": "FIX.4.4", "senderCompId": client,
        "targetCompId": "BROKER", "heartbeatInterval": 30,
        "connect": [{"host": cluster.host_ip, "port": node_port}],
        "reconnect": {"initialDelay": 0.5, "maxDelay": 2},
    }, orders=3, prefix="ord").start()
    try:
        first = _logons(host, 1)
        wait_for("the orders in the pod's log", lambda: all(
            f"ord-1-{n}" in ns.logs(pod["metadata"]["name"]) for n in range(3)), 60)

        # the engine, uid 10001, read the store password from its mounted Secret
        # (it logged on, so it opened the store); here it is read again in
        # the pod, and the image's HEALTHCHECK command passes there
        probe = ns.run("exec", pod["metadata"]["name"], "--", "sh", "-c",
                       "id -u; cat $(find /var/run/secrets/fixplus -name password -type l -o "
                       "-name password -type f | head -n1) >/dev/null && echo readable; "
                       "fixplus healthcheck && echo healthy")
        lines = probe.stdout.splitlines()
        assert lines[:1] == ["10001"], probe.stdout + probe.stderr
        assert "readable" in lines and "healthy" in lines, probe.stdout + probe.stderr

        # a configuration change rolls the pod; the session resumes
        ns.run("patch", "fixsession", "gateway", "--type=merge",
               "-p", '{"spec": {"heartbeatInterval": 31}}')
        pod2 = _new_pod(ns, child, pod["metadata"]["uid"])
        second = _logons(host, 2)
        assert second[1] > first[0], f"the pod's Logon restarted its numbering: {second}"
        wait_for("the orders after the roll", lambda: all(
            f"ord-2-{n}" in ns.logs(pod2["metadata"]["name"]) for n in range(3)), 60)

        # deleting the pod does the same
        ns.run("delete", "pod", pod2["metadata"]["name"], "--wait=false")
        _new_pod(ns, child, pod2["metadata"]["uid"])
        third = _logons(host, 3)
        assert third[2] > third[1], f"the pod's Logon restarted its numbering: {third}"
        # the counterparty's numbering was accepted as it was: no reset asked
        assert "SequenceReset" not in host.log.read_text()
    finally:
        host.stop()
        ns.run("delete", "fixsession", "gateway", "--wait=true", "--timeout=60s", check=False)


def test_initiator_pod_logs_on_to_an_acceptor_on_the_host(
        cluster: Cluster, release: Release, tmp_path: Path) -> None:
    ns = release.namespace
    port = free_port(cluster.host_ip)
    client = f"I{uuid.uuid4().hex[:6].upper()}"
    host = HostEngine(tmp_path / "broker", {
        "role": "acceptor", "beginString": "FIX.4.4", "senderCompId": "HOSTBROKER",
        "targetCompId": client, "acceptPort": port, "acceptHost": cluster.host_ip,
        "heartbeatInterval": 30, "authentication": {"mode": "none"},
    }, orders=2, prefix="fill").start()
    try:
        ns.apply([{"apiVersion": "fixplus.io/v1alpha1", "kind": "FixSession",
                   "metadata": {"name": "to-host"},
                   "spec": {"role": "initiator", "beginString": "FIX.4.4",
                            "senderCompId": client, "targetCompId": "HOSTBROKER",
                            "heartbeatInterval": 30,
                            "connect": [{"host": cluster.host_ip, "port": port}],
                            "reconnect": {"initialDelay": 1, "maxDelay": 2}}}])
        pod = ns.ready_pod("fixs-to-host")
        host.wait_events("logon-received", 1, timeout=120)
        wait_for("the host's orders in the pod's log", lambda: all(
            f"fill-1-{n}" in ns.logs(pod["metadata"]["name"]) for n in range(2)), 60)
    finally:
        host.stop()
        ns.run("delete", "fixsession", "to-host", "--wait=true", "--timeout=60s", check=False)
