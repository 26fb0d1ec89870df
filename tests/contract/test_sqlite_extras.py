"""SQLite-only behaviour beyond the shared contract: pragmas, migrations,
error classification, group commit."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from pyfixmsg_plus.engine.errors import ConfigError, PermanentError, RetryableError
from pyfixmsg_plus.engine.store.base import SessionKey
from pyfixmsg_plus.engine.store.errors import PermanentStoreError, RetryableStoreError
from pyfixmsg_plus.engine.store.migrations import Migration, check_plan, pending
from pyfixmsg_plus.engine.store.postgres import MIGRATIONS as PG_MIGRATIONS
from pyfixmsg_plus.engine.store.sqlite import MIGRATIONS, SqliteSettings, SqliteStore
from pyfixmsg_plus.engine.store.url import open_store

KEY = SessionKey("FIX.4.4:A->B")


async def test_wal_and_synchronous_full_by_default(tmp_path: Path) -> None:
    store = await SqliteStore.connect(tmp_path / "s.db")
    assert store.settings.synchronous == "FULL"
    await store.close()
    with sqlite3.connect(tmp_path / "s.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_settings_from_url(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}?synchronous=normal&busy_timeout_ms=250&max_batch=7"
    store = await open_store(url)
    assert isinstance(store, SqliteStore)
    assert store.settings == SqliteSettings("NORMAL", 250, 7)
    await store.close()


@pytest.mark.parametrize(
    "query", ["synchronous=OFF", "busy_timeout_ms=-1", "max_batch=0", "max_batch=x", "cache=1"]
)
async def test_bad_settings_are_config_errors(tmp_path: Path, query: str) -> None:
    with pytest.raises(ConfigError, match=query.split("=", maxsplit=1)[0]):
        await open_store(f"sqlite:///{tmp_path / 's.db'}?{query}")


def test_migrations_are_ordered_from_one() -> None:
    versions = [m.version for m in MIGRATIONS]
    assert versions == list(range(1, len(MIGRATIONS) + 1))
    assert all(m.statements and m.description for m in MIGRATIONS)
    assert [m.version for m in PG_MIGRATIONS] == list(range(1, len(PG_MIGRATIONS) + 1))


def test_the_shared_migration_plan_checks() -> None:
    plan = (Migration(1, "a", ("x",)), Migration(2, "b", ("y",)))
    assert check_plan(plan) == plan
    assert [m.version for m in pending(plan, 0, "s")] == [1, 2]
    assert [m.version for m in pending(plan, 1, "s")] == [2]
    assert pending(plan, 2, "s") == []
    with pytest.raises(PermanentStoreError,
                       match=r"^s: schema version 3 is newer than this engine supports \(2\)"):
        pending(plan, 3, "s")
    for bad in ((Migration(2, "a", ("x",)),), (Migration(1, "a", ()),),
                (Migration(1, "a", ("x",)), Migration(3, "c", ("z",)))):
        with pytest.raises(ValueError, match="expected version"):
            check_plan(bad)


async def test_schema_version_recorded_and_migrations_run_once(tmp_path: Path) -> None:
    for _ in range(2):
        store = await SqliteStore.connect(tmp_path / "s.db")
        assert store.schema_version == MIGRATIONS[-1].version
        await store.close()
    with sqlite3.connect(tmp_path / "s.db") as conn:
        rows = conn.execute("SELECT version FROM schema_version ORDER BY version").fetchall()
        assert [r[0] for r in rows] == [m.version for m in MIGRATIONS]
        columns = {r[1] for r in conn.execute("PRAGMA table_info(messages)")}
        assert {"session_key", "seq", "sent_time_ns", "msg_type", "data"} <= columns


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    store = await SqliteStore.connect(tmp_path / "s.db")
    await store.close()
    with sqlite3.connect(tmp_path / "s.db") as conn:
        conn.execute("INSERT INTO schema_version VALUES (999, 'from the future', 0)")
    with pytest.raises(PermanentStoreError, match=r"sqlite store .*s\.db: schema version 999 "
                                                  "is newer than this engine"):
        await SqliteStore.connect(tmp_path / "s.db")


async def test_rows_record_msg_type_and_sent_time(tmp_path: Path) -> None:
    store = await SqliteStore.connect(tmp_path / "s.db")
    s = await store.open(KEY)
    before = time.time_ns()
    await s.save_outbound([(1, b"8=FIX.4.4\x019=5\x0135=A\x01"), (2, b"no type")])
    await store.close()
    with sqlite3.connect(tmp_path / "s.db") as conn:
        rows = conn.execute("SELECT seq, msg_type, sent_time_ns FROM messages ORDER BY seq")
        (s1, t1, ts1), (s2, t2, _) = rows.fetchall()
    assert (s1, t1, s2, t2) == (1, "A", 2, None)
    assert ts1 >= before


async def test_not_a_database_is_permanent(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not an sqlite file" * 200)
    with pytest.raises(PermanentStoreError) as info:
        await SqliteStore.connect(path)
    assert isinstance(info.value, PermanentError)
    assert not isinstance(info.value, RetryableError)


async def test_missing_directory_is_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        await SqliteStore.connect(tmp_path / "nope" / "s.db")


async def test_locked_database_is_retryable_and_writes_nothing(tmp_path: Path) -> None:
    store = await SqliteStore.connect(tmp_path / "s.db", SqliteSettings(busy_timeout_ms=50))
    s = await store.open(KEY)
    other = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        with pytest.raises(RetryableStoreError) as info:
            await s.save_outbound([(1, b"x")])
        assert isinstance(info.value, RetryableError)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert (await s.load()).next_sender_seq == 1
    await s.save_outbound([(1, b"x")])  # the retry succeeds
    assert await s.get_range(1, 0) == [(1, b"x")]
    await store.close()


async def test_group_commit_batches_concurrent_senders(tmp_path: Path) -> None:
    store = await SqliteStore.connect(tmp_path / "s.db")
    sessions = [await store.open(SessionKey(f"S{i}")) for i in range(100)]
    before = store.transactions
    await asyncio.gather(*(s.save_outbound([(1, b"m")]) for s in sessions))
    assert store.transactions - before < 20  # far fewer commits than calls
    for s in sessions:
        assert (await s.load()).next_sender_seq == 2
    await store.close()


async def test_one_bad_job_does_not_fail_its_batch(tmp_path: Path) -> None:
    store = await SqliteStore.connect(tmp_path / "s.db")
    a, b = await store.open(SessionKey("A")), await store.open(SessionKey("B"))
    results = await asyncio.gather(
        a.save_outbound([(1, b"a1")]),
        b.save_outbound([(5, b"gap")]),
        b.save_outbound([(1, b"b1")]),
        return_exceptions=True,
    )
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], PermanentStoreError)
    assert await a.get_range(1, 0) == [(1, b"a1")]
    assert await b.get_range(1, 0) == [(1, b"b1")]
    await store.close()


async def test_event_loop_is_not_blocked_by_disk_io(tmp_path: Path) -> None:
    store = await SqliteStore.connect(tmp_path / "s.db")
    s = await store.open(KEY)
    main_thread = threading.get_ident()
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    t = asyncio.ensure_future(ticker())
    await s.save_outbound([(seq, b"x" * 100_000) for seq in range(1, 201)])
    t.cancel()
    assert ticks > 1  # the loop kept running while the worker wrote 20 MB
    assert threading.get_ident() == main_thread
    await store.close()


def test_set_up_steps_are_retried_while_another_process_holds_the_new_file() -> None:
    import sqlite3

    from pyfixmsg_plus.engine.store.sqlite_worker import retry_busy as _retry_busy

    calls: list[int] = []

    def busy_twice() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise sqlite3.OperationalError("database is locked")
        return "wal"

    assert _retry_busy(busy_twice, 1.0) == "wal" and len(calls) == 3

    def broken() -> str:
        calls.append(1)
        raise sqlite3.OperationalError("no such table: x")

    calls.clear()
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        _retry_busy(broken, 1.0)
    assert len(calls) == 1  # not a lock: no retry

    def always_busy() -> str:
        raise sqlite3.OperationalError("database is locked")

    with pytest.raises(sqlite3.OperationalError, match="locked"):
        _retry_busy(always_busy, 0.05)
