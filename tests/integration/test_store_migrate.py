"""``fixplus store migrate`` between every pair of durable backends (SQLite,
PostgreSQL, Redis, MySQL/MariaDB, MongoDB/FerretDB), and its guarantees:
verified by sha256, all or nothing, resumable, progress on stderr."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pyfixmsg_plus.engine.cli.main import main
from pyfixmsg_plus.engine.store.admin import SessionExport, StoreAdmin, admin_of
from pyfixmsg_plus.engine.store.base import SessionKey, StoreState
from pyfixmsg_plus.engine.store.errors import PermanentStoreError
from pyfixmsg_plus.engine.store.migrate import MigrationError, migrate_sessions, session_digest
from pyfixmsg_plus.engine.store.url import open_store

from tests.contract.store_servers import (
    drop_mongodb_collections,
    drop_mysql_tables,
    drop_pg_schema,
    flush_redis_prefix,
    mongodb_url,
    mysql_url,
    pg_dsn,
    redis_url,
)

A = SessionKey("FIX.4.4:BANK->BROKER")
B = SessionKey("FIX.4.4:BANK->OTHER")
C = SessionKey("FIX.4.2:FUND->BANK")
DURABLE = ["sqlite", "postgresql", "redis", "mysql", "mongodb"]


def wire(seq: int, extra: bytes = b"") -> bytes:
    return f"8=FIX.4.4\x019=5\x0135=D\x0134={seq}\x01".encode() + extra + b"10=000\x01"


class Stores:
    """Fresh, empty storage per backend for one test; dropped afterwards."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.cleanups: list[Callable[[], None]] = []

    def url(self, kind: str) -> str:
        tag = uuid.uuid4().hex[:12]
        if kind == "sqlite":
            return f"sqlite:///{self.tmp_path / f'{tag}.db'}"
        if kind == "postgresql":
            dsn = pg_dsn()
            self.cleanups.append(lambda: drop_pg_schema(dsn, f"t_{tag}"))
            return f"{dsn}?schema=t_{tag}"
        if kind == "redis":
            base = redis_url()
            self.cleanups.append(lambda: flush_redis_prefix(base, f"t{tag}"))
            return f"{base}?prefix=t{tag}"
        if kind == "mysql":
            base = mysql_url()
            self.cleanups.append(lambda: drop_mysql_tables(base, f"t{tag}_"))
            return f"{base}?table_prefix=t{tag}_"
        base = mongodb_url()
        self.cleanups.append(lambda: drop_mongodb_collections(base, f"t{tag}_"))
        return f"{base}{'&' if '?' in base else '?'}collection_prefix=t{tag}_"


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Stores]:
    s = Stores(tmp_path)
    yield s
    for cleanup in s.cleanups:
        cleanup()


async def fill(url: str) -> None:
    """A: messages with a gap, binary payloads, a target; B: rewound; C: empty."""
    store = await open_store(url)
    a = await store.open(A)
    await a.save_outbound([(i, wire(i, bytes([0, 1, 255]) * i)) for i in range(1, 6)])
    await a.set_next_sender(8)
    await a.save_outbound([(8, wire(8)), (9, wire(9))])
    await a.set_next_target(42)
    b = await store.open(B)
    await b.save_outbound([(i, wire(i)) for i in range(1, 4)])
    await b.set_next_sender(2)
    await store.open(C)
    await store.close()


async def snapshot(url: str) -> dict[SessionKey, tuple[StoreState, list[tuple[int, bytes]], str]]:
    store = await open_store(url)
    admin = admin_of(store)
    out = {}
    for info in await admin.sessions():
        data = await admin.export_session(info.key)
        assert data is not None
        out[info.key] = (data.state, [(m.seq, m.data) for m in data.messages],
                         session_digest(data))
    await store.close()
    return out


@pytest.mark.parametrize(("src", "dst"), list(itertools.permutations(DURABLE, 2)),
                         ids=str)
