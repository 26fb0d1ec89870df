"""The operator's import rules (import-linter cannot take a namespace package
as a root, so these are checked on the source's syntax tree):

* from the engine, only ``engine.config`` and ``engine.errors``;
* ``render`` (pure) imports no kopf, no kubernetes client and not ``k8s``;
* only ``k8s`` imports the kubernetes client; only ``handlers`` and ``cli``
  import kopf.
"""

from __future__ import annotations

import ast
from pathlib import Path

OPERATOR = Path(__file__).resolve().parents[2] / "operator"
ALLOWED_ENGINE = {"pyfixmsg_plus.engine.config", "pyfixmsg_plus.engine.errors"}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ("." * node.level) + (node.module or "")
            names.append(base)
            names += [f"{base}.{a.name}" if node.module else f"{base}{a.name}"
                      for a in node.names]
    return names


def _modules() -> list[Path]:
    return sorted(OPERATOR.rglob("*.py"))


def test_operator_imports_only_config_and_errors_from_the_engine() -> None:
    bad = []
    for path in _modules():
        for name in _imports(path):
            if name.startswith("pyfixmsg_plus.engine") and name not in ALLOWED_ENGINE and not any(
                    name.startswith(a + ".") for a in ALLOWED_ENGINE):
                bad.append(f"{path.relative_to(OPERATOR)}: {name}")
            if name.startswith("..") and path.parent == OPERATOR:
                bad.append(f"{path.relative_to(OPERATOR)}: {name} leaves the operator")
    assert not bad, bad


def test_render_is_pure() -> None:
    bad = [f"{p.relative_to(OPERATOR)}: {n}" for p in (OPERATOR / "render").rglob("*.py")
           for n in _imports(p)
           if n.split(".")[0] in ("kopf", "kubernetes", "aiohttp", "requests", "urllib3", "socket")
           or n.endswith("k8s") or ".k8s." in n]
    assert not bad, bad


def test_only_k8s_talks_to_the_api_and_only_handlers_use_kopf() -> None:
    for path in _modules():
        roots = {n.split(".")[0] for n in _imports(path)}
        rel = str(path.relative_to(OPERATOR))
        if "kubernetes" in roots:
            assert rel == "k8s.py", rel
        if "kopf" in roots:
            assert rel in ("handlers.py", "cli.py"), rel


def test_operator_folder_stays_a_namespace_package() -> None:
    assert not (OPERATOR / "__init__.py").exists()
