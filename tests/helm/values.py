"""The value sets the chart is rendered and validated with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.helm.conftest import PROMETHEUS_RULE_API


def value_sets(watched: tuple[str, str]) -> dict[str, tuple[dict[str, Any], list[str]]]:
    """name -> (values, extra helm arguments)."""
    return {
        "defaults": ({}, []),
        "namespaced-watch": ({"watch": {"namespaces": list(watched)}}, []),
        "examples": ({"examples": {"enabled": True},
                      "watch": {"namespaces": [watched[0]]}}, []),
        "no-dashboards": ({"dashboards": {"enabled": False},
                           "rbac": {"istio": False, "serviceMonitors": False}}, []),
        "metrics-auth": ({"watch": {"namespaces": list(watched)},
                          "rbac": {"metricsAuth": {"enabled": True}}}, []),
        "prometheus-rule": ({"alerts": {"labels": {"release": "kube-prometheus-stack"}},
                             "dashboards": {"label": "grafana.io/dashboard",
                                            "labelValue": "fixplus",
                                            "extraLabels": {"team": "trading"}},
                             "image": {"repository": "registry.example:5000/fix/pyfixmsg-plus",
                                       "tag": "0.1.0"},
                             "operator": {"logLevel": "debug", "replicas": 2}},
                            ["--api-versions", PROMETHEUS_RULE_API]),
    }


def write(tmp: Path, name: str, values: dict[str, Any]) -> Path:
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(values))
    return path
