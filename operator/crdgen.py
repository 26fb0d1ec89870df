"""Generate ``crds/*.yaml`` from :mod:`.models` (never edit those by hand).

``python -m pyfixmsg_plus.operator.crdgen [DIR]`` writes the files (default
``crds/`` of the repository); ``--check`` exits 1 when they differ.

Pydantic writes JSON Schema 2020-12; a CRD wants a *structural* OpenAPI
v3.0 schema: no ``$ref``, a ``type`` on every node, ``nullable`` instead of
``anyOf [.., null]``, boolean ``exclusiveMinimum``.  :func:`structural` does
that conversion; CEL rules come from each model's ``cel_rules``.
"""

from __future__ import annotations

import argparse
import json
import sys
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from . import models
from .models import CrdModel, Kind

_DROP = {"title", "$defs", "discriminator"}


def _model_for(annotation: Any) -> type[BaseModel] | None:
    """The BaseModel inside ``annotation`` (Optional and Annotated unwrapped)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_for(arg)
        if found is not None:
            return found
    return None


def _factory_defaults(model: type[BaseModel], schema: dict[str, Any]) -> None:
    """Give object fields built by a default factory their default, so that
    the API server fills nested defaults too (and CEL rules see them)."""
    props = schema.get("properties", {})
    for name, info in model.model_fields.items():
        alias = info.alias or name
        prop = props.get(alias)
        if prop is None:
            continue
        child = _model_for(info.annotation)
        if info.default_factory is not None:
            factory = typing.cast(typing.Callable[[], Any], info.default_factory)
            value = factory()
            if isinstance(value, BaseModel):
                prop["default"] = value.model_dump(mode="json", by_alias=True, exclude_none=True)
            elif value:
                prop["default"] = value
        if child is not None:
            target = prop.get("items", prop) if prop.get("type") == "array" else prop
            _factory_defaults(child, target)
            rules = getattr(child, "cel_rules", ())
            if rules:
                target["x-kubernetes-validations"] = [dict(r) for r in rules]


def structural(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> dict[str, Any]:
    """Pydantic's JSON schema as a structural OpenAPI v3.0 schema."""
    defs = schema.get("$defs", {}) if defs is None else defs
    if "$ref" in schema:
        target = defs[schema["$ref"].rsplit("/", 1)[-1]]
        merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        return structural(merged, defs)
    out: dict[str, Any] = {}
    any_of = schema.get("anyOf")
    if any_of is not None:
        choices = [c for c in any_of if c.get("type") != "null"]
        if len(choices) != 1:
            raise ValueError(f"cannot express anyOf {any_of} structurally")
        rest = {k: v for k, v in schema.items() if k != "anyOf"}
        out = structural({**choices[0], **rest}, defs)
        if out.get("default", 0) is None:
            del out["default"]
        return out
    for key, value in schema.items():
        if key in _DROP:
            continue
        if key == "properties":
            out[key] = {name: structural(sub, defs) for name, sub in value.items()}
        elif key == "additionalProperties" and isinstance(value, bool):
            # extra="forbid": the API server prunes unknown fields and
            # kubectl's strict field validation names them.
            if value:
                out["x-kubernetes-preserve-unknown-fields"] = True
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = structural(value, defs)
        elif key == "exclusiveMinimum" and not isinstance(value, bool):
            out["minimum"] = value
            out["exclusiveMinimum"] = True
        elif key == "exclusiveMaximum" and not isinstance(value, bool):
            out["maximum"] = value
            out["exclusiveMaximum"] = True
        elif key == "format" and value == "time":
            out["pattern"] = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?$"
        elif key == "default" and value is None:
            continue
        else:
            out[key] = value
    if "enum" in out and "type" not in out:
        out["type"] = "string"
    if "type" not in out and "properties" in out:
        out["type"] = "object"
    return out


def spec_schema(model: type[CrdModel]) -> dict[str, Any]:
    raw = model.model_json_schema(by_alias=True, mode="validation")
    schema = structural(raw)
    _factory_defaults(model, schema)
    if model.cel_rules:
        schema["x-kubernetes-validations"] = [dict(r) for r in model.cel_rules]
    return schema


def crd(kind: Kind) -> dict[str, Any]:
    """The CustomResourceDefinition of one kind."""
    status = structural(
        models.ResourceStatus.model_json_schema(by_alias=True, mode="validation")
    )
    _factory_defaults(models.ResourceStatus, status)
    spec = spec_schema(kind.spec)
    description = (kind.spec.__doc__ or "").strip().splitlines()[0]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{kind.plural}.{models.GROUP}",
            "labels": {"app.kubernetes.io/part-of": "pyfixmsg-plus"},
        },
        "spec": {
            "group": models.GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.singular,
                "shortNames": list(kind.short_names),
                "categories": ["fixplus"],
            },
            "versions": [
                {
                    "name": models.VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": kind.printer_columns,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": description,
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec,
                                "status": status,
                            },
                        }
                    },
                }
            ],
        },
    }


HEADER = "# Generated by `python -m pyfixmsg_plus.operator.crdgen` from operator/models.py.\n" \
         "# Do not edit: change the models and regenerate.\n"


