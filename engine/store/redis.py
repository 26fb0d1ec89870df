"""Redis message store (``redis://`` or ``rediss://`` for TLS) on redis.asyncio.

Theory of operation
-------------------

Every operation is one **Lua script** run by the server atomically: a
``save_outbound`` checks that its messages start at the session's next
sender sequence number, stores them and advances the number in one step,
or changes nothing.  Several engine processes can therefore share a server.

Keys, with ``P`` the ``prefix`` option (default ``fixplus``) and ``K`` the
session key (the ``{K}`` hash tag keeps a session's keys together)::

    P:sessions          set of session keys
    P:{K}:state         hash: sender, target, created, updated (ns)
    P:{K}:idx           sorted set of stored sequence numbers (score = seq)
    P:{K}:time          sorted set seq -> send time in ms (retention, queries)
    P:{K}:m:<seq>       string: 8-byte send time (ns, big endian) + wire bytes

A resend range is ``ZRANGEBYSCORE`` on ``idx`` and one ``GET`` per message,
inside one script.  With the ``ttl_days`` option every message key gets an
expiry (Redis deletes old messages by itself); a resend of an expired
message is answered with a gap fill, like any message not stored.

Calls are queued and a single writer task sends everything queued in one
**pipeline** (group commit: one round trip, and with ``appendfsync always``
one fsync, for many concurrent sends); one connection runs them in call
order.  Callers are answered when the server replied, i.e. after the write
reached the append-only file.

Durability is the server's: use ``appendonly yes`` with ``appendfsync
always`` for persist-before-send to survive a Redis crash (``everysec``
may lose the last second).  A lost connection is a
:class:`RetryableStoreError` (if it happened after the commands were sent,
the outcome is unknown: the engine reloads its state); the next call
reconnects.  Scripts lost by a server restart are loaded again.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis
from redis import exceptions as rexc
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

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
    check_range,
    check_seq,
)
from .groupcommit import Job, QueuedSessionStore, Writer

if TYPE_CHECKING:
    from .url import StoreURL

__all__ = ["RedisSessionStore", "RedisStore", "open_from_url"]

_TIME = struct.Struct(">Q")

# KEYS: state, idx, time, sessions.  ARGV: session key, message key prefix, now ns, ...
_HEADER = """
local function init()
  if redis.call('EXISTS', KEYS[1]) == 0 then
    redis.call('HSET', KEYS[1], 'sender', 1, 'target', 1, 'created', ARGV[3], 'updated', ARGV[3])
    redis.call('SADD', KEYS[4], ARGV[1])
  end
end
local function drop_from(first)
  local seqs = redis.call('ZRANGEBYSCORE', KEYS[2], first, '+inf')
  for _, s in ipairs(seqs) do
    redis.call('DEL', ARGV[2] .. s)
    redis.call('ZREM', KEYS[3], s)
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[2], first, '+inf')
end
"""

_SCRIPTS: dict[str, str] = {
    "load": """
init()
return redis.call('HMGET', KEYS[1], 'sender', 'target', 'created')
""",
    # ARGV[4] first seq (0: no messages), ARGV[5] ttl seconds (0: none),
    # ARGV[6] now ms, ARGV[7] next target (0: unchanged), ARGV[8..] values
    "save": """
init()
local nxt = tonumber(redis.call('HGET', KEYS[1], 'sender'))
local first = tonumber(ARGV[4])
local n = #ARGV - 7
if n > 0 and first ~= nxt then return {0, nxt} end
local ttl = tonumber(ARGV[5])
for i = 1, n do
  local seq = string.format('%d', first + i - 1)
  if ttl > 0 then
    redis.call('SET', ARGV[2] .. seq, ARGV[7 + i], 'EX', ttl)
  else
    redis.call('SET', ARGV[2] .. seq, ARGV[7 + i])
  end
  redis.call('ZADD', KEYS[2], seq, seq)
  redis.call('ZADD', KEYS[3], ARGV[6], seq)
end
local new = nxt
if n > 0 then new = first + n end
new = string.format('%d', new)
if ARGV[7] ~= '0' then
  redis.call('HSET', KEYS[1], 'sender', new, 'target', ARGV[7], 'updated', ARGV[3])
