"""The cost of the typed message layer (pyfixmsg_plus.engine.fix): a program,
not a test.  Prints one JSON object:

    {"workload": "typed", "read_plain_per_s": ..., "read_typed_per_s": ...,
     "build_plain_per_s": ..., "build_typed_per_s": ..., "dispatch_plain_per_s": ...,
     "dispatch_cracker_per_s": ..., "import_fix44_ms": ..., "import_fix50sp2_ms": ...}

* read: a parsed NewOrderSingle, five fields read (ClOrdID, Side, OrderQty,
  Price, Symbol): ``msg.get(tag)`` (bytes) against the typed view
  (``fix44.NewOrderSingle.view(msg)``, str and Decimal);
* build: the same order made with ``Message.new`` + encode against typed
  attribute assignments + encode;
* dispatch: an application's ``from_app`` testing MsgType itself against
  :class:`MessageCracker` calling ``on_new_order_single`` with the typed view;
* import: first import of a generated module, in a fresh interpreter.

Figures are the median of --repeat timed loops of about --seconds each; the
machine is shared: compare the pairs within one run.

Usage: python tests/benchmarks/typed_layer.py [--repeat 5] [--seconds 0.3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from pyfixmsg_plus.engine.application import Application
from pyfixmsg_plus.engine.codec import Message, encode, parse
from pyfixmsg_plus.engine.fix import fix44
from pyfixmsg_plus.engine.fix.cracker import MessageCracker

FIELDS: list[tuple[int, Any]] = [
    (11, "ORD-000001"), (21, "1"), (55, "EUR/USD"), (54, "1"),
    (60, "20260101-00:00:00.000"), (38, "100"), (40, "2"), (44, "10.25"),
]


def per_second(fn: Callable[[], object], seconds: float, repeat: int) -> int:
    n = 1
    while True:  # calibrate a batch of about seconds / 10
        start = time.perf_counter()
        for _ in range(n):
            fn()
        if time.perf_counter() - start > seconds / 10:
            break
        n *= 2
    rates = []
    for _ in range(repeat):
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            for _ in range(n):
                fn()
            count += n
        rates.append(count / (time.perf_counter() - start))
    return round(statistics.median(rates))


def import_ms(module: str, repeat: int) -> float:
    code = (f"import time; import pyfixmsg_plus.engine.codec; t = time.perf_counter(); "
            f"import pyfixmsg_plus.engine.fix.{module}; "
            "print((time.perf_counter() - t) * 1000)")
    times = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                  check=True).stdout) for _ in range(repeat)]
    return round(statistics.median(times), 1)


class Plain(Application):
    async def from_app(self, msg: Message, session: Any) -> None:
        if msg.msg_type == b"D":
            msg.get(11)


class Cracked(MessageCracker, Application):
    async def on_new_order_single(self, msg: fix44.NewOrderSingle, session: Any) -> None:
        _ = msg.cl_ord_id


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=0.3)
    args = ap.parse_args()
    wire = encode(Message.new("FIX.4.4", "D", [(49, "C"), (56, "B"), (34, 1), *FIELDS]))
    msg = parse(wire)

    def read_plain() -> object:
        get = msg.get
        return get(11), get(54), get(38), get(44), get(55)

    def read_typed() -> object:
        o = fix44.NewOrderSingle.view(msg)
        return o.cl_ord_id, o.side, o.order_qty, o.price, o.symbol

    def build_plain() -> bytes:
        return encode(Message.new("FIX.4.4", "D", FIELDS))

    def build_typed() -> bytes:
        o = fix44.NewOrderSingle()
        o.cl_ord_id, o.handl_inst, o.symbol = "ORD-000001", "1", "EUR/USD"
        o.side, o.transact_time = fix44.Side.BUY, "20260101-00:00:00.000"
        o.order_qty, o.ord_type, o.price = Decimal(100), fix44.OrdType.LIMIT, Decimal("10.25")
        return encode(o)

    assert parse(build_plain()).body == parse(build_typed()).body
    plain, cracked = Plain(), Cracked()
    loop = asyncio.new_event_loop()

    def dispatch(app: Application) -> Callable[[], object]:
        def run() -> None:
            coro = app.from_app(msg, None)  # type: ignore[arg-type]
            with contextlib.suppress(StopIteration):
                coro.send(None)  # the handlers never suspend
        return run

    s, r = args.seconds, args.repeat
    result = {
        "workload": "typed",
        "read_plain_per_s": per_second(read_plain, s, r),
        "read_typed_per_s": per_second(read_typed, s, r),
        "build_plain_per_s": per_second(build_plain, s, r),
        "build_typed_per_s": per_second(build_typed, s, r),
        "dispatch_plain_per_s": per_second(dispatch(plain), s, r),
        "dispatch_cracker_per_s": per_second(dispatch(cracked), s, r),
        "import_fix44_ms": import_ms("fix44", 3),
        "import_fix50sp2_ms": import_ms("fix50sp2", 3),
    }
    loop.close()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
