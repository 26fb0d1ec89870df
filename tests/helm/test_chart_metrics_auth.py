"""rbac.metricsAuth: the engines' service accounts may review scrapers' tokens."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helm.conftest import CHART, Helm, docs, find
from tests.helm.values import write

BINDING = "fixplus-pyfixmsg-plus-engine-metrics-auth"


def _render(helm: Helm, tmp_path: Path, values: dict[str, Any]) -> list[dict[str, Any]]:
    return docs(helm.template("--values", str(write(tmp_path, "v", values))))


def test_off_by_default(helm: Helm, tmp_path: Path) -> None:
    assert not find(_render(helm, tmp_path, {}), "ClusterRoleBinding", BINDING)


@pytest.mark.parametrize(("values", "namespaces"), [
    ({"watch": {"namespaces": ["trading-a", "trading-b"]},
      "rbac": {"metricsAuth": {"enabled": True}}}, ["trading-a", "trading-b"]),
    ({"rbac": {"metricsAuth": {"enabled": True, "namespaces": ["fix"]}}}, ["fix"]),
])
def test_binds_auth_delegator_to_the_engines_namespaces(
        helm: Helm, tmp_path: Path, values: dict[str, Any], namespaces: list[str]) -> None:
    (binding,) = find(_render(helm, tmp_path, values), "ClusterRoleBinding", BINDING)
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io",
                                  "kind": "ClusterRole", "name": "system:auth-delegator"}
    assert binding["subjects"] == [
        {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io",
         "name": f"system:serviceaccounts:{ns}"} for ns in namespaces]


def test_never_for_every_service_account(helm: Helm, tmp_path: Path) -> None:
    path = write(tmp_path, "v", {"rbac": {"metricsAuth": {"enabled": True}}})
    proc = helm.run("template", "fixplus", str(CHART), "--values", str(path), check=False)
    assert proc.returncode != 0 and "rbac.metricsAuth.namespaces" in proc.stderr
