"""The alert rules, checked and unit-tested by the real promtool."""

from __future__ import annotations

import subprocess

from tests.observability.harness import ALERTS, RULE_TESTS, tools
from tests.realparts import missing


def _promtool() -> str:
    promtool = tools()[1]
    if promtool is None:
        missing("promtool not found (FIXPLUS_PROMTOOL; tests/env/40-prometheus.sh installs "
                "Debian's prometheus package)")
        raise AssertionError("unreachable")
    return promtool


def test_promtool_check_rules() -> None:
    files = sorted(str(p) for p in ALERTS.glob("*.yaml"))
    assert files
    run = subprocess.run([_promtool(), "check", "rules", *files], capture_output=True,
                         text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS" in run.stdout


def test_promtool_test_rules() -> None:
    run = subprocess.run([_promtool(), "test", "rules", str(RULE_TESTS)], capture_output=True,
                         text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS" in run.stdout
