"""Admission control for acceptors: rates, counts, blocking after refusals."""

from __future__ import annotations

import logging

import pytest
from pyfixmsg_plus.engine.config import AcceptorLimits
from pyfixmsg_plus.engine.transport import guard as guard_module
from pyfixmsg_plus.engine.transport.guard import Guard, refusal_totals


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(**limits: float) -> tuple[Guard, Clock]:
    clock = Clock()
    return Guard(AcceptorLimits.model_validate(limits), clock), clock


def test_unauthenticated_connections_are_bounded_per_source_and_in_total() -> None:
    g, _ = make(maxUnauthenticated=3, maxUnauthenticatedPerSource=2)
    assert g.admit("a") is None and g.admit("a") is None
    assert g.admit("a") == "source_limit"
    assert g.admit("b") is None
    assert g.admit("c") == "limit"
    g.release("a")
    assert g.admit("c") is None
    assert g.unauthenticated == 3
    for source in ("a", "b", "c"):
        g.release(source)
    assert g.unauthenticated == 0 and g._per_source == {}


def test_accept_rate_is_a_token_bucket() -> None:
    g, clock = make(acceptRate=10, acceptBurst=3, maxUnauthenticated=100,
                    maxUnauthenticatedPerSource=100)
    assert [g.admit("a") for _ in range(4)] == [None, None, None, "rate"]
    clock.now += 0.1  # one token back
    assert g.admit("a") is None
    assert g.admit("a") == "rate"


def test_repeated_refused_logons_block_the_source_for_a_while() -> None:
    g, clock = make(failedLogonLimit=3, failedLogonWindow=10, failedLogonBlock=30)
    for _ in range(2):
        g.logon_refused("a", "credentials")
    assert g.admit("a") is None
    g.release("a")
    g.logon_refused("a", "credentials")
    assert g.admit("a") == "throttled"
    assert g.admit("b") is None  # other sources are not affected
    clock.now += 31
    assert g.admit("a") is None


def test_failures_outside_the_window_do_not_add_up() -> None:
    g, clock = make(failedLogonLimit=2, failedLogonWindow=10)
    g.logon_refused("a", "credentials")
    clock.now += 11
    g.logon_refused("a", "credentials")
    assert g.admit("a") is None


def test_failure_table_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(guard_module, "_MAX_TRACKED", 50)
    g, _ = make()
    for i in range(200):
        g.logon_refused(f"10.0.0.{i}", "credentials")
    assert len(g._failures) == 50


def test_refusals_are_counted_by_reason() -> None:
    before_conn, before_logon = refusal_totals()
    g, _ = make(maxUnauthenticatedPerSource=1)
    g.admit("a")
    g.admit("a")
    g.logon_refused("a", "address")
    conn, logons = refusal_totals()
    assert conn.get("source_limit", 0) == before_conn.get("source_limit", 0) + 1
    assert logons.get("address", 0) == before_logon.get("address", 0) + 1


def test_warnings_are_throttled_per_source_and_reason(caplog: pytest.LogCaptureFixture) -> None:
    g, clock = make()
    with caplog.at_level(logging.WARNING, logger="pyfixmsg_plus.transport"):
        for _ in range(100):
            g.warn("a", "credentials", "Logon refused")
        g.warn("a", "address", "Logon refused")
        g.warn("b", "credentials", "Logon refused")
        clock.now += 11
        g.warn("a", "credentials", "Logon refused")
    assert len(caplog.records) == 4
