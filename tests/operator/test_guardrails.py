"""What the cluster admin allows (images, Secrets), cluster membership by
consent of both sides, no secret references in resources, and acceptor
authentication: the render functions, the policy and the reconciler (over
an in-memory stand-in for :mod:`pyfixmsg_plus.operator.k8s`; the same
guardrails against a real API server are in test_kube.py)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from pyfixmsg_plus.engine.config import parse_config
from pyfixmsg_plus.operator import k8s, reconcile
from pyfixmsg_plus.operator.models import FixClusterSpec, FixSessionSpec, MessageStoreSpec
from pyfixmsg_plus.operator.policy import ALLOW_LABEL, DEFAULT_IMAGE, Policy, references
from pyfixmsg_plus.operator.render import (
    ClusterContext,
    Owner,
    RenderError,
    SessionContext,
    render_fix_cluster,
    render_fix_session,
)
from pyfixmsg_plus.operator.render.config import StoreInput

NS = "trading"
OWNER = Owner("fixplus.io/v1alpha1", "FixSession", "orders", NS, "uid-1", 1)
ACCEPTOR: dict[str, Any] = {"role": "acceptor", "beginString": "FIX.4.4", "senderCompId": "BRK",
                            "targetCompId": "CLI", "acceptPort": 9878}
NONE = {"authentication": {"mode": "none"}}
PG = StoreInput("pg", MessageStoreSpec.model_validate({
    "type": "postgresql", "postgresql": {"host": "db", "database": "fix"},
    "credentials": {"secretRef": {"name": "pg"}}}))


def render(spec: dict[str, Any], **ctx: Any) -> dict[str, dict[str, Any]]:
    parsed = FixSessionSpec.model_validate(spec)
    return {o["kind"]: o for o in render_fix_session(SessionContext(OWNER, parsed,
                                                                    **ctx)).objects}


def engine_yaml(objs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    data = yaml.safe_load(objs["ConfigMap"]["data"]["engine.yaml"])
    assert isinstance(data, dict)
    return data


# -- images --------------------------------------------------------------------------


def test_the_operator_chooses_the_image() -> None:
    pod = render({**ACCEPTOR, **NONE})["Deployment"]["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == DEFAULT_IMAGE
    assert pod["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    rules = Policy(default_image="registry.example/fix/engine:2.0", default_pull_policy="Always",
                   allowed_images=("registry.example/fix/engine:*", "other:1"))
    for asked, runs in ((None, "registry.example/fix/engine:2.0"),
                        ("registry.example/fix/engine:2.1", "registry.example/fix/engine:2.1"),
                        ("other:1", "other:1")):
        spec = {**ACCEPTOR, **NONE, **({"image": asked} if asked else {})}
        c = render(spec, policy=rules)["Deployment"]["spec"]["template"]["spec"]["containers"][0]
        assert (c["image"], c["imagePullPolicy"]) == (runs, "Always")
    c = render({**ACCEPTOR, **NONE, "imagePullPolicy": "Never"}, policy=rules)[
        "Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert c["imagePullPolicy"] == "Never"


@pytest.mark.parametrize("image", ["evil.example/miner:1", "other:2", "registry.example/fix"])
def test_an_image_outside_the_allow_list_is_refused(image: str) -> None:
    rules = Policy(default_image="registry.example/fix/engine:2.0",
                   allowed_images=("registry.example/fix/engine:*", "other:1"))
    with pytest.raises(RenderError) as exc:
        render({**ACCEPTOR, **NONE, "image": image}, policy=rules)
    assert exc.value.reason == "ImageNotAllowed"
    assert str(exc.value).startswith(f"spec.image {image!r} is not allowed by the operator "
                                     "(allowed: registry.example/fix/engine:2.0, "
                                     "registry.example/fix/engine:*, other:1)")
    spec = FixClusterSpec.model_validate({"storeRef": "pg", "image": image,
                                          "sessions": [{**ACCEPTOR, **NONE}]})
    with pytest.raises(RenderError, match="is not allowed by the operator"):
        render_fix_cluster(ClusterContext(Owner("fixplus.io/v1alpha1", "FixCluster", "gw", NS,
                                                "u"), spec, PG, policy=rules))


def test_the_crd_stores_no_image_default() -> None:
    spec = FixSessionSpec.model_validate({**ACCEPTOR, **NONE})
    assert spec.image is None and spec.image_pull_policy is None
    assert "image" not in spec.model_dump(by_alias=True, exclude_none=True)


def test_policy_from_the_operator_environment() -> None:
    rules = Policy.from_env({
        "FIXPLUS_ENGINE_IMAGE": "reg/fix:3", "FIXPLUS_ENGINE_IMAGE_PULL_POLICY": "Always",
        "FIXPLUS_ALLOWED_IMAGES": "reg/fix:*, reg/debug:1",
        "FIXPLUS_SECRET_ALLOW_LABEL": "", "FIXPLUS_ALLOWED_SECRETS": "trading/pg trading/logon-*"})
    assert rules == Policy("reg/fix:3", "Always", ("reg/fix:*", "reg/debug:1"), None,
                           ("trading/pg", "trading/logon-*"))
    assert Policy.from_env({}) == Policy()
    assert Policy().secret_label == ALLOW_LABEL == "fixplus.io/allow-reference"


# -- Secrets ---------------------------------------------------------------------------


def test_which_secrets_may_be_referenced() -> None:
    default = Policy()
    assert default.secret_allowed(NS, "a", {ALLOW_LABEL: "true"})
    assert not default.secret_allowed(NS, "a", {ALLOW_LABEL: "yes"})
    assert not default.secret_allowed(NS, "a", {})
    listed = Policy(secret_label=None, allowed_secrets=("trading/pg", "risk/*"))
    assert not listed.secret_allowed(NS, "a", {ALLOW_LABEL: "true"})
    assert listed.secret_allowed(NS, "pg", {})
    assert not listed.secret_allowed("other", "pg", {})
    assert listed.secret_allowed("risk", "anything", {})
    assert "fixplus.io/allow-reference: \"true\"" in default.secret_rule()
    assert "allow-reference" not in listed.secret_rule()


# -- references ------------------------------------------------------------------------


def test_references_are_found_anywhere_in_a_spec() -> None:
    spec = {"sessionQualifier": "${FILE:/var/run/secrets/x}", "logon": {"username": "${ENV:U}"},
            "connect": [{"host": "h"}, {"host": "x${ENV:H}"}], "image": "$${ENV:literal}",
            "heartbeatInterval": 30}
    assert references(spec) == ["spec.sessionQualifier", "spec.logon.username",
                                "spec.connect[1].host"]


def test_the_engine_check_refuses_a_reference_the_render_would_write() -> None:
    with pytest.raises(RenderError, match=r"sessions\[0\]\.sessionQualifier: .* allowed only in"):
        render({**ACCEPTOR, **NONE, "sessionQualifier": "${FILE:/etc/passwd}"})


# -- authentication ---------------------------------------------------------------------


def test_an_acceptor_without_authentication_is_refused() -> None:
    with pytest.raises(RenderError) as exc:
        render(ACCEPTOR)
    assert exc.value.reason == "AuthenticationMissing"
    assert str(exc.value).startswith("spec: an acceptor session needs authentication")
    assert "authentication.mode: none" in str(exc.value)
    spec = FixClusterSpec.model_validate({"storeRef": "pg", "sessions": [
        {**ACCEPTOR, **NONE}, ACCEPTOR]})
    with pytest.raises(RenderError, match=r"^spec\.sessions\[1\]: an acceptor session needs"):
        render_fix_cluster(ClusterContext(Owner("fixplus.io/v1alpha1", "FixCluster", "gw", NS,
                                                "u"), spec, PG))


def test_mode_none_is_written_out() -> None:
    assert engine_yaml(render({**ACCEPTOR, **NONE}))["sessions"][0]["authentication"] == {
        "mode": "none"}


def test_authentication_renders_secret_files_and_no_secret() -> None:
    objs = render({**ACCEPTOR, "tls": {"secretName": "tls", "requireClientCert": True},
                   "authentication": {
                       "username": "BANZAI",
                       "passwordHashSecretRef": {"name": "banzai-auth", "key": "hash"},
                       "certificate": {"subject": "CN=banzai,O=Example",
                                       "dnsNames": ["banzai.example"]},
                       "allowedAddresses": ["10.0.0.0/8", "192.0.2.7"]}},
                  tls_keys=frozenset({"tls.crt", "tls.key", "ca.crt"}))
    auth = engine_yaml(objs)["sessions"][0]["authentication"]
    assert auth == {
        "mode": "required", "username": "BANZAI",
        "passwordHash": "${FILE:/var/run/secrets/fixplus/auth-session/hash}",
        "certificate": {"subject": "CN=banzai,O=Example", "dnsNames": ["banzai.example"]},
        "allowedAddresses": ["10.0.0.0/8", "192.0.2.7"]}
    pod = objs["Deployment"]["spec"]["template"]["spec"]
    assert {"name": "auth-session", "secret": {
        "secretName": "banzai-auth", "items": [{"key": "hash", "path": "hash"}],
        "defaultMode": 0o440}} in pod["volumes"]
    mounts = pod["containers"][0]["volumeMounts"]
    assert {"name": "auth-session", "mountPath": "/var/run/secrets/fixplus/auth-session",
            "readOnly": True} in mounts
    assert not any("subPath" in m for m in mounts)
    password = engine_yaml(render({**ACCEPTOR, "authentication": {
        "passwordSecretRef": {"name": "banzai-auth"}}}))["sessions"][0]["authentication"]
    assert password == {"mode": "required",
                        "password": "${FILE:/var/run/secrets/fixplus/auth-session/password}"}


def test_rendered_authentication_is_what_the_engine_reads() -> None:
    config = engine_yaml(render({**ACCEPTOR, "authentication": {
        "username": "U", "passwordSecretRef": {"name": "s"}}}))
    checked = parse_config(config, resolve_secrets=False)
    assert checked.sessions[0].accept_port == 9878
    auth = checked.sessions[0].authentication
    assert auth is not None and auth.username == "U" and auth.password is not None


def test_authentication_rules_of_the_crd_models() -> None:
    from pyfixmsg_plus.operator import crdgen

    crd = yaml.safe_load(crdgen.render_files()["fixsessions.fixplus.io.yaml"])
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    auth = spec["properties"]["authentication"]
    messages = [r["message"] for r in auth["x-kubernetes-validations"]]
    assert "authentication.mode none allows no other authentication key" in messages
    assert "default" not in spec["properties"]["image"]
    assert "default" not in spec["properties"]["imagePullPolicy"]
    assert set(auth["properties"]) == {"mode", "username", "passwordSecretRef",
                                       "passwordHashSecretRef", "certificate",
                                       "allowedAddresses"}
    assert spec["properties"]["clusterRef"]["type"] == "string"


# -- the reconciler over an in-memory API ------------------------------------------------


class FakeKube:
    """Enough of the API for :mod:`.reconcile`: get, list, apply, delete."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        self.version = 0

    def put(self, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        meta.setdefault("namespace", NS)
        self.version += 1
        meta["resourceVersion"] = str(self.version)
        self.objects[(obj["apiVersion"], obj["kind"], meta["namespace"], meta["name"])] = obj

    def get(self, api_version: str, kind: str, namespace: str | None,
            name: str) -> dict[str, Any] | None:
        obj = self.objects.get((api_version, kind, namespace or "", name))
        return copy.deepcopy(obj) if obj else None

    def list_objects(self, api_version: str, kind: str, namespace: str | None,
                     label_selector: str | None = None) -> list[dict[str, Any]]:
        wanted = dict(p.split("=", 1) for p in label_selector.split(",")) if label_selector \
            else {}
        return [copy.deepcopy(o) for (a, k, n, _), o in sorted(self.objects.items())
                if (a, k, n) == (api_version, kind, namespace)
                and all((o["metadata"].get("labels") or {}).get(lk) == lv
                        for lk, lv in wanted.items())]

    def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.put(copy.deepcopy(obj))
        return obj

    def delete(self, api_version: str, kind: str, namespace: str | None, name: str) -> bool:
        return self.objects.pop((api_version, kind, namespace or "", name), None) is not None

    def kinds(self) -> set[str]:
        return {k for (_, k, _, _) in self.objects}


@pytest.fixture
def kube(monkeypatch: pytest.MonkeyPatch) -> FakeKube:
    fake = FakeKube()
    for name in ("get", "list_objects", "apply", "delete"):
        monkeypatch.setattr(k8s, name, getattr(fake, name))
    monkeypatch.setattr(k8s, "crd_exists", lambda name: False)
    return fake


def resource(kind: str, name: str, spec: dict[str, Any],
             labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "fixplus.io/v1alpha1", "kind": kind,
            "metadata": {"name": name, "namespace": NS, "uid": f"uid-{name}", "generation": 1,
                         "labels": labels or {}},
            "spec": spec}


def secret(name: str, data: dict[str, str], labels: dict[str, str] | None = None) -> dict[str,
                                                                                          Any]:
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": NS, "labels": labels or {}}, "data": data}


def conditions(result: reconcile.Result) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in result.status["conditions"]}


