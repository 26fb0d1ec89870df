"""The Grafana dashboards of the Helm chart, built from code.

    python -m tests.observability.dashboards_gen           # write the JSON files
    python -m tests.observability.dashboards_gen --check   # exit 1 when they drift

Writes ``charts/pyfixmsg-plus/dashboards/*.json`` (committed; the chart ships
them as ConfigMaps for the Grafana sidecar).  Every query names metrics from
``engine/observability/metrics.py`` only; ``tests/observability`` proves each one returns
data from a real Prometheus scraping a running engine pair.

Conventions: the data source is the dashboard variable ``datasource`` (type
prometheus) so that the dashboards work with any Prometheus the sidecar's
Grafana knows; the session dashboard has the variable ``session``; rates use
``$__rate_interval``.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = REPO / "charts" / "pyfixmsg-plus" / "dashboards"

DS = {"type": "prometheus", "uid": "${datasource}"}
RI = "$__rate_interval"
S = 'session="$session"'
#: Process metrics of the engine pods only (not of everything Prometheus scrapes).
ENGINE_PODS = "on (instance) group by (instance) (fixplus_session_logged_on)"
TAGS = ["pyfixmsg-plus", "fix"]


@dataclasses.dataclass
class Target:
    expr: str
    legend: str = ""
    instant: bool = False


@dataclasses.dataclass
class Panel:
    title: str
    description: str
    targets: list[Target]
    kind: str = "timeseries"
    unit: str = "short"
    width: int = 12
    height: int = 8
    stack: bool = False
    thresholds: list[tuple[float | None, str]] | None = None
    decimals: int | None = None
    links: list[dict[str, str]] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Row:
    title: str


def _field_config(p: Panel) -> dict[str, Any]:
    defaults: dict[str, Any] = {"unit": p.unit}
    if p.decimals is not None:
        defaults["decimals"] = p.decimals
    steps = p.thresholds or [(None, "green")]
    defaults["thresholds"] = {"mode": "absolute",
                              "steps": [{"color": c, "value": v} for v, c in steps]}
    if p.kind == "timeseries":
        defaults["custom"] = {
            "drawStyle": "line", "lineWidth": 1, "fillOpacity": 20 if p.stack else 10,
            "showPoints": "never", "spanNulls": True,
            "stacking": {"mode": "normal" if p.stack else "none", "group": "A"},
        }
        defaults["color"] = {"mode": "palette-classic"}
    elif p.kind == "stat":
        defaults["color"] = {"mode": "thresholds"}
    elif p.kind == "state-timeline":
        defaults["color"] = {"mode": "thresholds"}
        defaults["mappings"] = [{"type": "value", "options": {
            "0": {"text": "down", "color": "red"}, "1": {"text": "logged on", "color": "green"}}}]
    if p.links:
        defaults["links"] = p.links
    return {"defaults": defaults, "overrides": []}


def _options(p: Panel) -> dict[str, Any]:
    if p.kind == "stat":
        return {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                "colorMode": "background", "graphMode": "area", "justifyMode": "auto",
                "textMode": "value"}
    if p.kind == "state-timeline":
        return {"showValue": "never", "mergeValues": True, "rowHeight": 0.8,
                "legend": {"displayMode": "list", "placement": "bottom", "showLegend": False}}
    if p.kind == "heatmap":
        return {"calculate": False, "yAxis": {"unit": p.unit},
                "cellGap": 1, "color": {"scheme": "Oranges", "mode": "scheme"}}
    return {"legend": {"displayMode": "table", "placement": "right", "showLegend": True,
                       "calcs": ["lastNotNull", "max"]},
            "tooltip": {"mode": "multi", "sort": "desc"}}


def _panels(items: list[Panel | Row]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    x = y = row_h = 0
    for n, item in enumerate(items, start=1):
        if isinstance(item, Row):
            if x:
                y, x, row_h = y + row_h, 0, 0
            out.append({"id": n, "type": "row", "title": item.title, "collapsed": False,
                        "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []})
            y += 1
            continue
        if x + item.width > 24:
            y, x, row_h = y + row_h, 0, 0
        panel: dict[str, Any] = {
            "id": n, "type": item.kind, "title": item.title, "description": item.description,
            "datasource": DS,
            "gridPos": {"h": item.height, "w": item.width, "x": x, "y": y},
            "targets": [{
                "refId": chr(ord("A") + i), "datasource": DS, "expr": t.expr,
                "legendFormat": t.legend or "__auto", "range": not t.instant,
                "instant": t.instant, "editorMode": "code",
                **({"format": "heatmap"} if item.kind == "heatmap" else {}),
            } for i, t in enumerate(item.targets)],
            "fieldConfig": _field_config(item),
            "options": _options(item),
        }
        out.append(panel)
        x += item.width
        row_h = max(row_h, item.height)
    return out


def _datasource_var() -> dict[str, Any]:
    return {"name": "datasource", "label": "Data source", "type": "datasource",
            "query": "prometheus", "current": {}, "hide": 0, "refresh": 1, "regex": "",
            "options": []}


def _session_var() -> dict[str, Any]:
    query = "label_values(fixplus_session_logged_on, session)"
    return {"name": "session", "label": "Session", "type": "query", "datasource": DS,
            "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
            "definition": query, "current": {}, "hide": 0, "refresh": 2, "sort": 1,
            "multi": False, "includeAll": False, "regex": "", "options": []}


def _dashboard(uid: str, title: str, description: str, items: list[Panel | Row],
               variables: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "uid": uid, "title": title, "description": description, "tags": TAGS,
        "editable": True, "graphTooltip": 1, "schemaVersion": 39, "version": 1,
        "refresh": "30s", "time": {"from": "now-1h", "to": "now"}, "timezone": "",
        "fiscalYearStartMonth": 0, "liveNow": False, "weekStart": "",
        "timepicker": {}, "annotations": {"list": []},
        "links": [{"title": "PyFixMsg Plus", "type": "dashboards", "tags": ["pyfixmsg-plus"],
                   "asDropdown": True, "includeVars": False, "keepTime": True}],
        "templating": {"list": variables},
        "panels": _panels(items),
    }


SESSION_LINK = [{"title": "Session detail",
                 "url": "/d/fixplus-session?var-session=${__field.labels.session}&${__url_time_range}"}]


def overview() -> dict[str, Any]:
    items: list[Panel | Row] = [
        Panel("Sessions logged on", "Sessions in the logged-on state, across all engines.",
              [Target("sum(fixplus_session_logged_on)")], kind="stat", width=6, height=4),
        Panel("Sessions in schedule", "Sessions inside their trading schedule.",
              [Target("sum(fixplus_session_in_schedule)")], kind="stat", width=6, height=4),
        Panel("Down during schedule",
              "Sessions inside their schedule that are not logged on (the FixSessionDown "
              "alert fires when this lasts).",
              [Target("sum((1 - fixplus_session_logged_on) * fixplus_session_in_schedule)")],
              kind="stat", width=6, height=4, thresholds=[(None, "green"), (1, "red")]),
        Panel("Messages per second", "FIX messages sent and received per second, all sessions.",
              [Target(f"sum(rate(fixplus_messages_sent_total[{RI}])) + "
                      f"sum(rate(fixplus_messages_received_total[{RI}]))")],
              kind="stat", unit="reqps", width=6, height=4),
        Panel("Session state", "Logged on (green) or not (red), per session.",
              [Target("max by (session) (fixplus_session_logged_on)", "{{session}}")],
              kind="state-timeline", width=24, height=6, links=SESSION_LINK),
        Row("Traffic"),
        Panel("Messages sent by MsgType", "Messages written per second, by FIX MsgType "
              "(D NewOrderSingle, 8 ExecutionReport, 0 Heartbeat, 3 Reject, ...).",
              [Target(f"sum by (msg_type) (rate(fixplus_messages_sent_total[{RI}]))",
                      "{{msg_type}}")], unit="reqps", stack=True),
        Panel("Messages received by MsgType", "Messages received per second, by FIX MsgType.",
              [Target(f"sum by (msg_type) (rate(fixplus_messages_received_total[{RI}]))",
                      "{{msg_type}}")], unit="reqps", stack=True),
        Panel("Messages per session", "Messages sent and received per second, by session.",
              [Target(f"sum by (session) (rate(fixplus_messages_sent_total[{RI}]))",
                      "{{session}} sent"),
               Target(f"sum by (session) (rate(fixplus_messages_received_total[{RI}]))",
                      "{{session}} received")], unit="reqps", links=SESSION_LINK),
        Panel("Rejects", "Session Rejects (35=3) sent by SessionRejectReason, and received.",
              [Target(f"sum by (session, reason) (increase(fixplus_rejects_sent_total[{RI}]))",
                      "{{session}} sent, reason {{reason}}"),
               Target(f"sum by (session) (increase(fixplus_rejects_received_total[{RI}]))",
                      "{{session}} received")]),
        Row("Recovery"),
        Panel("Resend requests", "ResendRequests (35=2) sent (we saw a gap) and received "
              "(the counterparty saw one).",
              [Target(f"sum by (session, direction) "
                      f"(increase(fixplus_resend_requests_total[{RI}]))",
                      "{{session}} {{direction}}")], width=8),
        Panel("Gap fills", "SequenceReset-GapFills sent and received.",
              [Target(f"sum by (session, direction) (increase(fixplus_gap_fills_total[{RI}]))",
                      "{{session}} {{direction}}")], width=8),
        Panel("Queued above a gap", "Messages held above a sequence gap, waiting for the "
              "resend to fill it (should return to 0 within seconds).",
              [Target("sum by (session) (fixplus_queued_messages)", "{{session}}")], width=8),
        Panel("Reconnect attempts and logons", "Initiator connection attempts and completed "
              "logons; attempts without logons mean the counterparty cannot be reached.",
              [Target(f"sum by (session) (increase(fixplus_reconnect_attempts_total[{RI}]))",
                      "{{session}} attempts"),
               Target(f"sum by (session) (increase(fixplus_logons_total[{RI}]))",
                      "{{session}} logons")], width=8),
        Panel("Heartbeat timeouts", "Connections dropped because the counterparty went silent "
              "(no answer to a TestRequest).",
              [Target(f"sum by (session) (increase(fixplus_heartbeat_timeouts_total[{RI}]))",
                      "{{session}}")], width=8),
        Panel("Store write latency p99", "99th percentile of the message store transaction "
              "(persist before send), per session.",
              [Target(f"histogram_quantile(0.99, sum by (session, le) "
                      f"(rate(fixplus_store_write_seconds_bucket[{RI}])))", "{{session}}")],
              unit="s", width=8),
        Row("Security"),
        Panel("Logons refused", "Logons refused before any session state changed, by "
              "reason (credentials, address, certificate, unknown_session, not_logon, "
              "invalid_logon, limit). A steady rate of 'credentials' from one place is "
              "someone guessing.",
              [Target(f"sum by (instance, reason) "
                      f"(increase(fixplus_logons_refused_total[{RI}]))",
                      "{{instance}} {{reason}}")], width=8),
        Panel("Connections refused", "Connections closed before a Logon was read: accept "
              "rate, unauthenticated connections in total or per source, or a source "
              "blocked after refused Logons (docs/security.md).",
              [Target(f"sum by (instance, reason) "
                      f"(increase(fixplus_connections_refused_total[{RI}]))",
                      "{{instance}} {{reason}}")], width=8),
        Panel("Gap queue overflows", "Logouts because more than maxQueuedMessages / "
              "maxQueuedBytes waited above a sequence gap.",
              [Target(f"sum by (session) (increase(fixplus_queue_overflows_total[{RI}]))",
                      "{{session}}")], width=8),
        Row("Engine processes"),
        Panel("CPU", "CPU used by each engine process (cores).",
              [Target(f"sum by (instance) (rate(process_cpu_seconds_total[{RI}])) "
                      f"and {ENGINE_PODS}", "{{instance}}")], unit="short"),
        Panel("Resident memory", "Resident memory of each engine process.",
              [Target(f"process_resident_memory_bytes and {ENGINE_PODS}", "{{instance}}")],
              unit="bytes"),
        Panel("Event loop waits (busyPollUs)", "Engines with busyPollUs: waits for I/O "
              "answered while polling and waits that slept, per second. Mostly 'slept' "
              "under steady traffic: the polling budget is shorter than the gaps.",
              [Target(f"sum by (instance, outcome) "
                      f"(rate(fixplus_event_loop_selects_total[{RI}]))",
                      "{{instance}} {{outcome}}")], unit="short"),
    ]
    return _dashboard("fixplus-overview", "PyFixMsg Plus / Overview",
                      "All FIX sessions of all engines: state, traffic, rejects, recovery, "
                      "store latency.", items, [_datasource_var()])


def session_detail() -> dict[str, Any]:
    items: list[Panel | Row] = [
        Panel("Logged on", "1 when the session is logged on.",
              [Target(f"max(fixplus_session_logged_on{{{S}}})")], kind="stat", width=4,
              height=4, thresholds=[(None, "red"), (1, "green")]),
        Panel("In schedule", "1 inside the session's trading schedule.",
              [Target(f"max(fixplus_session_in_schedule{{{S}}})")], kind="stat", width=4,
              height=4),
        Panel("Next sender seq", "Next outgoing MsgSeqNum.",
              [Target(f'max(fixplus_sequence_number{{{S}, direction="sender"}})')],
              kind="stat", width=4, height=4, decimals=0),
        Panel("Next target seq", "Next expected incoming MsgSeqNum.",
              [Target(f'max(fixplus_sequence_number{{{S}, direction="target"}})')],
              kind="stat", width=4, height=4, decimals=0),
        Panel("Queued above a gap", "Messages held above a sequence gap.",
              [Target(f"sum(fixplus_queued_messages{{{S}}})")], kind="stat", width=4,
              height=4, thresholds=[(None, "green"), (1, "orange")]),
        Panel("Logons", "Logons completed since the engine started.",
              [Target(f"sum(fixplus_logons_total{{{S}}})")], kind="stat", width=4, height=4),
        Panel("State", "The session's state over time (only the current state is 1).",
              [Target(f"max by (state) (fixplus_session_state{{{S}}}) > 0", "{{state}}")],
              kind="timeseries", width=12, height=7, stack=True),
        Panel("Sequence numbers", "Next sender and target MsgSeqNum.",
              [Target(f"max by (direction) (fixplus_sequence_number{{{S}}})",
                      "{{direction}}")], width=12, height=7),
        Row("Traffic"),
        Panel("Sent by MsgType", "Messages written per second, by MsgType.",
              [Target(f"sum by (msg_type) (rate(fixplus_messages_sent_total{{{S}}}[{RI}]))",
                      "{{msg_type}}")], unit="reqps", stack=True),
        Panel("Received by MsgType", "Messages received per second, by MsgType.",
              [Target(f"sum by (msg_type) "
                      f"(rate(fixplus_messages_received_total{{{S}}}[{RI}]))",
                      "{{msg_type}}")], unit="reqps", stack=True),
        Panel("Rejects", "Session Rejects sent by SessionRejectReason, and received.",
              [Target(f"sum by (reason) (increase(fixplus_rejects_sent_total{{{S}}}[{RI}]))",
                      "sent, reason {{reason}}"),
               Target(f"sum(increase(fixplus_rejects_received_total{{{S}}}[{RI}]))",
                      "received")], width=8),
        Panel("Garbled messages", "Frames ignored because they could not be parsed.",
              [Target(f"sum(increase(fixplus_garbled_messages_total{{{S}}}[{RI}]))",
                      "garbled")], width=8),
        Panel("Resend requests and gap fills", "ResendRequests and GapFills, by direction.",
              [Target(f"sum by (direction) "
                      f"(increase(fixplus_resend_requests_total{{{S}}}[{RI}]))",
                      "resend requests {{direction}}"),
               Target(f"sum by (direction) (increase(fixplus_gap_fills_total{{{S}}}[{RI}]))",
                      "gap fills {{direction}}")], width=8),
        Row("Connection"),
        Panel("Connects, logons, logouts", "Connection attempts (initiators), logons and "
              "logouts.",
              [Target(f"sum(increase(fixplus_reconnect_attempts_total{{{S}}}[{RI}]))",
                      "connect attempts"),
               Target(f"sum(increase(fixplus_logons_total{{{S}}}[{RI}]))", "logons"),
               Target(f"sum(increase(fixplus_logouts_total{{{S}}}[{RI}]))", "logouts")],
              width=8),
        Panel("TestRequests and heartbeat timeouts", "TestRequests sent after silence, and "
              "connections dropped because no answer came.",
              [Target(f"sum(increase(fixplus_test_requests_sent_total{{{S}}}[{RI}]))",
                      "TestRequests sent"),
               Target(f"sum(increase(fixplus_heartbeat_timeouts_total{{{S}}}[{RI}]))",
                      "heartbeat timeouts")], width=8),
        Panel("TestRequest round trip", "TestRequest to answering Heartbeat (quantiles over "
              "the window; gaps where no TestRequest was answered).",
              [Target(f"histogram_quantile(0.5, sum by (le) "
                      f"(rate(fixplus_test_request_rtt_seconds_bucket{{{S}}}[5m])))", "p50"),
               Target(f"histogram_quantile(0.99, sum by (le) "
                      f"(rate(fixplus_test_request_rtt_seconds_bucket{{{S}}}[5m])))", "p99")],
              unit="s", width=8),
        Row("Store"),
        Panel("Store write latency", "Store transaction latency quantiles for this session.",
              [Target(f"histogram_quantile({q}, sum by (le) "
                      f"(rate(fixplus_store_write_seconds_bucket{{{S}}}[{RI}])))", f"p{p}")
               for q, p in (("0.5", "50"), ("0.9", "90"), ("0.99", "99"))], unit="s"),
        Panel("Store batch size and errors", "Mean messages per store transaction, and "
              "failed store operations.",
              [Target(f"sum(rate(fixplus_store_batch_messages_sum{{{S}}}[{RI}])) / "
                      f"sum(rate(fixplus_store_batch_messages_count{{{S}}}[{RI}]))",
                      "mean batch"),
               Target(f"sum(increase(fixplus_store_errors_total{{{S}}}[{RI}]))", "errors")]),
    ]
    return _dashboard("fixplus-session", "PyFixMsg Plus / Session",
                      "One FIX session in detail (choose it with the session variable).",
                      items, [_datasource_var(), _session_var()])


def store_health() -> dict[str, Any]:
    def q(quantile: str, by: str = "le") -> str:
        return (f"histogram_quantile({quantile}, sum by ({by}) "
                f"(rate(fixplus_store_write_seconds_bucket[{RI}])))")

    items: list[Panel | Row] = [
        Panel("Write latency p99", "99th percentile store transaction latency, all sessions.",
              [Target(q("0.99"))], kind="stat", unit="s", width=6, height=4,
              thresholds=[(None, "green"), (0.05, "orange"), (0.1, "red")]),
        Panel("Transactions per second", "Store transactions per second, all sessions.",
              [Target(f"sum(rate(fixplus_store_write_seconds_count[{RI}]))")], kind="stat",
              unit="ops", width=6, height=4),
        Panel("Messages persisted per second", "Outbound messages written to the store.",
              [Target(f"sum(rate(fixplus_store_batch_messages_sum[{RI}]))")], kind="stat",
              unit="reqps", width=6, height=4),
        Panel("Store errors (window)", "Store operations that failed in the window.",
              [Target(f"sum(increase(fixplus_store_errors_total[{RI}]))")], kind="stat",
              width=6, height=4, decimals=0, thresholds=[(None, "green"), (1, "red")]),
        Row("Latency"),
        Panel("Write latency quantiles", "Store transaction latency: p50, p90, p99, p99.9 "
              "across all sessions, and the mean.",
              [*(Target(q(v), f"p{n}") for v, n in (("0.5", "50"), ("0.9", "90"),
                                                    ("0.99", "99"), ("0.999", "99.9"))),
               Target(f"sum(rate(fixplus_store_write_seconds_sum[{RI}])) / "
                      f"sum(rate(fixplus_store_write_seconds_count[{RI}]))", "mean")],
              unit="s"),
        Panel("Write latency p99 by session", "Which session's store writes are slow.",
              [Target(q("0.99", "session, le"), "{{session}}")], unit="s"),
        Panel("Write latency distribution", "Store transactions per latency bucket.",
              [Target(f"sum by (le) (increase(fixplus_store_write_seconds_bucket[{RI}]))",
                      "{{le}}")], kind="heatmap", unit="s", width=24),
        Row("Batches"),
        Panel("Batch size quantiles", "Messages per store transaction (group commit): "
              "large batches mean the store is the bottleneck.",
              [Target(f"histogram_quantile({v}, sum by (le) "
                      f"(rate(fixplus_store_batch_messages_bucket[{RI}])))", f"p{n}")
               for v, n in (("0.5", "50"), ("0.99", "99"))] +
              [Target(f"sum(rate(fixplus_store_batch_messages_sum[{RI}])) / "
                      f"sum(rate(fixplus_store_batch_messages_count[{RI}]))", "mean")]),
        Panel("Transactions by session", "Store transactions per second, by session.",
              [Target(f"sum by (session) (rate(fixplus_store_write_seconds_count[{RI}]))",
                      "{{session}}")], unit="ops"),
        Row("Errors"),
        Panel("Store errors by session", "Failed store operations; the engine drops the "
              "connection and reloads from the store (see docs/dashboards.md).",
              [Target(f"sum by (session) (increase(fixplus_store_errors_total[{RI}]))",
                      "{{session}}")], width=24, height=6),
    ]
    return _dashboard("fixplus-store", "PyFixMsg Plus / Store health",
                      "Message store latency, group-commit batch sizes and errors.",
                      items, [_datasource_var()])


DASHBOARDS = {
    "fixplus-overview.json": overview,
    "fixplus-session.json": session_detail,
    "fixplus-store.json": store_health,
}


def render(name: str) -> str:
    return json.dumps(DASHBOARDS[name](), indent=2, sort_keys=False) + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    drift = []
    DASHBOARD_DIR.mkdir(parents=True, exist_ok=True)
    for name in DASHBOARDS:
        path = DASHBOARD_DIR / name
        text = render(name)
        if check:
            if not path.is_file() or path.read_text() != text:
                drift.append(name)
        else:
            path.write_text(text)
    if drift:
        print("dashboards drifted from tests/observability/dashboards_gen.py: "
              + ", ".join(drift) + " (run python -m tests.observability.dashboards_gen)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
