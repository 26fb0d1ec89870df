"""Copying sessions from one message store to another (``fixplus store migrate``).

Any backend to any other: the copy goes through the administration API
(``export_session`` / ``import_session``, :mod:`.store.admin`) that every
backend implements.

* **Checked before writing**: every session to copy is read from the source
  and looked up in the target first; one that already has other state in
  the target is refused (unless ``replace``) before anything is written.
* **Verified**: after each session is written it is read back from the
  target and its :func:`session_digest` (sha256 over the sequence numbers
  and every stored message) and message count are compared with the
  source's.
* **All or nothing**: when a copy or a check fails, or the run is
  interrupted (Ctrl-C, SIGTERM), the sessions this run wrote are put back
  as they were in the target (re-imported from the copy taken before, or
  dropped when they were not there), in reverse order.
* **Resumable**: a session whose copy in the target already has the
  source's digest is skipped, so a run killed outright (SIGKILL, power
  loss: no chance to undo) is finished by running the same command again.

Progress goes to stderr, one line per step; the result to stdout.
"""

from __future__ import annotations

import dataclasses
import hashlib
import struct
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from .admin import SessionExport, StoreAdmin
from .base import SessionKey, StoreState
from .errors import PermanentStoreError

__all__ = ["MigrationError", "MigrationResult", "migrate_sessions", "session_digest"]

_U64 = struct.Struct(">Q")
_NEVER = (1 << 63) - 1


class MigrationError(PermanentStoreError):
    """The migration failed; the target was put back as it was before."""


@dataclasses.dataclass(frozen=True, slots=True)
class MigrationResult:
    key: SessionKey
    state: StoreState
    messages: int
    digest: str
    skipped: bool  # the target already held an identical copy


def session_digest(data: SessionExport) -> str:
    """sha256 (hex) of a session's sequence numbers and stored messages
    (sequence number, length and bytes of each, in order)."""
    h = hashlib.sha256()
    h.update(_U64.pack(data.state.next_sender_seq) + _U64.pack(data.state.next_target_seq))
    for m in sorted(data.messages, key=lambda m: m.seq):
        h.update(_U64.pack(m.seq) + _U64.pack(len(m.data)))
        h.update(m.data)
    return h.hexdigest()


def _is_blank(data: SessionExport | None) -> bool:
    """Absent, or a session at 1/1 with no messages (as ``open`` creates it)."""
    return data is None or (data.state.next_sender_seq == 1 and data.state.next_target_seq == 1
                            and not data.messages)


async def _drop(admin: StoreAdmin, key: SessionKey) -> None:
    """Remove one session from a store through ``prune`` (every other session kept)."""
    others = [i.key for i in await admin.sessions() if i.key != key]
    await admin.prune(sessions_idle_before_ns=_NEVER, keep=others)


async def migrate_sessions(
    source: StoreAdmin,
    target: StoreAdmin,
    keys: Sequence[SessionKey],
    *,
    replace: bool = False,
    progress: Callable[[str], None] | None = None,
) -> list[MigrationResult]:
    """Copy ``keys`` from ``source`` to ``target`` (module docstring); raises
    :class:`MigrationError` (target left as before) or the error that
    refused the plan (nothing written)."""
    say = progress or (lambda _text: None)
    n = len(keys)
    plan: list[tuple[SessionExport, str, SessionExport | None]] = []
    results: list[MigrationResult] = []
    for i, key in enumerate(keys, 1):
        data = await source.export_session(key)
        if data is None:
            raise PermanentStoreError(f"no session {key} in the source store")
        digest = session_digest(data)
        before = await target.export_session(key)
        if before is not None and session_digest(before) == digest:
            say(f"[{i}/{n}] {key}: the target already holds an identical copy "
                f"({len(data.messages)} messages, sha256 {digest[:16]}…): skipped")
            results.append(MigrationResult(key, data.state, len(data.messages), digest, True))
            continue
        if not replace and not _is_blank(before):
            assert before is not None
            raise PermanentStoreError(
                f"session {key} already has state in the target (sender "
                f"{before.state.next_sender_seq}, target {before.state.next_target_seq}, "
                f"{len(before.messages)} messages) that differs from the source; pass "
                "--replace to overwrite it; nothing was written")
        say(f"[{i}/{n}] {key}: read {len(data.messages)} messages, sha256 {digest[:16]}…")
        plan.append((data, digest, before))

    written: list[tuple[SessionKey, SessionExport | None]] = []
    try:
        for i, (data, digest, before) in enumerate(plan, 1):
            key = data.key
            written.append((key, before))
            await target.import_session(data, replace=before is not None)
            copy = await target.export_session(key)
            got = session_digest(copy) if copy is not None else "absent"
            count = len(copy.messages) if copy is not None else 0
            if got != digest or count != len(data.messages):
                raise MigrationError(
                    f"session {key}: the copy in the target differs from the source "
                    f"({count} vs {len(data.messages)} messages, sha256 {got[:16]}… vs "
                    f"{digest[:16]}…)")
            say(f"copied {i}/{len(plan)} {key}: {count} messages, verified sha256 "
                f"{digest[:16]}…")
            results.append(MigrationResult(key, data.state, count, digest, False))
    except BaseException as e:
        say(f"migration failed ({type(e).__name__}: {e}); putting the target back as it was")
        await _undo(target, written, say)
        if isinstance(e, Exception) and not isinstance(e, MigrationError):
            raise MigrationError(f"{e}; the target was put back as it was") from e
        raise
    return results


async def _undo(target: StoreAdmin, written: list[tuple[SessionKey, SessionExport | None]],
                say: Callable[[str], None]) -> None:
    for key, before in reversed(written):
        try:
            if before is None:
                await _drop(target, key)
            else:
                await target.import_session(before, replace=True)
            say(f"restored {key} in the target")
        except Exception as e:  # keep undoing the others; say which one is left
            say(f"could not restore {key} in the target: {type(e).__name__}: {e} (it may "
                "hold the source's copy: run the migration again to finish it)")


def stderr_progress(stream: TextIO | None = None) -> Callable[[str], None]:
    out = stream or sys.stderr

    def say(text: str) -> None:
        print(f"fixplus store migrate: {text}", file=out, flush=True)

    return say
