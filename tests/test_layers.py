"""Imports run one way (DESIGN.md; README "Architecture"): every ``historyad`` import in
``src/`` — module-level or inside a function — goes down the layers, never up or sideways
into a layer that is not below. Catches e.g. a detector importing ``evaluation.metrics`` or
the evaluation layer importing the CLI."""

from __future__ import annotations

import ast
from pathlib import Path

import historyad

ROOT = Path(historyad.__file__).parent

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
    "cli": {"config", "nn", "training", "detectors", "data", "protocols", "plotting",
            "evaluation"},
}  # fmt: skip


def _imported_layers(path: Path) -> set[tuple[str, int]]:
    """(layer, line) of every historyad import in ``path``; ``from historyad import
    __version__`` names no layer and is skipped."""
    found: set[tuple[str, int]] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "historyad":
                found |= {(a.name, node.lineno) for a in node.names if a.name != "__version__"}
            elif node.module.startswith("historyad."):
                found.add((node.module.split(".")[1], node.lineno))
        elif isinstance(node, ast.Import):
            found |= {(a.name.split(".")[1], node.lineno) for a in node.names
                      if a.name.startswith("historyad.")}  # fmt: skip
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
