"""MessageStores of type mysql and mongodb: the engine store URL the
operator renders (credentials only as references) and the store port opened
in the NetworkPolicy."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from pyfixmsg_plus.engine.store.url import parse_store_url
from pyfixmsg_plus.operator.models import FixSessionSpec, MessageStoreSpec
from pyfixmsg_plus.operator.render import Owner, SessionContext, render_fix_session
from pyfixmsg_plus.operator.render.config import StoreInput

OWNER = Owner("fixplus.io/v1alpha1", "FixSession", "orders", "trading", "uid-123", 2)
INITIATOR: dict[str, Any] = {"role": "initiator", "beginString": "FIX.4.4", "senderCompId": "CLI",
                             "targetCompId": "BRK", "connect": [{"host": "fix.example",
                                                                 "port": 9878}]}


def store(spec: dict[str, Any]) -> StoreInput:
    return StoreInput("st", MessageStoreSpec.model_validate(spec))


def rendered(st: StoreInput) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    out = render_fix_session(SessionContext(OWNER, FixSessionSpec.model_validate(INITIATOR),
                                            store=st))
    objs = {o["kind"]: o for o in out.objects}
    config = yaml.safe_load(objs["ConfigMap"]["data"]["engine.yaml"])
    return config, objs


def egress_ports(objs: dict[str, dict[str, Any]]) -> set[int]:
    return {p["port"] for rule in objs["NetworkPolicy"]["spec"].get("egress", [])
            for p in rule.get("ports", [])}


def test_mysql_store_from_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    config, objs = rendered(store({
        "type": "mysql", "mysql": {"host": "db.example", "database": "fix", "tls": True},
        "credentials": {"secretRef": {"name": "db-creds"}}}))
    url = config["store"]
    assert url.startswith("mysql://${FIXPLUS_STORE_USERNAME}@db.example:3306/fix?password_file=")
    assert url.endswith("&table_prefix=fixplus_&ssl_verify=true")
    assert 3306 in egress_ports(objs)
    monkeypatch.setenv("FIXPLUS_STORE_USERNAME", "fix")
    parsed = parse_store_url(url.replace("password_file=", "x=", 1))
    assert (parsed.scheme, parsed.username, parsed.port) == ("mysql", "fix", 3306)


def test_mongodb_store_from_vault() -> None:
    config, objs = rendered(store({
        "type": "mongodb",
        "mongodb": {"host": "mongo.example", "user": "fix", "replicaSet": "rs0",
                    "authSource": "admin"},
        "credentials": {"vault": {"role": "fix", "path": "secret/data/mongo"}}}))
    assert config["store"] == (
        "mongodb://fix@mongo.example:27017/fixplus?password_file=/vault/secrets/store-password"
        "&tls=false&authSource=admin&replicaSet=rs0")
    assert 27017 in egress_ports(objs)
    assert "secret/data/mongo" in str(objs["Deployment"]["spec"]["template"]["metadata"])


def test_the_crd_knows_the_new_types() -> None:
    from pyfixmsg_plus.operator import crdgen, models

    spec = crdgen.crd(models.MESSAGE_STORE)["spec"]["versions"][0]["schema"][
        "openAPIV3Schema"]["properties"]["spec"]
    assert {"mysql", "mongodb"} <= set(spec["properties"]["type"]["enum"])
    rules = [r["rule"] for r in spec["x-kubernetes-validations"]]
    assert "self.type != 'mysql' || has(self.mysql)" in rules
    assert "self.type != 'mongodb' || has(self.mongodb)" in rules
