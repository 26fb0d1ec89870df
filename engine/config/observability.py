"""Engine logging, the metrics and probes endpoint, and tracing."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from .base import ConfigModel


class LoggingSettings(ConfigModel):
    """Engine log output: level, and text or JSON lines."""

    level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    format: Literal["json", "text"] = "text"

    @field_validator("level", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value


#: Where a pod finds its service account token and the API server's CA.
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


class MetricsTlsSettings(ConfigModel):
    """TLS of the metrics endpoint; the files are re-read when they change
    (a Secret volume swaps them in place)."""

    cert_file: str = Field(min_length=1)
    key_file: str = Field(min_length=1)
    min_version: Literal["TLSv1.2", "TLSv1.3"] = "TLSv1.2"


class TokenReviewSettings(ConfigModel):
    """How ``authorization: tokenReview`` checks a bearer token: a Kubernetes
    TokenReview (is the token valid, and whose is it) and, when
    ``subjectAccessReview`` is on, a SubjectAccessReview (may that user
    ``get`` the non-resource URL of the metrics path).  Defaults fit a pod."""

    #: ``https://host:port``; default from KUBERNETES_SERVICE_HOST/PORT.
    api_server: str | None = Field(default=None, pattern=r"^https://[^/?#\s]+/?$")
    ca_file: str = f"{SERVICE_ACCOUNT_DIR}/ca.crt"
    #: The engine's own token, which the reviews are made with (re-read on use).
    token_file: str = f"{SERVICE_ACCOUNT_DIR}/token"
    subject_access_review: bool = True
    #: Audiences the token must be valid for (empty: the API server's own).
    audiences: list[str] = Field(default_factory=list, max_length=8)
    #: Seconds a verdict is cached (per token hash), and how many are kept.
    cache_ttl: float = Field(default=60.0, gt=0, le=600)
    cache_size: int = Field(default=256, ge=1, le=10000)
    #: Seconds one review may take.
    timeout: float = Field(default=5.0, gt=0, le=60)
    #: Reviews in flight at once; further requests wait (each a cache miss).
    max_concurrent: int = Field(default=4, ge=1, le=64)


class MetricsSettings(ConfigModel):
    """The HTTP endpoint for Prometheus metrics (``path``) and the Kubernetes
    probes ``/healthz`` (liveness) and ``/readyz`` (readiness).

    It listens on ``host`` (127.0.0.1 by default: only the machine itself;
    the operator writes 0.0.0.0 for pods).  ``tls`` serves it over HTTPS and
    ``authorization: tokenReview`` asks a bearer token of every ``path``
    request (the probes stay open: they reveal nothing)."""

    enabled: bool = False
    host: str = Field(default="127.0.0.1", min_length=1)
    #: 0 picks a free port (tests).
    port: int = Field(default=9464, ge=0, le=65535)
    path: str = Field(default="/metrics", pattern=r"^/[A-Za-z0-9._~/-]*$", max_length=128)
    tls: MetricsTlsSettings | None = None
    authorization: Literal["none", "tokenReview"] = "none"
    token_review: TokenReviewSettings = Field(default_factory=TokenReviewSettings)
    #: Connections open at once; more are closed at once.
    max_connections: int = Field(default=32, ge=1, le=10000)
    #: Seconds a connection may take to send a request (TLS handshake
    #: included), counted again from the start of each request.
    request_timeout: float = Field(default=10.0, gt=0, le=300)

    @model_validator(mode="after")
    def _check(self) -> MetricsSettings:
        if self.path in ("/healthz", "/readyz"):
            raise ValueError(f"path {self.path} is a probe's path")
        if self.authorization == "tokenReview" and self.tls is None:
            raise ValueError("authorization tokenReview carries bearer tokens: it needs tls "
                             "(certFile, keyFile)")
        return self


class TracingSettings(ConfigModel):
    """OpenTelemetry spans for application messages (off by default)."""

    enabled: bool = False
    #: OTLP/HTTP traces endpoint, e.g. ``http://otel-collector:4318/v1/traces``.
    otlp_endpoint: str | None = None
    service_name: str = "pyfixmsg-plus"
    #: Fraction of traces kept (0 to 1).
    sample_ratio: float = Field(default=1.0, ge=0, le=1)


class ScreenLogSettings(ConfigModel):
    """The screen log (QuickFIX's ScreenLog): message and event lines on
    standard output, each kind switched on by itself."""

    incoming: bool = False
    outgoing: bool = False
    events: bool = False
    #: Heartbeats and TestRequests are shown too (ScreenLogShowHeartBeats).
    heartbeats: bool = False


class MessageLogSettings(ConfigModel):
    """Per-session message and event logs, as QuickFIX's FileLog writes them
    (docs/logs.md).  Files are written by a thread of their own, off the
    path of the messages."""

    #: Folder of the log files (FileLogPath); None: no file log.  A relative
    #: folder is taken from the configuration file's folder.
    path: str | None = Field(default=None, min_length=1)
    #: Folder rotated files are moved to (FileLogBackupPath); default: ``path``.
    backup_path: str | None = Field(default=None, min_length=1)
    #: ``text``: QuickFIX-like lines; ``json``: one JSON object a line.
    format: Literal["text", "json"] = "text"
    #: Heartbeats and TestRequests are logged (FileLogHeartbeats).
    heartbeats: bool = True
    #: Sub-second digits of the timestamps (FileIncludeMilliseconds: millis or seconds).
    timestamp_precision: Literal["seconds", "millis", "micros"] = "micros"
    #: Rotate a file when it would grow beyond this many bytes (None: never).
    max_bytes: int | None = Field(default=None, ge=4096)
    #: Rotate every file at midnight UTC.
    rotate_daily: bool = False
    #: Rotated files kept per session and kind (older ones are deleted);
    #: ``retention.maxAgeDays`` also deletes rotated files older than that.
    backups: int = Field(default=30, ge=0, le=100_000)
    #: Entries waiting for the writer thread at most; beyond, entries are
    #: dropped and counted (an event says how many).
    max_queued: int = Field(default=100_000, ge=100, le=10_000_000)
    screen: ScreenLogSettings = Field(default_factory=ScreenLogSettings)

    @property
    def enabled(self) -> bool:
        s = self.screen
        return self.path is not None or s.incoming or s.outgoing or s.events
