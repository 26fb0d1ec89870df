"""Zero loss across SIGKILLs, per durable store, counted from the
applications' own fsynced records (``zeroloss.py``): nothing ``send()``
accepted is lost, every order the acceptor's application received is
answered, and every repeat is flagged.  A small run per store; the full
10,000-order, 20-kill version is ``python -m tests.benchmarks.crash_kill``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.zeroloss import run

pytestmark = pytest.mark.integration

ORDERS = 500
KILLS = 4


@pytest.mark.parametrize("store", ["sqlite", "postgresql", "redis", "mysql", "mongodb"])
async def test_no_order_lost_or_unanswered_across_sigkills(store: str, tmp_path: Path) -> None:
    figures = await run(store, tmp_path, orders=ORDERS, kills=KILLS, slow_ms=3, settle=60)
    print(figures.as_dict())
    assert figures.sent > 0 and figures.delivered >= figures.sent - figures.lost
    assert (figures.lost, figures.unanswered, figures.unflagged_repeats) == (0, 0, 0), (
        figures.as_dict())