else
  redis.call('HSET', KEYS[1], 'sender', new, 'updated', ARGV[3])
end
return {1, new}
""",
    # ARGV[4] seq
    "set_sender": """
init()
drop_from(ARGV[4])
redis.call('HSET', KEYS[1], 'sender', ARGV[4], 'updated', ARGV[3])
return 1
""",
    # ARGV[4] creation time ns
    "reset": """
init()
drop_from(1)
redis.call('DEL', KEYS[3])
redis.call('HSET', KEYS[1], 'sender', 1, 'target', 1, 'created', ARGV[4], 'updated', ARGV[3])
return 1
""",
    # ARGV[4] begin, ARGV[5] end ('+inf' for no limit)
    "range": """
local seqs = redis.call('ZRANGEBYSCORE', KEYS[2], ARGV[4], ARGV[5])
local out = {}
for _, s in ipairs(seqs) do
  local v = redis.call('GET', ARGV[2] .. s)
  if v then
    out[#out + 1] = s
    out[#out + 1] = v
  else
    redis.call('ZREM', KEYS[2], s)
    redis.call('ZREM', KEYS[3], s)
  end
end
return out
""",
    # ARGV[4] cutoff ms (exclusive)
    "prune_before": """
local seqs = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[4])
for _, s in ipairs(seqs) do
  redis.call('DEL', ARGV[2] .. s)
  redis.call('ZREM', KEYS[2], s)
end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[4])
return #seqs
""",
    # ARGV[4] idle cutoff ns: drop the session if not updated since
    "drop_idle": """
local updated = redis.call('HGET', KEYS[1], 'updated')
if updated and tonumber(updated) >= tonumber(ARGV[4]) then return -1 end
local n = redis.call('ZCARD', KEYS[2])
drop_from(1)
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
redis.call('SREM', KEYS[4], ARGV[1])
return n
""",
    # ARGV[4] sender, [5] target, [6] created, [7] replace (0/1), [8] ttl,
    # then (seq, time ms, value) triples
    "import": """
local exists = redis.call('EXISTS', KEYS[1]) == 1
if exists and ARGV[7] == '0' then
  local st = redis.call('HMGET', KEYS[1], 'sender', 'target')
  if st[1] ~= '1' or st[2] ~= '1' or redis.call('ZCARD', KEYS[2]) > 0 then
    return {0, st[1], st[2]}
  end
end
drop_from(1)
redis.call('DEL', KEYS[3])
local ttl = tonumber(ARGV[8])
for i = 9, #ARGV, 3 do
  local seq = ARGV[i]
  if ttl > 0 then
    redis.call('SET', ARGV[2] .. seq, ARGV[i + 2], 'EX', ttl)
  else
    redis.call('SET', ARGV[2] .. seq, ARGV[i + 2])
  end
  redis.call('ZADD', KEYS[2], seq, seq)
  redis.call('ZADD', KEYS[3], ARGV[i + 1], seq)
end
redis.call('HSET', KEYS[1], 'sender', ARGV[4], 'target', ARGV[5], 'created', ARGV[6],
           'updated', ARGV[3])
