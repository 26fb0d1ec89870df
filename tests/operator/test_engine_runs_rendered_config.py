"""The pod's entry point runs what the operator renders.

Two FixSessions are rendered exactly as the operator renders them (only the
pod's file layout is rooted in a temporary folder instead of ``/etc`` and
``/var``): an acceptor with TLS (client certificates required; its metrics
over HTTPS from a Secret) that authenticates its counterparty (Username, the
expected password from a mounted Secret, the client certificate's identity,
the source address) and an initiator with TLS and a Logon password from a
mounted Secret, both with a SQLite MessageStore.  Each ConfigMap's
``engine.yaml`` is written where the
pod would mount it, the Secrets' keys where the kubelet would put them, and
``fixplus run -c engine.yaml`` — the container's command — is started for
both.  The test passes when the acceptor listens and both log on: the
operator cannot write a configuration the engine rejects.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from pyfixmsg_plus.operator.models import FixSessionSpec, MessageStoreSpec
from pyfixmsg_plus.operator.render import Owner, PodLayout, SessionContext, render_fix_session
from pyfixmsg_plus.operator.render.config import StoreInput

FIXPLUS = Path(sys.executable).parent / "fixplus"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _certs(where: Path) -> None:
    """A CA, a server certificate for 127.0.0.1 and a client certificate."""
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
             "ca.crt", "-days", "2", "-subj", "/CN=test-ca", cwd=where)
    for name, san in (("server", "IP:127.0.0.1"), ("client", "DNS:client")):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out",
                 f"{name}.csr", "-subj", f"/CN={name}", cwd=where)
        (where / f"{name}.ext").write_text(f"subjectAltName={san}\n")
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", "-extfile",
                 f"{name}.ext", cwd=where)


def _mount_secret(layout: PodLayout, objects: list[dict[str, Any]],
                  secrets: dict[str, dict[str, bytes]]) -> None:
    """Put each Secret key where the Deployment's volumes and mounts say."""
    dep = next(o for o in objects if o["kind"] == "Deployment")
    pod = dep["spec"]["template"]["spec"]
    mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    for volume in pod["volumes"]:
        if "secret" not in volume:
            continue
        target = Path(mounts[volume["name"]])
        assert str(target).startswith(layout.secrets_dir)
        target.mkdir(parents=True, exist_ok=True)
        data = secrets[volume["secret"]["secretName"]]
        for item in volume["secret"]["items"]:
            (target / item["path"]).write_bytes(data[item["key"]])


def _render(root: Path, spec: dict[str, Any], secrets: dict[str, dict[str, bytes]]) -> Path:
    layout = PodLayout(config_dir=str(root / "etc"), data_dir=str(root / "data"),
                       secrets_dir=str(root / "secrets"), vault_dir=str(root / "vault"))
    store = StoreInput("local", MessageStoreSpec.model_validate({"type": "sqlite"}))
    parsed = FixSessionSpec.model_validate(spec)
    tls_keys = frozenset(secrets[parsed.tls.secret_name]) if parsed.tls else frozenset()
    owner = Owner("fixplus.io/v1alpha1", "FixSession", root.name, "test", "uid")
    rendered = render_fix_session(SessionContext(owner, parsed, store, tls_keys, layout=layout))
    config_map = next(o for o in rendered.objects if o["kind"] == "ConfigMap")
    Path(layout.config_dir).mkdir(parents=True)
    Path(layout.data_dir).mkdir(parents=True)
    Path(layout.config_file).write_text(config_map["data"]["engine.yaml"])
    _mount_secret(layout, rendered.objects, secrets)
    return Path(layout.config_file)


def _wait_for(proc: subprocess.Popen[str], log: Path, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text():
            return
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    pytest.fail(f"{text!r} not seen (exit code {proc.poll()}):\n{log.read_text()[-3000:]}")


def test_rendered_acceptor_and_initiator_start_and_log_on(tmp_path: Path) -> None:
    if not FIXPLUS.exists():
        pytest.fail(f"{FIXPLUS} is missing: run make setup")
    pki = tmp_path / "pki"
    pki.mkdir()
    _certs(pki)
    read = lambda name: (pki / name).read_bytes()  # noqa: E731
    port = _free_port()
    acceptor_cfg = _render(tmp_path / "acceptor", {
        "role": "acceptor", "beginString": "FIXT.1.1", "defaultApplVerId": "FIX.5.0SP2",
        "senderCompId": "BROKER", "targetCompId": "CLIENT", "acceptPort": port,
        "heartbeatInterval": 5, "tls": {"secretName": "server-tls", "requireClientCert": True},
        "authentication": {"username": "client", "passwordSecretRef": {"name": "expected"},
                           "certificate": {"subject": "CN=client", "dnsNames": ["client"]},
                           "allowedAddresses": ["127.0.0.1"]},
        "storeRef": "local",
        "metrics": {"port": _free_port(), "tls": {"secretName": "metrics-tls"}},
    }, {"server-tls": {"tls.crt": read("server.crt"), "tls.key": read("server.key"),
                       "ca.crt": read("ca.crt")},
        "metrics-tls": {"tls.crt": read("server.crt"), "tls.key": read("server.key")},
        "expected": {"password": b"s3cret\n"}})
    assert "s3cret" not in acceptor_cfg.read_text()
    initiator_cfg = _render(tmp_path / "initiator", {
        "role": "initiator", "beginString": "FIXT.1.1", "defaultApplVerId": "FIX.5.0SP2",
        "senderCompId": "CLIENT", "targetCompId": "BROKER", "heartbeatInterval": 5,
        "connect": [{"host": "127.0.0.1", "port": port}],
        "reconnect": {"initialDelay": 0.2, "maxDelay": 1},
        "tls": {"secretName": "client-tls"},
        "logon": {"username": "client", "passwordSecretRef": {"name": "logon"}},
        "storeRef": "local", "metrics": {"port": _free_port()},
    }, {"client-tls": {"tls.crt": read("client.crt"), "tls.key": read("client.key"),
                       "ca.crt": read("ca.crt")},
        "logon": {"password": b"s3cret\n"}})
    config = yaml.safe_load(initiator_cfg.read_text())
    assert "s3cret" not in initiator_cfg.read_text()
    assert config["sessions"][0]["password"].startswith("${FILE:")

    procs: list[subprocess.Popen[str]] = []
    try:
        logs = []
        for name, cfg in (("acceptor", acceptor_cfg), ("initiator", initiator_cfg)):
            log = tmp_path / f"{name}.log"
            logs.append(log)
            # the container's command and arguments, as the Deployment has them
            procs.append(subprocess.Popen(
                [str(FIXPLUS), "run", "-c", str(cfg), "--log-level", "info"],
                stdout=log.open("w"), stderr=subprocess.STDOUT, text=True))
            if name == "acceptor":
                _wait_for(procs[0], logs[0], "accepting on", 20)
        _wait_for(procs[1], logs[1], "logged on", 30)
        _wait_for(procs[0], logs[0], "logged on", 10)
        # the probes the Deployment declares answer on the metrics port
        # (the acceptor's over HTTPS, from its mounted metrics Secret)
        trust = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        for cfg, scheme in ((acceptor_cfg, "https"), (initiator_cfg, "http")):
            port_ = yaml.safe_load(cfg.read_text())["metrics"]["port"]
            for path in ("/healthz", "/readyz"):
                url = f"{scheme}://127.0.0.1:{port_}{path}"
                with urllib.request.urlopen(url, timeout=5, context=trust) as r:
                    assert r.status == 200, (cfg, path)
        assert (tmp_path / "initiator" / "data" / "local.db").exists()
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