ALLOWED = {ALLOW_LABEL: "true"}


def test_a_secret_without_the_label_is_refused_and_nothing_is_mounted(kube: FakeKube) -> None:
    kube.put(secret("banzai-auth", {"password": "c2VjcmV0"}))
    body = resource("FixSession", "orders", {**ACCEPTOR, "authentication": {
        "username": "BANZAI", "passwordSecretRef": {"name": "banzai-auth"}}})
    result = reconcile.reconcile_fix_session(body, Policy())
    cond = conditions(result)
    assert cond["Degraded"]["status"] == "True"
    assert cond["Degraded"]["reason"] == "SecretNotAllowed"
    assert cond["Degraded"]["message"] == (
        "FixSession 'orders' authentication password: Secret 'banzai-auth' may not be "
        "referenced: a Secret a resource references must carry the label "
        "fixplus.io/allow-reference: \"true\" or be listed in the operator's allowed Secrets "
        "(the chart's secrets.allowed)")
    assert result.events == [("Warning", "SecretNotAllowed", cond["Degraded"]["message"])]
    assert kube.kinds() == {"Secret"}  # no Deployment, no ConfigMap
    # the admin labels the Secret: the session reconciles and mounts it
    kube.put(secret("banzai-auth", {"password": "c2VjcmV0"}, ALLOWED))
    result = reconcile.reconcile_fix_session(body, Policy())
    assert conditions(result)["Reconciled"]["status"] == "True"
    dep = kube.get("apps/v1", "Deployment", NS, "fixs-orders")
    assert dep is not None
    volumes = dep["spec"]["template"]["spec"]["volumes"]
    assert any(v.get("secret", {}).get("secretName") == "banzai-auth" for v in volumes)


