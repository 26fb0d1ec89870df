"""Every dashboard query returns data from a real Prometheus scraping a
running engine pair (tests/observability/loadpair.py: two engines trading
orders with rejects, a cut connection, a resend, stalls and a heartbeat
timeout, plus a session that cannot connect).

Each panel query is asked over the time range of the run, as Grafana asks it
(``/api/v1/query_range``, 1 s step, ``$__rate_interval`` = 30 s, ``$session``
= the session that saw every fault), and must return at least one series
with a numeric sample.  The alert rules are loaded by the same server, which
must find them healthy.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.observability.harness import (
    SESSION,
    Stack,
    dashboard_queries,
    finite_points,
    substitute,
    tools,
    variable_query,
)
from tests.realparts import missing

pytestmark = pytest.mark.integration

LOAD_SECONDS = 40
#: Panels whose series exist but stay at 0 in this run (no store fails, no
#: frame is garbled, gaps close at once).
ALWAYS_ZERO = {
    ("fixplus-overview.json", "Queued above a gap", "A"),
    ("fixplus-session.json", "Queued above a gap", "A"),
    ("fixplus-session.json", "Garbled messages", "A"),
    ("fixplus-session.json", "Store batch size and errors", "B"),
    ("fixplus-store.json", "Store errors (window)", "A"),
    ("fixplus-store.json", "Store errors by session", "A"),
    # no connection floods and no overflowing gap queues in this run (the
    # refused Logons of the INTRUDER session do show)
    ("fixplus-overview.json", "Connections refused", "A"),
    ("fixplus-overview.json", "Gap queue overflows", "A"),
}


def max_value(result: list[dict[str, Any]]) -> float:
    best = float("-inf")
    for series in result:
        for _, text in series.get("values", []):
            if text not in ("NaN", "+Inf", "-Inf"):
                best = max(best, float(text))
    return best


def test_every_dashboard_query_returns_data() -> None:
    prometheus = tools()[0]
    if prometheus is None:
        missing("prometheus not found (FIXPLUS_PROMETHEUS; tests/env/40-prometheus.sh installs "
                "Debian's prometheus package)")
        return
    with Stack(prometheus, LOAD_SECONDS) as stack:
        stack.wait_for("COVERED", LOAD_SECONDS)
        stack.wait_scraped()
        time.sleep(3)  # the last fault's counters reach a few more scrapes
        end = time.time()
        empty = []
        flat: set[tuple[str, str, str]] = set()
        checked = 0
        for q in dashboard_queries():
            expr = substitute(q.expr)
            var = variable_query(expr)
            if var is not None:
                values = stack.get("/api/v1/label/" + var[1] + "/values",
                                   **{"match[]": var[0]})
                if SESSION not in values:
                    empty.append(f"{q} -> {values}")
                checked += 1
                continue
            result = stack.query_range(expr, stack.started, end)
            if finite_points(result) == 0:
                empty.append(f"{q} -> {result}")
            elif max_value(result) <= 0:
                flat.add((q.dashboard, q.panel, q.ref))
            checked += 1
        assert checked >= 60
        assert not empty, "queries without data:\n" + "\n".join(empty)
        # Only what the load generator does not provoke stays at zero.
        assert flat <= ALWAYS_ZERO, sorted(flat - ALWAYS_ZERO)

        # The faults the load generator made are what the counters say.
        def total(expr: str) -> float:
            return sum(float(s["value"][1]) for s in stack.query(expr))

        assert total('fixplus_session_logged_on{session="FIX.4.4:CLIENT3->BROKER"}') == 0
        assert total('fixplus_session_in_schedule{session="FIX.4.4:CLIENT3->BROKER"}') == 1
        assert total("fixplus_session_logged_on") == 4
        assert total('fixplus_resend_requests_total{direction="sent"}') >= 1
        assert total("fixplus_rejects_sent_total") >= 2
        assert total("fixplus_heartbeat_timeouts_total") >= 1
        assert total("fixplus_test_request_rtt_seconds_count") >= 2
        assert total(f'fixplus_logons_total{{session="{SESSION}"}}') >= 2

        # Prometheus loaded the chart's rules and evaluates them without errors.
        groups = stack.get("/api/v1/rules")["groups"]
        rules = [r for g in groups for r in g["rules"]]
        assert len(rules) >= 9
        assert all(r["health"] == "ok" for r in rules), [
            (r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"]
        # CLIENT3 is down in its schedule: FixSessionDown is pending (for: 5m).
        alerts = stack.get("/api/v1/alerts")["alerts"]
        assert any(a["labels"]["alertname"] == "FixSessionDown"
                   and a["labels"]["session"] == "FIX.4.4:CLIENT3->BROKER" for a in alerts), alerts