redis.call('SADD', KEYS[4], ARGV[1])
return {1}
""",
}


def _translate(exc: BaseException, where: str, sent: bool = False) -> StoreError:
    if isinstance(exc, StoreError):
        return exc
    text = f"redis store {where}: {type(exc).__name__}: {exc}"
    if isinstance(exc, rexc.ConnectionError | rexc.TimeoutError | OSError | TimeoutError) or (
        isinstance(exc, rexc.ResponseError)
        and str(exc).startswith(("LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN", "READONLY"))
    ):
        if sent:
            text += " (the outcome is unknown; reload the state)"
        return RetryableStoreError(text)
    return PermanentStoreError(text)


class _Call:
    """One script call: what a queued job of this store runs."""

    __slots__ = ("args", "keys", "parse", "script")

    def __init__(self, script: str, keys: list[str], args: list[Any],
                 parse: Callable[[Any], Any]) -> None:
        self.script = script
        self.keys = keys
        self.args = args
        self.parse = parse


def _raw(value: Any) -> Any:
    return value


class RedisStore:
    """Backend keeping every session in Redis (see the module docstring)."""

    def __init__(self, client: Any, prefix: str, ttl: int, max_batch: int, where: str) -> None:
        self.client = client
        self.prefix = prefix
        self.ttl = ttl
        self.max_batch = max_batch
        self.where = where
        self.pipelines = 0  # round trips of the writer, for tests and metrics
        self._sha: dict[str, str] = {}
        self._closed = False
        self._writer: Writer | None = None

    async def start(self) -> None:
        try:
            await self._load_scripts()
        except Exception as e:
            with contextlib.suppress(Exception):
                await self.client.aclose()
            raise _translate(e, self.where) from None
        self._writer = Writer("redis-store writer", self.max_batch, self._execute,
                              lambda e: _translate(e, self.where), f"redis store {self.where}")

    async def _load_scripts(self) -> None:
        for name, body in _SCRIPTS.items():
            self._sha[name] = await self.client.script_load(_HEADER + body)

    # --- keys ------------------------------------------------------------------

    def keys_of(self, k: str) -> list[str]:
        p = self.prefix
        return [f"{p}:{{{k}}}:state", f"{p}:{{{k}}}:idx", f"{p}:{{{k}}}:time", f"{p}:sessions"]

    def argv(self, k: str, *more: Any) -> list[Any]:
        return [k, f"{self.prefix}:{{{k}}}:m:", str(time.time_ns()), *more]

    # --- the writer ------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def call(self, k: str, script: str, args: Sequence[Any],
             parse: Callable[[Any], Any] = _raw) -> _Call:
        """The script call of one job on session ``k``."""
        return _Call(script, self.keys_of(k), self.argv(k, *args), parse)

    def submit(self, k: str, op: _Call, chained: bool = False) -> asyncio.Future[Any]:
        if self._closed or self._writer is None:
            raise StoreClosedError(f"redis store {self.where} is closed")
        return self._writer.submit(k, op, chained=chained)

    async def _execute(self, batch: list[Job]) -> None:
        """One pipeline per round; a session's second batch of one chain
        waits for the next round, so that it is refused if the first fails."""
        assert self._writer is not None
        chains = self._writer.chains
        todo = batch
        while todo:
            round_: list[Job] = []
            seen: set[tuple[str, int]] = set()
            rest: list[Job] = []
            for i, job in enumerate(todo):
                if job.chain is not None:
                    if (job.key, job.chain) in seen:
                        rest = todo[i:]
                        break
                    seen.add((job.key, job.chain))
                job.error = chains.blocked(job)
                if job.error is None:
                    round_.append(job)
            await self._round(round_)
            for job in round_:
                chains.failed(job)
            todo = rest

    async def _round(self, batch: list[Job]) -> None:
        todo = batch
        for attempt in range(2):
            if not todo:
                return
            try:
                async with self.client.pipeline(transaction=False) as pipe:
                    for job in todo:
                        c = job.op
                        pipe.evalsha(self._sha[c.script], len(c.keys), *c.keys, *c.args)
                    results = await pipe.execute(raise_on_error=False)
            except Exception as e:
                err = _translate(e, self.where, sent=True)
                for job in todo:
                    job.error = type(err)(*err.args)
                return
            self.pipelines += 1
            again: list[Job] = []
            for job, res in zip(todo, results, strict=True):
                if isinstance(res, rexc.NoScriptError) and attempt == 0:
                    again.append(job)  # not run: the server restarted
                elif isinstance(res, Exception):
                    job.error = _translate(res, self.where)
                else:
                    try:
                        job.result = job.op.parse(res)
                    except StoreError as e:
                        job.error = e
            if not again:
                return
            try:
                await self._load_scripts()
            except Exception as e:
                for job in again:
                    job.error = _translate(e, self.where)
                return
            todo = again

    async def open(self, key: SessionKey) -> RedisSessionStore:
        await self.submit(key.value, self.call(key.value, "load", ()))
        return RedisSessionStore(self, key)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._writer is not None:
            await self._writer.stop()
        with contextlib.suppress(Exception):
            await self.client.aclose()

    # --- administration (StoreAdmin) -----------------------------------------------

    async def _call(self, coro: Any) -> Any:
        if self._closed:
            raise StoreClosedError(f"redis store {self.where} is closed")
        try:
            return await coro
        except Exception as e:
            raise _translate(e, self.where) from None

    async def _keys(self) -> list[str]:
        members = await self._call(self.client.smembers(f"{self.prefix}:sessions"))
        return sorted(m.decode() for m in members)

    async def sessions(self) -> list[SessionInfo]:
        out: list[SessionInfo] = []
        for k in await self._keys():
            state_key, idx, _, _ = self.keys_of(k)
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.hmget(state_key, "sender", "target", "created", "updated")
                pipe.zcard(idx)
                row, count = await self._call(pipe.execute())
            if row[0] is None:
                continue
            out.append(SessionInfo(SessionKey(k), StoreState(int(row[0]), int(row[1]),
                                                             int(row[2])), int(row[3]), int(count)))
        return out

    async def query(self, key: SessionKey, q: MessageQuery) -> list[StoredMessage]:
        end = q.end or "+inf"
        rows = await self._call(
            self.client.evalsha(self._sha["range"], 4, *self.keys_of(key.value),
                                *self.argv(key.value, q.begin, end)))
        out: list[StoredMessage] = []
        for i in range(0, len(rows), 2):
            value = bytes(rows[i + 1])
            data = value[_TIME.size:]
            m = StoredMessage(int(rows[i]), _TIME.unpack_from(value)[0], msg_type_of(data), data)
            if match_query(m, q):
                out.append(m)
                if q.limit is not None and len(out) >= q.limit:
                    break
        return out

    async def prune(
        self,
        *,
        messages_before_ns: int | None = None,
        sessions_idle_before_ns: int | None = None,
        keep: Iterable[SessionKey] = (),
    ) -> PruneResult:
        kept = {k.value for k in keep}
        messages = sessions = 0
        for k in await self._keys():
            if sessions_idle_before_ns is not None and k not in kept:
                n = int(await self._call(self.client.evalsha(
                    self._sha["drop_idle"], 4, *self.keys_of(k),
                    *self.argv(k, sessions_idle_before_ns))))
                if n >= 0:
                    sessions += 1
                    messages += n
                    continue
            if messages_before_ns is not None:
                messages += int(await self._call(self.client.evalsha(
                    self._sha["prune_before"], 4, *self.keys_of(k),
                    *self.argv(k, messages_before_ns // 1_000_000))))
        return PruneResult(messages=messages, sessions=sessions)

    async def export_session(self, key: SessionKey) -> SessionExport | None:
        row = await self._call(self.client.hmget(self.keys_of(key.value)[0], "sender", "target",
                                                 "created"))
        if row[0] is None:
            return None
        state = StoreState(int(row[0]), int(row[1]), int(row[2]))
        return SessionExport(key, state, await self.query(key, MessageQuery()))

    async def import_session(self, data: SessionExport, *, replace: bool = False) -> None:
        st = data.state
        args: list[Any] = [st.next_sender_seq, st.next_target_seq, st.creation_time_ns,
                           "1" if replace else "0", self.ttl]
        for m in data.messages:
            args += [m.seq, m.sent_time_ns // 1_000_000, _TIME.pack(m.sent_time_ns) + m.data]
        k = data.key.value

        def parse(res: Any) -> None:
            if int(res[0]) == 0:
                raise PermanentStoreError(
                    f"session {k} already has state in {self.where} (sender {res[1]!r}, target "
                    f"{res[2]!r}); pass replace to overwrite it")

        await self.submit(k, self.call(k, "import", args, parse))


def _parse_state(res: Any) -> StoreState:
    return StoreState(int(res[0]), int(res[1]), int(res[2]))


class RedisSessionStore(QueuedSessionStore):
    """One session's keys in a :class:`RedisStore`."""

    _backend: RedisStore

    def __init__(self, backend: RedisStore, key: SessionKey) -> None:
        super().__init__(backend, key)

    def _run(self, script: str, args: Sequence[Any],
             parse: Callable[[Any], Any] = _raw) -> asyncio.Future[Any]:
        return self._submit(self._backend.call(self._key.value, script, args, parse))

    async def load(self) -> StoreState:
        result: StoreState = await self._run("load", (), _parse_state)
        return result

    def _batch_op(self, frozen: tuple[tuple[int, bytes], ...], next_target: int | None) -> _Call:
        """Messages and the next target seq in one script (atomic)."""
        now = time.time_ns()
        stamp = _TIME.pack(now)
        values = [stamp + data for _, data in frozen]
        first = frozen[0][0] if frozen else 0

        def parse(res: Any) -> None:
            if int(res[0]) == 0:
                check_outbound(frozen, int(res[1]))  # raises StoreSequenceError
                raise StoreSequenceError(f"save_outbound: next sender seq is {int(res[1])}")

        return self._backend.call(self._key.value, "save", [
            first, self._backend.ttl, now // 1_000_000, next_target or 0, *values], parse)

    async def set_next_sender(self, seq: int) -> None:
        check_seq(seq, "next sender seq")
        await self._run("set_sender", [seq])

    async def get_range(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        check_range(begin, end)
        def parse(rows: Any) -> list[tuple[int, bytes]]:
            return [(int(rows[i]), bytes(rows[i + 1][_TIME.size:]))
                    for i in range(0, len(rows), 2)]

        result: list[tuple[int, bytes]] = await self._run(
            "range", [begin, end if end != 0 else "+inf"], parse)
        return result

    async def reset(self, creation_time_ns: int) -> None:
        await self._run("reset", [creation_time_ns])


_OPTIONS = ("prefix", "ttl_days", "max_batch", "socket_timeout", "connect_timeout",
            "ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_cert_reqs", "ssl_check_hostname")


async def open_from_url(url: StoreURL) -> RedisStore:
    """``redis://[user][:password]@host:port/db`` or ``rediss://`` (TLS).

    Options: ``prefix`` (key prefix, default ``fixplus``), ``ttl_days``
    (expire stored messages after this many days; default 0: never),
    ``max_batch`` (1000), ``socket_timeout`` / ``connect_timeout`` (seconds,
    10 / 5), TLS: ``ssl_ca_certs``, ``ssl_certfile``, ``ssl_keyfile``,
    ``ssl_cert_reqs`` (``required``/``optional``/``none``),
    ``ssl_check_hostname`` (``true``/``false``); ``password_file``.
    """
    url.check_options(_OPTIONS)
    db_text = url.path.strip("/") or "0"
    if not db_text.isdigit():
        raise ConfigError(f"store URL {url.redacted()}: the path is a database number, e.g. /0")
    prefix = url.query.get("prefix", "fixplus")
    if not prefix or any(c in prefix for c in "{}: "):
        raise ConfigError(f"store URL {url.redacted()}: prefix must be non-empty, no {{}}: or "
                          "spaces")
    ttl_days = url.int_option("ttl_days", 0)
    kwargs: dict[str, Any] = {
        "host": url.host or "localhost",
        "port": url.port or 6379,
        "db": int(db_text),
        "username": url.username,
        "password": url.password,
        "socket_timeout": float(url.query.get("socket_timeout", "10")),
        "socket_connect_timeout": float(url.query.get("connect_timeout", "5")),
        # no silent retries: a write retried after an unknown outcome must be
        # the engine's decision (it reloads the state first)
        "retry": Retry(NoBackoff(), 0),
    }
    if url.scheme == "rediss":
        kwargs["ssl"] = True
        for name in ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_cert_reqs"):
            if name in url.query:
                kwargs[name] = url.query[name]
        if "ssl_check_hostname" in url.query:
            kwargs["ssl_check_hostname"] = url.query["ssl_check_hostname"].lower() == "true"
    elif any(n.startswith("ssl_") for n in url.query):
        raise ConfigError(f"store URL {url.redacted()}: ssl_* options need rediss://")
    client = aioredis.Redis(**kwargs)
    store = RedisStore(client, prefix, ttl_days * 86400,
                       url.int_option("max_batch", 1000, minimum=1), url.redacted())
    await store.start()
    return store
