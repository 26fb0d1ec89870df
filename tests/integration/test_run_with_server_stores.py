"""``fixplus run`` end to end with ``postgresql://`` and ``redis://`` stores
from its configuration file (with the password from the environment, as the
operator provides it), plus the retention setting."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import uuid
from pathlib import Path

import pytest
from pyfixmsg_plus.engine.store.base import SessionKey
from pyfixmsg_plus.engine.store.url import open_store, parse_store_url

from tests.contract.store_servers import drop_pg_schema, flush_redis_prefix, pg_dsn, redis_url
from tests.integration.conftest import Engines, RecordingApp, initiator, new_order, wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BROKER = "FIX.4.4:BROKER->CLIENT"
CLIENT = "FIX.4.4:CLIENT->BROKER"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _without_password(url: str) -> tuple[str, str]:
    """The URL with ``${FIXPLUS_TEST_STORE_PW}`` in place of its password."""
    u = parse_store_url(url)
    assert u.password is not None
    return url.replace(f":{u.password}@", ":${FIXPLUS_TEST_STORE_PW}@", 1), u.password


async def _run(engines: Engines, tmp_path: Path, store_url: str,
               event_loop: str = "asyncio", busy_poll_us: int = 0) -> None:
    port = _free_port()
    templated, password = _without_password(store_url)
    cfg = tmp_path / "engine.yaml"
    cfg.write_text(
        f"store: '{templated}'\n"
        "retention: {maxAgeDays: 30, interval: 3600}\n"
        f"eventLoop: {event_loop}\n"
        f"busyPollUs: {busy_poll_us}\n"
        "sessions:\n"
        "  - role: acceptor\n    beginString: FIX.4.4\n    senderCompId: BROKER\n"
        f"    targetCompId: CLIENT\n    acceptPort: {port}\n    acceptHost: 127.0.0.1\n"
        "    heartbeatInterval: 5\n    authentication: {allowedAddresses: [127.0.0.1]}\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["FIXPLUS_TEST_STORE_PW"] = password
    log = (tmp_path / "run.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pyfixmsg_plus.engine.cli.main", "run", "-c", str(cfg),
        "--app", "pyfixmsg_plus.engine.application:LoggingApplication", cwd=tmp_path,
        stdout=log, stderr=log, env=env)
    try:
        client = RecordingApp("client")
        ini = None
        for _ in range(100):  # until the acceptor listens
            await asyncio.sleep(0.1)
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
        ini = await engines.start("memory://", client, [initiator(port, heartbeatInterval=5)])
        await ini.wait_logged_on(CLIENT, 15)
        driver = ini.driver(CLIENT)
        for i in range(5):
            await driver.send(new_order(f"r{i}"))
        await wait_until(lambda: driver.session.next_sender >= 7, 5, "the orders")
        await engines.stop(ini)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 30)
        log.close()
    assert code == 0, (tmp_path / "run.log").read_text()[-3000:]
    store = await open_store(store_url)
    state = await (await store.open(SessionKey(BROKER))).load()
    await store.close()
    # Logon, 5 orders, Logout received; Logon, Logout sent
    assert state.next_target_seq == 8, (tmp_path / "run.log").read_text()[-3000:]
    assert state.next_sender_seq >= 3


async def test_fixplus_run_with_postgres(engines: Engines, tmp_path: Path) -> None:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        # under fixplus run with the busy-polling loop (busyPollUs)
        await _run(engines, tmp_path, f"{pg_dsn()}?schema={schema}", busy_poll_us=200)
    finally:
        drop_pg_schema(pg_dsn(), schema)


async def test_fixplus_run_with_redis(engines: Engines, tmp_path: Path) -> None:
    prefix = f"t{uuid.uuid4().hex[:12]}"
    try:
        # under fixplus run on uvloop (the optional event loop)
        await _run(engines, tmp_path, f"{redis_url()}?prefix={prefix}", "uvloop")
    finally:
        flush_redis_prefix(redis_url(), prefix)