def test_migrate_between_every_pair(src: str, dst: str, stores: Stores,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    src_url, dst_url = stores.url(src), stores.url(dst)
    asyncio.run(fill(src_url))
    assert main(["store", "migrate", "--store", src_url, "--to", dst_url, "--all"]) == 0
    out, err = capsys.readouterr()
    assert "verified 3 session(s), 8 message(s)" in out
    assert "[1/3]" in err and "verified sha256" in err  # progress on stderr
    before, after = asyncio.run(snapshot(src_url)), asyncio.run(snapshot(dst_url))
    assert set(after) == {A, B, C}
    for key, (state, messages, digest) in before.items():
        copy = after[key]
        assert (copy[0].next_sender_seq, copy[0].next_target_seq) == (
            state.next_sender_seq, state.next_target_seq), key
        assert copy[1] == messages and copy[2] == digest, key
    assert after[A][0].next_sender_seq == 10 and after[A][0].next_target_seq == 42
    assert [seq for seq, _ in after[A][1]] == [1, 2, 3, 4, 5, 8, 9]
    assert after[B][1] == [(1, wire(1))] and after[B][0].next_sender_seq == 2


def test_memory_source_with_nothing_in_it(stores: Stores,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["store", "migrate", "--store", "memory://", "--to", stores.url("sqlite"),
                 "--all"]) == 1
    assert "has no sessions" in capsys.readouterr().err


class _Failing:
    """A target admin whose n-th import fails, or whose read-back is altered."""

    def __init__(self, inner: StoreAdmin, fail_import: int = 0, corrupt: bool = False) -> None:
        self.inner = inner
        self.fail_import = fail_import
        self.corrupt = corrupt
        self.imports = 0
        self.imported: set[SessionKey] = set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def import_session(self, data: SessionExport, *, replace: bool = False) -> None:
        self.imports += 1
        if self.imports == self.fail_import:
            raise PermanentStoreError("disk full (injected)")
        await self.inner.import_session(data, replace=replace)
        self.imported.add(data.key)

    async def export_session(self, key: SessionKey) -> SessionExport | None:
        data = await self.inner.export_session(key)
        if self.corrupt and key in self.imported and data is not None and data.messages:
            data = SessionExport(data.key, data.state, list(data.messages)[:-1])
        return data


@pytest.mark.parametrize("how", ["import fails", "copy differs"])
async def test_failure_leaves_the_target_as_before(how: str, stores: Stores) -> None:
    src_url, dst_url = stores.url("sqlite"), stores.url("sqlite")
    await fill(src_url)
    dst = await open_store(dst_url)  # the target already has B (to be replaced) and its own D
    d = await dst.open(B)
    await d.save_outbound([(1, b"old B")])
    await (await dst.open(SessionKey("FIX.4.4:D->E"))).set_next_target(5)
    await dst.close()
    before = await snapshot(dst_url)

    src, dst = await open_store(src_url), await open_store(dst_url)
    failing = _Failing(admin_of(dst), fail_import=3 if how == "import fails" else 0,
                       corrupt=how == "copy differs")
    lines: list[str] = []
    with pytest.raises(MigrationError, match="put back" if how == "import fails" else "differs"):
        await migrate_sessions(admin_of(src), failing, [C, B, A], replace=True,  # type: ignore[arg-type]
                               progress=lines.append)
    await src.close()
    await dst.close()
    assert await snapshot(dst_url) == before
    assert any(line.startswith("restored") for line in lines)


async def test_refusal_writes_nothing(stores: Stores) -> None:
    src_url, dst_url = stores.url("sqlite"), stores.url("sqlite")
    await fill(src_url)
    dst = await open_store(dst_url)
    await (await dst.open(A)).set_next_target(3)  # A differs in the target
    await dst.close()
    before = await snapshot(dst_url)
    src, dst = await open_store(src_url), await open_store(dst_url)
    with pytest.raises(PermanentStoreError, match="--replace"):
        await migrate_sessions(admin_of(src), admin_of(dst), [C, A])
    await src.close()
    await dst.close()
    assert await snapshot(dst_url) == before


def test_a_killed_migration_resumes(stores: Stores, capsys: pytest.CaptureFixture[str]) -> None:
    """As if a first run was SIGKILLed after copying A: the second run skips
    the identical copy of A and copies the rest."""
    src_url, dst_url = stores.url("sqlite"), stores.url("postgresql")

    async def first_run() -> None:
        await fill(src_url)
        src, dst = await open_store(src_url), await open_store(dst_url)
        data = await admin_of(src).export_session(A)
        assert data is not None
        await admin_of(dst).import_session(data)
        await src.close()
        await dst.close()

    asyncio.run(first_run())
    assert main(["store", "migrate", "--store", src_url, "--to", dst_url, "--all"]) == 0
    out, err = capsys.readouterr()
    assert f"already there {A}" in out and f"migrated {B}" in out
    assert "identical copy" in err
    assert asyncio.run(snapshot(src_url)) == asyncio.run(snapshot(dst_url))
