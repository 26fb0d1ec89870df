"""``eventLoop`` / ``busyPollUs``: the loop factory and the polling selector."""

from __future__ import annotations

import asyncio
import builtins
import selectors
import socket
import threading
import time
from pathlib import Path

import pytest
from pyfixmsg_plus.engine.config import InvalidConfigError, load_config
from pyfixmsg_plus.engine.errors import ConfigError
from pyfixmsg_plus.engine.observability.metrics import EngineCollector
from pyfixmsg_plus.engine.transport.eventloop import (
    MAX_BUSY_POLL_US,
    BusyPollSelector,
    loop_factory,
    new_event_loop,
    polling_totals,
)

from .test_config import MINIMAL


@pytest.fixture
def pair() -> tuple[socket.socket, socket.socket]:
    a, b = socket.socketpair()
    yield a, b  # type: ignore[misc]
    a.close()
    b.close()


def _write_later(sock: socket.socket, delay: float) -> threading.Thread:
    t = threading.Thread(target=lambda: (time.sleep(delay), sock.send(b"x")))
    t.start()
    return t


def test_an_event_that_comes_while_polling_is_returned_without_sleeping(
        pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    with BusyPollSelector(budget_s=5.0) as sel:
        sel.register(a, selectors.EVENT_READ, "a")
        writer = _write_later(b, 0.02)
        ready = sel.select(None)
        writer.join()
        assert [(key.data, ev) for key, ev in ready] == [("a", selectors.EVENT_READ)]
        assert (sel.polled_hits, sel.blocking_waits) == (1, 0)


def test_after_the_budget_it_sleeps_until_the_event(
        pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    with BusyPollSelector(budget_s=0.001) as sel:
        sel.register(a, selectors.EVENT_READ, "a")
        writer = _write_later(b, 0.1)
        ready = sel.select(None)
        writer.join()
        assert [key.data for key, _ in ready] == ["a"]
        assert (sel.polled_hits, sel.blocking_waits) == (0, 1)


def test_the_timeout_still_holds_and_nothing_is_invented(
        pair: tuple[socket.socket, socket.socket]) -> None:
    a, _ = pair
    with BusyPollSelector(budget_s=0.005) as sel:
        sel.register(a, selectors.EVENT_READ, "a")
        start = time.monotonic()
        assert sel.select(0.05) == []
        assert time.monotonic() - start >= 0.045  # polled 5 ms, then slept the rest
        assert sel.blocking_waits == 1
        # A timeout shorter than the budget bounds the polling too.
        with BusyPollSelector(budget_s=10.0) as long:
            long.register(a, selectors.EVENT_READ, "a")
            start = time.monotonic()
            assert long.select(0.02) == []
            assert time.monotonic() - start < 5.0


def test_select_zero_asks_once(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    with BusyPollSelector(budget_s=10.0) as sel:
        sel.register(a, selectors.EVENT_READ, "a")
        assert sel.select(0) == []
        b.send(b"x")
        assert [key.data for key, _ in sel.select(0)] == ["a"]
        assert (sel.polled_hits, sel.blocking_waits) == (0, 0)


def test_a_negative_budget_is_refused() -> None:
    with pytest.raises(ValueError, match="busy-poll budget must be >= 0"):
        BusyPollSelector(-1.0)
    with pytest.raises(ValueError, match="busy-poll budget"):
        BusyPollSelector(float("nan"))


def test_loop_factory_for_each_setting() -> None:
    assert loop_factory("asyncio") is None  # asyncio's own default
    factory = loop_factory("asyncio", 200)
    assert factory is not None
    loop = factory()
    try:
        assert isinstance(loop, asyncio.SelectorEventLoop)
        selector = loop._selector  # type: ignore[attr-defined]
        assert isinstance(selector, BusyPollSelector)
        assert selector.budget_s == pytest.approx(200e-6)
        assert loop.run_until_complete(asyncio.sleep(0.01, "slept")) == "slept"
    finally:
        loop.close()
    plain = new_event_loop(0)
    try:
        assert not isinstance(plain._selector, BusyPollSelector)  # type: ignore[attr-defined]
    finally:
        plain.close()
    for bad in (-1, MAX_BUSY_POLL_US + 1):
        with pytest.raises(ConfigError, match=r"busyPollUs must be between 0 and 10000"):
            loop_factory("asyncio", bad)
        with pytest.raises(ConfigError, match=r"busyPollUs must be between 0 and 10000"):
            new_event_loop(bad)
    with pytest.raises(ConfigError, match="busyPollUs works with eventLoop: asyncio only"):
        loop_factory("uvloop", 200)


def test_uvloop_when_installed_and_a_clear_error_when_not(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import uvloop  # a dev dependency

    factory = loop_factory("uvloop")
    assert factory is uvloop.new_event_loop
    loop = factory()
    try:
        assert isinstance(loop, asyncio.AbstractEventLoop) and "uvloop" in type(loop).__module__
    finally:
        loop.close()

    real_import = builtins.__import__

    def no_uvloop(name: str, *args: object, **kwargs: object) -> object:
        if name == "uvloop":
            raise ImportError("No module named 'uvloop'")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_uvloop)
    with pytest.raises(ConfigError, match=r"eventLoop: uvloop is not installed .*\[uvloop\]"):
        loop_factory("uvloop")


def test_config_takes_busy_poll_us_and_checks_it(tmp_path: Path) -> None:
    path = tmp_path / "engine.yaml"
    path.write_text("busyPollUs: 200\n" + MINIMAL)
    config = load_config(path)
    assert (config.event_loop, config.busy_poll_us) == ("asyncio", 200)
    path.write_text(MINIMAL)
    assert load_config(path).busy_poll_us == 0

    path.write_text("busyPollUs: 20000\n" + MINIMAL)
    with pytest.raises(InvalidConfigError, match=r"busyPollUs.*less than or equal to 10000"):
        load_config(path)
    path.write_text("eventLoop: uvloop\nbusyPollUs: 100\n" + MINIMAL)
    with pytest.raises(InvalidConfigError, match=r"busyPollUs works with eventLoop: asyncio"):
        load_config(path)


def test_waits_are_counted_for_the_metrics(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    polled, slept = polling_totals()
    with BusyPollSelector(budget_s=5.0) as sel:
        sel.register(a, selectors.EVENT_READ, "a")
        b.send(b"x")
        sel.select(None)
        a.recv(1)
        sel.budget_s = 0.0001
        assert sel.select(0.001) == []
    assert polling_totals() == (polled + 1, slept + 1)
    (family,) = [f for f in EngineCollector(list).collect()
                 if f.name == "fixplus_event_loop_selects"]
    samples = {s.labels["outcome"]: s.value for s in family.samples if s.name.endswith("_total")}
    assert samples == {"polled": polled + 1, "slept": slept + 1}
