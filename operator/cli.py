"""``fixplus-operator``: run the operator (kopf) in the foreground."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

import kopf

from . import handlers


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fixplus-operator",
                                     description="Reconcile FixSession, FixCluster and "
                                     "MessageStore resources")
    parser.add_argument("-n", "--namespace", action="append", default=[],
                        help="watch this namespace (repeatable; default: all namespaces)")
    parser.add_argument("--liveness", default=None,
                        help="serve liveness on this URL, e.g. http://0.0.0.0:8080/healthz")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    logging.basicConfig(level=getattr(logging, args.log_level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    assert handlers.RESYNC_SECONDS > 0  # importing handlers registered them
    kopf.run(standalone=True, clusterwide=not args.namespace, namespaces=args.namespace,
             liveness_endpoint=args.liveness)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
