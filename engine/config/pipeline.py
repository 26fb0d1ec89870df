"""The loading pipeline over plain data (see the package documentation):
canonical keys, environment overrides, secret references, ``defaults``,
validation, and every problem as one line naming the setting."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from .base import InvalidConfigError, Loc
from .engine import EngineConfig
from .keys import (
    canonical_keys,
    child_model,
    field_alias,
    format_loc,
    is_text_field,
    lookup_field,
    merge_defaults,
    suggestion,
    unknown_key_hint,
)
from .references import is_secret_setting, resolve_references, vault_lookup
from .yamlfile import yaml_scalar

#: Prefix of environment variables that override settings.
ENV_PREFIX = "FIXPLUS__"


def parse_config(
    data: Mapping[str, Any],
    *,
    source: str = "<config>",
    environ: Mapping[str, str] | None = None,
    resolve_secrets: bool = True,
    locate: Callable[[Loc], str | None] | None = None,
) -> EngineConfig:
    """Validate plain configuration data (what a YAML file holds).

    ``environ`` supplies ``FIXPLUS__…`` overrides and ``${ENV:NAME}`` values;
    ``None`` means no overrides (and secrets from :data:`os.environ`).
    ``locate`` maps a setting path to a ``file:line`` for error messages.
    """
    problems: list[str] = []
    raw = canonical_keys(EngineConfig, dict(data), (), problems)
    from_env: dict[Loc, str] = {}
    if environ is not None:
        _apply_env(raw, environ, from_env, problems)
    # Secret references are checked always, resolved only when asked (the
    # operator validates configurations whose files exist in the pod only).
    env = os.environ if environ is None else environ
    raw = resolve_references(
        raw, (), env, problems, resolve=resolve_secrets, from_env=from_env,
        vault=vault_lookup(raw, env) if resolve_secrets else None,
    )
    if problems:
        raise InvalidConfigError(source, [f"{source}: {p}" for p in problems])
    merged, inherited = merge_defaults(raw)
    try:
        return EngineConfig.model_validate(merged)
    except ValidationError as exc:
        lines = _describe(exc, source, inherited, from_env, locate)
        raise InvalidConfigError(source, lines) from None


# -- environment overrides --------------------------------------------------------


def _env_sort_key(item: tuple[str, list[str], str]) -> list[tuple[int, int, str]]:
    return [(0, int(s), "") if s.isdigit() else (1, 0, s.lower()) for s in item[1]]


def _apply_env(
    data: dict[str, Any], environ: Mapping[str, str], from_env: dict[Loc, str], problems: list[str]
) -> None:
    items = [
        (name, name[len(ENV_PREFIX) :].split("__"), value)
        for name, value in environ.items()
        if name.startswith(ENV_PREFIX)
    ]
    for name, segments, value in sorted(items, key=_env_sort_key):
        try:
            loc = _set_path(data, segments, value)
        except ValueError as exc:
            problems.append(f"environment variable {name}: {exc}")
        else:
            from_env[loc] = name


def _set_path(data: dict[str, Any], segments: list[str], value: str) -> Loc:
    model: type[BaseModel] = EngineConfig
    node: dict[str, Any] | list[Any] = data
    loc: list[str | int] = []
    for position, segment in enumerate(segments):
        last = position == len(segments) - 1
        if not segment:
            raise ValueError("empty path segment (three underscores in a row?)")
        if isinstance(node, list):
            if not segment.isdigit():
                raise ValueError(
                    f"{format_loc(tuple(loc))} is a list: expected an index, got {segment!r}"
                )
            index = int(segment)
            if index > len(node):
                raise ValueError(
                    f"index {index} is out of range: {format_loc(tuple(loc))} has {len(node)} "
                    f"entries (an override may add one at index {len(node)})"
                )
            loc.append(index)
            if last:
                parsed = _env_value(value)
                node[index : index + 1] = [parsed]
                return tuple(loc)
            if index == len(node):
                node.append({})
            elif not isinstance(node[index], dict):
                node[index] = {}
            item = node[index]
            assert isinstance(item, dict)
            node = item
            continue
        name = lookup_field(model, segment, fold_case=True)
        if name is None:
            raise ValueError(unknown_key_hint(model, segment, prefix=format_loc(tuple(loc))))
        alias = field_alias(model, name)
        loc.append(alias)
        child, is_list = child_model(model, name)
        if last:
            node[alias] = value if is_text_field(model, name) else _env_value(value)
            return tuple(loc)
        current = node.get(alias)
        if is_list:
            if not isinstance(current, list):
                current = []
                node[alias] = current
        elif child is not None:
            if not isinstance(current, dict):
                current = {}
                node[alias] = current
        else:
            following = segments[position + 1]
            raise ValueError(
                f"{format_loc(tuple(loc))} is a single value, it has no {following!r}"
            )
        node = current
        if child is not None:
            model = child
    raise AssertionError("unreachable")  # pragma: no cover


def _env_value(text: str) -> Any:
    try:
        return yaml_scalar(text)
    except yaml.YAMLError:
        return text


def _model_at(loc: Loc) -> type[BaseModel] | None:
    model: type[BaseModel] | None = EngineConfig
    for part in loc:
        if model is None:
            return None
        if isinstance(part, int):
            continue
        name = lookup_field(model, part)
        if name is None:
            return None
        model = child_model(model, name)[0]
    return model


def _describe(
    exc: ValidationError,
    source: str,
    inherited: set[Loc],
    from_env: dict[Loc, str],
    locate: Callable[[Loc], str | None] | None,
) -> list[str]:
    lines: list[str] = []
    for error in exc.errors(include_url=False):
        loc: Loc = tuple(error["loc"])
        kind = error["type"]
        message = str(error["msg"])
        if kind == "value_error":
            message = message.removeprefix("Value error, ")
        elif kind == "missing":
            message = "required setting is missing"
        elif kind == "extra_forbidden":
            parent = _model_at(loc[:-1])
            message = "unknown setting"
            if parent is not None and loc:
                message += suggestion(parent, str(loc[-1]))
        elif not _is_secret(loc) and isinstance(error.get("input"), str | int | float | bool):
            message += f" (got {error['input']!r})"
        where = locate(loc) if locate is not None else None
        note = ""
        for length in range(len(loc), 0, -1):
            prefix = loc[:length]
            if prefix in from_env:
                where = f"environment variable {from_env[prefix]}"
                break
            if prefix in inherited:
                default_loc = ("defaults", *loc[_defaults_depth(prefix) :])
                note = f" (inherited from {format_loc(default_loc)})"
                if locate is not None:
                    where = locate(default_loc) or where
                break
        lines.append(f"{where or source}: {format_loc(loc)}: {message}{note}")
    return lines


def _defaults_depth(prefix: Loc) -> int:
    """Where the session-relative part of an inherited path starts."""
    return 2 if prefix[0] == "sessions" else 3


def _is_secret(loc: Loc) -> bool:
    """Whether a value at ``loc`` must not be quoted in an error message."""
    if is_secret_setting(loc):
        return True
    return bool(loc) and isinstance(loc[-1], str) and "password" in loc[-1].lower()
