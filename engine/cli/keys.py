"""``fixplus keys``: the key file of the local provider, which key versions
the stored data needs, and the rewrap after a rotation (docs/security.md)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from ..config import load_config
from ..errors import ConfigError
from ..store.audited import AuditedMessageStore
from ..store.encrypted import EncryptedMessageStore
from ..store.keyadmin import key_status, rewrap
from ..store.keyprovider import create_key_file, rotate_key_file
from ..store.secure import SecuredStore, open_secured


async def _open(args: argparse.Namespace) -> tuple[SecuredStore, EncryptedMessageStore]:
    config = load_config(args.config)
    if config.encryption is None:
        raise ConfigError(f"{args.config}: no encryption settings")
    secured = await open_secured(config.store, config.encryption, config.audit)
    store = secured.store
    inner = store.inner if isinstance(store, AuditedMessageStore) else store
    assert isinstance(inner, EncryptedMessageStore)
    return secured, inner


def cmd_init_local(args: argparse.Namespace) -> int:
    create_key_file(args.path)
    print(f"wrote {args.path} (version 1, mode 0600): keep it apart from the store's backups")
    return 0


def cmd_rotate_local(args: argparse.Namespace) -> int:
    version = rotate_key_file(args.path)
    print(f"{args.path}: version {version} added; running engines use it for new data keys "
          "within encryption.checkInterval; then run fixplus keys rewrap")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    async def body() -> int:
        secured, store = await _open(args)
        try:
            st = await key_status(store, scan=not args.no_scan)
        finally:
            await secured.close()
        print(f"key {store.ring.provider.name}: newest version {st.latest_version}")
        for version in sorted(st.keys_by_version):
            line = f"  version {version}: {st.keys_by_version[version]} data key(s)"
            if st.records_by_version is not None:
                line += f", {st.records_by_version.get(version, 0)} stored record(s)"
            print(line)
        needed = st.needed_versions
        print("stored data needs versions: " + (", ".join(map(str, needed)) or "none"))
        if needed:
            print(f"min_decryption_version may be raised to {min(needed)}")
        return 0

    return asyncio.run(body())


def cmd_rewrap(args: argparse.Namespace) -> int:
    def progress(done: int, total: int) -> None:
        print(f"rewrapped {done}/{total} data key(s)", file=sys.stderr, flush=True)

    async def body() -> int:
        secured, store = await _open(args)
        try:
            n = await rewrap(store, args.batch, progress)
            if secured.trail is not None:
                secured.trail.event("keys.rewrap", key=store.ring.provider.name, data_keys=n,
                                    version=await store.ring.provider.latest_version())
        finally:
            await secured.close()
        print(f"rewrapped {n} data key(s) to the newest version of {store.ring.provider.name}")
        return 0

    return asyncio.run(body())


def add_parser(sub: Any) -> None:
    keys = sub.add_parser("keys", help="encryption keys: local key file, status, rewrap",
                          description=__doc__)
    cmds = keys.add_subparsers(dest="keys_command", required=True)
    p = cmds.add_parser("init-local", help="write a new local key file (development)")
    p.add_argument("path")
    p.set_defaults(func=cmd_init_local)
    p = cmds.add_parser("rotate-local", help="add a version to a local key file")
    p.add_argument("path")
    p.set_defaults(func=cmd_rotate_local)
    p = cmds.add_parser("status", help="which key versions the stored data needs")
    p.add_argument("-c", "--config", required=True, help="engine configuration file")
    p.add_argument("--no-scan", action="store_true",
                   help="count data keys only, do not read every stored record")
    p.set_defaults(func=cmd_status)
    p = cmds.add_parser("rewrap", help="rewrap stored data keys with the newest key version "
                        "(online, resumable)")
    p.add_argument("-c", "--config", required=True, help="engine configuration file")
    p.add_argument("--batch", type=int, default=100, help="data keys between progress lines")
    p.set_defaults(func=cmd_rewrap)
