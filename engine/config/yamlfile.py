"""Reading YAML configuration text, with the line of every setting."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import yaml

from .base import InvalidConfigError, Loc
from .keys import format_loc, norm_key


class _Loader(yaml.SafeLoader):
    """YAML 1.1 safe loader without sexagesimal numbers and timestamps.

    ``startTime: 13:30:00`` stays the string it looks like instead of the
    integer 48600, and dates stay strings.
    """


_Loader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag.rsplit(":", 1)[-1] not in ("int", "float", "timestamp")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0x[0-9a-fA-F_]+|[-+]?(?:0|[1-9][0-9_]*))$"),
    list("-+0123456789"),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?"
        r"|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def yaml_scalar(text: str) -> Any:
    """``text`` read as a YAML value, as environment overrides are."""
    return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass


def read_yaml(text: str, source: str) -> tuple[dict[str, Any], dict[tuple[str, ...], int]]:
    """Parse YAML text into a mapping plus the line of every key path.

    Line paths use normalised keys (lowercase, no ``_``), list indexes as
    strings, so snake_case and camelCase spellings find the same line.
    """
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise InvalidConfigError(source, [f"{where}: YAML syntax error: {problem}"]) from None
    finally:
        loader.dispose()
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidConfigError(
            source, [f"{source}: the top level must be a mapping, not {type(data).__name__}"]
        )
    lines: dict[tuple[str, ...], int] = {}
    problems: list[str] = []
    if node is not None:
        _node_lines(node, (), lines, problems, source)
    if problems:
        raise InvalidConfigError(source, problems)
    return data, lines


def _node_lines(
    node: yaml.Node,
    path: tuple[str, ...],
    lines: dict[tuple[str, ...], int],
    problems: list[str],
    source: str,
) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.value == "<<":
                continue
            key = norm_key(key_node.value)
            if key in seen:
                problems.append(
                    f"{source}:{key_node.start_mark.line + 1}: "
                    f"{format_loc(_as_loc((*path, key_node.value)))}: the key is given twice"
                )
            seen.add(key)
            lines[(*path, key)] = key_node.start_mark.line + 1
            _node_lines(value_node, (*path, key), lines, problems, source)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _node_lines(item, (*path, str(index)), lines, problems, source)


def _as_loc(path: tuple[str, ...]) -> Loc:
    return tuple(int(part) if part.isdigit() else part for part in path)


def yaml_locator(source: str, lines: dict[tuple[str, ...], int]) -> Callable[[Loc], str | None]:
    def locate(loc: Loc) -> str | None:
        key = tuple(norm_key(part) for part in loc)
        while key:
            if key in lines:
                return f"{source}:{lines[key]}"
            key = key[:-1]
        return None

    return locate
