"""Per-session counters, kept as plain numbers.

The session and its driver bump these on the hot path (an integer add or a
dict update); ``engine.observability.metrics`` turns them into Prometheus metrics only when
scraped, so metrics cost nothing between scrapes.  Every label value is
bounded: message types and reject reasons come from the FIX standard, never
from free text or identifiers such as ClOrdID.
"""

from __future__ import annotations

import bisect
from collections import Counter


class Histogram:
    """Fixed-bucket histogram (cumulative counts are computed on export)."""

    __slots__ = ("bounds", "counts", "n", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0
        self.n = 0

    def observe(self, value: float) -> None:
        # Bucket i counts values in (bounds[i-1], bounds[i]]; the last one, +Inf.
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value
        self.n += 1

    def cumulative(self) -> list[tuple[str, int]]:
        out: list[tuple[str, int]] = []
        running = 0
        for bound, count in zip(self.bounds, self.counts, strict=False):
            running += count
            out.append((repr(float(bound)), running))
        out.append(("+Inf", self.n))
        return out


#: Seconds: store writes and TestRequest round trips.
LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                   0.25, 0.5, 1.0, 2.5, 5.0)
#: Messages per store transaction.
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


class SessionStats:
    """Everything counted about one session since the process started."""

    __slots__ = (
        "gap_fills_received",
        "gap_fills_sent",
        "garbled",
        "heartbeat_timeouts",
        "logons",
        "logouts",
        "queue_overflows",
        "received",
        "reconnect_attempts",
        "rejects_received",
        "rejects_sent",
        "resend_requests_received",
        "resend_requests_sent",
        "sent",
        "store_batch",
        "store_errors",
        "store_write",
        "test_request_rtt",
        "test_requests_sent",
    )

    def __init__(self) -> None:
        self.sent: Counter[bytes] = Counter()
        self.received: Counter[bytes] = Counter()
        self.rejects_sent: Counter[int] = Counter()
        self.rejects_received = 0
        self.resend_requests_sent = 0
        self.resend_requests_received = 0
        self.gap_fills_sent = 0
        self.gap_fills_received = 0
        self.logons = 0
        self.logouts = 0
        self.heartbeat_timeouts = 0
        self.test_requests_sent = 0
        self.test_request_rtt = Histogram(LATENCY_BUCKETS)
        self.garbled = 0
        self.store_write = Histogram(LATENCY_BUCKETS)
        self.store_batch = Histogram(BATCH_BUCKETS)
        self.store_errors = 0
        self.reconnect_attempts = 0
        #: Logouts because too much was queued above a sequence gap.
        self.queue_overflows = 0
