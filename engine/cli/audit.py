"""``fixplus audit``: verify the audit trail's chain and signed heads, and
show its records (docs/security.md#the-audit-trail)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import time
from typing import Any

from ..config import load_config
from ..errors import ConfigError
from ..store.audit import Problem, read_records, verify
from ..store.keyprovider import KeyProvider
from ..store.ledger import Ledger, open_ledger
from ..store.secure import key_provider
from ..store.url import open_store


async def _open(args: argparse.Namespace) -> tuple[Any, Ledger, KeyProvider | None]:
    if args.config:
        config = load_config(args.config)
        url = config.store
        provider = key_provider(config.encryption) if config.encryption is not None else None
    elif args.store:
        url, provider = args.store, None
    else:
        raise ConfigError("give the store with --store URL or -c CONFIG")
    store = await open_store(url)
    try:
        return store, await open_ledger(url, store), provider
    except BaseException:
        await store.close()
        raise


def _when(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def cmd_verify(args: argparse.Namespace) -> int:
    async def body() -> int:
        store, ledger, provider = await _open(args)
        try:
            problems, records, signed = await verify(ledger, provider)
            heads = await ledger.read("audit-head")
        finally:
            await ledger.close()
            if provider is not None:
                await provider.close()
            await store.close()
        if args.max_head_age is not None and records:
            newest = max((int(json.loads(p).get("t", 0)) for _, p in heads), default=0)
            if time.time_ns() - newest > args.max_head_age * 1e9:
                problems.append(Problem(None, f"the newest signed head is older than "
                                              f"{args.max_head_age:g} s (newest records and "
                                              "heads deleted?)"))
        if provider is None:
            print("signatures not checked: give -c CONFIG with the key provider")
        elif records and not signed:
            print("no signed head: the chain's end is not covered by a signature")
        if problems:
            print(f"audit trail: {len(problems)} problem(s); first bad record: "
                  f"{problems[0].record if problems[0].record is not None else '(head)'}")
            for p in problems:
                print(f"  {p}")
            return 1
        print(f"audit trail: {records} record(s), chain intact, signed up to record {signed}"
              + (f" ({records - signed} newer record(s) not yet signed)"
                 if records > signed else ""))
        return 0

    return asyncio.run(body())


def cmd_show(args: argparse.Namespace) -> int:
    async def body() -> int:
        store, ledger, provider = await _open(args)
        try:
            since = (time.time_ns() - int(args.since_hours * 3600e9)
                     if args.since_hours is not None else None)
            records = await read_records(ledger, args.kind, since, args.limit or 0)
        finally:
            await ledger.close()
            if provider is not None:
                await provider.close()
            await store.close()
        for r in records:
            fields = " ".join(f"{k}={v}" for k, v in sorted(r.data.items()) if v is not None)
            print(f"{r.n} {_when(r.time_ns)} {r.kind} {fields}")
        return 0

    return asyncio.run(body())


def add_parser(sub: Any) -> None:
    audit = sub.add_parser("audit", help="the audit trail: verify, show", description=__doc__)
    cmds = audit.add_subparsers(dest="audit_command", required=True)
    for name, func, text in (("verify", cmd_verify, "check the chain and its signed heads"),
                             ("show", cmd_show, "print records")):
        p = cmds.add_parser(name, help=text)
        g = p.add_mutually_exclusive_group()
        g.add_argument("--store", help="store URL (signatures are not checked)")
        g.add_argument("-c", "--config", help="engine configuration file")
        p.set_defaults(func=func)
        if name == "verify":
            p.add_argument("--max-head-age", type=float, default=None,
                           help="seconds: fail when the newest signed head is older")
        else:
            p.add_argument("--kind", help="e.g. logon, logon.refused, store, keys")
            p.add_argument("--since-hours", type=float)
            p.add_argument("--limit", type=int)
