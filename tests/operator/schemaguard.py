"""Compare the JSON schema of a CRD model with the engine model it mirrors.

The CRD repeats some engine settings (it needs its own optionality and
descriptions, and Secrets instead of file paths).  For every field the two
share, at any depth, the CRD must not accept what the engine refuses and
must not default to something else:

* types: equal (the CRD may make a setting optional: unset means the
  engine's default);
* defaults: equal where both give one;
* limits: the CRD's are equal or stricter: ``minimum``/``exclusiveMinimum``
  not lower, ``maximum``/``exclusiveMaximum`` not higher, ``minLength``/
  ``minItems`` not lower, ``maxLength``/``maxItems`` not higher (or absent
  only when the engine has none), ``pattern`` the engine's own, ``enum`` a
  subset of the engine's.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel

Schema = dict[str, Any]


def schema_of(model: type[BaseModel]) -> Schema:
    return model.model_json_schema(by_alias=True, mode="validation")


def drift(crd: type[BaseModel], engine: type[BaseModel]) -> list[str]:
    """Every way the CRD model's shared fields differ from the engine's."""
    problems: list[str] = []
    crd_root, engine_root = schema_of(crd), schema_of(engine)
    _compare(crd_root, crd_root, engine_root, engine_root, crd.__name__, problems)
    return problems


def _resolve(node: Schema, root: Schema) -> Schema:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        rest = {k: v for k, v in node.items() if k != "$ref"}
        node = {**root["$defs"][name], **rest}
    return node


def _split_null(node: Schema, root: Schema) -> tuple[Schema, bool]:
    options = node.get("anyOf")
    if options is None:
        return _resolve(node, root), False
    kept = [o for o in options if o.get("type") != "null"]
    nullable = len(kept) != len(options)
    outer = {k: v for k, v in node.items() if k != "anyOf"}
    if len(kept) == 1:
        return {**_resolve(kept[0], root), **outer}, nullable
    return {**outer, "anyOf": [_resolve(o, root) for o in kept]}, nullable


def _const_as_enum(node: Schema) -> Schema:
    if "const" in node and "enum" not in node:
        return {**node, "enum": [node["const"]]}
    return node


def _bound(node: Schema, plain: str, exclusive: str, missing: float) -> tuple[float, bool]:
    if exclusive in node:
        return float(node[exclusive]), True
    if plain in node:
        return float(node[plain]), False
    return missing, False


def _compare(crd: Schema, crd_root: Schema, eng: Schema, eng_root: Schema, path: str,
             problems: list[str]) -> None:
    crd, _ = _split_null(crd, crd_root)
    eng, eng_nullable = _split_null(eng, eng_root)
    crd, eng = _const_as_enum(crd), _const_as_enum(eng)
    crd_default, eng_default = crd.get("default"), eng.get("default")
    if crd_default is not None and "default" in eng and crd_default != eng_default:
        problems.append(f"{path}: default {crd_default!r}, the engine's is {eng_default!r}")
    if crd.get("type") != eng.get("type"):
        problems.append(f"{path}: type {crd.get('type')}, the engine's is {eng.get('type')}")
    if "anyOf" in crd or "anyOf" in eng:
        if len(crd.get("anyOf", [])) != len(eng.get("anyOf", [])):
            problems.append(f"{path}: union of other types than the engine's")
        for i, (c, e) in enumerate(zip(crd.get("anyOf", []), eng.get("anyOf", []), strict=False)):
            _compare(c, crd_root, e, eng_root, f"{path}|{i}", problems)
    if "enum" in eng:
        extra = set(map(str, crd.get("enum", eng["enum"]))) - set(map(str, eng["enum"]))
        if "enum" not in crd or extra:
            problems.append(f"{path}: values {sorted(extra) or 'any'} the engine refuses")
    low_c, low_e = (_bound(n, "minimum", "exclusiveMinimum", -math.inf) for n in (crd, eng))
    if low_c[0] < low_e[0] or (low_c[0] == low_e[0] and low_e[1] and not low_c[1]):
        problems.append(f"{path}: lower bound {low_c}, looser than the engine's {low_e}")
    high_c, high_e = (_bound(n, "maximum", "exclusiveMaximum", math.inf) for n in (crd, eng))
    if high_c[0] > high_e[0] or (high_c[0] == high_e[0] and high_e[1] and not high_c[1]):
        problems.append(f"{path}: upper bound {high_c}, looser than the engine's {high_e}")
    for key in ("minLength", "minItems"):
        if crd.get(key, 0) < eng.get(key, 0):
            problems.append(f"{path}: {key} {crd.get(key, 0)}, the engine's is {eng[key]}")
    for key in ("maxLength", "maxItems"):
        if crd.get(key, math.inf) > eng.get(key, math.inf):
            problems.append(f"{path}: {key} {crd.get(key, 'none')}, the engine's is {eng[key]}")
    if "pattern" in eng and crd.get("pattern") != eng["pattern"]:
        problems.append(f"{path}: pattern {crd.get('pattern')!r}, the engine's is "
                        f"{eng['pattern']!r}")
    if "items" in crd and "items" in eng:
        _compare(crd["items"], crd_root, eng["items"], eng_root, f"{path}[]", problems)
    shared = set(crd.get("properties", {})) & set(eng.get("properties", {}))
    for name in sorted(shared):
        _compare(crd["properties"][name], crd_root, eng["properties"][name], eng_root,
                 f"{path}.{name}", problems)
    del eng_nullable  # an engine setting that may be null may be required in the CRD
