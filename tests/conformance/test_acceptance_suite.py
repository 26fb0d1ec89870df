"""Every QuickFIX acceptance definition, run by our own ``script-test``
against our own ``acceptance-server`` on real sockets.

The folders run concurrently (each uses its own CompIDs); the files of one
folder run back to back, as they share a session: ``--linger 0`` closes at
once and goes on to the next file, as QuickFIX/J's runner does, so the next
Logon may arrive before the acceptor has acted on the close (a quick
reconnect, which must be served).
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.realparts import missing, shared_dir

pytestmark = pytest.mark.conformance


def _start_server(spec: Path) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pyfixmsg_plus.engine.cli.main", "acceptance-server",
         "--port", "0", "--spec-dir", str(spec)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        m = re.search(r"listening on [\d.]+:(\d+)", line)
        if m:
            return proc, int(m.group(1))
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError("acceptance server did not start")


def test_every_acceptance_definition_passes() -> None:
    conformance = shared_dir("FIXPLUS_CONFORMANCE_DIR", "conformance") / "quickfix"
    spec = shared_dir("FIXPLUS_SPEC_DIR", "fix-spec")
    if not conformance.is_dir() or not (spec / "FIX44.xml").is_file():
        missing(f"acceptance definitions ({conformance}) or dictionaries ({spec}) not found")
    folders = sorted(p for p in conformance.iterdir() if p.is_dir())
    files = sorted(conformance.rglob("*.def"))
    server, port = _start_server(spec)
    try:
        runs = {
            folder.name: subprocess.Popen(
                [sys.executable, "-m", "pyfixmsg_plus.engine.cli.main", "script-test",
                 "127.0.0.1", str(port), str(folder),
                 "--fields-fmt", str(conformance / "fields.fmt"), "--linger", "0"],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            )
            for folder in folders
        }
        outputs = {name: proc.communicate(timeout=900)[0] for name, proc in runs.items()}
    finally:
        server.terminate()
        server.wait(timeout=10)
    passed = failed = 0
    failures: list[str] = []
    for name, out in outputs.items():
        m = re.search(r"^(\d+) passed, (\d+) failed$", out, re.M)
        assert m, f"{name}: no summary line in:\n{out[-2000:]}"
        passed += int(m.group(1))
        failed += int(m.group(2))
        failures += [f"{name}: {line}" for line in out.splitlines() if line.startswith("FAIL")]
        if int(m.group(2)):
            failures.append(out[-3000:])
    print(f"acceptance definitions: {passed} passed, {failed} failed of {len(files)}")
    assert failed == 0, "\n".join(failures)
    assert passed == len(files)
