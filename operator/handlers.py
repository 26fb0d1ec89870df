"""Thin kopf handlers: read, reconcile (render and apply), post events, write status.

Every resource is reconciled when it is created, changed or found at
start-up, and again every ``FIXPLUS_RESYNC_SECONDS`` (default 60): the
periodic pass corrects drift (someone edited or deleted an owned object),
picks up a MessageStore or Secret that appeared after the resource that
references it, and refreshes readiness.  Deletion needs no handler: every
owned object carries an owner reference, and the garbage collector removes
it with its owner.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

import kopf

from . import reconcile
from .models import GROUP, VERSION
from .policy import Policy

RESYNC_SECONDS = float(os.environ.get("FIXPLUS_RESYNC_SECONDS", "60"))
#: Images and Secrets the resources may use (the chart's values, docs/helm.md).
POLICY = Policy.from_env()

Reconciler = Callable[[Mapping[str, Any], Policy], reconcile.Result]


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    # Keep kopf's bookkeeping in annotations: the status schema is ours.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration")
    settings.posting.level = logging.WARNING  # our own events say what changed
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.execution.max_workers = 4
    # A deletion that meets a running resync timer waits for the timer to
    # stop before kopf removes its finalizer.  The reconcile is synchronous
    # (a worker thread) and usually ends within a second: wait that long
    # in place, then check again every second (kopf's default is to look
    # again after 60 s, which holds `kubectl delete` for a minute).
    settings.background.instant_exit_timeout = 1.0
    settings.background.cancellation_polling = 1.0


def _run(reconciler: Reconciler, body: kopf.Body, patch: kopf.Patch) -> None:
    result = reconciler(body, POLICY)
    for type_, reason, message in result.events:
        kopf.event(body, type=type_, reason=reason, message=message)
    current = dict(body.get("status") or {})
    if any(current.get(k) != v for k, v in result.status.items()):
        for key, value in result.status.items():
            patch.status[key] = value


def _register(plural: str, reconciler: Reconciler) -> None:
    def handler(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
        _run(reconciler, body, patch)

    handler.__name__ = f"reconcile_{plural}"
    kopf.on.resume(GROUP, VERSION, plural, id="on-resume")(handler)
    kopf.on.create(GROUP, VERSION, plural, id="on-create")(handler)
    kopf.on.update(GROUP, VERSION, plural, id="on-update")(handler)
    kopf.timer(GROUP, VERSION, plural, id="resync", interval=RESYNC_SECONDS,
               initial_delay=RESYNC_SECONDS)(handler)


_register("fixsessions", reconcile.reconcile_fix_session)
_register("fixclusters", reconcile.reconcile_fix_cluster)
_register("messagestores", reconcile.reconcile_message_store)
