"""What the operator last applied, to tell drift from everybody else's writes.

Every object the reconciler applies is remembered here (in memory).  When a
watch reports a change to an owned object, :func:`drifted` says whether a
field the operator set no longer has the value it set: only then is the
owner reconciled again.  Fields the operator does not set (what the API
server defaults, a controller's status, an HPA's replica count, another
manager's annotation) are not drift.  Lists compare element by element,
each element as a subset (the API server adds defaults inside them).

A restarted operator remembers nothing until its first reconcile of each
resource (on resume), which applies everything anyway.
"""

from __future__ import annotations

import threading
from typing import Any

from .render.common import OWNER_KIND, OWNER_NAME, Obj

Key = tuple[str, str, str, str]  # apiVersion, kind, namespace, name

_lock = threading.Lock()
_applied: dict[Key, Obj] = {}
#: The resourceVersion each apply returned.
_versions: dict[Key, str] = {}


def key_of(obj: Obj) -> Key:
    meta = obj["metadata"]
    return (obj["apiVersion"], obj["kind"], meta.get("namespace") or "", meta["name"])


def remember(obj: Obj, version: str | None = None) -> None:
    with _lock:
        _applied[key_of(obj)] = obj
        if version is not None:
            _versions[key_of(obj)] = version


def unchanged(obj: Obj, version: str | None) -> bool:
    """Whether applying ``obj`` again would change nothing: it is what was
    applied last, and the object still has the version that apply returned
    (``version``: what the cache holds now)."""
    key = key_of(obj)
    with _lock:
        return version is not None and _versions.get(key) == version and \
            _applied.get(key) == obj


def forget(api_version: str, kind: str, namespace: str, name: str) -> None:
    with _lock:
        _applied.pop((api_version, kind, namespace, name), None)
        _versions.pop((api_version, kind, namespace, name), None)


def forget_owner(namespace: str, owner_name: str, owner_kind: str) -> None:
    """Forget everything applied for a resource (it was deleted)."""
    with _lock:
        for key in [k for k, o in _applied.items() if k[2] == namespace and
                    (o["metadata"].get("labels") or {}).get(OWNER_NAME) == owner_name and
                    (o["metadata"].get("labels") or {}).get(OWNER_KIND) == owner_kind]:
            del _applied[key]
            _versions.pop(key, None)


def previous(obj: Obj) -> Obj | None:
    """What was last applied under ``obj``'s name (None: nothing since start)."""
    with _lock:
        return _applied.get(key_of(obj))


def _subset(want: Any, have: Any) -> bool:
    if have is None and want in ({}, [], None):
        return True  # the API server drops empty maps and lists
    if isinstance(want, dict):
        if not isinstance(have, dict):
            return False
        return all(_subset(v, have.get(k)) for k, v in want.items())
    if isinstance(want, list):
        if not isinstance(have, list) or len(want) != len(have):
            return False
        return all(_subset(w, h) for w, h in zip(want, have, strict=True))
    if isinstance(want, bool) or isinstance(have, bool):
        return want is have
    if isinstance(want, int | float) and isinstance(have, int | float):
        return want == have
    return bool(want == have)


def drifted(live: Obj) -> bool:
    """Whether ``live`` lost a value the operator applied (False if it applied
    nothing yet: the first reconcile will)."""
    with _lock:
        want = _applied.get(key_of(live))
    if want is None:
        return False
    return not _subset({k: v for k, v in want.items() if k not in ("apiVersion", "kind")},
                       live)
