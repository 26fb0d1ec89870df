"""Layering rules import-linter cannot express here.

``pyfixmsg_plus.operator`` is a namespace package (its folder has no
``__init__.py`` so that it never shadows the standard library's
``operator``), which import-linter cannot take as a root; this test keeps
the engine from importing it.
"""

from __future__ import annotations

import ast
from pathlib import Path

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