def test_a_secret_the_admin_takes_back_is_unmounted(kube: FakeKube) -> None:
    kube.put(secret("logon", {"password": "eA=="}, ALLOWED))
    kube.put(secret("pg", {"username": "eA==", "password": "eA=="}, ALLOWED))
    kube.put(resource("MessageStore", "pg", {"type": "postgresql", "postgresql": {
        "host": "db", "database": "fix"}, "credentials": {"secretRef": {"name": "pg"}}}))
    body = resource("FixSession", "orders", {**ACCEPTOR, "storeRef": "pg", "authentication": {
        "passwordSecretRef": {"name": "logon"}}})
    first = reconcile.reconcile_fix_session(body, Policy())
    assert conditions(first)["Reconciled"]["status"] == "True"
    assert kube.get("apps/v1", "Deployment", NS, "fixs-orders") is not None
    body = {**body, "status": first.status}
    # a Secret the pod does not use: refused, the running pod stays
    kube.put(secret("other", {"password": "eA=="}))
    other = {**body, "spec": {**body["spec"], "tls": {"secretName": "other"}}}
    refused = reconcile.reconcile_fix_session(other, Policy())
    assert [e[1] for e in refused.events] == ["SecretNotAllowed"]
    assert kube.get("apps/v1", "Deployment", NS, "fixs-orders") is not None
    # the label comes off the store's Secret, which the pod reads: the pod goes
    kube.put(secret("pg", {"username": "eA==", "password": "eA=="}))
    result = reconcile.reconcile_fix_session(body, Policy())
    assert conditions(result)["Degraded"]["reason"] == "SecretNotAllowed"
    assert result.events[1] == ("Warning", "SecretWithdrawn",
                                "deleted Deployment fixs-orders: its pods use Secret 'pg', "
                                "which may no longer be referenced")
    assert kube.get("apps/v1", "Deployment", NS, "fixs-orders") is None
    assert kube.get("v1", "ConfigMap", NS, "fixs-orders-config") is not None  # no secret in it


