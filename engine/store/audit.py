"""The audit trail: security events in a hash chain, its head signed.

Theory of operation.  Every security-relevant event (a Logon accepted or
refused with the peer's address, a reset of sequence numbers and why, a
SequenceReset, ``fixplus store`` changes, key rotations and rewraps, the
configuration loaded with its hash) becomes a record of the ledger log
``audit`` (:mod:`.ledger`)::

    {"n": 7, "t": <ns>, "kind": "logon.refused", "data": {...}, "prev": <sha256 of record 6>}

Each record names the SHA-256 of the one before it, so editing or deleting
a record breaks the chain at that record.  Truncating the newest records
keeps the chain whole: that is what the *head* is for.  Every
``signInterval`` seconds (and when the engine stops) the newest record's
number and hash are signed by the key provider (Vault Transit's signing key
or the local key file) and appended to the log ``audit-head``; a head that
names a record the chain no longer has, or a hash that differs, is reported.
Records newer than the newest head are not yet covered (at most one
interval's worth).

Events are queued (bounded, :data:`MAX_PENDING`) and written by a task in
order, so callers on the hot path never wait for the store.  Two engines
sharing a store append to one chain: an id already taken is read back and
the record is rebuilt on top of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import logging
import time
from collections.abc import Mapping
from typing import Any, Protocol

from ..codec.safetext import safe_text
from .keyprovider import KeyProvider
from .ledger import Ledger

log = logging.getLogger("pyfixmsg_plus.store.audit")

__all__ = ["AUDITED_EVENTS", "AUDIT_LOG", "HEAD_LOG", "AuditRecord", "AuditSink", "AuditTrail",
           "Problem", "append_record", "verify"]

AUDIT_LOG = "audit"
HEAD_LOG = "audit-head"
GENESIS = "0" * 64
MAX_PENDING = 10_000
#: Records per minute that peers not yet authenticated can cause (refused
#: Logons): the audit table must not grow at an attacker's pace.
MAX_UNAUTHENTICATED_PER_MINUTE = 60
_FROM_UNAUTHENTICATED = frozenset({"logon.refused"})
#: The session layer's log lines (``fx.Log``) that are audit events: resets
#: of sequence numbers and SequenceResets received.
AUDITED_EVENTS = ("SequenceReset from ", "Logon with ResetSeqNumFlag=Y",
                  "new session period: resetting")
_MAX_FIELD = 300


class AuditSink(Protocol):
    """Where security events go: ``sink("logon.refused", peer=..., reason=...)``."""

    def __call__(self, kind: str, /, **data: object) -> None: ...


@dataclasses.dataclass(frozen=True, slots=True)
class AuditRecord:
    n: int
    time_ns: int
    kind: str
    data: Mapping[str, Any]
    prev: str
    hash: str


def _encode(n: int, time_ns: int, kind: str, data: Mapping[str, Any], prev: str) -> bytes:
    return json.dumps({"n": n, "t": time_ns, "kind": kind, "data": dict(data), "prev": prev},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _digest(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def parse_record(entry_id: int, payload: bytes) -> AuditRecord:
    """A stored record (``ValueError`` when it is not one)."""
    d = json.loads(payload)
    if not isinstance(d, dict) or not isinstance(d.get("data"), dict):
        raise ValueError("not an audit record")
    return AuditRecord(int(d["n"]), int(d["t"]), str(d["kind"]), d["data"], str(d["prev"]),
                       _digest(payload))


def head_message(n: int, digest: str, time_ns: int) -> bytes:
    """The bytes a head's signature covers."""
    return b"fixplus audit head\x00%d\x00%s\x00%d" % (n, digest.encode(), time_ns)


def _clean(data: Mapping[str, object]) -> dict[str, Any]:
    # values from the wire (CompIDs, texts) are escaped and bounded
    out: dict[str, Any] = {}
    for k, v in data.items():
        out[str(k)] = v if isinstance(v, int | bool) or v is None else safe_text(
            str(v), limit=_MAX_FIELD)
    return out


