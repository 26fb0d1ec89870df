"""Fixtures of the attack suite: real ``fixplus run`` processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.security.attacks import base_config
from tests.security.engine_process import PASSWORD, EngineProcess, hash_password

EngineFactory = Callable[..., EngineProcess]


@pytest.fixture(scope="module")
def password_hash() -> str:
    return hash_password(PASSWORD)


@pytest.fixture
def start_engine(tmp_path: Path, password_hash: str) -> Iterator[EngineFactory]:
    """``start_engine(**base_config options)`` or ``start_engine(config=...)``:
    a running engine, stopped at the end of the test."""
    started: list[EngineProcess] = []

    def start(name: str = "engine", config: dict[str, Any] | None = None,
              env: dict[str, str] | None = None, **options: Any) -> EngineProcess:
        directory = tmp_path / name
        directory.mkdir(exist_ok=True)
        if config is None:
            config = base_config(directory, password_hash, **options)
        engine = EngineProcess(directory, config, name=name, env=env)
        started.append(engine)
        return engine.start()

    try:
        yield start
    finally:
        for engine in reversed(started):
            engine.stop()