class _Dumper(yaml.SafeDumper):
    """Writes a schema used twice (a Secret reference) out twice, without
    YAML anchors and aliases, which a reader of the CRD would have to follow."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def render_files() -> dict[str, str]:
    """File name -> YAML text of every CRD."""
    return {
        f"{kind.plural}.{models.GROUP}.yaml": HEADER
        + yaml.dump(crd(kind), Dumper=_Dumper, sort_keys=False, width=100)
        for kind in models.KINDS
    }


def _type(node: dict[str, Any]) -> str:
    kind = str(node.get("type", "any"))
    if kind == "array":
        return f"[]{_type(node.get('items') or {})}"
    if kind == "object" and isinstance(node.get("additionalProperties"), dict):
        return f"map[string]{_type(node['additionalProperties'])}"
    return kind


def _constraints(node: dict[str, Any]) -> str:
    parts = []
    if "enum" in node:
        parts.append("one of " + ", ".join(f"`{v}`" for v in node["enum"]))
    for key, word in (("minimum", ">="), ("maximum", "<="), ("minLength", "length >="),
                      ("maxLength", "length <=")):
        if key in node:
            strict = node.get("exclusiveMinimum" if key == "minimum" else "exclusiveMaximum")
            op = word.replace("=", "") if strict and key in ("minimum", "maximum") else word
            parts.append(f"{op} {node[key]}")
    if "pattern" in node and "enum" not in node:
        parts.append(f"pattern `{node['pattern']}`")
    return "; ".join(parts)


def _rows(node: dict[str, Any], path: str, required: set[str], rows: list[str]) -> None:
    for name, sub in (node.get("properties") or {}).items():
        where = f"{path}.{name}" if path else name
        default = f"`{json.dumps(sub['default'])}`" if "default" in sub else ""
        text = " ".join(str(sub.get("description", "")).split())
        notes = "; ".join(x for x in (text, _constraints(sub)) if x).replace("|", "\\|")
        req = "yes" if name in required else ""
        rows.append(f"| `{where}` | {_type(sub)} | {req} | {default} | {notes} |")
        target = sub.get("items", sub) if sub.get("type") == "array" else sub
        _rows(target, f"{where}[]" if sub.get("type") == "array" else where,
              set(target.get("required", [])), rows)


def _rules(node: dict[str, Any], path: str, out: list[str]) -> None:
    for rule in node.get("x-kubernetes-validations", []):
        out.append(f"- `{path or 'spec'}`: {rule['message']} (`{rule['rule']}`)")
    for name, sub in (node.get("properties") or {}).items():
        target = sub.get("items", sub) if sub.get("type") == "array" else sub
        _rules(target, f"{path}.{name}" if path else f"spec.{name}", out)


def reference_markdown() -> str:
    """docs/crds.md: every field of every kind, from the same schemas."""
    lines = [
        "# Custom resource reference (`fixplus.io/v1alpha1`)",
        "",
        "Generated from `operator/models.py` by `python -m pyfixmsg_plus.operator.crdgen "
        "--docs`; a test fails when it drifts.  Session settings have the engine's own "
        "types and meaning: see [configuration.md](configuration.md).",
        "",
    ]
    for kind in models.KINDS:
        version = crd(kind)["spec"]["versions"][0]
        spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
        lines += [f"## {kind.kind}", "",
                  " ".join((kind.spec.__doc__ or "").split()), "",
                  f"`kubectl get {kind.plural}` (short names: "
                  f"{', '.join(kind.short_names)}) shows "
                  f"{', '.join(c['name'] for c in kind.printer_columns)}.", "",
                  "| field | type | required | default | notes |",
                  "| --- | --- | --- | --- | --- |"]
        rows: list[str] = []
        _rows(spec, "spec", set(spec.get("required", [])), rows)
        lines += rows
        rules: list[str] = []
        _rules(spec, "", rules)
        if rules:
            lines += ["", "Rules the API server enforces (CEL):", "", *rules]
        lines.append("")
    lines += ["## Status (all kinds)", "",
              "| field | meaning |", "| --- | --- |",
              "| `status.observedGeneration` | the generation the status describes |",
              "| `status.conditions[]` | `Reconciled` (everything applied), `Ready` (pods "
              "available), `Degraded` (a problem needs attention), each with `reason`, "
              "`message`, `lastTransitionTime` and `observedGeneration` |",
              "| `status.owned[]` | apiVersion, kind and name of every object the resource "
              "owns |",
              "| `status.configHash` | hash of the engine configuration; the pod template "
              "carries it as `fixplus.io/config-hash` |",
              "| `status.sessionIds[]` | the FIX sessions the pods serve |", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parent.parent / "crds"
    parser.add_argument("dir", nargs="?", default=str(default))
    parser.add_argument("--check", action="store_true", help="exit 1 if the files drifted")
    parser.add_argument("--docs", action="store_true",
                        help="write docs/crds.md (the reference) instead")
    args = parser.parse_args(argv)
    if args.docs:
        (Path(__file__).resolve().parent.parent / "docs" / "crds.md").write_text(
            reference_markdown())
        return 0
    out = Path(args.dir)
    drifted = []
    for name, text in render_files().items():
        path = out / name
        if args.check:
            if not path.is_file() or path.read_text() != text:
                drifted.append(name)
        else:
            out.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if drifted:
        print(f"crds drifted from operator/models.py: {', '.join(drifted)}; run "
              "python -m pyfixmsg_plus.operator.crdgen", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
