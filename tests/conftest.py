"""Shared test settings."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") == "true" else "dev")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """This run's namespaces must be gone from the API server at the end
    (tests/kubeclean.py): one never deleted, or held by a finalizer, fails
    the run and says what holds it; one the namespace controller is still
    emptying is reported only."""
    from tests import kubeclean

    if not kubeclean.created():
        return
    left, slow = kubeclean.leftovers()
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write("\n")
        reporter.write_sep("-", f"API server clean-up (run {kubeclean.RUN_ID})")
        for line in left:
            reporter.write_line(f"LEFT BEHIND: {line}")
        for line in slow:
            reporter.write_line(f"still being deleted (nothing holds it): {line}")
        if not left and not slow:
            reporter.write_line("every namespace of this run is gone")
    if left:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
