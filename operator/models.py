"""The custom resources' spec and status (API group ``fixplus.io/v1alpha1``).

These pydantic models are the source of ``crds/*.yaml`` (see :mod:`.crdgen`;
a test fails when the files drift).  Session settings are not redefined:
every FIX setting of a :class:`FixSessionSpec` has the very type the engine
uses (:mod:`pyfixmsg_plus.engine.config`), so a value the CRD accepts is a
value the engine accepts, and ``tests/operator/test_models.py`` checks that
every engine session setting is either here or deliberately replaced
(credentials and TLS files become Secret or Vault references).

Cross-field rules the engine checks in Python are repeated as CEL rules
(``x-kubernetes-validations``) so that the API server rejects the resource
with a readable message instead of the operator reporting it later.
"""

from __future__ import annotations

import copy
import enum
import typing
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from pyfixmsg_plus.engine.config import (
    APPL_VER_IDS,
    MAX_BUSY_POLL_US,
    BeginString,
    CompID,
    Endpoint,
    ReconnectSettings,
    RetentionSettings,
    Role,
    ScheduleSettings,
    SessionSettings,
    TimestampPrecision,
    ValidationSettings,
)

GROUP = "fixplus.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

DnsName = Annotated[
    str, Field(min_length=1, max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
]
Quantity = Annotated[str, Field(pattern=r"^[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti)?$")]
Cidr = Annotated[
    str,
    Field(
        pattern=r"^([0-9]{1,3}\.){3}[0-9]{1,3}/[0-9]{1,2}$|^[0-9a-fA-F:]+/[0-9]{1,3}$",
        description="an IPv4 or IPv6 CIDR, e.g. 203.0.113.0/24",
    ),
]
Duration = Annotated[
    str,
    Field(
        pattern=r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$",
        max_length=24,
        description="a duration such as 90s, 2h or 1h30m",
    ),
]


def rule(expr: str, message: str) -> dict[str, str]:
    """One CEL validation rule."""
    return {"rule": expr, "message": message}


class CrdModel(BaseModel):
    """Base of every resource model: camelCase keys, no unknown keys."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        alias_generator=to_camel,
        coerce_numbers_to_str=True,
    )
    #: CEL rules of this object (``x-kubernetes-validations`` in the CRD).
    cel_rules: ClassVar[tuple[dict[str, str], ...]] = ()


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def known_fields(model: type[BaseModel], data: Any) -> Any:
    """``data`` without the keys ``model`` does not know, recursively.

    The API server already prunes fields its CRD does not declare; what is
    left and unknown here comes from a CRD newer or older than this operator
    (an upgrade in progress).  Such fields are ignored rather than failing
    every reconcile; missing or invalid known fields still fail.
    """
    if isinstance(data, list):
        return [known_fields(model, item) for item in data]
    if not isinstance(data, dict):
        return data
    out: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        for key in (info.alias or name, name):
            if key in data:
                child = _inner_model(info.annotation)
                out[key] = known_fields(child, data[key]) if child else data[key]
                break
    return out


# -- references ---------------------------------------------------------------


class SecretKeyRef(CrdModel):
    """A key of a Secret in the resource's namespace."""

    name: DnsName
    key: str = Field(default="password", min_length=1)


class VaultSecret(CrdModel):
    """A secret the Vault Agent injector renders into the pod.

    The operator writes only annotations (role, path, template); the agent
    writes the value to ``/vault/secrets/<file>`` inside the pod.
    """

    role: str = Field(min_length=1, description="Vault Kubernetes auth role")
    path: str = Field(min_length=1, description="secret path, e.g. secret/data/fix/logon")
    field: str = Field(default="password", min_length=1, description="field of the secret")
    kv_version: Literal[1, 2] = Field(default=2, description="KV engine version of the path")


class LogonCredentials(CrdModel):
    """Username(553) and Password(554) an initiator sends in its Logon."""

    cel_rules: ClassVar[tuple[dict[str, str], ...]] = (
        rule(
            "!(has(self.passwordSecretRef) && has(self.vault))",
            "give the password either as passwordSecretRef or from vault, not both",
        ),
    )
    username: str | None = Field(default=None, min_length=1)
    password_secret_ref: SecretKeyRef | None = None
    vault: VaultSecret | None = None


class CertificateIdentity(CrdModel):
    """The identity a counterparty's client certificate must carry (mutual TLS)."""

    subject: str | None = Field(
        default=None, min_length=1, max_length=1024,
        description="RFC 4514 subject, e.g. CN=banzai,O=Example (matched exactly)")
    dns_names: list[DnsName] = Field(
        default_factory=list, max_length=16, description="SAN DNS names; any one must match")


AddressOrCidr = Annotated[
    str,
    Field(pattern=r"^[0-9a-fA-F:.]+(/[0-9]{1,3})?$", max_length=43,
          description="an IPv4/IPv6 address or CIDR, e.g. 10.0.0.0/8 or 192.0.2.7"),
]


class Authentication(CrdModel):
    """How an acceptor authenticates its counterparty's Logon.

    ``mode: required`` (the default) checks every key given: Username(553),
    the Password(554) against ``passwordSecretRef`` (the password itself) or
    ``passwordHashSecretRef`` (an scrypt hash made by ``fixplus auth
    hash-password``), the client certificate and the source address.
    ``mode: none`` accepts any counterparty that knows the CompIDs and
    allows no other key.
    """

    cel_rules: ClassVar[tuple[dict[str, str], ...]] = (
        rule("self.mode != 'none' || (!has(self.username) && !has(self.passwordSecretRef) && "
             "!has(self.passwordHashSecretRef) && !has(self.certificate) && "
             "!has(self.allowedAddresses))",
             "authentication.mode none allows no other authentication key"),
        rule("self.mode != 'required' || has(self.passwordSecretRef) || "
             "has(self.passwordHashSecretRef) || has(self.certificate) || "
             "(has(self.allowedAddresses) && size(self.allowedAddresses) > 0)",
             "authentication.mode required needs at least one check (passwordSecretRef, "
             "passwordHashSecretRef, certificate or allowedAddresses); "
             "write mode: none to accept any counterparty"),
        rule("!has(self.username) || has(self.passwordSecretRef) || "
             "has(self.passwordHashSecretRef)",
             "authentication.username needs passwordSecretRef or passwordHashSecretRef: a "
             "username alone authenticates nobody"),
        rule("!(has(self.passwordSecretRef) && has(self.passwordHashSecretRef))",
             "give the expected password either as passwordSecretRef or as "
             "passwordHashSecretRef, not both"),
    )
    mode: Literal["required", "none"] = "required"
    username: str | None = Field(default=None, min_length=1, max_length=256,
                                 description="the expected Username(553)")
    password_secret_ref: SecretKeyRef | None = Field(
        default=None, description="a Secret key holding the expected password")
    password_hash_secret_ref: SecretKeyRef | None = Field(
        default=None, description="a Secret key holding an scrypt hash of the password "
                                  "(fixplus auth hash-password)")
    certificate: CertificateIdentity | None = None
    allowed_addresses: list[AddressOrCidr] | None = Field(
        default=None, max_length=64,
        description="source addresses or CIDRs the counterparty connects from")


class SessionTls(CrdModel):
    """TLS from a Secret (``tls.crt``, ``tls.key``, optional ``ca.crt``)."""

    secret_name: DnsName = Field(description="a kubernetes.io/tls Secret")
    require_client_cert: bool = False
    min_version: Literal["TLSv1.2", "TLSv1.3"] = "TLSv1.2"
    ciphers: str | None = None
    server_name: str | None = Field(
        default=None, description="initiator: the name to verify (default: the host)"
    )
    verify: bool = True


# -- pod settings ---------------------------------------------------------------


class Resources(CrdModel):
    requests: dict[str, Quantity] = Field(
        default_factory=lambda: {"cpu": "100m", "memory": "128Mi"}
    )
    limits: dict[str, Quantity] = Field(default_factory=lambda: {"memory": "512Mi"})


class MetricsTls(CrdModel):
    """HTTPS for the metrics endpoint, from a Secret in the resource's namespace."""

    secret_name: DnsName = Field(
        description="a kubernetes.io/tls Secret (tls.crt, tls.key) for the metrics endpoint; "
                    "the engine reloads it when it changes")
    ca_key: str | None = Field(
        default="ca.crt", min_length=1,
        description="key of that Secret holding the CA the ServiceMonitor verifies the "
                    "endpoint with (a cert-manager Secret has ca.crt); null: Prometheus "
                    "skips the verification")


class Metrics(CrdModel):
    """The engine's metrics endpoint; the open probes /healthz and /readyz share its port."""

    cel_rules: ClassVar[tuple[dict[str, str], ...]] = (
        rule("self.authorization != 'tokenReview' || has(self.tls)",
             "authorization tokenReview carries bearer tokens: set metrics.tls too"),
    )
    enabled: bool = True
    port: int = Field(default=9464, ge=1, le=65535)
    path: str = Field(default="/metrics", pattern=r"^/[A-Za-z0-9._~/-]*$", max_length=128)
    tls: MetricsTls | None = None
    authorization: Literal["none", "tokenReview"] = Field(
        default="none",
        description="tokenReview: a scrape needs a Kubernetes bearer token that a TokenReview "
                    "accepts (the engine's service account needs system:auth-delegator; the "
                    "chart's rbac.metricsAuth grants it)")
    subject_access_review: bool = Field(
        default=True,
        description="tokenReview: also require RBAC get on the non-resource URL of path")


class NetworkPolicySpec(CrdModel):
    """Who may reach the FIX port and where the pod may connect."""

    enabled: bool = True
    counterparty_cidrs: list[Cidr] = Field(
        default_factory=list,
        description="acceptor: sources allowed on the FIX port; initiator: where it may connect",
    )
    metrics_namespace_selector: dict[str, str] = Field(
        default_factory=dict, description="namespaces (by labels) allowed to scrape metrics"
    )
    counterparty_pods: dict[str, str] = Field(
        default_factory=dict, description="pods of the namespace (by labels) that are "
        "counterparties, besides counterpartyCidrs (e.g. fixplus.io/owner-name: <FixSession>)")


class TcpKeepalive(CrdModel):
    time: Duration = "60s"
    interval: Duration = "20s"
    probes: int = Field(default=3, ge=1)


class IstioSpec(CrdModel):
    """Istio routing for the FIX port.

    Istio cuts TCP connections idle for an hour by default; a FIX session
    that is quiet between heartbeats must get a longer ``idleTimeout``.
    """

    enabled: bool = False
    mtls_mode: Literal["STRICT", "PERMISSIVE"] = "STRICT"
    idle_timeout: Duration = "24h"
    connect_timeout: Duration = "10s"
    tcp_keepalive: TcpKeepalive = Field(default_factory=TcpKeepalive)


class ServiceSpec(CrdModel):
    """How counterparties reach an acceptor.  NodePort and LoadBalancer reach it
    from outside the cluster, with ``externalTrafficPolicy: Local`` so that the
    pod (and its NetworkPolicy) sees the counterparty's own address."""

    type: Literal["ClusterIP", "NodePort", "LoadBalancer"] = "ClusterIP"
    node_port: int | None = Field(default=None, ge=1, le=65535,
                                  description="NodePort/LoadBalancer: a fixed node port")
    annotations: dict[str, str] = Field(default_factory=dict,
                                        description="e.g. a cloud load balancer's settings")


class Disruption(CrdModel):
    """The PodDisruptionBudget: how many pods a voluntary disruption may take."""

    max_unavailable: int = Field(default=0, ge=0)


class PodSettings(CrdModel):
    """What the engine pods of a FixSession or FixCluster run with."""

    image: str | None = Field(
        default=None, min_length=1,
        description="the engine image (default: the operator's engine image); only images "
                    "the operator allows are run")
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = Field(
        default=None, description="default: the operator's engine image pull policy")
    resources: Resources = Field(default_factory=Resources)
    metrics: Metrics = Field(default_factory=Metrics)
    network_policy: NetworkPolicySpec = Field(default_factory=NetworkPolicySpec)
    istio: IstioSpec = Field(default_factory=IstioSpec)
    service: ServiceSpec = Field(default_factory=ServiceSpec)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    busy_poll_us: int = Field(
        default=0, ge=0, le=MAX_BUSY_POLL_US,
        description="microseconds the engine polls its sockets before it sleeps (the "
                    "engine's busyPollUs): lower latency for CPU time; for pods with CPUs "
                    "of their own (docs/performance.md)",
    )
    paused: bool = Field(default=False, description="scale the pods to zero")


# -- FixSession -------------------------------------------------------------------


def _engine_field(name: str) -> Any:
    """The engine's own field definition (bounds, default, description) for a
    session setting the CRD carries unchanged."""
    return copy.copy(SessionSettings.model_fields[name])


class SessionFields(CrdModel):
    """The FIX settings of one session, typed as the engine types them."""

    #: Engine session settings that are not here, and why.
    REPLACED: ClassVar[dict[str, str]] = {
        "tls": "tls.secretName (a Secret) replaces the file paths",
        "username": "logon.username",
        "password": "logon.passwordSecretRef or logon.vault",
        "accept_host": "the pod always listens on all addresses",
        "authentication": "authentication, with Secret references for the password and its hash",
        "business_reject_appl_ver_id": "QuickFIX C++ acceptance-suite compatibility only "
                                       "(fixplus acceptance-server); pods keep the default",
    }
    cel_rules: ClassVar[tuple[dict[str, str], ...]] = (
        rule(
            "self.role != 'initiator' || (has(self.connect) && size(self.connect) > 0)",
            "an initiator session needs at least one connect endpoint",
        ),
        rule(
            "self.role != 'acceptor' || has(self.acceptPort)",
            "an acceptor session needs acceptPort",
        ),
        rule(
            "(self.beginString == 'FIXT.1.1') == has(self.defaultApplVerId)",
            "defaultApplVerId is required for FIXT.1.1 sessions and only allowed there",
        ),
        rule(
            "self.role == 'acceptor' || !has(self.authentication)",
            "authentication is for acceptor sessions (an initiator sends logon credentials)",
        ),
        rule(
            "!has(self.authentication) || !has(self.authentication.certificate) || "
            "(has(self.tls) && self.tls.requireClientCert)",
            "authentication.certificate needs tls.requireClientCert: true",
        ),
    )

    role: Role
    begin_string: BeginString
    sender_comp_id: CompID
    target_comp_id: CompID
    sender_sub_id: str | None = None
    sender_location_id: str | None = None
    target_sub_id: str | None = None
    target_location_id: str | None = None
    session_qualifier: str | None = None
    default_appl_ver_id: str | None = Field(
        default=None, json_schema_extra={"enum": list(APPL_VER_IDS)},
        description="FIXT.1.1 only: the default application version",
    )
    heartbeat_interval: Annotated[int, Field(ge=0)] = 30
    logon_timeout: Annotated[float, Field(gt=0)] = 10.0
    logout_timeout: Annotated[float, Field(gt=0)] = 2.0
    test_request_delay_multiplier: Annotated[float, Field(ge=0)] = 0.2
    heartbeat_timeout_multiplier: Annotated[float, Field(ge=0)] = 1.4
    reset_on_logon: bool = False
    reset_on_logout: bool = False
    reset_on_disconnect: bool = False
    refresh_on_logon: bool = False
    enable_next_expected_msg_seq_num: bool = False
    resend_request_chunk_size: Annotated[int, Field(ge=0)] = 0
    send_redundant_resend_requests: bool = False
    persist_messages: bool = True
    timestamp_precision: TimestampPrecision = TimestampPrecision.MILLIS
    max_pending_deliveries: int = _engine_field("max_pending_deliveries")
    validation: ValidationSettings | None = None
    schedule: ScheduleSettings | None = None
    connect: list[Endpoint] = Field(default_factory=list, description="initiator: failover list")
    reconnect: ReconnectSettings | None = None
    accept_port: int | None = Field(default=None, ge=1, le=65535)
    tcp_nodelay: bool = True
    tcp_keepalive: bool = True
    # The engine's bounds, with the engine's limits and defaults (not retyped).
    min_heartbeat_interval: int = _engine_field("min_heartbeat_interval")
    max_heartbeat_interval: int = _engine_field("max_heartbeat_interval")
    max_message_size: int = _engine_field("max_message_size")
    max_queued_messages: int = _engine_field("max_queued_messages")
    max_queued_bytes: int = _engine_field("max_queued_bytes")
    custom: dict[str, str] = _engine_field("custom")
    tls: SessionTls | None = None
    logon: LogonCredentials | None = None
    authentication: Authentication | None = Field(
        default=None,
        description="acceptor: how the counterparty is authenticated; an acceptor without "
                    "it is refused unless it says mode: none",
    )


class FixSessionSpec(PodSettings, SessionFields):
    """One FIX session served by one pod."""

    cel_rules: ClassVar[tuple[dict[str, str], ...]] = (
        *SessionFields.cel_rules,
        rule(
            "!has(self.istio) || !self.istio.enabled || "
            "duration(self.istio.idleTimeout).getSeconds() > 2 * self.heartbeatInterval",
            "istio.idleTimeout must be longer than twice heartbeatInterval, "
            "or the mesh cuts quiet sessions",
        ),
    )
    store_ref: DnsName | None = Field(
        default=None,
        description="a MessageStore in the same namespace (default: SQLite in the pod)",
    )
    cluster_ref: DnsName | None = Field(
        default=None,
        description="a FixCluster of the namespace that is to serve this acceptor; it does so "
                    "only if its sessionSelector matches this session's labels too",
    )
    disruption: Disruption = Field(default_factory=Disruption)


# -- MessageStore ------------------------------------------------------------------


class StoreType(enum.StrEnum):
    POSTGRESQL = "postgresql"
    REDIS = "redis"
    SQLITE = "sqlite"
    MYSQL = "mysql"
    MONGODB = "mongodb"


class PostgresConnection(CrdModel):
    host: str = Field(min_length=1)
    port: int = Field(default=5432, ge=1, le=65535)
    database: str = Field(min_length=1)
    user: str | None = Field(default=None, description="or credentials.secretRef.usernameKey")
    ssl_mode: Literal["disable", "prefer", "require", "verify-ca", "verify-full"] = "prefer"


class RedisConnection(CrdModel):
    host: str = Field(min_length=1)
    port: int = Field(default=6379, ge=1, le=65535)
    db: int = Field(default=0, ge=0)
    tls: bool = False


class MySQLConnection(CrdModel):
    """MySQL 8 or MariaDB 10.5+ (InnoDB)."""

    host: str = Field(min_length=1)
    port: int = Field(default=3306, ge=1, le=65535)
    database: str = Field(min_length=1)
    user: str | None = Field(default=None, description="or credentials.secretRef.usernameKey")
    table_prefix: str = Field(default="fixplus_", pattern=r"^[a-z_][a-z0-9_]{0,31}$")
    tls: bool = False
    tls_verify: bool = Field(default=True, description="check the server certificate")


class MongoDBConnection(CrdModel):
    """MongoDB 4.0+ (or a server of its protocol); no transactions needed."""

    host: str = Field(min_length=1)
    port: int = Field(default=27017, ge=1, le=65535)
    database: str = Field(default="fixplus", min_length=1)
    user: str | None = Field(default=None, description="or credentials.secretRef.usernameKey")
    auth_source: str | None = Field(default=None, description="default: the database")
    replica_set: str | None = None
    tls: bool = False


class SqliteStorage(CrdModel):
    """SQLite in the pod: not shared; lost with an emptyDir (tests and demos)."""

    claim_name: DnsName | None = Field(
        default=None, description="a PersistentVolumeClaim (default: an emptyDir)")
    ephemeral: bool = Field(
        default=False, description="true: an emptyDir is meant (sequence numbers restart at 1 "
        "with every new pod); otherwise a session on it is Degraded (EphemeralStore)")


class StoreSecretRef(CrdModel):
    name: DnsName
    username_key: str | None = Field(default="username")
    password_key: str = "password"


class StoreCredentials(CrdModel):
    cel_rules: ClassVar[tuple[dict[str, str], ...]] = (
        rule(
            "has(self.secretRef) != has(self.vault)",
            "give credentials either as secretRef or from vault (exactly one)",
        ),
    )
    secret_ref: StoreSecretRef | None = None
    vault: VaultSecret | None = None


class Encryption(CrdModel):
    """Encryption of stored messages at rest with Vault Transit (a key
    reference, never a key): rendered into each pod's engine configuration
    (``encryption.provider: transit``, docs/security.md)."""

    cel_rules: ClassVar[tuple[dict[str, str], ...]] = (
        rule("!has(self.kmsKeyRef)",
             "kmsKeyRef is not supported: no KMS key provider is available; use "
             "vaultTransitKey with vaultAddress and vaultRole (Vault Transit)"),
        rule("has(self.vaultTransitKey) && has(self.vaultAddress) && has(self.vaultRole)",
             "encryption needs vaultTransitKey, vaultAddress and vaultRole"),
    )
    vault_transit_key: str | None = Field(
        default=None, min_length=1, pattern=r"^[A-Za-z0-9_.-]+$",
        description="the Transit key that wraps data keys")
    vault_transit_mount: str = Field(default="transit", pattern=r"^[A-Za-z0-9_./-]+$")
    vault_address: str | None = Field(
        default=None, pattern=r"^https?://", description="e.g. https://vault.vault.svc:8200")
    vault_role: str | None = Field(
        default=None, min_length=1,
        description="Vault Kubernetes auth role the engine logs in with")
    vault_signing_key: str = Field(
        default="fixplus-audit", pattern=r"^[A-Za-z0-9_.-]+$",
        description="Transit key (ed25519) that signs the audit trail")
    kms_key_ref: str | None = Field(
        default=None, description="not supported (refused by the CRD with a message)")


class MessageStoreSpec(CrdModel):
    """Where sessions keep their sequence numbers and messages."""

    cel_rules: ClassVar[tuple[dict[str, str], ...]] = (
        rule("self.type != 'postgresql' || has(self.postgresql)",
             "a postgresql store needs the postgresql connection settings"),
        rule("self.type != 'redis' || has(self.redis)",
             "a redis store needs the redis connection settings"),
        rule("self.type != 'mysql' || has(self.mysql)",
             "a mysql store needs the mysql connection settings"),
        rule("self.type != 'mongodb' || has(self.mongodb)",
             "a mongodb store needs the mongodb connection settings"),
        rule("self.type == 'sqlite' || has(self.credentials)",
             "a postgresql, redis, mysql or mongodb store needs credentials"),
        rule("self.type != 'postgresql' || !has(self.credentials) || "
             "!has(self.credentials.vault) || has(self.postgresql.user)",
             "with credentials from vault, postgresql.user names the database user"),
        rule("self.type != 'mysql' || !has(self.credentials) || "
             "!has(self.credentials.vault) || has(self.mysql.user)",
             "with credentials from vault, mysql.user names the database user"),
        rule("self.type != 'mongodb' || !has(self.credentials) || "
             "!has(self.credentials.vault) || has(self.mongodb.user)",
             "with credentials from vault, mongodb.user names the database user"),
        rule("!has(self.encryption) || self.type in ['sqlite', 'postgresql', 'redis']",
             "encryption at rest is available for sqlite, postgresql and redis stores"),
    )
    type: StoreType
    postgresql: PostgresConnection | None = None
    redis: RedisConnection | None = None
    mysql: MySQLConnection | None = None
    mongodb: MongoDBConnection | None = None
    sqlite: SqliteStorage | None = None
    credentials: StoreCredentials | None = None
    encryption: Encryption | None = None
    retention: RetentionSettings | None = Field(
        default=None, description="pruning of old messages and idle sessions by the engine")


# -- FixCluster ---------------------------------------------------------------------


class ClusterSession(SessionFields):
    """An inline session of a FixCluster (an acceptor on the cluster's port)."""

    # every session of a cluster listens on the cluster's port: no acceptPort rule
    cel_rules: ClassVar[tuple[dict[str, str], ...]] = (
        *(r for r in SessionFields.cel_rules if "acceptPort" not in r["rule"]),
        rule("self.role == 'acceptor'",
             "a FixCluster serves acceptor sessions (an initiator must live in one pod)"),
    )


class Autoscaling(CrdModel):
    """HorizontalPodAutoscaler targets.  Scaling down moves live sessions, so
    it is off unless ``allowScaleDown``."""

    enabled: bool = True
    target_cpu_utilization: int = Field(default=70, ge=1, le=100)
    target_memory_utilization: int | None = Field(default=None, ge=1, le=100)
    allow_scale_down: bool = False
    scale_down_stabilization_seconds: int = Field(default=1800, ge=0, le=3600)


class LabelSelector(CrdModel):
    match_labels: dict[str, str] = Field(default_factory=dict)


class FixClusterSpec(PodSettings):
    """A pool of engine pods serving acceptor sessions behind one Service."""

    cel_rules: ClassVar[tuple[dict[str, str], ...]] = (
        rule("self.minReplicas <= self.maxReplicas", "minReplicas must not exceed maxReplicas"),
        rule("has(self.sessionSelector) || size(self.sessions) > 0",
             "a FixCluster needs sessions or a sessionSelector"),
    )
    store_ref: DnsName = Field(
        description="a shared (postgresql, redis, mysql or mongodb) MessageStore")
    port: int = Field(default=5001, ge=1, le=65535, description="the FIX port of every pod")
    min_replicas: int = Field(default=2, ge=1)
    max_replicas: int = Field(default=4, ge=1)
    autoscaling: Autoscaling = Field(default_factory=Autoscaling)
    session_selector: LabelSelector | None = Field(
        default=None,
        description="FixSessions (acceptors) this cluster accepts; a FixSession joins only "
                    "if it also names this cluster in its spec.clusterRef",
    )
    sessions: list[ClusterSession] = Field(default_factory=list, max_length=256)
    disruption: Disruption = Field(default_factory=lambda: Disruption(max_unavailable=1))


# -- status ------------------------------------------------------------------------


class Condition(CrdModel):
    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str
    message: str = ""
    last_transition_time: str
    observed_generation: int | None = None


class OwnedObject(CrdModel):
    api_version: str
    kind: str
    name: str


class ResourceStatus(CrdModel):
    observed_generation: int | None = None
    conditions: list[Condition] = Field(default_factory=list)
    owned: list[OwnedObject] = Field(default_factory=list)
    config_hash: str | None = None
    session_ids: list[str] = Field(default_factory=list)


# -- the resources -------------------------------------------------------------------


class Kind(BaseModel):
    """What :mod:`.crdgen` needs to know about one custom resource."""

    model_config = ConfigDict(frozen=True)
    kind: str
    plural: str
    singular: str
    short_names: list[str]
    spec: type[CrdModel]
    printer_columns: list[dict[str, Any]]


READY = {"name": "Ready", "type": "string",
         "jsonPath": '.status.conditions[?(@.type=="Ready")].status'}
REASON = {"name": "Reason", "type": "string",
          "jsonPath": '.status.conditions[?(@.type=="Ready")].reason'}
AGE = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}