@pytest.mark.parametrize(("spec", "what"), [
    ({"logon": {"passwordSecretRef": {"name": "s"}}}, "logon password"),
    ({"authentication": {"passwordHashSecretRef": {"name": "s"}}},
     "authentication password hash"),
    ({"tls": {"secretName": "s"}}, "TLS"),
])
def test_every_secret_reference_is_checked(kube: FakeKube, spec: dict[str, Any],
                                           what: str) -> None:
    kube.put(secret("s", {"password": "eA==", "tls.crt": "eA==", "tls.key": "eA=="}))
    base = {**ACCEPTOR, **NONE} if "authentication" not in spec else ACCEPTOR
    if "logon" in spec:
        base = {"role": "initiator", "beginString": "FIX.4.4", "senderCompId": "C",
                "targetCompId": "B", "connect": [{"host": "h", "port": 1}]}
    result = reconcile.reconcile_fix_session(resource("FixSession", "orders",
                                                      {**base, **spec}), Policy())
    degraded = conditions(result)["Degraded"]
    assert degraded["reason"] == "SecretNotAllowed"
    assert degraded["message"].startswith(f"FixSession 'orders' {what}: Secret 's' may not")


def test_a_store_secret_is_checked_by_the_allow_list(kube: FakeKube) -> None:
    kube.put(secret("pg", {"username": "eA==", "password": "eA=="}))
    store = resource("MessageStore", "pg", {"type": "postgresql", "postgresql": {
        "host": "db", "database": "fix"}, "credentials": {"secretRef": {"name": "pg"}}})
    result = reconcile.reconcile_message_store(store, Policy())
    assert conditions(result)["Degraded"]["reason"] == "SecretNotAllowed"
    listed = Policy(secret_label=None, allowed_secrets=(f"{NS}/pg",))
    assert conditions(reconcile.reconcile_message_store(store, listed))["Ready"]["status"] == \
        "True"


