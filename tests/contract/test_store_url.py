"""Choosing a store by URL, credentials from the environment or files, and
the layering rules of the store package."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest
from pyfixmsg_plus.engine.errors import ConfigError
from pyfixmsg_plus.engine.store import url as store_url
from pyfixmsg_plus.engine.store.memory import MemoryStore
from pyfixmsg_plus.engine.store.sqlite import SqliteStore
from pyfixmsg_plus.engine.store.url import open_store, parse_store_url

STORE_DIR = Path(store_url.__file__).parent


async def test_memory_url() -> None:
    store = await open_store("memory://")
    assert isinstance(store, MemoryStore)
    await store.close()


async def test_sqlite_absolute_url(tmp_path: Path) -> None:
    path = tmp_path / "abs.db"
    store = await open_store(f"sqlite:///{path}")  # sqlite:////tmp/.../abs.db
    assert isinstance(store, SqliteStore)
    assert store.path == str(path)
    await store.close()
    assert path.exists()


async def test_sqlite_relative_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    store = await open_store("sqlite:///data/rel.db")
    assert isinstance(store, SqliteStore)
    assert store.path == os.path.join("data", "rel.db")
    await store.close()
    assert (tmp_path / "data" / "rel.db").exists()


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "redis"])
async def test_unreachable_server_is_retryable_and_hides_the_password(scheme: str) -> None:
    from pyfixmsg_plus.engine.store.errors import RetryableStoreError

    # port 9 (discard) on 127.0.0.1: nothing listens there
    with pytest.raises(RetryableStoreError) as info:
        await open_store(f"{scheme}://user:secret-pw@127.0.0.1:9/0?connect_timeout=2")
    assert "secret-pw" not in str(info.value)
    assert "***" in str(info.value)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("postgresql://h/db?bogus=1", "unknown option"),
        ("postgresql://h/db?schema=Bad-Name", "schema"),
        ("postgresql://h/a/b", "one database name"),
        ("postgresql://h/db?sslmode=sometimes", "sslmode"),
        ("redis://h/zero", "database number"),
        ("redis://h/0?prefix=a:b", "prefix"),
        ("redis://h/0?ssl_ca_certs=/x", "rediss://"),
    ],
)
async def test_bad_server_store_urls(url: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        await open_store(url)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("", "empty"),
        ("store.db", "no scheme"),
        ("oracle://localhost/db", "scheme 'oracle' is unknown"),
        ("sqlite://relative.db", "sqlite takes no host"),
        ("sqlite:///", "needs a file path"),
        ("sqlite:///x.db?synchronous=FULL&synchronous=NORMAL", "given twice"),
        ("memory://somewhere", "memory:// takes no host"),
        ("memory://?size=3", "unknown option"),
        ("postgresql://h:99999/db", "port"),
        ("postgresql://h:abc/db", "port"),
        ("sqlite:///x.db#frag", "fragment"),
        ("postgresql://[::1/db", "IPv6"),
    ],
)
async def test_bad_urls_name_the_problem(url: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        await open_store(url)


def test_parse_components() -> None:
    u = parse_store_url("postgresql://fix%40desk:p%3Ass@[::1]:6543/fixdb?sslmode=require")
    assert (u.scheme, u.username, u.password) == ("postgresql", "fix@desk", "p:ss")
    assert (u.host, u.port, u.path) == ("::1", 6543, "/fixdb")
    assert dict(u.query) == {"sslmode": "require"}
    assert "p:ss" not in repr(u)
    assert u.redacted() == "postgresql://fix%40desk:***@[::1]:6543/fixdb?sslmode=require"


def test_environment_substitution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIX_DB_PASSWORD", "s3cr#t/@")
    monkeypatch.setenv("FIX_DB_HOST", "db.internal")
    u = parse_store_url("postgresql://fix:${FIX_DB_PASSWORD}@${FIX_DB_HOST}:5432/db?app=$${X}")
    assert u.password == "s3cr#t/@"  # substituted after parsing: special chars are safe
    assert u.host == "db.internal"
    assert u.query["app"] == "${X}"  # $${ escapes


def test_missing_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FIX_NOT_SET", raising=False)
    with pytest.raises(ConfigError, match="FIX_NOT_SET is referenced but not set"):
        parse_store_url("redis://:${FIX_NOT_SET}@localhost")
    with pytest.raises(ConfigError, match="not a valid variable name"):
        parse_store_url("redis://:${1BAD}@localhost")


def test_password_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "pw"
    secret.write_text("hunter2\n")
    monkeypatch.setenv("SECRETS", str(tmp_path))
    u = parse_store_url("postgresql://fix@db/fix?password_file=${SECRETS}/pw&sslmode=verify-full")
    assert u.password == "hunter2"
    assert dict(u.query) == {"sslmode": "verify-full"}  # consumed, not passed on
    assert "hunter2" not in u.redacted()


def test_password_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="both a password and password_file"):
        parse_store_url(f"redis://:pw@h?password_file={tmp_path}/pw")
    with pytest.raises(ConfigError, match="cannot read it"):
        parse_store_url(f"redis://h?password_file={tmp_path}/missing")
    (tmp_path / "empty").write_text("")
    with pytest.raises(ConfigError, match="empty"):
        parse_store_url(f"redis://h?password_file={tmp_path}/empty")


async def test_backend_needing_a_missing_driver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "fake_backend_xyz.py").write_text("import no_such_driver_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(store_url.BACKENDS, "fake", "fake_backend_xyz:open_from_url")
    with pytest.raises(ConfigError, match="needs the Python package 'no_such_driver_xyz'"):
        await open_store("fake://")


async def test_register_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_url, "BACKENDS", dict(store_url.BACKENDS))
    store_url.register_backend("mem2", "pyfixmsg_plus.engine.store.memory:open_from_url")
    store = await open_store("mem2://")
    assert isinstance(store, MemoryStore)
    with pytest.raises(ConfigError, match="module:function"):
        store_url.register_backend("bad", "no_colon")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
    return names


@pytest.mark.parametrize("module", sorted(p.name for p in STORE_DIR.glob("*.py")))
def test_store_modules_respect_layering(module: str) -> None:
    imported = _imports(STORE_DIR / module)
    for name in imported:
        assert "session" not in name and "transport" not in name, (module, name)
    backends = {"memory", "sqlite", "postgres", "redis"}
    if module.removesuffix(".py") in backends:
        for other in backends:
            assert not any(n.endswith(f".{other}") for n in imported), (module, other)