FIX_SESSION = Kind(
    kind="FixSession", plural="fixsessions", singular="fixsession", short_names=["fixs", "fs"],
    spec=FixSessionSpec,
    printer_columns=[
        {"name": "Role", "type": "string", "jsonPath": ".spec.role"},
        {"name": "Sender", "type": "string", "jsonPath": ".spec.senderCompId"},
        {"name": "Target", "type": "string", "jsonPath": ".spec.targetCompId"},
        {"name": "Store", "type": "string", "jsonPath": ".spec.storeRef"},
        READY, REASON, AGE,
    ],
)
MESSAGE_STORE = Kind(
    kind="MessageStore", plural="messagestores", singular="messagestore",
    short_names=["mstore", "fixstore"], spec=MessageStoreSpec,
    printer_columns=[{"name": "Type", "type": "string", "jsonPath": ".spec.type"},
                     READY, REASON, AGE],
)
FIX_CLUSTER = Kind(
    kind="FixCluster", plural="fixclusters", singular="fixcluster", short_names=["fixc", "fc"],
    spec=FixClusterSpec,
    printer_columns=[
        {"name": "Min", "type": "integer", "jsonPath": ".spec.minReplicas"},
        {"name": "Max", "type": "integer", "jsonPath": ".spec.maxReplicas"},
        {"name": "Store", "type": "string", "jsonPath": ".spec.storeRef"},
        READY, REASON, AGE,
    ],
)
KINDS = (FIX_SESSION, MESSAGE_STORE, FIX_CLUSTER)
