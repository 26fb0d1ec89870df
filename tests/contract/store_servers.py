"""Connection settings of the real PostgreSQL and Redis servers the test
environment starts (``tests/env/10-postgres.sh``, ``11-redis.sh``), and
helpers to stop and start them for the restart tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess

from tests.realparts import env_value, missing


def pg_dsn() -> str:
    dsn = env_value("FIXPLUS_PG_DSN")
    if not dsn:
        missing("PostgreSQL: FIXPLUS_PG_DSN is not set (run tests/env/setup.sh or make testenv)")
    assert dsn is not None
    return dsn


def redis_url() -> str:
    url = env_value("FIXPLUS_REDIS_URL")
    if not url:
        missing("Redis: FIXPLUS_REDIS_URL is not set (run tests/env/setup.sh or make testenv)")
    assert url is not None
    return url


def redis_tls_url() -> str:
    url = env_value("FIXPLUS_REDIS_TLS_URL")
    if not url:
        missing("Redis TLS: FIXPLUS_REDIS_TLS_URL is not set (tests/env/11-redis.sh)")
    assert url is not None
    return url


def drop_pg_schema(dsn: str, schema: str) -> None:
    import asyncpg

    async def drop() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()

    import concurrent.futures

    # in a thread of its own: the caller may be inside a running event loop
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, drop()).result()


def flush_redis_prefix(url: str, prefix: str) -> None:
    import redis
    from pyfixmsg_plus.engine.store.url import parse_store_url

    u = parse_store_url(url)
    client = redis.Redis(host=u.host or "127.0.0.1", port=u.port or 6379,
                         password=u.password, db=int(u.path.strip("/") or 0))
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        for i in range(0, len(keys), 500):
            client.delete(*keys[i : i + 500])
    finally:
        client.close()


def _as_server(cmd: list[str], user: str | None) -> list[str]:
    return ["runuser", "-u", user, "--", *cmd] if user else cmd


def pg_ctl(action: str) -> None:
    """``pg_ctl stop|start`` on the test server (stop -m fast: cut every
    connection, like a database restart or failover)."""
    bindir = env_value("FIXPLUS_PG_BIN")
    data = env_value("FIXPLUS_PG_DATA")
    if not bindir or not data:
        missing("PostgreSQL: FIXPLUS_PG_BIN / FIXPLUS_PG_DATA not set (tests/env/10-postgres.sh)")
    assert bindir is not None and data is not None
    user = env_value("FIXPLUS_PG_RUNAS") or None
    cmd = [os.path.join(bindir, "pg_ctl"), "-D", data, "-w", "-t", "60"]
    if action == "stop":
        cmd += ["-m", "fast", "stop"]
    else:
        cmd += ["-l", os.path.join(os.path.dirname(data), "server.log"), "start"]
    subprocess.run(_as_server(cmd, user), check=True, capture_output=True, timeout=90)


def redis_ctl(action: str) -> None:
    """Stop (SHUTDOWN, the AOF is already fsynced) or start the test Redis."""
    conf = env_value("FIXPLUS_REDIS_CONF")
    url = env_value("FIXPLUS_REDIS_URL")
    if not conf or not url:
        missing("Redis: FIXPLUS_REDIS_CONF / FIXPLUS_REDIS_URL not set (tests/env/11-redis.sh)")
    assert conf is not None and url is not None
    user = env_value("FIXPLUS_REDIS_RUNAS") or None
    import redis
    from pyfixmsg_plus.engine.store.url import parse_store_url

    u = parse_store_url(url)
    client = redis.Redis(host=u.host or "127.0.0.1", port=u.port or 6379, password=u.password)
    try:
        if action == "stop":
            with contextlib.suppress(redis.ConnectionError):
                client.shutdown(nosave=True)
        else:
            subprocess.run(_as_server(["redis-server", conf], user), check=True,
                           capture_output=True, timeout=30)
            for _ in range(100):
                try:
                    if client.ping():
                        return
                except redis.ConnectionError:
                    import time

                    time.sleep(0.05)
            raise RuntimeError("redis did not come back")
    finally:
        client.close()
