"""The operator at scale against the real kube-apiserver of the test environment.

``.venv/bin/python tests/benchmarks/operator_scale.py [--sessions 1000] [--rest-seconds 60]``

In a namespace of its own, it creates ``--sessions`` acceptor FixSessions
(and their MessageStore and Secret), then starts ``fixplus-operator`` (with
leader election, as the chart runs it) through a counting proxy
(:mod:`_kubeproxy`), so that every request counted is the operator's.  It
prints one JSON object:

* ``first_reconcile_s``, ``first_reconcile_requests_per_session``: from the
  operator's start until every FixSession is ``Reconciled=True``;
* ``rest_requests_per_minute``, ``rest_cpu_percent`` (of one core, from
  /proc): over ``--rest-seconds`` once everything is reconciled;
* ``change_reconciled_s``: one FixSession's ``heartbeatInterval`` changed
  until its status says the new generation is reconciled (median of 5);
* ``drift_corrected_s``: an owned ConfigMap edited by someone else until
  the operator has restored it;
* ``delete_all_s``: one ``deletecollection`` of the FixSessions until none
  is left (``children_collected_s``: until their Deployments are gone too,
  when the environment runs the garbage collector).

The namespace is deleted at the end.  The API server is shared: run it when
no one else's tests are loading it, and compare figures within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, env_value
from _kubeproxy import CountingProxy

OPERATOR = Path(sys.executable).parent / "fixplus-operator"
GROUP = "/apis/fixplus.io/v1alpha1"


class Kubectl:
    def __init__(self, kubectl: str, kubeconfig: str) -> None:
        self.base = [kubectl, "--kubeconfig", kubeconfig]

    def run(self, *args: str, stdin: str | None = None) -> str:
        proc = subprocess.run([*self.base, *args], input=stdin, capture_output=True, text=True,
                              timeout=600, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args[:3])}: {proc.stderr[-2000:]}")
        return proc.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "-o", "json"))


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _reconciled(item: dict[str, Any], generation: int | None = None) -> bool:
    st = item.get("status") or {}
    if generation is not None and st.get("observedGeneration") != generation:
        return False
    return any(c.get("type") == "Reconciled" and c.get("status") == "True"
               for c in st.get("conditions") or [])


def _session(i: int) -> dict[str, Any]:
    return {"apiVersion": "fixplus.io/v1alpha1", "kind": "FixSession",
            "metadata": {"name": f"acc-{i:05d}"},
            "spec": {"role": "acceptor", "beginString": "FIX.4.4", "senderCompId": "BENCH",
                     "targetCompId": f"C{i:05d}", "acceptPort": 9878, "storeRef": "pg",
                     "authentication": {"username": f"C{i:05d}",
                                        "passwordSecretRef": {"name": "logon"}}}}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--rest-seconds", type=float, default=60.0)
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--gc-wait", type=float, default=60.0,
                        help="how long to wait for the owned Deployments to be collected")
    args = parser.parse_args()
    kubeconfig, kubectl_bin = env_value("FIXPLUS_KUBECONFIG"), env_value("FIXPLUS_KUBECTL")
    if not (kubeconfig and kubectl_bin):
        print(json.dumps({"error": "no kube-apiserver (FIXPLUS_KUBECONFIG, FIXPLUS_KUBECTL): "
                          "run tests/env/setup.sh"}))
        return 2
    k = Kubectl(kubectl_bin, kubeconfig)
    admin = yaml.safe_load(Path(kubeconfig).read_text())
    cluster = admin["clusters"][0]["cluster"]
    proxy = CountingProxy(cluster["server"], cluster.get("certificate-authority"))
    port = proxy.start()
    tmp = Path(tempfile.mkdtemp(prefix="fixplus-opscale-"))
    via_proxy = tmp / "kubeconfig"
    via_proxy.write_text(yaml.safe_dump({
        **admin, "clusters": [{"name": admin["clusters"][0]["name"],
                               "cluster": {"server": f"http://127.0.0.1:{port}"}}]}))
    ns = f"fixplus-opscale-{uuid.uuid4().hex[:6]}"
    out: dict[str, Any] = {"benchmark": "operator_scale", "sessions": args.sessions}
    operator: subprocess.Popen[bytes] | None = None
    log = tmp / "operator.log"
    try:
        k.run("apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds"))
        k.run("create", "namespace", ns)
        prelude = [
            {"apiVersion": "v1", "kind": "Secret", "metadata": {
                "name": "logon", "labels": {"fixplus.io/allow-reference": "true"}},
             "stringData": {"username": "fix", "password": uuid.uuid4().hex}},
            {"apiVersion": "fixplus.io/v1alpha1", "kind": "MessageStore",
             "metadata": {"name": "pg"},
             "spec": {"type": "postgresql",
                      "postgresql": {"host": "db.example", "database": "fix"},
                      "credentials": {"secretRef": {"name": "logon"}}}},
        ]
        docs = prelude + [_session(i) for i in range(args.sessions)]
        t0 = time.monotonic()
        for start in range(0, len(docs), 200):
            k.run("apply", "-n", ns, "-f", "-", stdin=yaml.safe_dump_all(docs[start:start + 200]))
        out["create_s"] = round(time.monotonic() - t0, 1)

        env = {**os.environ, "KUBECONFIG": str(via_proxy)}
        before = proxy.snapshot()["total"]
        t0 = time.monotonic()
        with log.open("w") as sink:
            operator = subprocess.Popen(
                [str(OPERATOR), "--namespace", ns, "--log-level", "warning",
                 "--leader-election-namespace", ns, "--leader-election-name", "bench"],
                env=env, stdout=sink, stderr=subprocess.STDOUT)
        deadline = t0 + args.timeout
        while True:
            items = k.json("get", "fixsessions", "-n", ns)["items"]
            done = sum(1 for i in items if _reconciled(i))
            if done == args.sessions:
                break
            if time.monotonic() > deadline or operator.poll() is not None:
                raise RuntimeError(f"{done} of {args.sessions} reconciled; see {log}")
            time.sleep(1.0)
        out["first_reconcile_s"] = round(time.monotonic() - t0, 1)
        first = proxy.snapshot()
        out["first_reconcile_requests"] = first["total"] - before
        out["first_reconcile_requests_per_session"] = round(
            (first["total"] - before) / args.sessions, 1)

        time.sleep(10)  # let the last status writes and events settle
        rest0, cpu0, t0 = proxy.snapshot(), _cpu_seconds(operator.pid), time.monotonic()
        time.sleep(args.rest_seconds)
        rest1, cpu1, t1 = proxy.snapshot(), _cpu_seconds(operator.pid), time.monotonic()
        minutes = (t1 - t0) / 60
        out["rest_requests_per_minute"] = round((rest1["total"] - rest0["total"]) / minutes, 1)
        out["rest_requests_by_kind"] = {
            key: value - rest0["by_resource"].get(key, 0)
            for key, value in rest1["by_resource"].items()
            if value != rest0["by_resource"].get(key, 0)}
        out["rest_cpu_percent"] = round(100 * (cpu1 - cpu0) / (t1 - t0), 2)

        changes = []
        for round_ in range(5):
            name = f"acc-{round_ * 7:05d}"
            generation = k.json("get", "fixsession", name, "-n", ns)["metadata"]["generation"]
            t0 = time.monotonic()
            k.run("patch", "fixsession", name, "-n", ns, "--type=merge", "-p",
                  json.dumps({"spec": {"heartbeatInterval": 31 + round_}}))
            while not _reconciled(k.json("get", "fixsession", name, "-n", ns), generation + 1):
                if time.monotonic() - t0 > 60:
                    raise RuntimeError(f"change of {name} not reconciled in 60 s")
                time.sleep(0.05)
            changes.append(time.monotonic() - t0)
        # kubectl start-up is part of each figure (about 0.1 s)
        out["change_reconciled_s"] = round(statistics.median(changes), 2)
        out["change_reconciled_max_s"] = round(max(changes), 2)

        cm = "fixs-acc-00001-config"
        t0 = time.monotonic()
        k.run("patch", "configmap", cm, "-n", ns, "--type=merge", "-p",
              json.dumps({"data": {"engine.yaml": "sessions: []\n"}}))
        while "BENCH" not in k.json("get", "configmap", cm, "-n", ns)["data"]["engine.yaml"]:
            if time.monotonic() - t0 > 60:
                raise RuntimeError("drift not corrected in 60 s")
            time.sleep(0.05)
        out["drift_corrected_s"] = round(time.monotonic() - t0, 2)

        t0 = time.monotonic()
        # one deletecollection request (kubectl delete --all deletes one by one)
        k.run("delete", "--raw", f"{GROUP}/namespaces/{ns}/fixsessions")
        while k.run("get", "fixsessions", "-n", ns, "-o", "name").strip():
            if time.monotonic() - t0 > args.timeout:
                raise RuntimeError("FixSessions not deleted")
            time.sleep(0.5)
        out["delete_all_s"] = round(time.monotonic() - t0, 1)
        if env_value("FIXPLUS_KUBE_GC") == "1":
            # the garbage collector's pace, not the operator's: waited for a while only
            while left := len(k.run("get", "deployments", "-n", ns, "-o", "name").split()):
                if time.monotonic() - t0 > args.gc_wait:
                    out["children_left_after_gc_wait"] = left
                    break
                time.sleep(1.0)
            else:
                out["children_collected_s"] = round(time.monotonic() - t0, 1)
        out["operator_requests_total"] = proxy.snapshot()["total"]
        out["operator_requests_by_verb"] = proxy.snapshot()["by_verb"]
    except RuntimeError as exc:
        out["error"] = str(exc)
    finally:
        if operator is not None:
            operator.terminate()
            try:
                operator.wait(20)
            except subprocess.TimeoutExpired:
                operator.kill()
        subprocess.run([*k.base, "delete", "namespace", ns, "--wait=false"],
                       capture_output=True, check=False, timeout=60)
        text = log.read_text() if log.exists() else ""
        out["operator_log_errors"] = sum(1 for line in text.splitlines()
                                         if " ERROR " in line or "Traceback" in line)
    print(json.dumps(out))
    return 1 if "error" in out else 0


if __name__ == "__main__":
    sys.exit(main())
