"""The MsgType table and the bounded metric labels built from wire data."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import Any

from prometheus_client.registry import CollectorRegistry
from pyfixmsg_plus.engine.codec.msgtypes import (
    OTHER_LABEL,
    OTHER_MSG_TYPE,
    STANDARD_MSG_TYPES,
    msg_type_label,
)
from pyfixmsg_plus.engine.observability.metrics import EngineCollector, reason_label
from pyfixmsg_plus.engine.session import State
from pyfixmsg_plus.engine.session.stats import SessionStats

from .test_dictionary_common import SPEC_FILES, spec_dir


def test_the_table_is_every_msgtype_of_the_dictionaries() -> None:
    found: set[bytes] = set()
    for name in SPEC_FILES:
        root = ET.parse(spec_dir() / name).getroot()
        found.update(m.get("msgtype", "").encode() for m in root.iter("message"))
    assert found == STANDARD_MSG_TYPES


def test_labels() -> None:
    assert msg_type_label(b"D") == "D"
    assert msg_type_label(b"AE") == "AE"
    assert msg_type_label(b"A") == "A"
    for junk in (b"", b"ZZ", b"d\n", b"x" * 10_000, b"\xff", OTHER_MSG_TYPE):
        assert msg_type_label(junk) == OTHER_LABEL
    assert [reason_label(r) for r in (0, 5, 18, 99)] == ["0", "5", "18", "99"]
    assert [reason_label(r) for r in (-1, 19, 98, 10**6)] == [OTHER_LABEL] * 4


class _View:
    def __init__(self, stats: SessionStats) -> None:
        self.session_id = "FIX.4.4:A->B"
        self.counterparty = "B"
        self.stats = stats
        self.state = State.ACTIVE
        self.next_sender = 1
        self.next_target = 1
        self.queued = 0

    def in_schedule(self) -> bool:
        return True


def _samples(registry: CollectorRegistry, name: str) -> list[Any]:
    return [s for f in registry.collect() for s in f.samples if s.name == name]


def test_made_up_msgtypes_and_reasons_share_one_series() -> None:
    stats = SessionStats()
    stats.received[b"D"] += 2
    for i in range(300):  # what a hostile counterparty could send
        stats.received[b"J%d\r\n" % i] += 1
        stats.sent[b"U%d" % i] += 1
        stats.rejects_sent[1000 + i] += 1
    stats.rejects_sent[5] += 1
    views: Iterable[Any] = [_View(stats)]
    registry = CollectorRegistry()
    registry.register(EngineCollector(lambda: views))
    received = {s.labels["msg_type"]: s.value
                for s in _samples(registry, "fixplus_messages_received_total")}
    assert received == {"D": 2, "other": 300}
    sent = {s.labels["msg_type"]: s.value for s in _samples(registry, "fixplus_messages_sent_total")}
    assert sent == {"other": 300}
    rejects = {s.labels["reason"]: s.value for s in _samples(registry, "fixplus_rejects_sent_total")}
    assert rejects == {"5": 1, "other": 300}
