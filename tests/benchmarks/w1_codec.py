"""W1 codec benchmark (see ../shared/bench/WORKLOAD.md): a program, not a test.

Runs on one core, in one process per engine line, and prints one JSON object
per engine; the last line is our engine with its C accelerator (when built):

    {"workload": "W1", "engine": ..., "parse_per_s": ..., "parse_validate_per_s": ...,
     "encode_per_s": ...}

Engines, all in the same run so that ratios mean something on a noisy machine:

* ``simplefix``: reference; its parser cuts frames on 10= but verifies
  neither BodyLength nor CheckSum, so it does less work than ours;
* ``quickfix``: the QuickFIX C++ binding, when ``import quickfix`` works
  (null figures otherwise);
* ``pyfixmsg_plus[pure-python]``: ours with FIXPLUS_NO_SPEEDUPS=1 (run in a
  child process so that the module-level dispatch is really switched off);
* ``pyfixmsg_plus``: ours, C accelerator used when it is built.

Definitions (per message, timed in a loop, median of --repeat runs):

* parse: bytes fed to a Framer, the frame cut and verified (BodyLength,
  CheckSum), decoded into a Message, and one field read by tag (55);
* parse_validate: parse, then dictionary validation against FIX44.xml from
  FIXPLUS_SPEC_DIR (default ../shared/fix-spec beside the repository);
  null when the dictionary package offers no validator or the file is absent;
* encode: a Message holding the W1 fields in, wire bytes out (BodyLength
  and CheckSum computed).  The message object is built once, outside the loop.

Usage: python tests/benchmarks/w1_codec.py [--repeat 7] [--seconds 0.3]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# The W1 ExecutionReport, field by field.  WORKLOAD.md prints it with 9=178
# and 10=000, which are not its real BodyLength and CheckSum; every engine
# here sends and receives exactly these fields with the correct BodyLength
# (159) and CheckSum, computed below by W1_WIRE.
W1_FIELDS: list[tuple[int, bytes]] = [
    (8, b"FIX.4.4"),
    (35, b"8"),
    (34, b"2"),
    (49, b"BROKER"),
    (52, b"20261121-05:40:04.615"),
    (56, b"CLIENT"),
    (6, b"0"),
    (11, b"12345"),
    (14, b"0"),
    (17, b"1"),
    (37, b"1"),
    (38, b"100"),
    (39, b"0"),
    (54, b"1"),
    (55, b"SYM"),
    (150, b"0"),
    (151, b"100"),
    (60, b"20261121-05:40:04.615"),
    (44, b"10.5"),
    (40, b"2"),
]


def _w1_wire() -> bytes:
    body = b"".join(b"%d=%s\x01" % f for f in W1_FIELDS[1:])
    head = b"8=%s\x019=%d\x01" % (W1_FIELDS[0][1], len(body))
    return head + body + b"10=%03d\x01" % (sum(head + body) % 256)


W1_WIRE = _w1_wire()
REPO = Path(__file__).resolve().parents[2]


def rate(loop: Callable[[int], object], seconds: float, repeat: int) -> float:
    """Median operations per second of ``loop(n)`` over ``repeat`` timed runs."""
    n = 1000
    while True:  # calibrate n so that one run takes about ``seconds``
        t0 = time.perf_counter()
        loop(n)
        took = time.perf_counter() - t0
        if took >= seconds / 4:
            break
        n *= 4
    n = max(1, int(n * seconds / took))
    rates = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        loop(n)
        rates.append(n / (time.perf_counter() - t0))
    return statistics.median(rates)


def line(engine: str, parse: float | None, validate: float | None, encode: float | None,
         **extra: Any) -> dict[str, Any]:
    def r(x: float | None) -> int | None:
        return None if x is None else round(x)

    return {
        "workload": "W1",
        "engine": engine,
        "parse_per_s": r(parse),
        "parse_validate_per_s": r(validate),
        "encode_per_s": r(encode),
        **extra,
    }


# -- our engine -----------------------------------------------------------------


def _validator() -> tuple[Callable[[Any], object] | None, str]:
    """The dictionary validator bound to FIX44.xml, or None and why not."""
    try:
        from pyfixmsg_plus.engine import dictionary
    except ImportError as exc:
        return None, f"no dictionary package: {exc}"
    load = getattr(dictionary, "load", None)
    validate = getattr(dictionary, "validate", None)
    if load is None or validate is None:
        return None, "pyfixmsg_plus.engine.dictionary has no load()/validate()"
    spec_dir = Path(os.environ.get("FIXPLUS_SPEC_DIR", REPO.parent / "shared" / "fix-spec"))
    path = spec_dir / "FIX44.xml"
    if not path.is_file():
        return None, f"{path} not found (set FIXPLUS_SPEC_DIR)"
    dd = load(path)
    return (lambda msg: validate(msg, dd)), ""


def bench_ours(seconds: float, repeat: int) -> dict[str, Any]:
    from pyfixmsg_plus.engine.codec import Framer, Garbled, Message, decode, encode
    from pyfixmsg_plus.engine.codec import parser as parser_mod

    speedups = parser_mod._c_decode is not None
    msg = Message([f for f in W1_FIELDS if f[0] in (8, 35, 34, 49, 52, 56)],
                  [f for f in W1_FIELDS if f[0] not in (8, 35, 34, 49, 52, 56)])
    # Sanity: our encoder gives exactly the W1 wire bytes, and parsing them
    # gives the W1 fields back.
    assert encode(msg) == W1_WIRE, (encode(msg), W1_WIRE)
    check = Framer()
    check.feed(W1_WIRE)
    frame = check.next_frame()
    assert isinstance(frame, bytes) and not isinstance(frame, Garbled), frame
    assert list(decode(frame).fields())[:-1] == [(8, b"FIX.4.4"), (9, b"159"), *W1_FIELDS[1:]]

    framer = Framer()
    feed = framer.feed
    next_frame = framer.next_frame
    wire = W1_WIRE

    def parse_loop(n: int) -> None:
        for _ in range(n):
            feed(wire)
            m = decode(next_frame())  # type: ignore[arg-type]
            m[55]

    def encode_loop(n: int) -> None:
        for _ in range(n):
            encode(msg)

    validator, why = _validator()
    validate_rate = None
    if validator is not None:
        reject = validator(decode(W1_WIRE))
        if reject is not None:
            print(f"note: the dictionary rejects W1: {reject!r}", file=sys.stderr)

        def validate_loop(n: int) -> None:
            for _ in range(n):
                feed(wire)
                m = decode(next_frame())  # type: ignore[arg-type]
                validator(m)

        validate_rate = rate(validate_loop, seconds, repeat)
    else:
        print(f"note: parse_validate is null: {why}", file=sys.stderr)
    return line(
        "pyfixmsg_plus" if speedups else "pyfixmsg_plus[pure-python]",
        rate(parse_loop, seconds, repeat),
        validate_rate,
        rate(encode_loop, seconds, repeat),
        c_speedups=speedups,
    )


# -- references ---------------------------------------------------------------------


def bench_simplefix(seconds: float, repeat: int) -> dict[str, Any]:
    try:
        import simplefix
    except ImportError:
        return line("simplefix", None, None, None)
    msg = simplefix.FixMessage()
    for tag, value in W1_FIELDS:
        msg.append_pair(tag, value, header=tag in (8, 35, 34, 49, 52, 56))
    assert msg.encode() == W1_WIRE, (msg.encode(), W1_WIRE)
    parser = simplefix.FixParser()
    append = parser.append_buffer
    get = parser.get_message
    wire = W1_WIRE

    def parse_loop(n: int) -> None:
        for _ in range(n):
            append(wire)
            get().get(55)

    def encode_loop(n: int) -> None:
        for _ in range(n):
            msg.encode()

    return line("simplefix", rate(parse_loop, seconds, repeat), None,
                rate(encode_loop, seconds, repeat))


def bench_quickfix(seconds: float, repeat: int) -> dict[str, Any]:
    try:
        import quickfix
    except ImportError:
        return line("quickfix", None, None, None)
    text = W1_WIRE.decode()
    try:
        # Message.setString without validation, as in WORKLOAD.md.
        probe = quickfix.Message()
        probe.setString(text, False)
        # QuickFIX re-serialises in its own field order (body sorted by tag),
        # so compare content, not bytes.
        assert probe.getField(55) == "SYM" and probe.getField(44) == "10.5"

        def parse_loop(n: int) -> None:
            for _ in range(n):
                m = quickfix.Message()
                m.setString(text, False)
                m.getField(55)

        def encode_loop(n: int) -> None:
            for _ in range(n):
                probe.toString()

        return line("quickfix", rate(parse_loop, seconds, repeat), None,
                    rate(encode_loop, seconds, repeat))
    except Exception as exc:
        print(f"note: quickfix failed: {exc!r}", file=sys.stderr)
        return line("quickfix", None, None, None)


# -- main ----------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=7, help="timed runs per figure (median)")
    ap.add_argument("--seconds", type=float, default=0.3, help="length of one timed run")
    ap.add_argument("--only", choices=["ours"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):  # one core
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    if args.only == "ours":
        print(json.dumps(bench_ours(args.seconds, args.repeat)))
        return 0

    print(json.dumps(bench_simplefix(args.seconds, args.repeat)), flush=True)
    print(json.dumps(bench_quickfix(args.seconds, args.repeat)), flush=True)
    child = subprocess.run(
        [sys.executable, __file__, "--only", "ours", "--repeat", str(args.repeat),
         "--seconds", str(args.seconds)],
        env={**os.environ, "FIXPLUS_NO_SPEEDUPS": "1"},
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    print(child.stdout.strip().splitlines()[-1], flush=True)
    print(json.dumps(bench_ours(args.seconds, args.repeat)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
