"""Status conditions (Ready, Reconciled, Degraded) with observedGeneration.

Pure: the reconciler says what is true now; :func:`merge` keeps each
condition's ``lastTransitionTime`` unless its status changed, so that
repeating a reconcile does not rewrite the status.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

READY = "Ready"
RECONCILED = "Reconciled"
DEGRADED = "Degraded"

Status = Literal["True", "False", "Unknown"]


@dataclasses.dataclass(frozen=True)
class Cond:
    type: str
    status: Status
    reason: str
    message: str = ""


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge(old: Sequence[Mapping[str, Any]] | None, new: Iterable[Cond], generation: int | None,
          timestamp: str | None = None) -> list[dict[str, Any]]:
    """The new conditions as status data, transition times carried over."""
    previous = {c.get("type"): c for c in old or ()}
    stamp = timestamp or now()
    out: list[dict[str, Any]] = []
    for cond in new:
        before = previous.get(cond.type)
        changed = before is None or before.get("status") != cond.status
        entry: dict[str, Any] = {
            "type": cond.type,
            "status": cond.status,
            "reason": cond.reason,
            "message": cond.message,
            "lastTransitionTime": stamp if changed or before is None
            else before.get("lastTransitionTime", stamp),
        }
        if generation is not None:
            entry["observedGeneration"] = generation
        out.append(entry)
    return out


def reconciled(ready: Cond, degraded: Cond | None = None) -> list[Cond]:
    """Everything applied; readiness as observed; ``degraded`` a warning that
    holds although everything is applied (an ephemeral store)."""
    return [
        Cond(RECONCILED, "True", "Applied", "all owned objects are applied"),
        ready,
        degraded or Cond(DEGRADED, "False", "Applied"),
    ]


def failed(reason: str, message: str) -> list[Cond]:
    """The resource cannot be reconciled as it is (bad reference, invalid config)."""
    return [
        Cond(RECONCILED, "False", reason, message),
        Cond(READY, "False", reason, message),
        Cond(DEGRADED, "True", reason, message),
    ]


def deployment_ready(deployment: Mapping[str, Any] | None, paused: bool,
                     logon: bool = False) -> Cond:
    """Ready from the Deployment's status (pods run only where a kubelet does).

    ``logon``: the pod's readiness probe is the engine's ``/readyz?logon=1``,
    so an available pod is one whose FIX session is logged on."""
    if paused:
        return Cond(READY, "False", "Paused", "spec.paused is true: no pods run")
    if deployment is None:
        return Cond(READY, "Unknown", "DeploymentMissing", "the Deployment does not exist yet")
    status = deployment.get("status") or {}
    wanted = (deployment.get("spec") or {}).get("replicas", 1)
    available = status.get("availableReplicas") or 0
    if logon:
        if available >= 1:
            return Cond(READY, "True", "LoggedOn", "the FIX session is logged on (the engine's "
                        "/readyz?logon=1 answers ready)")
        return Cond(READY, "False", "NotLoggedOn", "the FIX session is not logged on (or its "
                    "pod is not running)")
    if available >= max(1, wanted or 0):
        return Cond(READY, "True", "PodsAvailable", f"{available} pod(s) available")
    return Cond(READY, "False", "PodsNotAvailable",
                f"{available} of {wanted} pod(s) available")


def get(conditions: Sequence[Mapping[str, Any]] | None, type_: str) -> Mapping[str, Any] | None:
    return next((c for c in conditions or () if c.get("type") == type_), None)