async def append_record(ledger: Ledger, kind: str, data: Mapping[str, object],
                        time_ns: int | None = None) -> AuditRecord:
    """Append one record to the chain (retrying on top of a concurrent writer)."""
    clean = _clean(data)
    while True:
        last = await ledger.last_id(AUDIT_LOG)
        prev = GENESIS
        if last:
            rows = await ledger.read(AUDIT_LOG, after=last - 1, limit=1)
            prev = _digest(rows[0][1]) if rows else GENESIS
        t = time.time_ns() if time_ns is None else time_ns
        payload = _encode(last + 1, t, kind, clean, prev)
        if await ledger.append(AUDIT_LOG, last + 1, payload):
            return AuditRecord(last + 1, t, kind, clean, prev, _digest(payload))


async def sign_head(ledger: Ledger, provider: KeyProvider) -> int | None:
    """Sign the chain's newest record if no head covers it yet; its number or None."""
    last = await ledger.last_id(AUDIT_LOG)
    if not last:
        return None
    head_id = await ledger.last_id(HEAD_LOG)
    if head_id:
        rows = await ledger.read(HEAD_LOG, after=head_id - 1, limit=1)
        if rows and int(json.loads(rows[0][1]).get("n", 0)) >= last:
            return None
    rows = await ledger.read(AUDIT_LOG, after=last - 1, limit=1)
    digest = _digest(rows[0][1])
    now = time.time_ns()
    signature = await provider.sign(head_message(last, digest, now))
    payload = json.dumps({"n": last, "hash": digest, "t": now, "sig": signature,
                          "key": provider.name}, sort_keys=True).encode()
    while not await ledger.append(HEAD_LOG, head_id + 1, payload):
        head_id = await ledger.last_id(HEAD_LOG)
    return last


class AuditTrail:
    """The engine's writer: ``event()`` queues, a task appends and signs."""

    def __init__(self, ledger: Ledger, provider: KeyProvider | None,
                 sign_interval: float = 60.0, *, owns_ledger: bool = False) -> None:
        self.ledger = ledger
        self.owns_ledger = owns_ledger
        self.provider = provider
        self.sign_interval = sign_interval
        self.dropped = 0
        self._queue: asyncio.Queue[tuple[str, dict[str, Any], int]] = asyncio.Queue(MAX_PENDING)
        self._writer: asyncio.Task[None] | None = None
        self._signer: asyncio.Task[None] | None = None
        self._window_start = time.monotonic()
        self._window_count = 0
        self._suppressed = 0

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write(), name="fixplus-audit-writer")
        if self.provider is not None:
            self._signer = asyncio.create_task(self._sign(), name="fixplus-audit-signer")

    def event(self, kind: str, /, **data: object) -> None:
        """Queue a record (never blocks; counted and noted when the queue is full).

        Events a peer can cause before it is authenticated (``logon.refused``)
        are limited to :data:`MAX_UNAUTHENTICATED_PER_MINUTE`; the rest are
        counted in one ``logon.refused.suppressed`` record per minute.
        """
        if kind in _FROM_UNAUTHENTICATED and not self._admit_unauthenticated():
            return
        try:
            self._queue.put_nowait((kind, _clean(data), time.time_ns()))
        except asyncio.QueueFull:
            self.dropped += 1

    def _admit_unauthenticated(self) -> bool:
        now = time.monotonic()
        if now - self._window_start >= 60.0:
            if self._suppressed:
                suppressed, self._suppressed = self._suppressed, 0
                with contextlib.suppress(asyncio.QueueFull):
                    self._queue.put_nowait(("logon.refused.suppressed",
                                            {"events": suppressed}, time.time_ns()))
            self._window_start, self._window_count = now, 0
        if self._window_count >= MAX_UNAUTHENTICATED_PER_MINUTE:
            self._suppressed += 1
            return False
        self._window_count += 1
        return True

    async def _write(self) -> None:
        while True:
            kind, data, t = await self._queue.get()
            try:
                await self._append(kind, data, t)
            finally:
                self._queue.task_done()

    async def _append(self, kind: str, data: dict[str, Any], t: int) -> None:
        delay = 0.05
        while True:
            try:
                if self.dropped:
                    dropped, self.dropped = self.dropped, 0
                    await append_record(self.ledger, "audit.dropped", {"events": dropped})
                await append_record(self.ledger, kind, data, t)
                return
            except Exception as exc:
                log.warning("audit: cannot append a %s record, retrying: %s", kind,
                            type(exc).__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _sign(self) -> None:
        while True:
            await asyncio.sleep(self.sign_interval)
            await self.sign_now()

    async def sign_now(self) -> int | None:
        """Sign the head now (after the queued records are written)."""
        if self.provider is None:
            return None
        try:
            return await sign_head(self.ledger, self.provider)
        except Exception as exc:
            log.warning("audit: cannot sign the head: %s", exc)
            return None

    async def flush(self) -> None:
        if self._writer is not None:
            await self._queue.join()

    async def close(self) -> None:
        """Write what is queued, sign the head, stop."""
        if self._writer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.flush(), 10.0)
        await self.sign_now()
        for task in (self._writer, self._signer):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._writer = self._signer = None
        if self.owns_ledger:
            await self.ledger.close()


