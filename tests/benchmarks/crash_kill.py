"""Zero loss across SIGKILLs, full size: per store, ORDERS orders and KILLS
SIGKILLs of the acceptor, the initiator or both (restarted after 0.3-0.9 s),
counted from the two applications' own fsynced records
(tests/integration/zeroloss.py).  Prints one JSON object per store.

    python -m tests.benchmarks.crash_kill [--orders 10000] [--kills 20]
        [--slow-ms 3] [--seed N] [sqlite postgresql redis mysql mongodb]

The targets: ``lost`` 0, ``unanswered`` 0, ``unflagged_repeats`` 0.
PostgreSQL, Redis, MariaDB and FerretDB (MongoDB protocol) are the test
environment's servers (tests/env).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path

from tests.integration.zeroloss import run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stores", nargs="*", default=["sqlite", "postgresql", "redis"])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--slow-ms", type=int, default=3)
    parser.add_argument("--seed", type=int)
    args = parser.parse_args(argv)
    failed = False
    for kind in args.stores:
        with tempfile.TemporaryDirectory(prefix=f"crash-kill-{kind}-") as tmp:
            figures = asyncio.run(run(kind, Path(tmp), orders=args.orders, kills=args.kills,
                                      slow_ms=args.slow_ms, seed=args.seed))
        print(json.dumps(figures.as_dict()), flush=True)
        failed |= bool(figures.lost or figures.unanswered or figures.unflagged_repeats)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
