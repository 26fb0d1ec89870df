"""Models and generated CRDs: coverage of engine settings, drift, structure."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pytest
import yaml
from pydantic import BaseModel, Field, ValidationError
from pyfixmsg_plus.engine import config
from pyfixmsg_plus.engine.config import SessionSettings
from pyfixmsg_plus.operator import crdgen, models

from tests.operator.schemaguard import drift

REPO = Path(__file__).resolve().parents[2]


def test_every_engine_session_setting_is_in_the_crd_or_deliberately_replaced() -> None:
    engine = set(SessionSettings.model_fields)
    ours = set(models.SessionFields.model_fields)
    replaced = set(models.SessionFields.REPLACED)
    missing = engine - ours - replaced
    assert not missing, f"engine session settings missing from FixSession: {sorted(missing)}"
    assert not (replaced - engine), "REPLACED names a setting the engine no longer has"


@pytest.mark.parametrize(("crd", "engine"), [
    (models.SessionFields, config.SessionSettings),
    (models.Authentication, config.AuthenticationSettings),
    (models.CertificateIdentity, config.CertificateIdentity),
    (models.SessionTls, config.TlsSettings),
    (models.LogonCredentials, config.SessionSettings),
], ids=lambda model: model.__name__)
def test_shared_settings_have_the_engine_types_defaults_and_limits(
        crd: type[BaseModel], engine: type[BaseModel]) -> None:
    """Every field the CRD shares with the engine, at any depth: same type,
    same default, limits equal or stricter (tests/operator/schemaguard.py).
    Deliberately stricter: a pod's acceptPort is never 0 (the engine allows
    0, "any free port", for tests), certificate DNS names are DNS names."""
    assert drift(crd, engine) == []


def test_the_guard_sees_each_kind_of_drift() -> None:
    class Engine(BaseModel):
        port: int = Field(default=0, ge=0, le=65535)
        name: str = Field(default="a", max_length=8, pattern=r"^[a-z]+$")
        mode: Literal["x", "y"] = "x"
        ratio: float = Field(default=1.0, gt=0)

    class Same(BaseModel):
        port: int | None = Field(default=None, ge=1, le=65535)  # optional, stricter
        name: str = Field(default="a", max_length=4, pattern=r"^[a-z]+$")
        mode: Literal["x"] = "x"
        ratio: float = Field(default=1.0, gt=0)

    class Looser(BaseModel):
        port: int = Field(default=1, ge=-1, le=70000)
        name: str = Field(default="a", pattern=r"^.+$")
        mode: Literal["x", "z"] = "x"
        ratio: str = "1"

    assert drift(Same, Engine) == []
    problems = "\n".join(drift(Looser, Engine))
    for expected in ("Looser.port: default 1", "Looser.port: lower bound",
                     "Looser.port: upper bound", "Looser.name: maxLength none",
                     "Looser.name: pattern", "Looser.mode: values ['z']",
                     "Looser.ratio: type string"):
        assert expected in problems, problems


def test_crds_do_not_drift_from_the_models() -> None:
    files = crdgen.render_files()
    on_disk = {p.name for p in (REPO / "crds").glob("*.yaml")}
    assert on_disk == set(files), "crds/ holds other files than the generator writes"
    for name, text in files.items():
        assert (REPO / "crds" / name).read_text() == text, (
            f"crds/{name} drifted from operator/models.py: run "
            "`.venv/bin/python -m pyfixmsg_plus.operator.crdgen`")
    assert crdgen.main(["--check", str(REPO / "crds")]) == 0


def _walk(node: Any, path: str, problems: list[str]) -> None:
    if not isinstance(node, dict):
        return
    for bad in ("$ref", "anyOf", "oneOf", "allOf", "title", "const"):
        if bad in node:
            problems.append(f"{path}: {bad}")
    if "type" not in node and not node.get("x-kubernetes-preserve-unknown-fields"):
        problems.append(f"{path}: no type")
    if node.get("additionalProperties") is False:
        problems.append(f"{path}: additionalProperties false")
    for name, sub in (node.get("properties") or {}).items():
        _walk(sub, f"{path}.{name}", problems)
    if isinstance(node.get("items"), dict):
        _walk(node["items"], f"{path}[]", problems)
    if isinstance(node.get("additionalProperties"), dict):
        _walk(node["additionalProperties"], f"{path}{{}}", problems)


@pytest.mark.parametrize("kind", models.KINDS, ids=lambda k: k.kind)
def test_crd_schemas_are_structural(kind: models.Kind) -> None:
    crd = yaml.safe_load(crdgen.render_files()[f"{kind.plural}.fixplus.io.yaml"])
    version = crd["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    assert crd["spec"]["names"]["shortNames"]
    assert any(c["name"] == "Ready" for c in version["additionalPrinterColumns"])
    problems: list[str] = []
    _walk(version["schema"]["openAPIV3Schema"], kind.kind, problems)
    assert not problems, problems


def test_cel_rules_and_defaults_reach_the_crd() -> None:
    crd = yaml.safe_load(crdgen.render_files()["fixsessions.fixplus.io.yaml"])
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    messages = [r["message"] for r in spec["x-kubernetes-validations"]]
    assert "an initiator session needs at least one connect endpoint" in messages
    assert spec["properties"]["heartbeatInterval"]["default"] == 30
    assert spec["properties"]["role"]["enum"] == ["initiator", "acceptor"]
    assert spec["properties"]["istio"]["default"]["idleTimeout"] == "24h"
    tls = spec["properties"]["logon"]
    assert tls["x-kubernetes-validations"]
    schedule = spec["properties"]["schedule"]["properties"]["startTime"]
    assert "pattern" in schedule and "format" not in schedule
    timeout = spec["properties"]["logonTimeout"]
    assert timeout["exclusiveMinimum"] is True and timeout["minimum"] == 0
    store = yaml.safe_load(crdgen.render_files()["messagestores.fixplus.io.yaml"])
    store_spec = store["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    creds = store_spec["properties"]["credentials"]
    assert creds["x-kubernetes-validations"][0]["rule"] == "has(self.secretRef) != has(self.vault)"


def test_crdgen_check_reports_drift(tmp_path: Path) -> None:
    assert crdgen.main([str(tmp_path)]) == 0
    assert crdgen.main(["--check", str(tmp_path)]) == 0
    first = sorted(tmp_path.iterdir())[0]
    first.write_text(first.read_text() + "# edited\n")
    assert crdgen.main(["--check", str(tmp_path)]) == 1


def test_specs_reject_unknown_fields_and_bad_values() -> None:
    base = {"role": "acceptor", "beginString": "FIX.4.4", "senderCompId": "A",
            "targetCompId": "B", "acceptPort": 5001}
    models.FixSessionSpec.model_validate(base)
    with pytest.raises(ValidationError):
        models.FixSessionSpec.model_validate({**base, "heartbeatIntreval": 5})
    with pytest.raises(ValidationError):
        models.FixSessionSpec.model_validate({**base, "beginString": "FIX.9"})
    with pytest.raises(ValidationError):
        models.FixClusterSpec.model_validate({"storeRef": "Bad_Name"})


def test_examples_in_manifests_parse_with_the_models() -> None:
    kinds = {k.kind: k for k in models.KINDS}
    seen = set()
    for path in sorted((REPO / "manifests").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("apiVersion") == models.API_VERSION:
                kinds[doc["kind"]].spec.model_validate(doc["spec"])
                seen.add(doc["kind"])
    assert seen == set(kinds)


def test_the_crd_reference_does_not_drift() -> None:
    assert (REPO / "docs" / "crds.md").read_text() == crdgen.reference_markdown(), (
        "docs/crds.md drifted: run `.venv/bin/python -m pyfixmsg_plus.operator.crdgen --docs`")


def test_fields_of_another_crd_version_are_ignored_when_reading() -> None:
    stored = {"type": "sqlite", "retention": {"days": 7, "maxAgeDays": 3},
              "futureSetting": True, "sqlite": {"claimName": "pvc", "size": "1Gi"}}
    spec = models.MessageStoreSpec.model_validate(
        models.known_fields(models.MessageStoreSpec, stored))
    assert spec.retention is not None and spec.retention.max_age_days == 3
    assert spec.sqlite is not None and spec.sqlite.claim_name == "pvc"
    session = {"role": "acceptor", "beginString": "FIX.4.4", "senderCompId": "A",
               "targetCompId": "B", "acceptPort": 1, "connect": [{"host": "h", "port": 2,
                                                                   "weight": 5}]}
    parsed = models.FixSessionSpec.model_validate(
        models.known_fields(models.FixSessionSpec, session))
    assert parsed.connect[0].port == 2
