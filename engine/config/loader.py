"""Reading a configuration file: YAML, or a QuickFIX ``.cfg`` file."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from . import cfgfile
from .base import InvalidConfigError
from .engine import EngineConfig
from .pipeline import parse_config
from .yamlfile import read_yaml, yaml_locator


def load_config(
    path: str | os.PathLike[str],
    *,
    environ: Mapping[str, str] | None = None,
    strict: bool = False,
) -> EngineConfig:
    """Read a YAML configuration file (or a QuickFIX ``.cfg`` file).

    ``environ`` (default :data:`os.environ`) supplies the ``FIXPLUS__…``
    overrides and the ``${ENV:NAME}`` secrets.  ``strict`` only matters for
    ``.cfg`` files: unknown keys are then errors instead of warnings.
    Raises :class:`~.errors.ConfigError` (an :class:`InvalidConfigError`
    listing every problem) and never a pydantic or YAML exception.
    """
    file = Path(path)
    env: Mapping[str, str] = os.environ if environ is None else environ
    if file.suffix.lower() == ".cfg":
        return cfgfile.load_cfg(file, environ=env, strict=strict).config
    source = str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidConfigError(source, [f"{source}: cannot read the file: {exc}"]) from None
    data, lines = read_yaml(text, source)
    return parse_config(data, source=source, environ=env, locate=yaml_locator(source, lines))
