"""MessageStore.encryption rendered into the pods' engine configuration
(Vault address, Kubernetes auth role, Transit key), and kmsKeyRef refused."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from pyfixmsg_plus.engine.config import parse_config
from pyfixmsg_plus.operator import crdgen
from pyfixmsg_plus.operator.models import FixSessionSpec, MessageStoreSpec
from pyfixmsg_plus.operator.render import Owner, SessionContext, render_fix_session
from pyfixmsg_plus.operator.render.config import StoreInput
from pyfixmsg_plus.operator.render.secrets import RenderError

OWNER = Owner("fixplus.io/v1alpha1", "FixSession", "orders", "trading", "uid-123", 2)
INITIATOR: dict[str, Any] = {"role": "initiator", "beginString": "FIX.4.4", "senderCompId": "CLI",
                             "targetCompId": "BRK", "connect": [{"host": "fix.example",
                                                                 "port": 9878}]}
ENCRYPTION = {"vaultTransitKey": "fixplus-messages", "vaultAddress": "https://vault.vault:8200",
              "vaultRole": "fixplus-engine"}
PG = {"type": "postgresql", "postgresql": {"host": "pg.example", "database": "fix"},
      "credentials": {"secretRef": {"name": "pg"}}}


def render(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    st = StoreInput("st", MessageStoreSpec.model_validate(spec))
    out = render_fix_session(SessionContext(OWNER, FixSessionSpec.model_validate(INITIATOR),
                                            store=st))
    return {o["kind"]: o for o in out.objects}


def test_encryption_is_rendered_into_the_engine_configuration() -> None:
    objs = render({**PG, "encryption": ENCRYPTION})
    config = yaml.safe_load(objs["ConfigMap"]["data"]["engine.yaml"])
    assert config["encryption"] == {"provider": "transit", "vault": {
        "address": "https://vault.vault:8200", "kubernetesRole": "fixplus-engine",
        "mount": "transit", "key": "fixplus-messages", "signingKey": "fixplus-audit"}}
    parsed = parse_config(config, source="test", resolve_secrets=False)
    assert parsed.encryption is not None and parsed.encryption.vault is not None
    pod = objs["Deployment"]["spec"]["template"]["spec"] if "Deployment" in objs else \
        objs["StatefulSet"]["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is True  # the Kubernetes auth login
    egress = {p["port"] for r in objs["NetworkPolicy"]["spec"]["egress"]
              for p in r.get("ports", [])}
    assert 8200 in egress


def test_without_encryption_nothing_is_rendered() -> None:
    objs = render(PG)
    assert "encryption" not in yaml.safe_load(objs["ConfigMap"]["data"]["engine.yaml"])


def test_kms_key_ref_is_refused_with_a_message() -> None:
    crd = yaml.safe_load(crdgen.render_files()["messagestores.fixplus.io.yaml"])
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    rules = schema["properties"]["encryption"]["x-kubernetes-validations"]
    assert {"rule": "!has(self.kmsKeyRef)",
            "message": "kmsKeyRef is not supported: no KMS key provider is available; use "
                       "vaultTransitKey with vaultAddress and vaultRole (Vault Transit)"} in rules
    store_rules = [r["message"] for r in schema["x-kubernetes-validations"]]
    assert "encryption at rest is available for sqlite, postgresql and redis stores" in \
        store_rules
    with pytest.raises(RenderError, match="kmsKeyRef is not supported"):
        render({**PG, "encryption": {"kmsKeyRef": "arn:aws:kms:key/1"}})
