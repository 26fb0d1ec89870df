"""``fixplus-operator``: run the operator (kopf) in the foreground.

With ``--leader-election-namespace`` (the chart sets it) the process first
campaigns for a Lease and runs kopf only while it leads (:mod:`.leader`),
so several replicas are safe; without it, it runs at once (one replica,
local runs).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import threading
import uuid
from collections.abc import Sequence

import kopf

from . import handlers
from .leader import Election, Elector


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fixplus-operator",
                                     description="Reconcile FixSession, FixCluster and "
                                     "MessageStore resources")
    parser.add_argument("-n", "--namespace", action="append", default=[],
                        help="watch this namespace (repeatable; default: all namespaces)")
    parser.add_argument("--liveness", default=None,
                        help="serve liveness on this URL, e.g. http://0.0.0.0:8080/healthz")
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--leader-election-namespace", default=None,
                        help="campaign for a Lease in this namespace before reconciling "
                        "(default: no election)")
    parser.add_argument("--leader-election-name", default="fixplus-operator",
                        help="the Lease's name")
    parser.add_argument("--lease-seconds", type=int, default=15)
    return parser


def _stop_when(lost: threading.Event) -> None:
    lost.wait()
    os.kill(os.getpid(), signal.SIGTERM)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=getattr(logging, args.log_level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    assert handlers.RECONCILERS  # importing handlers registered them
    stop = threading.Event()
    elector: Elector | None = None
    lost = threading.Event()
    if args.leader_election_namespace:
        identity = os.environ.get("POD_NAME") or f"{socket.gethostname()}-{uuid.uuid4().hex[:6]}"
        lease = max(3, args.lease_seconds)
        elector = Elector(Election(args.leader_election_namespace, args.leader_election_name,
                                   identity, lease_seconds=lease,
                                   renew_deadline=lease * 2 / 3, retry=max(1.0, lease / 7)))
        if not elector.acquire(stop):
            return 0
        threading.Thread(target=elector.keep, args=(stop, lost), daemon=True,
                         name="lease").start()
        # A lost Lease stops kopf as SIGTERM does (a stop flag would keep a
        # thread of kopf's waiting on it after a SIGTERM).
        threading.Thread(target=_stop_when, args=(lost,), daemon=True, name="stopper").start()
    try:
        kopf.run(standalone=True, clusterwide=not args.namespace, namespaces=args.namespace,
                 liveness_endpoint=args.liveness)
    finally:
        if elector is not None and not lost.is_set():
            stop.set()
            elector.release()
    return 1 if lost.is_set() else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
