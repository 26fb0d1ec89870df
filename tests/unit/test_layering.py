"""Layering rules import-linter cannot express here.

``pyfixmsg_plus.operator`` is a namespace package (its folder has no
``__init__.py`` so that it never shadows the standard library's
``operator``), which import-linter cannot take as a root; this test keeps
the engine from importing it.  The layer lists of the import contracts
must name every module, so that a new one gets a place, not a pass.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path
from typing import Any

ENGINE = Path(__file__).resolve().parents[2] / "engine"


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(("." * node.level) + node.module)
    return names


def test_engine_never_imports_the_operator() -> None:
    offenders = []
    for path in ENGINE.rglob("*.py"):
        for name in _imports(path):
            if "operator" in name.split(".") and name != "operator":
                offenders.append(f"{path.relative_to(ENGINE)}: {name}")
    assert not offenders, offenders


def test_operator_folder_cannot_shadow_the_standard_library() -> None:
    assert not (ENGINE.parent / "operator" / "__init__.py").exists()


def _contracts() -> list[dict[str, Any]]:
    pyproject = tomllib.loads((ENGINE.parent / "pyproject.toml").read_text())
    contracts: list[dict[str, Any]] = pyproject["tool"]["importlinter"]["contracts"]
    return contracts


def _layered(contract: dict[str, Any]) -> set[str]:
    return {name.strip() for layer in contract["layers"] for name in re.split(r"[|:]", layer)}


def _children(folder: Path) -> set[str]:
    """The modules and packages directly inside ``folder``."""
    return ({p.stem for p in folder.glob("*.py") if p.stem != "__init__"}
            | {p.name for p in folder.iterdir() if (p / "__init__.py").is_file()})


def test_every_engine_module_has_a_layer() -> None:
    (contract,) = [c for c in _contracts()
                   if c["type"] == "layers" and not c.get("containers")
                   and c["layers"][0].startswith("pyfixmsg_plus.engine.")]
    layered = {name.removeprefix("pyfixmsg_plus.engine.") for name in _layered(contract)}
    children = _children(ENGINE)
    assert children - layered == set(), "engine modules in no layer of pyproject.toml"
    assert layered - children == set(), "layers naming modules that do not exist"


def test_every_config_module_has_a_layer() -> None:
    (contract,) = [c for c in _contracts()
                   if c.get("containers") == ["pyfixmsg_plus.engine.config"]]
    children = _children(ENGINE / "config")
    assert children - _layered(contract) == set(), "config modules in no layer"
    assert _layered(contract) - children == set(), "layers naming modules that do not exist"
