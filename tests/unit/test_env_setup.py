"""tests/env/setup.sh runs every part even when one fails, and then exits
non-zero (``make unit`` relies on it to fail after running the tests).

The script is copied beside made-up parts in a temporary folder: the real
parts are not run."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.realparts import REPO

SETUP = REPO / "tests" / "env" / "setup.sh"


def _run(tmp_path: Path, parts: dict[str, str]) -> subprocess.CompletedProcess[str]:
    here = tmp_path / "env"
    here.mkdir()
    shutil.copy(SETUP, here / "setup.sh")
    for name, body in parts.items():
        (here / name).write_text(f"#!/usr/bin/env bash\n{body}\n")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
           "FIXPLUS_CACHE": str(tmp_path / "cache")}
    return subprocess.run(["bash", str(here / "setup.sh")], env=env, capture_output=True,
                          text=True, timeout=60, check=False)


def test_a_failed_part_makes_setup_fail_after_running_the_others(tmp_path: Path) -> None:
    proc = _run(tmp_path, {
        "10-first.sh": 'echo "FIRST=1" >> "$FIXPLUS_ENV_FILE"',
        "20-broken.sh": "echo 'cannot build it' >&2; exit 3",
        "30-last.sh": 'echo "LAST=1" >> "$FIXPLUS_ENV_FILE"',
    })
    assert proc.returncode != 0, proc.stdout
    assert "20-broken.sh FAILED" in proc.stdout and "cannot build it" in proc.stdout
    assert "10-first.sh ready" in proc.stdout and "30-last.sh ready" in proc.stdout
    env_file = (tmp_path / "cache" / "test-env").read_text().split()
    assert env_file == ["FIRST=1", "LAST=1"]


def test_setup_succeeds_when_every_part_does(tmp_path: Path) -> None:
    proc = _run(tmp_path, {"10-one.sh": "true", "20-two.sh": "true"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
