"""The engine's tree follows the data flow: no stage imports a later one, and no import cycle.

structures -> peaks -> simulation -> dataset; ``measured`` sits beside the flow. The shared
ground (errors, grid, wavelengths, parallel, progress, versions, data) is importable by all.
Imports inside functions count too: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "xrdsim"

#: stage -> the stages it may import (besides itself and the shared ground).
ALLOWED = {
    "structures": set(),
    "peaks": {"structures"},
    "simulation": {"structures", "peaks"},
    "dataset": {"structures", "peaks", "simulation"},
    "measured": set(),
    "calibration": {"structures", "peaks", "simulation", "measured"},
    "series": {"structures", "peaks", "simulation", "measured"},
}
SHARED = {"errors", "grid", "wavelengths", "parallel", "progress", "versions", "data", "__init__",
          "config_files"}


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every ``xrdsim`` module a file imports, at top level or inside functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("xrdsim"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "xrdsim":
                found.update(f"xrdsim.{a.name}" for a in node.names if a.name != "__version__")
            elif node.module.startswith("xrdsim."):
                found.add(node.module)
    return found


def _stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def test_every_module_belongs_to_a_stage_or_the_shared_ground():
    unknown = {m for m in MODULES if _stage(m) not in ALLOWED and _stage(m) not in SHARED}
    assert not unknown, f"modules outside every stage: {sorted(unknown)}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _stage(m) in ALLOWED))
def test_no_stage_imports_a_later_one(module):
    stage = _stage(module)
    bad = {
        imp
        for imp in _imports(MODULES[module])
        if _stage(imp) in ALLOWED and _stage(imp) != stage and _stage(imp) not in ALLOWED[stage]
    }
    assert not bad, f"{module} ({stage}) imports {sorted(bad)}"


def test_shared_ground_imports_no_stage():
    for module, path in MODULES.items():
        if _stage(module) in SHARED and module != "xrdsim":
            stages = {_stage(i) for i in _imports(path)} & set(ALLOWED)
            assert not stages, f"{module} (shared ground) imports stages {sorted(stages)}"


def test_no_import_cycle():
    graph = {m: {i for i in _imports(p) if i in MODULES and i != m} for m, p in MODULES.items()}
    graph["xrdsim"] = set()  # the lazy public-API table names modules, it does not import them
    graphlib.TopologicalSorter(graph).prepare()  # raises CycleError naming the cycle
