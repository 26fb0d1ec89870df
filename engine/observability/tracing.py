"""OpenTelemetry tracing of application messages.

Off by default, and then free: the driver holds ``None`` instead of a tracer
and checks that one reference.  When ``tracing.enabled`` is set, every
application message received or sent gets a span (``fix.receive`` /
``fix.send``) carrying the session, MsgType and MsgSeqNum, exported over
OTLP/HTTP to ``tracing.otlpEndpoint`` (or only kept in process when no
endpoint is given, which tests use).
"""

from __future__ import annotations

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import TraceIdRatioBased
from opentelemetry.trace import Tracer

from ..config import TracingSettings
from ..errors import ConfigError


def build_tracer(
    settings: TracingSettings, exporter: SpanExporter | None = None
) -> tuple[Tracer, TracerProvider] | None:
    """A tracer for the engine, or None when tracing is off."""
    if not settings.enabled:
        return None
    provider = TracerProvider(
        resource=Resource.create({"service.name": settings.service_name}),
        sampler=TraceIdRatioBased(settings.sample_ratio),
    )
    if exporter is None and settings.otlp_endpoint:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
                OTLPSpanExporter,
            )
        except ImportError as exc:
            raise ConfigError(
                "tracing.otlpEndpoint needs the OTLP exporter: "
                "pip install 'pyfixmsg-plus[otlp]'") from exc
        exporter = OTLPSpanExporter(endpoint=settings.otlp_endpoint)
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider.get_tracer("pyfixmsg_plus.engine"), provider
