"""/readyz answers from what the engine already knows: no store call per probe."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pyfixmsg_plus.engine.application import Application
from pyfixmsg_plus.engine.config import EngineConfig
from pyfixmsg_plus.engine.observability.health import StoreHealth
from pyfixmsg_plus.engine.runtime import Engine
from pyfixmsg_plus.engine.session.stats import SessionStats

from tests.httptools import request


class CountingStore:
    """A session store that counts every call (and can be made to fail)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[str] = []
        self.down = False

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.inner, name)
        if not callable(value):
            return value

        async def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            if self.down:
                raise ConnectionRefusedError("store at postgresql://user:s3cret@db is down")
            return await value(*args, **kwargs)

        return call


def _config() -> EngineConfig:
    return EngineConfig.model_validate({
        "store": "memory://",
        "sessions": [{"role": "acceptor", "beginString": "FIX.4.4", "senderCompId": "B",
                      "targetCompId": "C", "acceptPort": 0, "acceptHost": "127.0.0.1",
                      "authentication": {"mode": "none"}}],
        "metrics": {"enabled": True, "port": 0},
    })


async def _ready(engine: Engine) -> tuple[int, list[str]]:
    assert engine.health is not None
    answer = await request(engine.health.bound_port, "/readyz")
    return answer.status, json.loads(answer.body)["problems"]


async def test_readyz_makes_no_store_call() -> None:
    engine = Engine(_config(), Application())
    await engine.start()
    driver = next(iter(engine.drivers.values()))
    store = CountingStore(driver.store)
    driver.store = store  # type: ignore[assignment]
    try:
        for _ in range(20):
            assert await _ready(engine) == (200, [])
        assert store.calls == []
        # a session's store transaction failed: not ready, still no store call
        driver.stats.store_errors += 1
        status, problems = await _ready(engine)
        assert status == 503 and problems == ["message store failing (a session's store "
                                              "transaction failed)"]
        assert store.calls == []
        # the health task's own check (at a fixed rate, never per probe)
        store.down = True
        await engine.store_health.check_once()
        status, problems = await _ready(engine)
        assert status == 503 and problems == ["message store failing (last check: "
                                              "ConnectionRefusedError)"]
        assert "s3cret" not in json.dumps(problems)
        store.down = False
        await engine.store_health.check_once()
        assert await _ready(engine) == (200, [])
        assert store.calls == ["load", "load"]
    finally:
        driver.store = store.inner
        await engine.stop(timeout=1)


@dataclass
class FakeDriver:
    session_id: str
    store: Any = None
    store_available: bool = True
    stats: SessionStats = field(default_factory=SessionStats)


def test_store_health_follows_the_drivers_counters() -> None:
    now = [0.0]
    drivers = [FakeDriver("FIX.4.4:B->C"), FakeDriver("FIX.4.4:B->D")]
    health = StoreHealth(lambda: drivers, lambda: now[0])
    assert health.problems() == []
    drivers[0].stats.store_errors += 1
    now[0] = 1
    assert health.problems() and health.failing
    drivers[1].stats.store_write.observe(0.001)  # a later success of another session
    now[0] = 2
    assert health.problems() == [] and health.last_ok == 2
    drivers[1].store_available = False  # riding out an outage
    problems = health.problems()
    assert problems == ["message store unavailable (1 session(s) riding out the outage)"]
    assert "B->D" not in problems[0]  # the open probe names no session
    drivers[1].store_available = True
    assert health.problems() == []


async def test_readyz_logon_waits_for_the_fix_session() -> None:
    """``/readyz?logon=1`` (a FixSession pod's readiness) is ready only when the
    configured session is logged on; plain ``/readyz`` does not wait for it."""
    broker = Engine(_config(), Application())
    await broker.start()
    assert broker.health is not None
    port = next(iter(broker.acceptors.values())).bound_port
    client: Engine | None = None
    try:
        assert (await _ready(broker))[0] == 200
        answer = await request(broker.health.bound_port, "/readyz?logon=1")
        assert answer.status == 503
        assert json.loads(answer.body)["problems"] == ["1 of 1 session(s) not logged on"]
        client = Engine(EngineConfig.model_validate({
            "store": "memory://",
            "sessions": [{"role": "initiator", "beginString": "FIX.4.4", "senderCompId": "C",
                          "targetCompId": "B",
                          "connect": [{"host": "127.0.0.1", "port": port}]}],
        }), Application())
        await client.start()
        await broker.wait_logged_on("FIX.4.4:B->C")
        answer = await request(broker.health.bound_port, "/readyz?logon=1")
        assert answer.status == 200, answer.body
    finally:
        if client is not None:
            await client.stop()
        await broker.stop()
