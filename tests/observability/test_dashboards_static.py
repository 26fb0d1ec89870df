"""The dashboards and alert rules, checked without any server running."""

from __future__ import annotations

import re

import yaml
from pyfixmsg_plus.engine.observability.metrics import METRICS

from tests.observability import dashboards_gen
from tests.observability.harness import (
    ALERTS,
    dashboard_queries,
    load_dashboards,
    metric_names,
    unknown_metrics,
    variable_query,
)

#: Labels the engine exports, plus what every scrape adds.
KNOWN_LABELS = {"session", "counterparty", "msg_type", "reason", "direction", "state", "outcome", "operation", "le",
                "instance", "job"}


def rule_exprs() -> list[tuple[str, str]]:
    out = []
    for path in sorted(ALERTS.glob("*.yaml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                out.append((rule.get("alert") or rule["record"], rule["expr"]))
    return out


def test_generated_json_is_committed_and_current() -> None:
    assert set(load_dashboards()) == set(dashboards_gen.DASHBOARDS)
    assert dashboards_gen.main(["--check"]) == 0


def test_three_dashboards_with_a_datasource_variable() -> None:
    boards = load_dashboards()
    assert {b["uid"] for b in boards.values()} == {
        "fixplus-overview", "fixplus-session", "fixplus-store"}
    for name, board in boards.items():
        variables = {v["name"]: v for v in board["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource", name
        assert variables["datasource"]["query"] == "prometheus", name
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), name
        for panel in board["panels"]:
            if panel["type"] == "row":
                continue
            assert panel["datasource"]["uid"] == "${datasource}", (name, panel["title"])
            assert panel["targets"], (name, panel["title"])
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == "${datasource}"
            pos = panel["gridPos"]
            assert pos["x"] + pos["w"] <= 24, (name, panel["title"])
    session = boards["fixplus-session.json"]
    assert "session" in {v["name"] for v in session["templating"]["list"]}
    for panel in session["panels"]:
        for target in panel.get("targets", []):
            assert 'session="$session"' in target["expr"], (panel["title"], target["expr"])


def test_every_metric_a_panel_or_rule_names_exists() -> None:
    named: set[str] = set()
    for q in dashboard_queries():
        names = metric_names(q.expr)
        assert names, q
        assert not unknown_metrics(names, METRICS), q
        named |= names
    for alert, expr in rule_exprs():
        names = metric_names(expr)
        assert names, alert
        assert not unknown_metrics(names, METRICS), (alert, unknown_metrics(names, METRICS))
        named |= names
    # The dashboards and rules together show every metric of the engine.
    shown = {n.removesuffix("_bucket").removesuffix("_sum").removesuffix("_count")
             for n in named}
    assert set(METRICS) - shown == set()


def test_labels_used_are_labels_we_export() -> None:
    grouping = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
    matcher = re.compile(r"[{,]\s*(\w+)\s*(?:=~|!~|!=|=)")
    exprs = [q.expr for q in dashboard_queries()] + [e for _, e in rule_exprs()]
    for expr in exprs:
        used = {label.strip() for m in grouping.findall(expr) for label in m.split(",")
                if label.strip()}
        used |= set(matcher.findall(expr))
        assert used <= KNOWN_LABELS, (expr, used - KNOWN_LABELS)


def test_metric_helpers() -> None:
    assert metric_names('sum by (le) (rate(fixplus_store_write_seconds_bucket{session="fixplus_x"}[5m]))') \
        == {"fixplus_store_write_seconds_bucket"}
    assert unknown_metrics({"fixplus_store_write_seconds_bucket", "fixplus_nope",
                            "fixplus_logons_total_bucket", "process_cpu_seconds_total"},
                           METRICS) == {"fixplus_nope", "fixplus_logons_total_bucket"}
    assert variable_query("label_values(fixplus_session_logged_on, session)") == (
        "fixplus_session_logged_on", "session")


def test_every_alert_has_a_runbook_section_and_a_unit_test() -> None:
    from tests.observability.harness import RULE_TESTS
    from tests.realparts import REPO

    doc = (REPO / "docs" / "dashboards.md").read_text()
    tests_text = RULE_TESTS.read_text()
    for path in sorted(ALERTS.glob("*.yaml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                name = rule["alert"]
                assert rule["labels"]["severity"] in ("warning", "critical"), name
                anchor = rule["annotations"]["runbook"].split("#")[1]
                assert anchor == name.lower(), name
                assert re.search(rf"^### {name}\b", doc, re.M), f"docs/dashboards.md: {name}"
                assert f"alertname: {name}" in tests_text, f"no promtool test for {name}"