def test_a_reference_in_a_resource_is_refused(kube: FakeKube) -> None:
    body = resource("FixSession", "orders", {**ACCEPTOR, **NONE,
                                             "sessionQualifier": "${FILE:/x/password}"})
    result = reconcile.reconcile_fix_session(body, Policy())
    degraded = conditions(result)["Degraded"]
    assert degraded["reason"] == "SecretReferenceNotAllowed"
    assert degraded["message"].startswith("spec.sessionQualifier: ${ENV:…} and ${FILE:…} "
                                          "references are not taken from a resource")
    assert result.events and result.events[0][1] == "SecretReferenceNotAllowed"
    assert kube.kinds() == set()
    store = resource("MessageStore", "m", {"type": "sqlite",
                                           "sqlite": {"claimName": "${ENV:X}"}})
    assert conditions(reconcile.reconcile_message_store(store, Policy()))["Degraded"][
        "reason"] == "SecretReferenceNotAllowed"


def test_an_image_refusal_is_a_condition(kube: FakeKube) -> None:
    body = resource("FixSession", "orders", {**ACCEPTOR, **NONE, "image": "evil:1"})
    result = reconcile.reconcile_fix_session(body, Policy())
    assert conditions(result)["Degraded"]["reason"] == "ImageNotAllowed"
    assert result.events[0][:2] == ("Warning", "ImageNotAllowed")
    assert kube.kinds() == set()


def test_an_acceptor_without_authentication_gets_no_pod(kube: FakeKube) -> None:
    result = reconcile.reconcile_fix_session(resource("FixSession", "orders", ACCEPTOR),
                                             Policy())
    assert conditions(result)["Degraded"]["reason"] == "AuthenticationMissing"
    assert kube.kinds() == set()


# -- FixCluster membership ------------------------------------------------------------------

POOL = {"fixplus.io/pool": "gw"}


def _cluster(kube: FakeKube, selector: dict[str, str] | None = None) -> dict[str, Any]:
    kube.put(secret("pg", {"username": "eA==", "password": "eA=="}, ALLOWED))
    kube.put(resource("MessageStore", "pg", {"type": "postgresql", "postgresql": {
        "host": "db", "database": "fix"}, "credentials": {"secretRef": {"name": "pg"}}}))
    spec: dict[str, Any] = {"storeRef": "pg", "sessions": [
        {**ACCEPTOR, **NONE, "targetCompId": "INLINE"}]}
    if selector is not None:
        spec["sessionSelector"] = {"matchLabels": selector}
    body = resource("FixCluster", "gw", spec)
    kube.put(body)
    return body


