"""``fixplus store …``: look into, repair, migrate and prune message stores.

Every command takes the store from ``--store URL`` or from the ``store``
setting of ``-c CONFIG`` (the engine's own configuration file):

* ``sessions``: every session with its sequence numbers and message count;
* ``show SESSION``: one session's sequence numbers, creation and update time;
* ``list SESSION``: stored messages, filtered by ``--from/--to`` sequence
  numbers, ``--since/--until`` times and ``--type`` MsgTypes;
* ``set SESSION --sender N --target N --yes``: change sequence numbers
  (rewinding the sender forgets the messages from there on);
* ``migrate --to URL [SESSION…|--all]``: copy sessions' whole state into
  another store (any backend to any other), check each copy's sha256, undo
  everything on failure, skip what is already copied (:mod:`.storemigrate`);
* ``prune --max-age-days N --session-idle-days N``: retention on demand
  (default: the ``retention`` setting of ``-c CONFIG``).

Stop the engine that uses a session before ``set`` or ``migrate``.

A session id is written ``FIX.4.4:BANK/BROKER`` (no quoting needed in a
shell) or ``'FIX.4.4:BANK->BROKER'`` (quoted: ``>`` is a shell redirect).
The commands that read a store never create one: a SQLite file that does
not exist is an error.

Output never shows a credential: ``list`` masks Password(554),
NewPassword(925) and the other fields :func:`~.codec.credentials.mask_credentials`
names (``--raw`` included) in records stored before the engine masked them,
and every text taken from a store (session keys, message text) is printed
with control characters escaped.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import re
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ..codec.credentials import mask_credentials
from ..codec.safetext import safe_text
from ..codec.sessionid import SessionID
from ..config import EngineConfig, load_config
from ..errors import ConfigError
from ..store.admin import MessageQuery, StoreAdmin, admin_of
from ..store.audited import AuditedMessageStore
from ..store.base import MessageStore, SessionKey
from ..store.migrate import MigrationError, migrate_sessions, stderr_progress
from ..store.retention import prune
from ..store.secure import SecuredStore, open_secured
from ..store.url import parse_store_url

_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])\Z")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_time(text: str, now_ns: int | None = None) -> int:
    """``2026-01-02T03:04:05[.fff][+00:00]`` (UTC when no zone is given) or a
    duration ago: ``90s``, ``15m``, ``2h``, ``7d``.  Returns ns since the epoch."""
    m = _DURATION.match(text.strip())
    if m:
        now = now_ns if now_ns is not None else dt.datetime.now(dt.UTC).timestamp() * 1e9
        return int(now - float(m.group(1)) * _UNITS[m.group(2)] * 10**9)
    try:
        t = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(f"time {text!r}: use ISO 8601 (2026-01-02T03:04:05) or 15m, 2h, 7d "
                          "(ago)") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return max(0, min(int(t.timestamp() * 10**6) * 1000, (1 << 63) - 1))


def format_time(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _readable(data: bytes) -> str:
    """A stored message as one line: credentials masked, SOH shown as '|',
    control characters escaped."""
    return safe_text(mask_credentials(data).replace(b"\x01", b"|"), limit=sys.maxsize)


def _key(key: SessionKey) -> str:
    """A session key for printing (its CompIDs may come from the wire)."""
    return safe_text(key.value, limit=200)


def _store_url(args: argparse.Namespace) -> str:
    if args.store:
        return str(args.store)
    if args.config:
        return load_config(args.config).store
    raise ConfigError("give the store with --store URL or -c CONFIG")


def _check_exists(url: str) -> None:
    """A store these commands read must exist: a SQLite file is never created
    by a typo (the target of ``migrate`` alone may be new)."""
    parsed = parse_store_url(url)
    if parsed.scheme != "sqlite":
        return
    path = parsed.path[1:] if parsed.path.startswith("/") else parsed.path
    if path and not Path(path).is_file():
        raise ConfigError(f"no store at {path}: the SQLite file does not exist "
                          "(nothing was created)")


def _session_key(text: str) -> SessionKey:
    """A session id as typed: ``FIX.4.4:BANK->BROKER`` or, with no shell
    quoting needed, ``FIX.4.4:BANK/BROKER``."""
    try:
        return SessionKey(str(SessionID.parse(text)))
    except ValueError:
        return SessionKey(text)


def _config(args: argparse.Namespace) -> EngineConfig | None:
    return load_config(args.config) if getattr(args, "config", None) else None


async def _open(url: str, config: EngineConfig | None) -> SecuredStore:
    """The store as the engine opens it: encrypted and audited as configured."""
    return await open_secured(url, config.encryption if config else None,
                              config.audit if config else None)


async def _with_store(url: str, body: Callable[[MessageStore], Awaitable[int]],
                      config: EngineConfig | None = None) -> int:
    _check_exists(url)
    secured = await _open(url, config)
    try:
        return await body(secured.store)
    finally:
        await secured.close()


def _run(args: argparse.Namespace, body: Callable[[MessageStore], Awaitable[int]]) -> int:
    return asyncio.run(_with_store(_store_url(args), body, _config(args)))


async def _known(admin: StoreAdmin, key: SessionKey) -> bool:
    return any(info.key == key for info in await admin.sessions())


def cmd_sessions(args: argparse.Namespace) -> int:
    async def body(store: MessageStore) -> int:
        infos = await admin_of(store).sessions()
        print(f"{'session':40} {'sender':>8} {'target':>8} {'messages':>9}  updated")
        for i in infos:
            print(f"{_key(i.key):40} {i.state.next_sender_seq:>8} {i.state.next_target_seq:>8} "
                  f"{i.messages:>9}  {format_time(i.updated_ns)}")
        return 0

    return _run(args, body)


def cmd_show(args: argparse.Namespace) -> int:
    key = _session_key(args.session)

    async def body(store: MessageStore) -> int:
        for i in await admin_of(store).sessions():
            if i.key == key:
                print(f"session:          {_key(key)}")
                print(f"next sender seq:  {i.state.next_sender_seq}")
                print(f"next target seq:  {i.state.next_target_seq}")
                print(f"creation time:    {format_time(i.state.creation_time_ns)}")
                print(f"last update:      {format_time(i.updated_ns)}")
                print(f"stored messages:  {i.messages}")
                return 0
        print(f"fixplus store: no session {_key(key)} in the store", file=sys.stderr)
        return 1

    return _run(args, body)


def cmd_list(args: argparse.Namespace) -> int:
    key = _session_key(args.session)
    q = MessageQuery(
        begin=args.begin,
        end=args.end,
        since_ns=parse_time(args.since) if args.since else None,
        until_ns=parse_time(args.until) if args.until else None,
        msg_types=frozenset(args.type) if args.type else None,
        limit=args.limit,
    )

    async def body(store: MessageStore) -> int:
        admin = admin_of(store)
        if not await _known(admin, key):
            print(f"fixplus store: no session {_key(key)} in the store", file=sys.stderr)
            return 1
        for m in await admin.query(key, q):
            if args.raw:
                sys.stdout.buffer.write(mask_credentials(m.data) + b"\n")
            else:
                print(f"{m.seq:>8} {format_time(m.sent_time_ns)} "
                      f"{safe_text(m.msg_type or '?', limit=8):>3} {_readable(m.data)}")
        return 0

    return _run(args, body)


def cmd_set(args: argparse.Namespace) -> int:
    key = _session_key(args.session)
    if args.sender is None and args.target is None:
        raise ConfigError("fixplus store set: give --sender N and/or --target N")
    for name in ("sender", "target"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ConfigError(f"--{name} must be >= 1")

    async def body(store: MessageStore) -> int:
        admin = admin_of(store)
        if not await _known(admin, key):
            print(f"fixplus store: no session {_key(key)} in the store", file=sys.stderr)
            return 1
        session = await store.open(key)
        state = await session.load()
        plan = []
        if args.sender is not None:
            plan.append(f"next sender seq {state.next_sender_seq} -> {args.sender}"
                        + (" (stored messages from there on are deleted)"
                           if args.sender < state.next_sender_seq else ""))
        if args.target is not None:
            plan.append(f"next target seq {state.next_target_seq} -> {args.target}")
        if not args.yes:
            print(f"would change {_key(key)}: " + "; ".join(plan))
            print("nothing changed: add --yes to do it (stop the engine running the session "
                  "first)")
            return 1
        if args.sender is not None:
            await session.set_next_sender(args.sender)
        if args.target is not None:
            await session.set_next_target(args.target)
        if isinstance(store, AuditedMessageStore):
            store.audit("store.set", session=key.value, next_sender=args.sender,
                        next_target=args.target)
        print(f"changed {_key(key)}: " + "; ".join(plan))
        return 0

    return _run(args, body)


def cmd_migrate(args: argparse.Namespace) -> int:
    source = _store_url(args)
    target = args.to
    parse_store_url(target)  # fail early on a bad URL
    if not args.all and not args.sessions:
        raise ConfigError("fixplus store migrate: name the sessions or give --all")

    async def body(src: MessageStore) -> int:
        admin = admin_of(src)
        keys = ([i.key for i in await admin.sessions()] if args.all
                else [_session_key(s) for s in args.sessions])
        if not keys:
            print("fixplus store migrate: the source store has no sessions (a memory:// "
                  "store is empty in a new process)", file=sys.stderr)
            return 1
        dst = await _open(target, config)
        try:
            results = await migrate_sessions(admin, admin_of(dst.store), keys,
                                             replace=args.replace, progress=stderr_progress())
        except MigrationError as e:
            print(f"fixplus store migrate: {e}", file=sys.stderr)
            return 1
        finally:
            await dst.close()
        if isinstance(src, AuditedMessageStore):
            src.audit("store.migrate", to=parse_store_url(target).redacted(),
                      sessions=len(results))
        for r in results:
            print(f"{'already there' if r.skipped else 'migrated'} {r.key}: sender "
                  f"{r.state.next_sender_seq}, target {r.state.next_target_seq}, "
                  f"{r.messages} message(s), sha256 {r.digest}")
        print(f"verified {len(results)} session(s), "
              f"{sum(r.messages for r in results)} message(s): every copy matches the source")
        return 0

    config = _config(args)
    return asyncio.run(_with_store(source, body, config))


def cmd_prune(args: argparse.Namespace) -> int:
    max_age, idle = args.max_age_days, args.session_idle_days
    if max_age is None and idle is None and args.config:
        retention = load_config(args.config).retention
        max_age, idle = retention.max_age_days, retention.session_idle_days
    if max_age is None and idle is None:
        raise ConfigError("fixplus store prune: give --max-age-days and/or --session-idle-days "
                          "(or a retention setting in -c CONFIG)")
    keep = [_session_key(s) for s in args.keep]

    async def body(store: MessageStore) -> int:
        result = await prune(store, max_age, idle, keep)
        print(f"deleted {result.messages} message(s) and {result.sessions} session(s)")
        return 0

    return _run(args, body)


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def add_parser(sub: Any) -> None:
    """Add ``store`` and its subcommands to the ``fixplus`` parser."""
    store = sub.add_parser("store", help="look into, repair, migrate and prune message stores",
                           description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    cmds = store.add_subparsers(dest="store_command", required=True)

    def command(name: str, func: Callable[[argparse.Namespace], int],
                help_text: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = cmds.add_parser(name, help=help_text)
        g = p.add_mutually_exclusive_group()
        g.add_argument("--store", help="store URL (sqlite:///…, postgresql://…, redis://…)")
        g.add_argument("-c", "--config", help="engine configuration file: use its store")
        p.set_defaults(func=func)
        return p

    command("sessions", cmd_sessions, "every session in the store")
    p = command("show", cmd_show, "a session's sequence numbers")
    p.add_argument("session", help="session id, e.g. FIX.4.4:BANK/BROKER (or, quoted, "
                   "'FIX.4.4:BANK->BROKER')")
    p = command("list", cmd_list, "stored messages of a session")
    p.add_argument("session")
    p.add_argument("--from", dest="begin", type=int, default=1, help="first MsgSeqNum")
    p.add_argument("--to", dest="end", type=int, default=0, help="last MsgSeqNum (0: no limit)")
    p.add_argument("--since", help="sent at or after: ISO time (UTC) or 15m, 2h, 7d ago")
    p.add_argument("--until", help="sent before: ISO time (UTC) or a duration ago")
    p.add_argument("--type", action="append", help="MsgType(35), e.g. D; repeatable")
    p.add_argument("--limit", type=int)
    p.add_argument("--raw", action="store_true", help="wire bytes, one message per line")
    p = command("set", cmd_set, "set a session's sequence numbers (needs --yes)")
    p.add_argument("session")
    p.add_argument("--sender", type=int, help="next sender MsgSeqNum")
    p.add_argument("--target", type=int, help="next expected target MsgSeqNum")
    p.add_argument("--yes", action="store_true", help="really change them")
    p = command("migrate", cmd_migrate, "copy sessions to another store")
    p.add_argument("sessions", nargs="*")
    p.add_argument("--all", action="store_true", help="every session of the source store")
    p.add_argument("--to", required=True, help="target store URL")
    p.add_argument("--replace", action="store_true",
                   help="overwrite sessions that already have state in the target")
    p = command("prune", cmd_prune, "delete old messages and idle sessions")
    p.add_argument("--max-age-days", type=_positive_float)
    p.add_argument("--session-idle-days", type=_positive_float)
    p.add_argument("--keep", action="append", default=[],
                   help="session never dropped whole; repeatable")
