"""MongoDB message store (``mongodb://user@host:port/database``) on pymongo's asyncio API.

Theory of operation
-------------------

The store needs no multi-document transactions (FerretDB v1, which the tests
use, has none): every step that must be atomic is **one document write**.

Collections, with ``P`` the ``collection_prefix`` option (default ``fixplus_``)::

    P sessions    {_id: key, g: generation, base: sender floor, target, tv,
                   created, updated}
    P batches     {_id: "g:first:key", k: key, g, f: first seq, n: last seq + 1,
                   t: send time ns, m: [wire bytes, ...], tg: target, tv}
    P schema_version  {_id: version, description, applied_ns}

``save_outbound`` inserts **one batch document** holding its messages; the
next sender sequence number is ``max(base, n of the session's last batch
of its generation)``, so storing the messages *is* advancing the number,
in one write.  The batch also carries the next target sequence number
(``tg``) with its stamp ``tv``, a per-session counter: the target is the
session document's or the last batch's, whichever stamp is higher, so the
engine's flush (messages and target together) is one write as well.
The ``_id`` (generation, first seq, key) is unique: a second writer
trying to store the same sequence number gets a duplicate key error, never
a silent overwrite.  A batch is limited by the 16 MiB document size
(messages are FIX messages; a batch over 15 MiB is refused).

A reset, a rewind of the sender (``set_next_sender`` below the next number)
or an import writes a new **generation**: the documents to keep are copied
under generation ``g + 1``, then the session document's ``g`` is switched in
one update (the commit point), then the old generation is deleted.  A crash
before the switch leaves unused documents of ``g + 1``, removed by the next
switch; a crash after it leaves old ones, ignored and removed when the
session is opened again.

Calls run in call order in one writer task (:mod:`.groupcommit`); the
inserts of a batch of calls go out in one ordered ``insert_many``.  Writes
use ``j: true`` and no driver retries: after a lost connection the outcome
is unknown, the error says so and the engine reloads.  Needed from the
server: atomic single-document writes, unique ``_id``, ``find`` with sort
and limit, ``insert_many``, ``delete_many``, ``createIndexes`` (MongoDB 4.0+
or FerretDB 1.x).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import re
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from pymongo import AsyncMongoClient
from pymongo import errors as merr
from pymongo.write_concern import WriteConcern

from ..errors import ConfigError
from .admin import (
    MessageQuery,
    PruneResult,
    SessionExport,
    SessionInfo,
    StoredMessage,
    match_query,
    msg_type_of,
)
from .base import SessionKey, StoreState
from .errors import (
    PermanentStoreError,
    RetryableStoreError,
    StoreClosedError,
    StoreError,
    StoreSequenceError,
    check_outbound,
    check_seq,
)
from .groupcommit import Chains, Job, QueuedSessionStore, Writer
from .migrations import Migration, check_plan, pending

if TYPE_CHECKING:
    from .url import StoreURL

__all__ = ["MIGRATIONS", "MongoSessionStore", "MongoStore", "open_from_url"]

_PREFIX = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,31}\Z")
_MAX_BATCH_BYTES = 15 << 20
_DOC_MESSAGES = 1000  # at most this many messages per document when importing

#: Ordered schema migrations (``createIndexes`` commands as JSON; ``{p}`` is
#: the collection prefix); append, never edit one that has shipped.
MIGRATIONS: tuple[Migration, ...] = check_plan((
    Migration(1, "batches indexed by session, generation and first seq, and by send time", (
        '{"createIndexes": "{p}batches", "indexes": [{"key": {"k": 1, "g": 1, "f": 1}, '
        '"name": "session_gen_first"}, {"key": {"t": 1}, "name": "sent_time"}]}',
    )),
))


def _translate(exc: BaseException, where: str, sent: bool = False) -> StoreError:
    if isinstance(exc, StoreError):
        return exc
    text = f"mongodb store {where}: {type(exc).__name__}: {exc}"
    retry = isinstance(exc, merr.ConnectionFailure | merr.ServerSelectionTimeoutError | OSError
                       | TimeoutError | merr.WaitQueueTimeoutError)
    if isinstance(exc, merr.OperationFailure) and exc.code in (
            11600, 11602, 13435, 13436, 189, 91, 10107, 262):  # shutdown, not primary, timeout
        retry = True
    if retry:
        if sent:
            text += " (the outcome is unknown; reload the state)"
        return RetryableStoreError(text)
    return PermanentStoreError(text)


def _resolve(doc: dict[str, Any], last: dict[str, Any] | None) -> tuple[int, int, int]:
    """(next sender, target, its stamp) from a session document and the last
    batch of its generation."""
    target, tv = int(doc["target"]), int(doc.get("tv", 0))
    if last is None:
        return int(doc["base"]), target, tv
    if int(last.get("tv", -1)) > tv:
        target, tv = int(last["tg"]), int(last["tv"])
    return max(int(doc["base"]), int(last["n"])), target, tv


@dataclasses.dataclass(slots=True)
class _State:
    g: int
    base: int
    target: int
    tv: int  # the stamp of target
    created: int
    last_next: int  # n of the last batch of generation g, 0 if none

    @property
    def next_sender(self) -> int:
        return max(self.base, self.last_next)


class _Tx:
    """What a batch of queued calls writes, collected in call order."""

    def __init__(self, store: MongoStore) -> None:
        self.store = store
        self.now = time.time_ns()
        self.job: Job | None = None  # the job running now
        self.inserts: list[dict[str, Any]] = []
        self.insert_jobs: list[Job | None] = []  # the job of each insert
        self.updates: dict[str, dict[str, Any]] = {}

    async def state(self, k: str) -> _State:
        return await self.store.state(k, self.now)

    def insert(self, doc: dict[str, Any]) -> None:
        self.inserts.append(doc)
        self.insert_jobs.append(self.job)

    def discard(self) -> None:
        self.inserts, self.insert_jobs, self.updates = [], [], {}

    async def flush(self) -> None:
        """Write what is collected: inserts first (in order), then session
        updates.  A duplicate ``_id`` fails the job whose insert it was with
        a :class:`StoreSequenceError` (another writer has those numbers) and
        the jobs after it as not written."""
        s = self.store
        docs, jobs, updates = self.inserts, self.insert_jobs, self.updates
        self.discard()
        if docs:
            try:
                await s.batches.insert_many(docs, ordered=True)
            except merr.BulkWriteError as e:
                written = int(e.details.get("nInserted", 0))
                codes = [w.get("code") for w in e.details.get("writeErrors", ())]
                if 11000 not in codes or written >= len(jobs):
                    raise
                raise _Conflict(jobs[written], jobs[written + 1:], updates) from e
        for k, fields in updates.items():
            await s.sessions_col.update_one({"_id": k}, {"$set": {**fields, "updated": self.now}})


def _copy_error(err: StoreError) -> StoreError:
    try:
        return type(err)(*err.args)
    except Exception:
        return err


class _Conflict(Exception):
    def __init__(self, job: Job | None, later: list[Job | None],
                 updates: dict[str, dict[str, Any]]) -> None:
        super().__init__("duplicate key")
        self.job = job
        self.later = [j for j in later if j is not None]
        self.updates = updates


_Op = Callable[[_Tx], Awaitable[Any]]


class MongoStore:
    """Backend keeping every session in MongoDB collections (module docstring)."""

    def __init__(self, client: Any, db: Any, prefix: str, max_batch: int, where: str) -> None:
        self.client = client
        self.db = db
        self.prefix = prefix
        self.max_batch = max_batch
        self.where = where
        self.sessions_col = db[f"{prefix}sessions"]
        self.batches = db[f"{prefix}batches"]
        self.schema_version = 0
        self.writes = 0  # group commits, for tests and metrics
        self._cache: dict[str, _State] = {}
        self._closed = False
        self._writer: Writer | None = None

    async def start(self) -> None:
        try:
            for attempt in range(3):
                try:
                    await self.db.command("ping")
                    self.schema_version = await self._migrate()
                    break
                except merr.AutoReconnect as e:  # a connection dropped at start: again
                    if attempt == 2 or isinstance(e, merr.ServerSelectionTimeoutError):
                        raise  # (no server at all: say so at once)
                    await asyncio.sleep(0.1 * (attempt + 1))
        except Exception as e:
            with contextlib.suppress(Exception):
                await self.client.close()
            raise _translate(e, self.where) from None
        self._writer = Writer("mongodb-store writer", self.max_batch, self._execute,
                              lambda e: _translate(e, self.where, sent=True),
                              f"mongodb store {self.where}")

    async def _migrate(self) -> int:
        col = self.db[f"{self.prefix}schema_version"]
        docs = await col.find({}, {"_id": 1}).to_list(None)
        current = max((int(d["_id"]) for d in docs), default=0)
        for m in pending(MIGRATIONS, current, f"mongodb store {self.where}"):
            for statement in m.statements:
                await self.db.command(json.loads(statement.replace("{p}", self.prefix)))
            with contextlib.suppress(merr.DuplicateKeyError):  # another process ran it too
                await col.insert_one({"_id": m.version, "description": m.description,
                                      "applied_ns": time.time_ns()})
            current = m.version
        return current

    # --- session state ------------------------------------------------------------

    async def state(self, k: str, now: int) -> _State:
        """The cached state of ``k``, read (and created at 1/1) when not cached."""
        st = self._cache.get(k)
        if st is not None:
            return st
        doc = await self.sessions_col.find_one({"_id": k})
        if doc is None:
            doc = {"_id": k, "g": 1, "base": 1, "target": 1, "tv": 0, "created": now,
                   "updated": now}
            try:
                await self.sessions_col.insert_one(doc)
            except merr.DuplicateKeyError:  # created meanwhile by another process
                doc = await self.sessions_col.find_one({"_id": k})
                if doc is None:
                    raise RetryableStoreError(f"mongodb store {self.where}: session {k} "
                                              "vanished while being created") from None
        g = int(doc["g"])
        last = await self.batches.find({"k": k, "g": g}, {"n": 1, "tg": 1, "tv": 1}).sort(
            "f", -1).limit(1).to_list(1)
        _, target, tv = _resolve(doc, last[0] if last else None)
        st = _State(g, int(doc["base"]), target, tv, int(doc["created"]),
                    int(last[0]["n"]) if last else 0)
        self._cache[k] = st
        return st

    async def switch_generation(self, k: str, st: _State, docs: list[dict[str, Any]],
                                fields: dict[str, Any], now: int) -> None:
        """Replace the session's batches by ``docs`` and set ``fields``; the
        update of the session document is the commit point."""
        new = st.g + 1
        await self.batches.delete_many({"k": k, "g": new})  # left by a crash
        if docs:
            for d in docs:
                d["g"] = new
                d["_id"] = f"{new}:{d['f']}:{k}"
            await self.batches.insert_many(docs, ordered=True)
        await self.sessions_col.update_one({"_id": k},
                                           {"$set": {**fields, "g": new, "updated": now}})
        self._cache.pop(k, None)
        await self.batches.delete_many({"k": k, "g": {"$lt": new}})

    # --- the writer -------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def submit(self, key: str, op: _Op, chained: bool = False) -> asyncio.Future[Any]:
        if self._closed or self._writer is None:
            raise StoreClosedError(f"mongodb store {self.where} is closed")
        return self._writer.submit(key, op, chained=chained)

    def idle(self, key: str) -> bool:
        return self._writer is None or self._writer.idle(key)

    async def _execute(self, batch: list[Job]) -> None:
        tx = _Tx(self)
        done: list[Job] = []  # jobs whose writes wait in tx (or went out with a flush)
        chains = self._writer.chains if self._writer is not None else Chains()
        for job in batch:
            tx.job = job
            job.error = chains.blocked(job)
            if job.error is not None:
                continue
            try:
                job.result = await job.op(tx)
            except StoreError as e:  # refused before writing anything
                job.error = e
                chains.failed(job)
                continue
            except Exception as e:
                self._fail([*done, job], e, tx)
                done = []
                continue
            done.append(job)
        try:
            await tx.flush()
            self.writes += 1
        except Exception as e:
            self._fail(done, e, tx)

    def _fail(self, jobs: list[Job], exc: Exception, tx: _Tx) -> None:
        """A write failed: answer ``jobs`` and forget the cached state."""
        tx.discard()
        self._cache.clear()
        if not isinstance(exc, _Conflict):
            err = _translate(exc, self.where, sent=True)  # the outcome is unknown
            for j in jobs:
                j.error = _copy_error(err)
                j.result = None
            return
        # The inserts before the conflicting one are stored, the session
        # updates of the batch are not: jobs that changed a session document
        # are answered as failed (reload the state), later inserts were not tried.
        if exc.job is not None:
            exc.job.error = StoreSequenceError(
                f"mongodb store {self.where}: session {exc.job.key}: these sequence numbers "
                "were stored by another writer first (reload the state)")
        unwritten = {id(j) for j in exc.later}
        for j in jobs:
            if j is exc.job:
                continue
            if id(j) in unwritten or j.key in exc.updates:
                j.error = RetryableStoreError(
                    f"mongodb store {self.where}: session {j.key}: not written after a "
                    "conflict with another writer; reload the state")
                j.result = None

    async def open(self, key: SessionKey) -> MongoSessionStore:
        k = key.value

        async def op(tx: _Tx) -> None:
            await tx.flush()
            self._cache.pop(k, None)
            st = await tx.state(k)
            await self.batches.delete_many({"k": k, "g": {"$ne": st.g}})  # crash leftovers

        await self.submit(k, op)
        return MongoSessionStore(self, key)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._writer is not None:
            await self._writer.stop()
        with contextlib.suppress(Exception):
            await self.client.close()

    async def _call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        if self._closed:
            coro.close()
            raise StoreClosedError(f"mongodb store {self.where} is closed")
        try:
            return await coro
        except Exception as e:
            raise _translate(e, self.where) from None

    async def read_batches(self, k: str, g: int | None, begin: int = 1,
                           end: int = 0) -> list[dict[str, Any]]:
        """Batches of ``k`` (generation ``g``, or the current one) overlapping
        ``begin..end``, by first seq."""
        if g is None:
            doc = await self._call(self.sessions_col.find_one({"_id": k}, {"g": 1}))
            if doc is None:
                return []
            g = int(doc["g"])
        flt: dict[str, Any] = {"k": k, "g": g, "n": {"$gt": begin}}
        if end:
            flt["f"] = {"$lte": end}
        docs: list[dict[str, Any]] = await self._call(
            self.batches.find(flt).sort("f", 1).to_list(None))
        return docs

    # --- administration (StoreAdmin) ---------------------------------------------------

    async def sessions(self) -> list[SessionInfo]:
        docs = await self._call(self.sessions_col.find({}).sort("_id", 1).to_list(None))
        out: list[SessionInfo] = []
        for d in docs:
            counts = await self._call(self.batches.find(
                {"k": d["_id"], "g": d["g"]}, {"f": 1, "n": 1, "tg": 1, "tv": 1}).to_list(None))
            sender, target, _ = _resolve(d, max(counts, key=lambda b: int(b["f"]), default=None))
            out.append(SessionInfo(
                SessionKey(d["_id"]), StoreState(sender, target, int(d["created"])),
                int(d["updated"]), sum(int(b["n"]) - int(b["f"]) for b in counts)))
        return out

    async def query(self, key: SessionKey, q: MessageQuery) -> list[StoredMessage]:
        out: list[StoredMessage] = []
        for b in await self.read_batches(key.value, None, q.begin, q.end):
            for i, data in enumerate(b["m"]):
                m = StoredMessage(int(b["f"]) + i, int(b["t"]), msg_type_of(data), bytes(data))
                if match_query(m, q):
                    out.append(m)
                    if q.limit is not None and len(out) >= q.limit:
                        return out
        return out

    async def prune(self, *, messages_before_ns: int | None = None,
                    sessions_idle_before_ns: int | None = None,
                    keep: Iterable[SessionKey] = ()) -> PruneResult:
        kept = {k.value for k in keep}
        messages = sessions = 0
        for d in await self._call(self.sessions_col.find({}, {"_id": 1}).to_list(None)):
            k = d["_id"]
            if sessions_idle_before_ns is not None and k not in kept:
                n = await self.submit(k, _drop_idle_op(k, sessions_idle_before_ns))
                if n >= 0:
                    sessions += 1
                    messages += n
                    continue
            if messages_before_ns is not None:
                messages += await self.submit(k, _prune_op(k, messages_before_ns))
        return PruneResult(messages=messages, sessions=sessions)

    async def export_session(self, key: SessionKey) -> SessionExport | None:
        doc = await self._call(self.sessions_col.find_one({"_id": key.value}))
        if doc is None:
            return None
        batches = await self.read_batches(key.value, int(doc["g"]))
        sender, target, _ = _resolve(doc, batches[-1] if batches else None)
        state = StoreState(sender, target, int(doc["created"]))
        messages = [StoredMessage(int(b["f"]) + i, int(b["t"]), msg_type_of(m), bytes(m))
                    for b in batches for i, m in enumerate(b["m"])]
        return SessionExport(key, state, messages)

    async def import_session(self, data: SessionExport, *, replace: bool = False) -> None:
        k = data.key.value
        st_new = data.state
        docs = _group(k, data.messages)

        async def op(tx: _Tx) -> None:
            await tx.flush()
            st = await tx.state(k)
            if not replace:
                has = await self.batches.find_one({"k": k, "g": st.g}, {"_id": 1})
                if has is not None or st.next_sender != 1 or st.target != 1:
                    raise PermanentStoreError(
                        f"session {k} already has state in {self.where} (sender "
                        f"{st.next_sender}, target {st.target}); pass replace to overwrite it")
            await self.switch_generation(k, st, docs, {
                "base": st_new.next_sender_seq, "target": st_new.next_target_seq,
                "tv": st.tv + 1, "created": st_new.creation_time_ns}, tx.now)

        await self.submit(k, op)


def _group(k: str, messages: Sequence[StoredMessage]) -> list[dict[str, Any]]:
    """Batch documents for ``messages``: consecutive seqs with one send time
    share a document (up to a size and count limit)."""
    docs: list[dict[str, Any]] = []
    size = 0
    for m in messages:
        last = docs[-1] if docs else None
        if (last is not None and last["n"] == m.seq and last["t"] == m.sent_time_ns
                and len(last["m"]) < _DOC_MESSAGES and size + len(m.data) < _MAX_BATCH_BYTES):
            last["m"].append(m.data)
            last["n"] += 1
            size += len(m.data)
            continue
        docs.append({"k": k, "f": m.seq, "n": m.seq + 1, "t": m.sent_time_ns, "m": [m.data]})
        size = len(m.data)
    return docs


def _drop_idle_op(k: str, before_ns: int) -> _Op:
    async def op(tx: _Tx) -> int:
        await tx.flush()
        s = tx.store
        doc = await s.sessions_col.find_one({"_id": k})
        if doc is None or int(doc["updated"]) >= before_ns:
            return -1
        batches = await s.batches.find({"k": k, "g": doc["g"]}, {"f": 1, "n": 1}).to_list(None)
        await s.sessions_col.delete_one({"_id": k, "updated": doc["updated"]})
        s._cache.pop(k, None)
        await s.batches.delete_many({"k": k})
        return sum(int(b["n"]) - int(b["f"]) for b in batches)

    return op


def _prune_op(k: str, before_ns: int) -> _Op:
    async def op(tx: _Tx) -> int:
        await tx.flush()
        s = tx.store
        st = await tx.state(k)
        old = await s.batches.find({"k": k, "g": st.g, "t": {"$lt": before_ns}},
                                   {"f": 1, "n": 1}).to_list(None)
        if not old:
            return 0
        # the sender and target seqs stay when the batches holding them go
        await s.sessions_col.update_one({"_id": k}, {"$set": {
            "base": st.next_sender, "target": st.target, "tv": st.tv}})
        st.base = st.next_sender
        await s.batches.delete_many({"k": k, "g": st.g, "t": {"$lt": before_ns}})
        return sum(int(b["n"]) - int(b["f"]) for b in old)

    return op


class MongoSessionStore(QueuedSessionStore):
    """One session's documents in a :class:`MongoStore`."""

    _backend: MongoStore

    def __init__(self, backend: MongoStore, key: SessionKey) -> None:
        super().__init__(backend, key)

    async def load(self) -> StoreState:
        k = self._key.value

        async def op(tx: _Tx) -> StoreState:
            st = await tx.state(k)
            return StoreState(st.next_sender, st.target, st.created)

        result: StoreState = await self._submit(op)
        return result

    def _batch_op(self, batch: tuple[tuple[int, bytes], ...], next_target: int | None) -> _Op:
        """Messages, the sender seq after them and (unless None) the next
        target seq in one document write."""
        frozen = [data for _, data in batch]
        seqs = [seq for seq, _ in batch]
        if sum(len(d) for d in frozen) > _MAX_BATCH_BYTES:
            raise PermanentStoreError(f"mongodb store: a batch of {len(frozen)} messages is over "
                                      f"{_MAX_BATCH_BYTES >> 20} MiB (the document size limit)")
        k = self._key.value

        async def op(tx: _Tx) -> None:
            st = await tx.state(k)
            new_next = check_outbound(list(zip(seqs, frozen, strict=True)), st.next_sender)
            if next_target is not None:
                st.target = next_target
                st.tv += 1
                if not frozen:
                    tx.updates.setdefault(k, {}).update(target=st.target, tv=st.tv)
            if not frozen:
                return
            first = seqs[0]
            tx.insert({"_id": f"{st.g}:{first}:{k}", "k": k, "g": st.g, "f": first,
                       "n": new_next, "t": tx.now, "m": frozen, "tg": st.target, "tv": st.tv})
            st.last_next = new_next

        return op

    async def set_next_sender(self, seq: int) -> None:
        check_seq(seq, "next sender seq")
        k = self._key.value

        async def op(tx: _Tx) -> None:
            st = await tx.state(k)
            if seq >= st.next_sender:
                tx.updates.setdefault(k, {})["base"] = seq
                st.base = seq
                return
            await tx.flush()
            keep = []
            for b in await tx.store.read_batches(k, st.g, 1, seq - 1):
                count = min(int(b["n"]), seq) - int(b["f"])
                keep.append({"k": k, "f": b["f"], "n": int(b["f"]) + count, "t": b["t"],
                             "m": b["m"][:count], "tg": b.get("tg", 1), "tv": b.get("tv", -1)})
            await tx.store.switch_generation(
                k, st, keep, {"base": seq, "target": st.target, "tv": st.tv + 1}, tx.now)

        await self._submit(op)

    async def get_range(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        if self._closed:
            raise StoreClosedError(f"session store {self._key} is closed")
        k = self._key.value
        backend = self._backend

        def pick(batches: list[dict[str, Any]]) -> list[tuple[int, bytes]]:
            return [(int(b["f"]) + i, bytes(m)) for b in batches for i, m in enumerate(b["m"])
                    if int(b["f"]) + i >= begin and (not end or int(b["f"]) + i <= end)]

        if backend.idle(k):
            return pick(await backend.read_batches(k, None, begin, end))

        async def op(tx: _Tx) -> list[tuple[int, bytes]]:
            await tx.flush()
            st = await tx.state(k)
            return pick(await backend.read_batches(k, st.g, begin, end))

        result: list[tuple[int, bytes]] = await self._submit(op)
        return result

    async def reset(self, creation_time_ns: int) -> None:
        k = self._key.value

        async def op(tx: _Tx) -> None:
            await tx.flush()
            st = await tx.state(k)
            await tx.store.switch_generation(
                k, st, [], {"base": 1, "target": 1, "tv": st.tv + 1, "created": creation_time_ns},
                tx.now)

        await self._submit(op)



_OPTIONS = ("collection_prefix", "max_batch", "connect_timeout", "socket_timeout", "tls",
            "tlsCAFile", "tlsCertificateKeyFile", "tlsAllowInvalidHostnames", "authSource",
            "authMechanism", "replicaSet", "journal")


async def open_from_url(url: StoreURL) -> MongoStore:
    """``mongodb://user:password@host:port/database?options`` (the database
    holds the collections; default ``fixplus``).

    Options: ``collection_prefix`` (default ``fixplus_``), ``max_batch``
    (1000), ``connect_timeout`` / ``socket_timeout`` (seconds, 5 / 30),
    ``journal`` (``true``: writes wait for the journal; ``false`` for servers
    without one), TLS: ``tls``, ``tlsCAFile``, ``tlsCertificateKeyFile``,
    ``tlsAllowInvalidHostnames``; ``authSource``, ``authMechanism``,
    ``replicaSet``; ``password_file``.
    """
    url.check_options(_OPTIONS)
    database = url.path.strip("/") or "fixplus"
    if "/" in database or any(c in database for c in ' ."$'):
        raise ConfigError(f"store URL {url.redacted()}: the path must be one database name")
    prefix = url.query.get("collection_prefix", "fixplus_")
    if not _PREFIX.match(prefix):
        raise ConfigError(f"store URL {url.redacted()}: collection_prefix must be letters, "
                          "digits and _ (at most 32)")
    connect, socket = url.float_option("connect_timeout", 5.0), url.float_option(
        "socket_timeout", 30.0)
    journal = url.query.get("journal", "true").lower()
    if journal not in ("true", "false"):
        raise ConfigError(f"store URL {url.redacted()}: journal must be true or false")
    kwargs: dict[str, Any] = {
        "host": url.host or "localhost",
        "port": url.port or 27017,
        "username": url.username,
        "password": url.password,
        "authSource": url.query.get("authSource", database if url.username else None),
        "retryWrites": False,  # a write retried after an unknown outcome is the engine's call
        "connectTimeoutMS": int(connect * 1000),
        "serverSelectionTimeoutMS": int(connect * 1000),
        "socketTimeoutMS": int(socket * 1000),
        "appname": "fixplus",
    }
    for name in ("authMechanism", "replicaSet", "tlsCAFile", "tlsCertificateKeyFile"):
        if name in url.query:
            kwargs[name] = url.query[name]
    for name in ("tls", "tlsAllowInvalidHostnames"):
        if name in url.query:
            kwargs[name] = url.query[name].lower() == "true"
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    client: Any = AsyncMongoClient(**kwargs)
    db = client.get_database(database, write_concern=WriteConcern(j=journal == "true"))
    store = MongoStore(client, db, prefix, url.int_option("max_batch", 1000, minimum=1),
                       url.redacted())
    await store.start()
    return store