@dataclasses.dataclass(frozen=True, slots=True)
class Problem:
    record: int | None
    text: str

    def __str__(self) -> str:
        return self.text if self.record is None else f"record {self.record}: {self.text}"


async def verify(ledger: Ledger, provider: KeyProvider | None
                 ) -> tuple[list[Problem], int, int]:
    """Check the chain and the signed heads.

    Returns (problems, records, newest signed record number).  The first
    problem names the first bad record.
    """
    problems: list[Problem] = []
    rows = await ledger.read(AUDIT_LOG)
    hashes: dict[int, str] = {}
    expected_id, prev = 1, GENESIS
    for entry_id, payload in rows:
        if entry_id != expected_id:
            problems.append(Problem(expected_id, f"missing (deleted): the chain jumps from "
                                                 f"{expected_id - 1} to {entry_id}"))
        try:
            rec = parse_record(entry_id, payload)
        except (ValueError, KeyError, TypeError):
            problems.append(Problem(entry_id, "not a valid record (edited)"))
            expected_id, prev = entry_id + 1, _digest(payload)
            hashes[entry_id] = prev
            continue
        if rec.n != entry_id:
            problems.append(Problem(entry_id, f"says it is record {rec.n} (edited or moved)"))
        elif entry_id == expected_id and rec.prev != prev:
            problems.append(Problem(entry_id - 1, "altered: the next record's link does not "
                                                  "match it"))
        hashes[entry_id] = rec.hash
        expected_id, prev = entry_id + 1, rec.hash
    last = rows[-1][0] if rows else 0
    signed = 0
    for head_id, payload in await ledger.read(HEAD_LOG):
        try:
            h = json.loads(payload)
            n, digest, t, sig = int(h["n"]), str(h["hash"]), int(h["t"]), str(h["sig"])
        except (ValueError, KeyError, TypeError):
            problems.append(Problem(None, f"signed head {head_id} is malformed (edited)"))
            continue
        if provider is not None and not await provider.verify(head_message(n, digest, t), sig):
            problems.append(Problem(None, f"signed head {head_id} (record {n}): bad signature"))
            continue
        if n > last:
            problems.append(Problem(last + 1, f"missing: signed head {head_id} covers records "
                                              f"up to {n} but the chain ends at {last} "
                                              "(newest records deleted)"))
        elif hashes.get(n) != digest:
            problems.append(Problem(n, f"does not match signed head {head_id} (edited)"))
        signed = max(signed, n)
    problems.sort(key=lambda p: (p.record is None, p.record or 0))
    return problems, last, signed


async def read_records(ledger: Ledger, kind: str | None = None, since_ns: int | None = None,
                       limit: int = 0) -> list[AuditRecord]:
    """Records for ``fixplus audit show``: kind (prefix), time filters."""
    out: list[AuditRecord] = []
    for entry_id, payload in await ledger.read(AUDIT_LOG):
        try:
            rec = parse_record(entry_id, payload)
        except (ValueError, KeyError, TypeError):
            continue
        if kind is not None and not (rec.kind == kind or rec.kind.startswith(kind + ".")):
            continue
        if since_ns is not None and rec.time_ns < since_ns:
            continue
        out.append(rec)
    return out[-limit:] if limit else out
