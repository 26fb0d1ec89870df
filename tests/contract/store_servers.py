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


# --- MariaDB (tests/env/12-mariadb.sh) and FerretDB (tests/env/13-ferretdb.sh) ---


def mysql_url() -> str:
    url = env_value("FIXPLUS_MYSQL_URL")
    if not url:
        missing("MariaDB: FIXPLUS_MYSQL_URL is not set (tests/env/12-mariadb.sh)")
    assert url is not None
    return url


def mongodb_url() -> str:
    url = env_value("FIXPLUS_MONGODB_URL")
    if not url:
        missing("FerretDB (MongoDB protocol): FIXPLUS_MONGODB_URL is not set "
                "(tests/env/13-ferretdb.sh)")
    assert url is not None
    return url


def drop_mysql_tables(url: str, prefix: str) -> None:
    """Drop the tables of one test's ``table_prefix``."""
    import asyncmy
    from pyfixmsg_plus.engine.store.url import parse_store_url

    u = parse_store_url(url)

    async def drop() -> None:
        conn = await asyncmy.connect(host=u.host or "127.0.0.1", port=u.port or 3306,
                                     user=u.username, password=u.password or "",
                                     database=u.path.strip("/"))
        try:
            async with conn.cursor() as cur:
                for table in ("messages", "sessions", "schema_version"):
                    await cur.execute(f"DROP TABLE IF EXISTS {prefix}{table}")
        finally:
            conn.close()

    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, drop()).result()


def drop_mongodb_collections(url: str, prefix: str) -> None:
    """Drop the collections of one test's ``collection_prefix``."""
    import pymongo

    u = url.split("?", 1)
    client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(
        url, serverSelectionTimeoutMS=10_000)
    try:
        db = client.get_database(u[0].rsplit("/", 1)[-1] or "fixplus")
        for name in db.list_collection_names():
            if name.startswith(prefix):
                db.drop_collection(name)
    finally:
        client.close()


def mariadb_ctl(action: str) -> None:
    """Stop (SIGKILL: a crash that cuts every connection at once; InnoDB
    recovers at the next start) or start the test MariaDB server.  A clean
    ``shutdown`` would let commits in flight finish while it winds down."""
    binary = env_value("FIXPLUS_MARIADB_BIN")
    conf = env_value("FIXPLUS_MARIADB_CONF")
    sock = env_value("FIXPLUS_MARIADB_ROOT_SOCKET")
    if not binary or not conf or not sock:
        missing("MariaDB: FIXPLUS_MARIADB_BIN / _CONF / _ROOT_SOCKET not set "
                "(tests/env/12-mariadb.sh)")
    assert binary is not None and conf is not None and sock is not None
    user = env_value("FIXPLUS_MARIADB_RUNAS") or None
    admin = ["mariadb-admin", f"--socket={sock}", "-u", user or os.environ.get("USER", "root")]
    if action == "stop":
        import signal
        import time

        pidfile = os.path.join(os.path.dirname(sock), "mysqld.pid")
        try:
            with open(pidfile) as f:
                pid = int(f.read().strip())
            os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError):
            return  # not running
        for _ in range(300):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        raise RuntimeError("mariadb did not stop")
    def up() -> bool:
        return subprocess.run(_as_server([*admin, "ping"], user), check=False,
                              capture_output=True, timeout=10).returncode == 0

    if up():
        return
    subprocess.Popen(_as_server(["setsid", binary, f"--defaults-file={conf}"], user),
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, start_new_session=True)
    _wait_for(up, "mariadb")


def ferretdb_ctl(action: str) -> None:
    """Stop (SIGTERM) or start the test FerretDB (its PostgreSQL stays up)."""
    cmd_file = env_value("FIXPLUS_FERRETDB_CMD")
    url = env_value("FIXPLUS_MONGODB_URL")
    if not cmd_file or not url:
        missing("FerretDB: FIXPLUS_FERRETDB_CMD / FIXPLUS_MONGODB_URL not set "
                "(tests/env/13-ferretdb.sh)")
    assert cmd_file is not None and url is not None
    subprocess.run(["bash", cmd_file, action], check=True, capture_output=True, timeout=60)


def _wait_for(check: object, what: str) -> None:
    import time

    assert callable(check)
    for _ in range(300):
        try:
            if check():
                return
        except (OSError, subprocess.SubprocessError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not come back")


def mysql_tls_url() -> str:
    url = env_value("FIXPLUS_MYSQL_TLS_URL")
    if not url:
        missing("MariaDB TLS: FIXPLUS_MYSQL_TLS_URL is not set (tests/env/12-mariadb.sh)")
    assert url is not None
    return url
