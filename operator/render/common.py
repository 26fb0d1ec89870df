"""What every rendered object shares: names, labels, owner references.

The inputs of the render functions are plain data gathered by the
reconciler (:class:`Owner`, :class:`PodLayout` and the ``*Context``
classes of the modules beside this one); the outputs are dicts ready for
server-side apply.  Nothing here talks to an API server.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

Obj = dict[str, Any]

MANAGER = "fixplus-operator"
CONFIG_HASH = "fixplus.io/config-hash"
OWNER_KIND = "fixplus.io/owner-kind"
OWNER_NAME = "fixplus.io/owner-name"
PREFIX = {"FixSession": "fixs", "FixCluster": "fixc", "MessageStore": "fixstore"}


@dataclasses.dataclass(frozen=True)
class Owner:
    """The custom resource whose objects are rendered."""

    api_version: str
    kind: str
    name: str
    namespace: str
    uid: str
    generation: int = 1

    @property
    def child_name(self) -> str:
        """Name of the owned objects: kind prefix and resource name (<= 63 chars)."""
        name = f"{PREFIX[self.kind]}-{self.name}"
        if len(name) <= 63:
            return name
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        return f"{name[:54].rstrip('-.')}-{digest}"

    @property
    def service_host(self) -> str:
        return f"{self.child_name}.{self.namespace}.svc.cluster.local"


@dataclasses.dataclass(frozen=True)
class PodLayout:
    """Where files are inside the engine container.

    The defaults are the pod's paths; a test can root them in a temporary
    folder to run the rendered configuration outside a cluster.
    """

    config_dir: str = "/etc/fixplus"
    data_dir: str = "/var/lib/fixplus"
    secrets_dir: str = "/var/run/secrets/fixplus"
    vault_dir: str = "/vault/secrets"

    @property
    def config_file(self) -> str:
        return f"{self.config_dir}/engine.yaml"


def selector_labels(owner: Owner) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "fixplus-engine",
        "app.kubernetes.io/instance": owner.child_name,
    }


def labels(owner: Owner) -> dict[str, str]:
    return {
        **selector_labels(owner),
        "app.kubernetes.io/managed-by": MANAGER,
        "app.kubernetes.io/part-of": "pyfixmsg-plus",
        "app.kubernetes.io/component": owner.kind.lower(),
        OWNER_KIND: owner.kind,
        OWNER_NAME: owner.name,
    }


def owner_reference(owner: Owner) -> Obj:
    return {
        "apiVersion": owner.api_version,
        "kind": owner.kind,
        "name": owner.name,
        "uid": owner.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def meta(owner: Owner, name: str | None = None, annotations: dict[str, str] | None = None) -> Obj:
    out: Obj = {
        "name": name or owner.child_name,
        "namespace": owner.namespace,
        "labels": labels(owner),
        "ownerReferences": [owner_reference(owner)],
    }
    if annotations:
        out["annotations"] = annotations
    return out


def digest(data: Any) -> str:
    """A stable short hash of plain data."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def seconds(duration: str) -> float:
    """``1h30m`` -> 5400.0 (the Duration pattern of the models)."""
    total = 0.0
    number = ""
    i = 0
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    while i < len(duration):
        c = duration[i]
        if c.isdigit() or c == ".":
            number += c
            i += 1
            continue
        unit = "ms" if duration.startswith("ms", i) else c
        total += float(number) * units[unit]
        number = ""
        i += len(unit)
    return total
