"""Every Prometheus metric the engine exports, in one place.

Dashboards and alert rules depend on these names: change one only together
with ``charts/pyfixmsg-plus/dashboards`` and ``.../alerts``.

Nothing here runs on the message path.  Sessions count into plain
:class:`~.session.stats.SessionStats` objects; :class:`EngineCollector`
reads them when Prometheus scrapes.  Labels: ``session`` (the SessionID
text), ``counterparty`` (the TargetCompID), plus bounded ones (``msg_type``,
``reason``, ``direction``, ``state``).  No label ever carries a ClOrdID or
free text.  ``msg_type`` is a standard MsgType of FIX.4.0 - FIX.5.0SP2
(:mod:`.codec.msgtypes`) or ``other``; ``reason`` a standard
SessionRejectReason or ``other``: a counterparty cannot grow the series.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Final, Protocol, TypeVar

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from ..codec.msgtypes import OTHER_LABEL, msg_type_label
from ..session import State
from ..session.stats import SessionStats
from ..transport.eventloop import polling_totals
from ..transport.guard import refusal_totals

PREFIX: Final = "fixplus"

_K = TypeVar("_K", bytes, int)

#: name -> (type, help).  The single list of exported metric names.
METRICS: Final[dict[str, tuple[str, str]]] = {
    "fixplus_messages_sent_total": ("counter", "FIX messages written, by MsgType"),
    "fixplus_messages_received_total": ("counter", "FIX messages received, by MsgType"),
    "fixplus_rejects_sent_total": ("counter", "Session Rejects sent, by SessionRejectReason"),
    "fixplus_rejects_received_total": ("counter", "Session Rejects received"),
    "fixplus_garbled_messages_total": ("counter", "Garbled messages ignored"),
    "fixplus_resend_requests_total": ("counter", "ResendRequests, by direction (sent/received)"),
    "fixplus_gap_fills_total": ("counter", "SequenceReset-GapFills, by direction"),
    "fixplus_sequence_number": ("gauge", "Next sequence number, by direction (sender/target)"),
    "fixplus_session_state": ("gauge", "1 for the session's current state"),
    "fixplus_session_logged_on": ("gauge", "1 when the session is logged on"),
    "fixplus_session_in_schedule": ("gauge", "1 when the session is inside its schedule"),
    "fixplus_logons_total": ("counter", "Logons completed"),
    "fixplus_logouts_total": ("counter", "Times the session left the logged-on state"),
    "fixplus_heartbeat_timeouts_total": ("counter", "Connections dropped for silence"),
    "fixplus_test_requests_sent_total": ("counter", "TestRequests sent"),
    "fixplus_test_request_rtt_seconds": ("histogram", "TestRequest to Heartbeat round trip"),
    "fixplus_store_write_seconds": ("histogram", "Store transaction latency"),
    "fixplus_store_batch_messages": ("histogram", "Messages per store transaction"),
    "fixplus_store_errors_total": ("counter", "Store operations that failed"),
    "fixplus_reconnect_attempts_total": ("counter", "Initiator connection attempts"),
    "fixplus_queued_messages": ("gauge", "Messages held above a sequence gap"),
    "fixplus_connections_refused_total": (
        "counter", "Connections closed before a Logon was read, by reason (rate, limit, "
                   "source_limit, throttled)"),
    "fixplus_logons_refused_total": (
        "counter", "Logons refused before any session state changed, by reason"),
    "fixplus_queue_overflows_total": (
        "counter", "Logouts because too much was queued above a sequence gap"),
    "fixplus_vault_errors_total": (
        "counter", "Vault operations that failed, by operation (login, token_renewal, "
                   "lease_renewal, credentials, swap, revoke); the current token and "
                   "credentials stay in use"),
    "fixplus_event_loop_selects_total": (
        "counter", "Waits for I/O of a busy-polling event loop (busyPollUs), by outcome: "
                   "polled (answered while polling) or slept"),
}


class SessionView(Protocol):
    """What the collector needs of a running session (a SessionDriver)."""

    @property
    def session_id(self) -> str: ...

    @property
    def counterparty(self) -> str: ...

    @property
    def stats(self) -> SessionStats: ...

    @property
    def state(self) -> State: ...

    @property
    def next_sender(self) -> int: ...

    @property
    def next_target(self) -> int: ...

    @property
    def queued(self) -> int: ...

    def in_schedule(self) -> bool: ...


def _counter(name: str, labels: list[str]) -> CounterMetricFamily:
    # prometheus_client appends _total to counters itself.
    return CounterMetricFamily(name.removesuffix("_total"), METRICS[name][1], labels=labels)


def _gauge(name: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, METRICS[name][1], labels=labels)


def _histogram(name: str, labels: list[str]) -> HistogramMetricFamily:
    return HistogramMetricFamily(name, METRICS[name][1], labels=labels)


_MAX_STANDARD_REASON: Final = 18


def reason_label(reason: int) -> str:
    """A SessionRejectReason(373) as a label: the standard values 0-18 and
    99, anything else ``other``."""
    return str(reason) if 0 <= reason <= _MAX_STANDARD_REASON or reason == 99 else OTHER_LABEL


def _by_label(counts: Mapping[_K, int], label: Callable[[_K], str]) -> dict[str, int]:
    """Counts summed by label (several values may share ``other``)."""
    out: dict[str, int] = {}
    for key, n in counts.items():
        name = label(key)
        out[name] = out.get(name, 0) + n
    return out


class EngineCollector(Collector):
    """Exports the stats of the sessions ``sessions()`` returns at scrape time."""

    def __init__(self, sessions: Callable[[], Iterable[SessionView]]) -> None:
        self._sessions = sessions

    def collect(self) -> Iterator[Metric]:
        base = ["session", "counterparty"]
        counters = {name: _counter(name, base) for name in (
            "fixplus_rejects_received_total", "fixplus_garbled_messages_total",
            "fixplus_logons_total", "fixplus_logouts_total", "fixplus_heartbeat_timeouts_total",
            "fixplus_test_requests_sent_total", "fixplus_store_errors_total",
            "fixplus_reconnect_attempts_total", "fixplus_queue_overflows_total")}
        gauges = {name: _gauge(name, base) for name in (
            "fixplus_session_logged_on", "fixplus_session_in_schedule",
            "fixplus_queued_messages")}
        histograms = {name: _histogram(name, base) for name in (
            "fixplus_test_request_rtt_seconds", "fixplus_store_write_seconds",
            "fixplus_store_batch_messages")}
        sent = _counter("fixplus_messages_sent_total", [*base, "msg_type"])
        received = _counter("fixplus_messages_received_total", [*base, "msg_type"])
        rejects = _counter("fixplus_rejects_sent_total", [*base, "reason"])
        resends = _counter("fixplus_resend_requests_total", [*base, "direction"])
        gaps = _counter("fixplus_gap_fills_total", [*base, "direction"])
        seqs = _gauge("fixplus_sequence_number", [*base, "direction"])
        states = _gauge("fixplus_session_state", [*base, "state"])
        for view in self._sessions():
            st = view.stats
            lb = [view.session_id, view.counterparty]
            for label, n in _by_label(st.sent, msg_type_label).items():
                sent.add_metric([*lb, label], n)
            for label, n in _by_label(st.received, msg_type_label).items():
                received.add_metric([*lb, label], n)
            for label, n in _by_label(st.rejects_sent, reason_label).items():
                rejects.add_metric([*lb, label], n)
            resends.add_metric([*lb, "sent"], st.resend_requests_sent)
            resends.add_metric([*lb, "received"], st.resend_requests_received)
            gaps.add_metric([*lb, "sent"], st.gap_fills_sent)
            gaps.add_metric([*lb, "received"], st.gap_fills_received)
            seqs.add_metric([*lb, "sender"], view.next_sender)
            seqs.add_metric([*lb, "target"], view.next_target)
            current = view.state
            for state in State:
                states.add_metric([*lb, state.value], 1 if state is current else 0)
            for name, value in (
                ("fixplus_rejects_received_total", st.rejects_received),
                ("fixplus_garbled_messages_total", st.garbled),
                ("fixplus_logons_total", st.logons),
                ("fixplus_logouts_total", st.logouts),
                ("fixplus_heartbeat_timeouts_total", st.heartbeat_timeouts),
                ("fixplus_test_requests_sent_total", st.test_requests_sent),
                ("fixplus_store_errors_total", st.store_errors),
                ("fixplus_reconnect_attempts_total", st.reconnect_attempts),
                ("fixplus_queue_overflows_total", st.queue_overflows),
            ):
                counters[name].add_metric(lb, value)
            gauges["fixplus_session_logged_on"].add_metric(lb, 1 if current is State.ACTIVE else 0)
            gauges["fixplus_session_in_schedule"].add_metric(lb, 1 if view.in_schedule() else 0)
            gauges["fixplus_queued_messages"].add_metric(lb, view.queued)
            for name, h in (("fixplus_test_request_rtt_seconds", st.test_request_rtt),
                            ("fixplus_store_write_seconds", st.store_write),
                            ("fixplus_store_batch_messages", st.store_batch)):
                histograms[name].add_metric(lb, h.cumulative(), h.total)
        selects = _counter("fixplus_event_loop_selects_total", ["outcome"])
        polled, slept = polling_totals()
        selects.add_metric(["polled"], polled)
        selects.add_metric(["slept"], slept)
        connections, logons = refusal_totals()
        refused_connections = _counter("fixplus_connections_refused_total", ["reason"])
        for why, n in sorted(connections.items()):
            refused_connections.add_metric([why], n)
        refused_logons = _counter("fixplus_logons_refused_total", ["reason"])
        for why, n in sorted(logons.items()):
            refused_logons.add_metric([why], n)
        yield from (sent, received, rejects, resends, gaps, seqs, states, selects,
                    refused_connections, refused_logons)
        yield from counters.values()
        yield from gauges.values()
        yield from histograms.values()
