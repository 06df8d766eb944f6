"""Imports run one way (DESIGN.md; README "Architecture"): every ``historyad`` import in
``src/`` — module-level or inside a function — goes down the layers, never up or sideways
into a layer that is not below. Catches e.g. a detector importing ``evaluation.metrics`` or
the evaluation layer importing the CLI, relative imports and module paths handed to
``importlib`` included."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import historyad

ROOT = Path(historyad.__file__).parent
MODULE_PATH = re.compile(r"historyad(\.\w+)+")

#: layer -> the historyad layers it may import (besides itself).
ALLOWED: dict[str, set[str]] = {
    "config": set(),
    "data": set(),
    "plotting": set(),
    "protocols": {"data"},
    "nn": {"config"},
    "training": {"config", "nn"},
    "detectors": {"config", "nn", "training"},
    "evaluation": {"config", "nn", "training", "detectors", "data", "protocols", "plotting"},
    "export": {"config", "nn", "training", "detectors"},  # an edge: nothing below imports it
    "cli": {"config", "nn", "training", "detectors", "data", "protocols", "plotting",
            "evaluation", "export"},
}  # fmt: skip


def _absolute(node: ast.ImportFrom, package: list[str]) -> str:
    """The absolute module of ``from ... import`` (relative imports resolved from the
    importing module's package, e.g. ``from ..evaluation import x`` in detectors/)."""
    if node.level == 0:
        return node.module or ""
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imported_layers(path: Path, package: list[str] | None = None) -> set[tuple[str, int]]:
    """(layer, line) of every historyad import in ``path``: ``import`` and ``from`` statements
    (relative ones included), and module paths written as strings (``importlib``, registry
    tables: a string that is exactly ``historyad.<layer>...``). ``from historyad import
    __version__`` names no layer and is skipped."""
    if package is None:  # the importing module's package, e.g. ["historyad", "detectors"]
        package = list(path.relative_to(ROOT.parent).parts[:-1])
    found: set[tuple[str, int]] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            module = _absolute(node, package)
            if module == "historyad":
                found |= {(a.name, node.lineno) for a in node.names if a.name != "__version__"}
            elif module.startswith("historyad."):
                found.add((module.split(".")[1], node.lineno))
        elif isinstance(node, ast.Import):
            found |= {(a.name.split(".")[1], node.lineno) for a in node.names
                      if a.name.startswith("historyad.")}  # fmt: skip
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if MODULE_PATH.fullmatch(node.value):
                found.add((node.value.split(".")[1], node.lineno))
    return found


def test_every_module_belongs_to_a_layer():
    layers = {p.name.removesuffix(".py") for p in ROOT.iterdir()
              if not p.name.startswith("_") and (p.is_dir() or p.suffix == ".py")}  # fmt: skip
    assert layers - {"__pycache__"} == set(ALLOWED)


def test_imports_run_one_way():
    wrong = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        layer = rel.parts[0].removesuffix(".py")
        if layer == "__init__" or layer == "__main__":
            continue
        for target, line in _imported_layers(path):
            if target != layer and target not in ALLOWED[layer]:
                wrong.append(f"{rel}:{line} ({layer}) imports {target}")
    assert not wrong, "imports running up the layers:\n" + "\n".join(sorted(wrong))


def test_relative_and_string_imports_are_seen(tmp_path: Path):
    """The checker itself: a relative import and an importlib string both name their layer."""
    module = tmp_path / "probe.py"
    module.write_text("from ..evaluation import metrics\n"
                      "import importlib\n"
                      "m = importlib.import_module('historyad.cli')\n", encoding="utf-8")
    found = _imported_layers(module, package=["historyad", "detectors"])
    assert {layer for layer, _ in found} == {"evaluation", "cli"}
