"""Finding the real parts tests need, and failing (never skipping) under CI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def under_ci() -> bool:
    return os.environ.get("CI") == "true"


def missing(what: str) -> None:
    """Skip with a reason, or fail under CI=true."""
    if under_ci():
        pytest.fail(f"{what} (CI=true: a missing real part is a failure)", pytrace=False)
    pytest.skip(what, allow_module_level=True)


def shared_dir(env: str, default: str) -> Path:
    return Path(os.environ.get(env, str(REPO.parent / "shared" / default)))


def env_value(key: str) -> str | None:
    """A connection setting from the environment, or from the file the test
    environment scripts write (``tests/env/setup.sh``)."""
    if key in os.environ:
        return os.environ[key]
    cache = Path(os.environ.get("FIXPLUS_CACHE", str(Path.home() / ".cache" / "pyfixmsg-plus")))
    env_file = Path(os.environ.get("FIXPLUS_ENV_FILE", str(cache / "test-env")))
    if env_file.is_file():
        for line in env_file.read_text().splitlines():
            name, sep, value = line.partition("=")
            if sep and name.strip() == key:
                return value.strip()
    return None
