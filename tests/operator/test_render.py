"""Every render function, pure (no cluster)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from pyfixmsg_plus.engine.config import parse_config
from pyfixmsg_plus.operator.models import FixClusterSpec, FixSessionSpec, MessageStoreSpec
from pyfixmsg_plus.operator.render import (
    ClusterContext,
    Owner,
    Policy,
    RenderError,
    SessionContext,
    common,
    network,
    render_fix_cluster,
    render_fix_session,
    workload,
)
from pyfixmsg_plus.operator.render.config import StoreInput, store_url
from pyfixmsg_plus.operator.render.secrets import Wiring

OWNER = Owner("fixplus.io/v1alpha1", "FixSession", "orders", "trading", "uid-123", 2)
CLUSTER_OWNER = Owner("fixplus.io/v1alpha1", "FixCluster", "gw", "trading", "uid-9", 1)
ACCEPTOR: dict[str, Any] = {"role": "acceptor", "beginString": "FIX.4.4", "senderCompId": "BRK",
                            "targetCompId": "CLI", "acceptPort": 9878,
                            "authentication": {"mode": "none"}}
INITIATOR: dict[str, Any] = {"role": "initiator", "beginString": "FIX.4.4", "senderCompId": "CLI",
                             "targetCompId": "BRK",
                             "connect": [{"host": "fix.example", "port": 9878},
                                         {"host": "fix-dr.example", "port": 9879}]}
PG = StoreInput("pg", MessageStoreSpec.model_validate({
    "type": "postgresql", "postgresql": {"host": "db.example", "database": "fix"},
    "credentials": {"secretRef": {"name": "pg-creds"}}}))
REDIS_VAULT = StoreInput("rd", MessageStoreSpec.model_validate({
    "type": "redis", "redis": {"host": "redis.example", "tls": True},
    "credentials": {"vault": {"role": "fix", "path": "secret/data/redis"}}}))


def session(extra: dict[str, Any] | None = None, base: dict[str, Any] = ACCEPTOR,
            **ctx: Any) -> dict[str, dict[str, Any]]:
    spec = FixSessionSpec.model_validate({**base, **(extra or {})})
    rendered = render_fix_session(SessionContext(OWNER, spec, **ctx))
    return {o["kind"]: o for o in rendered.objects}


def engine_yaml(objects: dict[str, dict[str, Any]]) -> dict[str, Any]:
    data = yaml.safe_load(objects["ConfigMap"]["data"]["engine.yaml"])
    assert isinstance(data, dict)
    return data


def test_every_object_is_owned_labelled_and_namespaced() -> None:
    objs = session(store=PG, tls_keys=frozenset({"tls.crt", "tls.key"}), service_monitor=True)
    for obj in objs.values():
        meta = obj["metadata"]
        assert meta["namespace"] == "trading"
        assert meta["ownerReferences"] == [{
            "apiVersion": "fixplus.io/v1alpha1", "kind": "FixSession", "name": "orders",
            "uid": "uid-123", "controller": True, "blockOwnerDeletion": True}]
        assert meta["labels"]["app.kubernetes.io/managed-by"] == "fixplus-operator"
    assert set(objs) == {"ConfigMap", "ServiceAccount", "Deployment", "Service", "NetworkPolicy",
                         "PodDisruptionBudget", "ServiceMonitor"}


def test_config_map_holds_a_config_the_engine_accepts_and_no_secret() -> None:
    objs = session({"logon": {"username": "u", "passwordSecretRef": {"name": "logon"}},
                    "tls": {"secretName": "tls"}}, store=PG,
                   tls_keys=frozenset({"tls.crt", "tls.key", "ca.crt"}))
    text = objs["ConfigMap"]["data"]["engine.yaml"]
    config = parse_config(yaml.safe_load(text), resolve_secrets=False)
    s = config.sessions[0]
    assert s.session_id == "FIX.4.4:BRK->CLI"
    assert s.password is not None
    assert s.password.get_secret_value() == "${FILE:/var/run/secrets/fixplus/logon-session/password}"
    assert s.tls.enabled and s.tls.cert_file == "/var/run/secrets/fixplus/tls-tls/tls.crt"
    assert s.tls.ca_file == "/var/run/secrets/fixplus/tls-tls/ca.crt"
    assert config.store == ("postgresql://${FIXPLUS_STORE_USERNAME}@db.example:5432/fix"
                            "?password_file=/var/run/secrets/fixplus/store/password&sslmode=prefer")
    assert "change-me" not in text


def test_config_hash_is_on_the_pod_template_and_follows_the_config() -> None:
    a = session()
    b = session({"heartbeatInterval": 10})
    hash_a = a["ConfigMap"]["metadata"]["annotations"][common.CONFIG_HASH]
    template = a["Deployment"]["spec"]["template"]["metadata"]["annotations"]
    assert template[common.CONFIG_HASH] == hash_a
    assert b["ConfigMap"]["metadata"]["annotations"][common.CONFIG_HASH] != hash_a
    assert session()["ConfigMap"] == a["ConfigMap"]  # deterministic


def test_deployment_one_pod_recreate_secure() -> None:
    dep = session({"image": "registry.example/fix:1", "resources": {
        "requests": {"cpu": "200m"}, "limits": {"memory": "1Gi"}}},
        policy=Policy(allowed_images=("registry.example/fix:*",)))["Deployment"]
    spec = dep["spec"]
    assert spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}
    pod = spec["template"]["spec"]
    assert pod["serviceAccountName"] == "fixs-orders"
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    c = pod["containers"][0]
    assert c["image"] == "registry.example/fix:1"
    assert c["command"] == ["fixplus"] and c["args"][:3] == ["run", "-c",
                                                               "/etc/fixplus/engine.yaml"]
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["resources"] == {"requests": {"cpu": "200m"}, "limits": {"memory": "1Gi"}}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz?logon=1", "port": "http-metrics"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http-metrics"}
    quiet = session({"metrics": {"enabled": False}})["Deployment"]["spec"]["template"]["spec"]
    assert quiet["containers"][0]["readinessProbe"]["tcpSocket"] == {"port": "tcp-fix"}
    assert {"name": "config", "configMap": {"name": "fixs-orders-config"}} in pod["volumes"]
    assert session({"paused": True})["Deployment"]["spec"]["replicas"] == 0


def test_initiator_probes_metrics_and_has_no_fix_port() -> None:
    objs = session(base=INITIATOR)
    c = objs["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert [p["name"] for p in c["ports"]] == ["http-metrics"]
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz?logon=1", "port": "http-metrics"}
    assert [p["name"] for p in objs["Service"]["spec"]["ports"]] == ["http-metrics"]
    quiet = session({"metrics": {"enabled": False}}, base=INITIATOR)
    assert "Service" not in quiet
    assert "readinessProbe" not in quiet["Deployment"]["spec"]["template"]["spec"]["containers"][0]


def test_service_ports() -> None:
    svc = session()["Service"]
    fix, metrics = svc["spec"]["ports"]
    assert fix == {"name": "tcp-fix", "port": 9878, "targetPort": "tcp-fix", "protocol": "TCP",
                   "appProtocol": "tcp"}
    assert metrics["name"] == "http-metrics" and metrics["port"] == 9464
    assert svc["spec"]["selector"] == common.selector_labels(OWNER)


def test_network_policy_acceptor() -> None:
    np = session({"networkPolicy": {"counterpartyCidrs": ["192.0.2.0/24"]}}, store=PG)
    spec = np["NetworkPolicy"]["spec"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    fix = spec["ingress"][0]
    assert fix == {"from": [{"ipBlock": {"cidr": "192.0.2.0/24"}}],
                   "ports": [{"protocol": "TCP", "port": 9878}]}
    egress_ports = [p["port"] for rule in spec["egress"] for p in rule["ports"]]
    assert egress_ports == [53, 53, 5432]
    closed = session()["NetworkPolicy"]["spec"]["ingress"]
    assert all(9878 not in [p["port"] for p in r["ports"]] for r in closed)
    assert "NetworkPolicy" not in session({"networkPolicy": {"enabled": False}})


def test_network_policy_initiator_egress_to_counterparty_and_vault() -> None:
    objs = session({"networkPolicy": {"counterpartyCidrs": ["203.0.113.0/24"]},
                    "logon": {"vault": {"role": "fix", "path": "secret/data/x"}}},
                   base=INITIATOR, store=REDIS_VAULT)
    egress = objs["NetworkPolicy"]["spec"]["egress"]
    assert {"to": [{"ipBlock": {"cidr": "203.0.113.0/24"}}],
            "ports": [{"protocol": "TCP", "port": 9878},
                      {"protocol": "TCP", "port": 9879}]} in egress
    assert {"ports": [{"protocol": "TCP", "port": 6379}]} in egress
    assert {"ports": [{"protocol": "TCP", "port": 8200}]} in egress


def test_pod_disruption_budget() -> None:
    pdb = session({"disruption": {"maxUnavailable": 1}})["PodDisruptionBudget"]
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"] == {"maxUnavailable": 1,
                           "selector": {"matchLabels": common.selector_labels(OWNER)}}
    assert session()["PodDisruptionBudget"]["spec"]["maxUnavailable"] == 0


def test_istio_objects() -> None:
    objs = session({"istio": {"enabled": True, "mtlsMode": "PERMISSIVE", "idleTimeout": "3h"}})
    host = "fixs-orders.trading.svc.cluster.local"
    vs = objs["VirtualService"]["spec"]
    assert vs["hosts"] == [host]
    assert vs["tcp"][0]["route"][0]["destination"] == {"host": host, "port": {"number": 9878}}
    tcp = objs["DestinationRule"]["spec"]["trafficPolicy"]["connectionPool"]["tcp"]
    assert tcp["idleTimeout"] == "3h"
    assert tcp["tcpKeepalive"] == {"time": "60s", "interval": "20s", "probes": 3}
    assert common.seconds(tcp["idleTimeout"]) > 2 * 30
    assert objs["PeerAuthentication"]["spec"]["mtls"] == {"mode": "PERMISSIVE"}
    pod = objs["Deployment"]["spec"]["template"]["metadata"]["annotations"]
    assert pod["sidecar.istio.io/inject"] == "true"
    assert "terminationDrainDuration" in pod["proxy.istio.io/config"]
    assert not {"VirtualService", "DestinationRule"} & set(session())
    # an initiator has no port to route: DestinationRule and PeerAuthentication only
    init = session({"istio": {"enabled": True}}, base=INITIATOR)
    assert "VirtualService" not in init and "DestinationRule" in init


def test_service_monitor_only_when_its_crd_exists() -> None:
    assert "ServiceMonitor" not in session()
    sm = session(service_monitor=True)["ServiceMonitor"]
    assert sm["spec"]["endpoints"] == [{"port": "http-metrics", "path": "/metrics",
                                        "interval": "30s"}]
    assert network.service_monitor(OWNER, FixSessionSpec.model_validate(
        {**ACCEPTOR, "metrics": {"enabled": False}})) is None


def test_vault_injector_annotations_and_no_secret_in_the_config() -> None:
    objs = session({"logon": {"username": "u", "vault": {"role": "fix", "path":
                                                           "secret/data/fix/logon"}}},
                   base=INITIATOR, store=REDIS_VAULT)
    ann = objs["Deployment"]["spec"]["template"]["metadata"]["annotations"]
    assert ann["vault.hashicorp.com/agent-inject"] == "true"
    assert ann["vault.hashicorp.com/role"] == "fix"
    assert ann["vault.hashicorp.com/agent-inject-secret-logon-session"] == "secret/data/fix/logon"
    assert ann["vault.hashicorp.com/agent-inject-template-logon-session"] == (
        '{{- with secret "secret/data/fix/logon" -}}{{ .Data.data.password }}{{- end -}}')
    assert ann["vault.hashicorp.com/agent-inject-secret-store-password"] == "secret/data/redis"
    assert objs["Deployment"]["spec"]["template"]["spec"]["automountServiceAccountToken"] is True
    config = engine_yaml(objs)
    assert config["sessions"][0]["password"] == "${FILE:/vault/secrets/logon-session}"
    assert config["store"] == "rediss://redis.example:6379/0?password_file=/vault/secrets/store-password"


def test_vault_roles_must_agree() -> None:
    with pytest.raises(RenderError, match="one role"):
        session({"logon": {"vault": {"role": "other", "path": "secret/data/x"}}},
                base=INITIATOR, store=REDIS_VAULT)


def test_tls_secret_must_hold_what_the_role_needs() -> None:
    with pytest.raises(RenderError, match=r"tls\.crt and tls\.key"):
        session({"tls": {"secretName": "t"}}, tls_keys=frozenset({"ca.crt"}))
    with pytest.raises(RenderError, match=r"ca\.crt"):
        session({"tls": {"secretName": "t", "requireClientCert": True}},
                tls_keys=frozenset({"tls.crt", "tls.key"}))
    init = engine_yaml(session({"tls": {"secretName": "t"}}, base=INITIATOR,
                               tls_keys=frozenset({"ca.crt"})))
    assert init["sessions"][0]["tls"]["caFile"].endswith("/ca.crt")
    assert "certFile" not in init["sessions"][0]["tls"]


def test_store_urls() -> None:
    layout = common.PodLayout()
    assert store_url(None, Wiring(), layout) == "sqlite:////var/lib/fixplus/fixplus.db"
    sqlite = StoreInput("s", MessageStoreSpec.model_validate({"type": "sqlite"}))
    assert store_url(sqlite, Wiring(), layout) == "sqlite:////var/lib/fixplus/s.db"
    wiring = Wiring()
    assert store_url(PG, wiring, layout).startswith("postgresql://${FIXPLUS_STORE_USERNAME}@")
    assert wiring.env == [{"name": "FIXPLUS_STORE_USERNAME", "valueFrom": {
        "secretKeyRef": {"name": "pg-creds", "key": "username"}}}]
    vault_pg = StoreInput("v", MessageStoreSpec.model_validate({
        "type": "postgresql", "postgresql": {"host": "h", "database": "d", "user": "fix"},
        "credentials": {"vault": {"role": "r", "path": "database/creds/fix"}}}))
    assert store_url(vault_pg, Wiring(), layout) == (
        "postgresql://fix@h:5432/d?password_file=/vault/secrets/store-password&sslmode=prefer")


def test_store_retention_goes_into_the_engine_config() -> None:
    store = StoreInput("s", MessageStoreSpec.model_validate(
        {"type": "sqlite", "retention": {"maxAgeDays": 30, "interval": 600}}))
    config = engine_yaml(session(store=store))
    assert config["retention"] == {"maxAgeDays": 30.0, "interval": 600.0}
    assert parse_config(config, resolve_secrets=False).retention.max_age_days == 30
    assert "retention" not in engine_yaml(session(store=PG))


def test_busy_poll_goes_into_the_engine_config_only_when_set() -> None:
    config = engine_yaml(session({"busyPollUs": 200}))
    assert config["busyPollUs"] == 200
    assert parse_config(config, resolve_secrets=False).busy_poll_us == 200
    assert "busyPollUs" not in engine_yaml(session())
    with pytest.raises(ValueError, match="less than or equal to 10000"):
        FixSessionSpec.model_validate({**ACCEPTOR, "busyPollUs": 10_001})


def test_a_config_the_engine_rejects_is_a_render_error() -> None:
    spec = FixClusterSpec.model_validate({
        "storeRef": "pg", "sessions": [ACCEPTOR, ACCEPTOR]})
    with pytest.raises(RenderError, match="is used by both"):
        render_fix_cluster(ClusterContext(CLUSTER_OWNER, spec, PG))


def cluster(extra: dict[str, Any] | None = None, **ctx: Any) -> dict[str, dict[str, Any]]:
    spec = FixClusterSpec.model_validate({
        "storeRef": "pg", "port": 5001, "minReplicas": 2, "maxReplicas": 5,
        "sessions": [ACCEPTOR, {**ACCEPTOR, "targetCompId": "CLI2", "acceptPort": 1234}],
        **(extra or {})})
    ctx.setdefault("store", PG)
    rendered = render_fix_cluster(ClusterContext(CLUSTER_OWNER, spec, **ctx))
    return {o["kind"]: o for o in rendered.objects}


def test_cluster_pool_hpa_and_shared_port() -> None:
    objs = cluster()
    dep = objs["Deployment"]["spec"]
    assert "replicas" not in dep  # the HPA owns the count
    assert dep["strategy"]["type"] == "RollingUpdate"
    hpa = objs["HorizontalPodAutoscaler"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["minReplicas"] == 2 and hpa["spec"]["maxReplicas"] == 5
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": "fixc-gw"}
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 70
    assert hpa["spec"]["behavior"]["scaleDown"]["selectPolicy"] == "Disabled"
    config = engine_yaml(objs)
    assert [s["acceptPort"] for s in config["sessions"]] == [5001, 5001]
    assert objs["Service"]["spec"]["ports"][0]["port"] == 5001
    assert objs["PodDisruptionBudget"]["spec"]["maxUnavailable"] == 1
    down = cluster({"autoscaling": {"allowScaleDown": True, "targetMemoryUtilization": 80}})
    behavior = down["HorizontalPodAutoscaler"]["spec"]["behavior"]["scaleDown"]
    assert "selectPolicy" not in behavior and behavior["policies"]
    assert len(down["HorizontalPodAutoscaler"]["spec"]["metrics"]) == 2
    fixed = cluster({"autoscaling": {"enabled": False}})
    assert "HorizontalPodAutoscaler" not in fixed
    assert fixed["Deployment"]["spec"]["replicas"] == 2


def test_cluster_selected_sessions_and_refusals() -> None:
    selected = FixSessionSpec.model_validate({**ACCEPTOR, "targetCompId": "SEL"})
    objs = cluster(selected=(("sel", selected, frozenset()),))
    ids = [s["targetCompId"] for s in engine_yaml(objs)["sessions"]]
    assert ids == ["SEL", "CLI", "CLI2"]
    init = FixSessionSpec.model_validate(INITIATOR)
    with pytest.raises(RenderError, match="initiator"):
        cluster(selected=(("i", init, frozenset()),))
    sqlite = StoreInput("s", MessageStoreSpec.model_validate({"type": "sqlite"}))
    with pytest.raises(RenderError, match="shared store"):
        cluster(store=sqlite)


def test_owner_child_names_fit_dns_labels() -> None:
    long = Owner("fixplus.io/v1alpha1", "FixSession", "x" * 70, "ns", "u")
    assert len(long.child_name) <= 63
    assert workload.service_account(long)["metadata"]["name"] == long.child_name
