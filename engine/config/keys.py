"""Setting keys: the one spelling (camelCase) of every key, the models
along a setting's path, ``defaults`` merged under sessions, and how paths
and unknown keys read in error messages.  Works on any settings model."""

from __future__ import annotations

import difflib
import types
import typing
from typing import Annotated, Any

from pydantic import BaseModel, SecretStr

from .base import Loc


def norm_key(key: str | int) -> str:
    return str(key).replace("_", "").lower()


def _field_index(model: type[BaseModel], fold_case: bool) -> dict[str, str]:
    """Accepted spellings (name and alias, lowercased if ``fold_case``) -> field name."""
    index: dict[str, str] = {}
    for name, info in model.model_fields.items():
        for spelling in (name, info.alias or name):
            index.setdefault(spelling.lower() if fold_case else spelling, name)
    return index


def lookup_field(model: type[BaseModel], key: object, *, fold_case: bool = False) -> str | None:
    """The field ``key`` names: exactly (YAML) or ignoring case (environment)."""
    if not isinstance(key, str):
        return None
    return _field_index(model, fold_case).get(key.lower() if fold_case else key)


def field_alias(model: type[BaseModel], name: str) -> str:
    return model.model_fields[name].alias or name


def unwrap_model(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The model type inside ``annotation`` and whether it is a list of them."""
    origin = typing.get_origin(annotation)
    if origin is list:
        args = typing.get_args(annotation)
        return (unwrap_model(args[0])[0], True) if args else (None, True)
    if origin is Annotated:
        return unwrap_model(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            model, is_list = unwrap_model(arg)
            if model is not None or is_list:
                return model, is_list
        return None, False
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    return None, False


def child_model(model: type[BaseModel], name: str) -> tuple[type[BaseModel] | None, bool]:
    partial = getattr(model, "PARTIAL_CHILDREN", {}).get(name)
    if partial is not None:
        return partial, False  # e.g. the engine's ``defaults``: a partial session
    return unwrap_model(model.model_fields[name].annotation)


def is_text_field(model: type[BaseModel], name: str) -> bool:
    """Whether a field holds free text (taken verbatim from the environment)."""
    annotation = model.model_fields[name].annotation
    is_union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    args = typing.get_args(annotation) if is_union else (annotation,)
    kinds = [arg for arg in args if arg is not type(None)]
    return bool(kinds) and all(kind in (str, SecretStr) for kind in kinds)


def canonical_keys(model: type[BaseModel], data: Any, path: Loc, problems: list[str]) -> Any:
    """Rename snake_case keys to their camelCase alias, recursively."""
    if isinstance(data, list):
        return [canonical_keys(model, item, (*path, i), problems) for i, item in enumerate(data)]
    if not isinstance(data, dict):
        return data
    out: dict[Any, Any] = {}
    spelled: dict[str, Any] = {}
    for key, value in data.items():
        name = lookup_field(model, key)
        if name is None:
            out[key] = value
            continue
        alias = field_alias(model, name)
        if alias in out:
            problems.append(
                f"{format_loc((*path, alias))}: given twice (as {spelled[alias]} and {key})"
            )
            continue
        spelled[alias] = key
        child, _ = child_model(model, name)
        out[alias] = canonical_keys(child, value, (*path, alias), problems) if child else value
    return out


# -- defaults -------------------------------------------------------------------


def merge_defaults(data: dict[str, Any]) -> tuple[dict[str, Any], set[Loc]]:
    """Merge ``defaults`` under each session and template (keys canonical).

    Returns the merged data and the paths whose value came from defaults.
    Mappings merge key by key; anything else (lists included) in a session
    replaces the default.
    """
    defaults = data.get("defaults")
    inherited: set[Loc] = set()
    if not isinstance(defaults, dict) or not defaults:
        return data, inherited
    out = dict(data)
    sessions = data.get("sessions")
    if isinstance(sessions, list):
        out["sessions"] = [
            _merge_under(defaults, s, ("sessions", i), inherited) if isinstance(s, dict) else s
            for i, s in enumerate(sessions)
        ]
    templates = data.get("dynamicSessions")
    if isinstance(templates, list):
        merged_templates: list[Any] = []
        for i, template in enumerate(templates):
            if isinstance(template, dict) and isinstance(template.get("session"), dict):
                where = ("dynamicSessions", i, "session")
                template = {
                    **template,
                    "session": _merge_under(defaults, template["session"], where, inherited),
                }
            merged_templates.append(template)
        out["dynamicSessions"] = merged_templates
    return out, inherited


def _merge_under(
    defaults: dict[str, Any], target: dict[str, Any], path: Loc, inherited: set[Loc]
) -> dict[str, Any]:
    out = dict(target)
    for key, value in defaults.items():
        if key not in out:
            out[key] = value
            inherited.add((*path, key))
        elif isinstance(value, dict) and isinstance(out[key], dict):
            out[key] = _merge_under(value, out[key], (*path, key), inherited)
    return out


def format_loc(loc: Loc) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


def unknown_key_hint(model: type[BaseModel], key: str, prefix: str = "") -> str:
    where = f"{prefix}.{key}" if prefix and prefix != "(top level)" else key
    return f"unknown setting {where!r}{suggestion(model, key)}"


def suggestion(model: type[BaseModel], key: str) -> str:
    aliases = [field_alias(model, name) for name in model.model_fields]
    choices = {alias.lower(): alias for alias in aliases}
    wanted = key.replace("_", "").lower()
    close = difflib.get_close_matches(wanted, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {choices[close[0]]!r}?" if close else ""
