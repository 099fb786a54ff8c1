"""Data flows one way: models/ -> workloads/ -> simulator/, calibration/ into simulator/.

The one exception is two leaf modules every layer may use, which import nothing of the
project: ``simulator.errors`` (the user-error class) and ``simulator.outputs`` (the atomic
writer). This test reads every module's imports (no import runs) and holds both rules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LEAVES = {"simulator.errors", "simulator.outputs"}
#: what each lower layer may import of the project (besides itself and the leaves)
ALLOWED = {"models": set(), "workloads": {"models"}, "calibration": set()}
PROJECT = {"simulator", "models", "workloads", "calibration", "nmsim"}


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_lower_layers_import_only_what_is_below_them(layer: str):
    bad = []
    for path in sorted((ROOT / layer).rglob("*.py")):
        for mod in _imports(path):
            top = mod.split(".")[0]
            if top in PROJECT and top != layer and top not in ALLOWED[layer] \
                    and mod not in LEAVES:
                bad.append(f"{path.relative_to(ROOT)} imports {mod}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("leaf", sorted(LEAVES))
def test_leaf_modules_import_nothing_of_the_project(leaf: str):
    path = ROOT / (leaf.replace(".", "/") + ".py")
    mods = {m for m in _imports(path) if m.split(".")[0] in PROJECT and m not in LEAVES}
    assert not mods, f"{leaf} imports {mods}"
