"""``fixplus store …`` against real stores: SQLite, and PostgreSQL/Redis for
migration."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from pyfixmsg_plus.engine.cli.main import main
from pyfixmsg_plus.engine.cli.store import format_time, parse_time
from pyfixmsg_plus.engine.store.admin import admin_of
from pyfixmsg_plus.engine.store.base import SessionKey
from pyfixmsg_plus.engine.store.url import open_store

from tests.contract.store_servers import drop_pg_schema, flush_redis_prefix, pg_dsn, redis_url

KEY = "FIX.4.4:BANK->BROKER"


def wire(seq: int, msg_type: str) -> bytes:
    return f"8=FIX.4.4\x019=5\x0135={msg_type}\x0134={seq}\x0111=ID{seq}\x01".encode() + \
        b"10=000\x01"


async def fill(url: str, count: int = 10, target: int = 7) -> None:
    store = await open_store(url)
    s = await store.open(SessionKey(KEY))
    await s.save_outbound([(i, wire(i, "D" if i % 2 else "8")) for i in range(1, count + 1)])
    await s.set_next_target(target)
    await store.open(SessionKey("FIX.4.4:BANK->OTHER"))
    await store.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    asyncio.run(fill(url))
    return url


def test_sessions_and_show(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["store", "sessions", "--store", sqlite_url]) == 0
    out = capsys.readouterr().out
    assert KEY in out and "FIX.4.4:BANK->OTHER" in out
    assert main(["store", "show", "--store", sqlite_url, KEY]) == 0
    out = capsys.readouterr().out
    assert "next sender seq:  11" in out
    assert "next target seq:  7" in out
    assert "stored messages:  10" in out
    assert main(["store", "show", "--store", sqlite_url, "FIX.4.4:NO->ONE"]) == 1


def test_show_from_a_config_file(sqlite_url: str, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "engine.yaml"
    cfg.write_text(f"store: {sqlite_url}\nsessions:\n  - role: acceptor\n    beginString: "
                   "FIX.4.4\n    senderCompId: BANK\n    targetCompId: BROKER\n"
                   "    acceptPort: 0\n    authentication: {mode: none}\n")
    assert main(["store", "show", "-c", str(cfg), KEY]) == 0
    assert "next sender seq:  11" in capsys.readouterr().out


def test_list_filters(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["store", "list", "--store", sqlite_url, KEY, "--from", "3", "--to", "6"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [int(line.split()[0]) for line in lines] == [3, 4, 5, 6]
    assert "35=D|34=3|11=ID3|" in lines[0]
    assert main(["store", "list", "--store", sqlite_url, KEY, "--type", "8", "--limit", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [int(line.split()[0]) for line in lines] == [2, 4]
    assert main(["store", "list", "--store", sqlite_url, KEY, "--since", "1h"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 10
    assert main(["store", "list", "--store", sqlite_url, KEY, "--until", "1h"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["store", "list", "--store", sqlite_url, KEY, "--since",
                 "2000-01-01T00:00:00", "--until", "2999-01-01T00:00:00", "--type", "D"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 5
    assert main(["store", "list", "--store", sqlite_url, KEY, "--raw", "--to", "1"]) == 0
    assert capsys.readouterr().out.startswith("8=FIX.4.4\x01")


def test_set_needs_yes(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["store", "set", "--store", sqlite_url, KEY, "--sender", "5"]) == 1
    out = capsys.readouterr().out
    assert "nothing changed" in out and "11 -> 5" in out and "deleted" in out
    assert main(["store", "show", "--store", sqlite_url, KEY]) == 0
    assert "next sender seq:  11" in capsys.readouterr().out
    assert main(["store", "set", "--store", sqlite_url, KEY, "--sender", "5", "--target", "20",
                 "--yes"]) == 0
    capsys.readouterr()
    assert main(["store", "show", "--store", sqlite_url, KEY]) == 0
    out = capsys.readouterr().out
    assert "next sender seq:  5" in out and "next target seq:  20" in out
    assert "stored messages:  4" in out
    assert main(["store", "set", "--store", sqlite_url, KEY, "--sender", "0", "--yes"]) == 2


def test_prune(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["store", "prune", "--store", sqlite_url, "--max-age-days", "1"]) == 0
    assert "deleted 0 message(s)" in capsys.readouterr().out

    async def age() -> None:  # pretend the messages are 3 days old
        import sqlite3

        path = sqlite_url.removeprefix("sqlite:///")
        conn = sqlite3.connect(path)
        conn.execute("UPDATE messages SET sent_time_ns = sent_time_ns - ?", (3 * 86400 * 10**9,))
        conn.execute("UPDATE sessions SET updated_ns = updated_ns - ? WHERE key LIKE '%OTHER'",
                     (9 * 86400 * 10**9,))
        conn.commit()
        conn.close()

    asyncio.run(age())
    assert main(["store", "prune", "--store", sqlite_url, "--max-age-days", "2",
                 "--session-idle-days", "8"]) == 0
    assert "deleted 10 message(s) and 1 session(s)" in capsys.readouterr().out
    assert main(["store", "show", "--store", sqlite_url, KEY]) == 0
    out = capsys.readouterr().out
    assert "next sender seq:  11" in out and "stored messages:  0" in out
    assert main(["store", "prune", "--store", sqlite_url]) == 2  # nothing to do given


def test_migrate_sqlite_to_postgres_and_redis(sqlite_url: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    schema = f"t_{uuid.uuid4().hex[:16]}"
    prefix = f"t{uuid.uuid4().hex[:16]}"
    pg = f"{pg_dsn()}?schema={schema}"
    rd = f"{redis_url()}?prefix={prefix}"
    try:
        assert main(["store", "migrate", "--store", sqlite_url, "--to", pg, "--all"]) == 0
        out = capsys.readouterr().out
        assert f"migrated {KEY}: sender 11, target 7, 10 message(s)" in out
        assert main(["store", "migrate", "--store", pg, "--to", rd, KEY]) == 0
        capsys.readouterr()

        async def check() -> None:
            for url in (pg, rd):
                store = await open_store(url)
                s = await store.open(SessionKey(KEY))
                state = await s.load()
                assert (state.next_sender_seq, state.next_target_seq) == (11, 7)
                assert await s.get_range(1, 0) == [
                    (i, wire(i, "D" if i % 2 else "8")) for i in range(1, 11)]
                await store.close()
            src = await open_store(sqlite_url)
            created = (await admin_of(src).export_session(SessionKey(KEY)))
            await src.close()
            store = await open_store(rd)
            copy = await admin_of(store).export_session(SessionKey(KEY))
            await store.close()
            assert created is not None and copy is not None
            assert copy.state.creation_time_ns == created.state.creation_time_ns

        asyncio.run(check())
        # the same again: the identical copy is skipped (a resumed migration)
        assert main(["store", "migrate", "--store", sqlite_url, "--to", pg, KEY]) == 0
        assert f"already there {KEY}" in capsys.readouterr().out
        # a target copy that differs is refused, unless --replace
        assert main(["store", "set", "--store", pg, KEY, "--target", "9", "--yes"]) == 0
        assert main(["store", "migrate", "--store", sqlite_url, "--to", pg, KEY]) == 2
        assert "already has state" in capsys.readouterr().err
        assert main(["store", "migrate", "--store", sqlite_url, "--to", pg, KEY,
                     "--replace"]) == 0
    finally:
        drop_pg_schema(pg_dsn(), schema)
        flush_redis_prefix(redis_url(), prefix)


def test_time_parsing() -> None:
    now = 1_800_000_000 * 10**9
    assert parse_time("2h", now) == now - 7200 * 10**9
    assert parse_time("1970-01-01T00:00:01") == 10**9
    assert parse_time("1970-01-01T01:00:01+01:00") == 10**9
    assert format_time(10**9) == "1970-01-01T00:00:01.000000Z"
    with pytest.raises(Exception, match="ISO 8601"):
        parse_time("yesterday")


def test_session_ids_need_no_shell_quoting(sqlite_url: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["store", "show", "--store", sqlite_url, "FIX.4.4:BANK/BROKER"]) == 0
    assert "next sender seq:  11" in capsys.readouterr().out
    assert main(["store", "list", "--store", sqlite_url, "FIX.4.4:BANK/BROKER", "--to", "2"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2


@pytest.mark.parametrize("command", [["sessions"], ["show", KEY], ["list", KEY],
                                     ["set", KEY, "--sender", "3", "--yes"],
                                     ["prune", "--max-age-days", "1"],
                                     ["migrate", "--all", "--to", "memory://"]])
def test_read_commands_never_create_a_store(command: list[str], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "typo.db"
    assert main(["store", command[0], "--store", f"sqlite:///{missing}", *command[1:]]) == 2
    assert f"no store at {missing}" in capsys.readouterr().err
    assert not missing.exists()


def test_migrate_into_a_store_with_other_data_is_refused_whole(
        sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = f"sqlite:///{tmp_path / 'target.db'}"

    async def occupy() -> None:  # the target holds BANK->OTHER with other state
        store = await open_store(target)
        s = await store.open(SessionKey("FIX.4.4:BANK->OTHER"))
        await s.set_next_target(42)
        await store.close()

    async def target_state() -> list[tuple[str, int, int]]:
        store = await open_store(target)
        try:
            return [(i.key.value, i.state.next_target_seq, i.messages)
                    for i in await admin_of(store).sessions()]
        finally:
            await store.close()

    asyncio.run(occupy())
    before = asyncio.run(target_state())
    assert main(["store", "migrate", "--store", sqlite_url, "--all", "--to", target]) != 0
    assert "nothing was written" in capsys.readouterr().err
    assert asyncio.run(target_state()) == before  # no partial copy of BANK->BROKER


def test_no_broken_pipe_traceback_under_head(sqlite_url: str) -> None:
    import subprocess
    import sys

    script = ("import sys; from pyfixmsg_plus.engine.cli.main import main; "
              "sys.exit(main(sys.argv[1:]))")
    for args in (["store", "list", "--store", sqlite_url, KEY],
                 ["store", "show", "--store", sqlite_url, KEY]):
        proc = subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # the reader is gone before anything was written
        err = proc.stderr.read().decode()
        proc.wait()
        assert "Traceback" not in err and "BrokenPipe" not in err, err