def test_a_session_joins_a_cluster_only_when_both_agree(kube: FakeKube) -> None:
    cluster = _cluster(kube, POOL)
    joining = resource("FixSession", "joins", {**ACCEPTOR, **NONE, "targetCompId": "J",
                                               "clusterRef": "gw"}, POOL)
    labelled_only = resource("FixSession", "labelled", {**ACCEPTOR, **NONE,
                                                        "targetCompId": "L"}, POOL)
    for body in (joining, labelled_only):
        kube.put(body)
    result = reconcile.reconcile_fix_cluster(cluster, Policy())
    assert result.status["sessionIds"] == ["FIX.4.4:BRK->J", "FIX.4.4:BRK->INLINE"]
    ready = conditions(reconcile.reconcile_fix_session(joining, Policy()))["Ready"]
    assert ready["reason"] == "ServedByFixCluster"
    alone = reconcile.reconcile_fix_session(labelled_only, Policy())
    assert conditions(alone)["Reconciled"]["status"] == "True"
    dep = kube.get("apps/v1", "Deployment", NS, "fixs-labelled")
    assert dep is not None and dep["spec"]["replicas"] == 1  # its own pod, not the pool's


@pytest.mark.parametrize(("selector", "labels", "reason", "message"), [
    (POOL, {}, "NotAcceptedByCluster",
     "FixCluster 'gw' does not accept FixSession 'asks': its spec.sessionSelector "
     "(matchLabels: fixplus.io/pool=gw) does not match the session's labels"),
    (None, POOL, "NotAcceptedByCluster",
     "FixCluster 'gw' does not accept FixSession 'asks': its spec.sessionSelector "
     "(matchLabels: none) does not match the session's labels"),
])
def test_a_cluster_that_does_not_accept_the_session(kube: FakeKube, selector: dict[str, str]
                                                    | None, labels: dict[str, str], reason: str,
                                                    message: str) -> None:
    cluster = _cluster(kube, selector)
    asks = resource("FixSession", "asks", {**ACCEPTOR, **NONE, "clusterRef": "gw"}, labels)
    kube.put(asks)
    result = reconcile.reconcile_fix_session(asks, Policy())
    degraded = conditions(result)["Degraded"]
    assert (degraded["status"], degraded["reason"], degraded["message"]) == ("True", reason,
                                                                             message)
    assert result.events == [("Warning", reason, message)]
    assert kube.get("apps/v1", "Deployment", NS, "fixs-asks") is None
    ids = reconcile.reconcile_fix_cluster(cluster, Policy()).status["sessionIds"]
    assert ids == ["FIX.4.4:BRK->INLINE"]


def test_a_session_naming_a_missing_cluster(kube: FakeKube) -> None:
    asks = resource("FixSession", "asks", {**ACCEPTOR, **NONE, "clusterRef": "nope"}, POOL)
    degraded = conditions(reconcile.reconcile_fix_session(asks, Policy()))["Degraded"]
    assert degraded["reason"] == "ClusterNotFound"
    assert degraded["message"] == (f"spec.clusterRef: FixCluster 'nope' does not exist in "
                                   f"namespace '{NS}'")


def test_a_joining_session_the_cluster_cannot_serve_is_left_out(kube: FakeKube) -> None:
    cluster = _cluster(kube, POOL)
    kube.put(secret("borrowed", {"password": "eA=="}))  # not allowed
    for name, extra in (("borrows", {"authentication": {
                            "passwordSecretRef": {"name": "borrowed"}}}),
                        ("no-auth", {}), ("fine", NONE)):
        kube.put(resource("FixSession", name, {**ACCEPTOR, "targetCompId": name.upper(),
                                               "clusterRef": "gw", **extra}, POOL))
    result = reconcile.reconcile_fix_cluster(cluster, Policy())
    assert conditions(result)["Reconciled"]["status"] == "True"
    assert result.status["sessionIds"] == ["FIX.4.4:BRK->FINE", "FIX.4.4:BRK->INLINE"]
    skipped = [(e[1], e[2]) for e in result.events if e[0] == "Warning"]
    assert skipped == [
        ("SessionNotServed", "FixSession 'borrows' is not served: FixSession 'borrows' "
         "authentication password: Secret 'borrowed' may not be referenced: a Secret a "
         "resource references must carry the label fixplus.io/allow-reference: \"true\" or "
         "be listed in the operator's allowed Secrets (the chart's secrets.allowed)"),
        ("SessionNotServed", "FixSession 'no-auth' is not served: has no authentication")]
    deployment = kube.get("apps/v1", "Deployment", NS, "fixc-gw")
    assert deployment is not None and "borrowed" not in str(deployment)
    # the same outcome again posts no new event
    again = reconcile.reconcile_fix_cluster({**cluster, "status": result.status}, Policy())
    assert not [e for e in again.events if e[1] == "SessionNotServed"]
