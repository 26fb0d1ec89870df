"""Metrics, health probes, tracing and logs of a running engine pair."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families
from pyfixmsg_plus.engine.application import Application, SessionHandle, masked_text
from pyfixmsg_plus.engine.codec import Message
from pyfixmsg_plus.engine.config import EngineConfig, LoggingSettings, TracingSettings
from pyfixmsg_plus.engine.observability.logs import JsonFormatter
from pyfixmsg_plus.engine.observability.metrics import METRICS
from pyfixmsg_plus.engine.observability.tracing import build_tracer
from pyfixmsg_plus.engine.runtime import Engine


async def _get(port: int, path: str) -> tuple[int, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    data = await reader.read()
    writer.close()
    head, _, body = data.decode().partition("\r\n\r\n")
    return int(head.split()[1]), body


class Echo(Application):
    def __init__(self) -> None:
        self.got: list[Message] = []

    async def from_app(self, msg: Message, session: SessionHandle) -> None:
        self.got.append(msg)


def _session(role: str, sender: str, target: str, **extra: Any) -> dict[str, Any]:
    return {"role": role, "beginString": "FIX.4.4", "senderCompId": sender,
            "targetCompId": target, "heartbeatInterval": 30, **extra}


async def test_metrics_health_and_traces() -> None:
    acc_cfg = EngineConfig.model_validate({
        "store": "memory://",
        "sessions": [_session("acceptor", "B", "C", acceptPort=0, acceptHost="127.0.0.1",
                              authentication={"mode": "none"})],
        "metrics": {"enabled": True, "host": "127.0.0.1", "port": 0},
        "tracing": {"enabled": True},
    })
    exporter = InMemorySpanExporter()
    broker_app = Echo()
    broker = Engine(acc_cfg, broker_app)
    traced = build_tracer(TracingSettings(enabled=True), exporter)
    assert traced is not None
    broker._tracer, broker.tracer_provider = traced
    await broker.start()
    port = next(iter(broker.acceptors.values())).bound_port
    client = Engine(EngineConfig.model_validate({
        "store": "memory://",
        "sessions": [_session("initiator", "C", "B",
                              connect=[{"host": "127.0.0.1", "port": port}])],
    }), Echo())
    await client.start()
    try:
        await client.wait_logged_on("FIX.4.4:C->B")
        driver = client.driver("FIX.4.4:C->B")
        for i in range(5):
            await driver.send(Message.new("FIX.4.4", "D", [(11, f"o{i}"), (55, "X")]))
        async with asyncio.timeout(5):
            while len(broker_app.got) < 5:
                await asyncio.sleep(0.01)
        assert broker.health is not None
        hport = broker.health.bound_port
        status, body = await _get(hport, "/metrics")
        assert status == 200
        families = {f.name: f for f in text_string_to_metric_families(body)}
        for name in METRICS:
            assert name.removesuffix("_total") in families, name
        received = [s for s in families["fixplus_messages_received"].samples
                    if s.name.endswith("_total") and s.labels["msg_type"] == "D"]
        assert received and received[0].value == 5
        assert received[0].labels["counterparty"] == "C"
        assert "process_resident_memory_bytes" in body
        status, body = await _get(hport, "/healthz")
        assert status == 200 and body.startswith("ok")
        status, body = await _get(hport, "/readyz")
        assert status == 200 and json.loads(body)["ready"] is True
        assert (await _get(hport, "/nope"))[0] == 404
    finally:
        await client.stop(timeout=2)
        await broker.stop(timeout=2)
    spans = [s for s in exporter.get_finished_spans() if s.name == "fix.receive"]
    assert len(spans) == 5
    assert spans[0].attributes is not None
    assert spans[0].attributes["fix.msg_type"] == "D"
    assert spans[0].attributes["fix.session"] == "FIX.4.4:B->C"


async def test_readiness_reports_a_closed_acceptor() -> None:
    cfg = EngineConfig.model_validate({
        "store": "memory://",
        "sessions": [_session("acceptor", "B", "C", acceptPort=0, acceptHost="127.0.0.1",
                              authentication={"mode": "none"})],
        "metrics": {"enabled": True, "host": "127.0.0.1", "port": 0},
    })
    engine = Engine(cfg, Echo())
    await engine.start()
    try:
        for acceptor in engine.acceptors.values():
            await acceptor.stop_listening()
        assert engine.health is not None
        status, body = await _get(engine.health.bound_port, "/readyz")
        assert status == 503 and "not listening" in body
    finally:
        await engine.stop(timeout=1)


def test_tracing_off_costs_nothing() -> None:
    assert build_tracer(TracingSettings()) is None


def test_json_logs_carry_session_context() -> None:
    record = logging.LogRecord("pyfixmsg_plus.session", logging.INFO, __file__, 1,
                               "logged on", None, None)
    record.session = "FIX.4.4:A->B"
    out = json.loads(JsonFormatter().format(record))
    assert out["session"] == "FIX.4.4:A->B" and out["level"] == "info"
    assert out["message"] == "logged on"
    assert LoggingSettings(level="INFO").level == "info"


def test_passwords_are_masked_in_logged_messages() -> None:
    msg = Message.new("FIX.4.4", "A", [(553, "user"), (554, "secret"), (925, "newsecret")])
    text = masked_text(msg)
    assert "secret" not in text and "553=user" in text and "554=***" in text


def test_metrics_reference_lists_every_metric() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "metrics.md").read_text()
    missing = [name for name in METRICS if f"`{name}`" not in doc]
    assert not missing, f"docs/metrics.md lacks {missing}"


def test_histogram_buckets_are_prometheus_le_buckets() -> None:
    from pyfixmsg_plus.engine.session.stats import Histogram

    h = Histogram((1, 2, 5))
    for value in (0.5, 1, 1.5, 2, 3, 5, 6, 100):
        h.observe(value)
    assert h.cumulative() == [("1.0", 2), ("2.0", 4), ("5.0", 6), ("+Inf", 8)]
    assert h.n == 8 and h.total == 119.0
