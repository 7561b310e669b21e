"""The trees follow the data flow: no stage imports a later one, and no import cycle.

Engine (``xrdsim``): structures -> peaks -> simulation -> dataset; ``measured`` sits beside
the flow, and ``indexing`` beside it (it reads measured patterns). The shared ground
(errors, grid, wavelengths, parallel, progress, versions, data, config files, the store
lock, output replacement, plotting, plain files) is importable by all. Training
(``xrdsim_training``, folder ``training/``): the ground (method list, config, runtime) -> the
parts (models, simulator twin, losses, data, checkpoints) -> what uses a trained run (hand,
evaluation, measured) -> the trainer; the engine imports neither training nor the CLI, and
HAND runs without torch. Imports inside functions count too: a lazy import is still a
dependency.
"""

from __future__ import annotations

import ast
import graphlib
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "xrdsim"
TRAINING = REPO / "training"

#: stage -> the stages it may import (besides itself and the shared ground).
ALLOWED = {
    "structures": set(),
    "peaks": {"structures"},
    "simulation": {"structures", "peaks"},
    "dataset": {"structures", "peaks", "simulation"},
    "measured": set(),
    "calibration": {"structures", "peaks", "simulation", "measured"},
    "series": {"structures", "peaks", "simulation", "measured"},
    "indexing": {"measured"},
}
SHARED = {"errors", "grid", "wavelengths", "parallel", "progress", "versions", "data", "__init__",
          "config_files", "store_lock", "outputs", "plotting", "files"}


def _module_name(path: Path, root: Path = PACKAGE, name: str = "xrdsim") -> str:
    parts = [name, *path.relative_to(root).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, prefix: str = "xrdsim", known: frozenset[str] = frozenset()
             ) -> set[str]:
    """Every module under ``prefix`` a file imports, at top level or inside functions;
    ``from package import name`` counts as ``package.name`` when that is a module
    (``known``, or any name imported from the engine's top level)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == prefix)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "xrdsim" == prefix:
                found.update(f"xrdsim.{a.name}" for a in node.names if a.name != "__version__")
            elif node.module.split(".")[0] == prefix:
                subs = {f"{node.module}.{a.name}" for a in node.names} & known
                found.update(subs or {node.module})
    return found


def _stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
TRAINING_MODULES = {_module_name(p, TRAINING, "xrdsim_training"): p
                    for p in sorted(TRAINING.rglob("*.py"))}
#: training/'s parts in order: each may import the parts of earlier rows and its own row.
TRAINING_LAYERS = (
    {"__init__", "methods"},
    {"config"},
    {"runtime", "models", "torch_sim"},
    {"schedule", "losses", "inference", "checkpoint", "averaging"},
    {"step", "data"},
    {"hand", "measured", "evaluation"},
    {"trainer"},
    {"series"},
)
#: the torch-free parts (importing them, or ``xrdsim train --help``, loads no torch)
TORCH_FREE = ("xrdsim_training.methods", "xrdsim_training.config", "xrdsim_training.hand",
              "xrdsim_training.hand.model", "xrdsim_training.measured.labels",
              "xrdsim_training.measured.phases", "xrdsim_training.measured.api")


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


def _training_part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _training_graph() -> dict[str, set[str]]:
    known = frozenset(TRAINING_MODULES)
    return {m: {i for i in _imports(p, "xrdsim_training", known) if i in known and i != m}
            for m, p in TRAINING_MODULES.items()}


def test_every_training_module_belongs_to_a_layer():
    layered = set().union(*TRAINING_LAYERS)
    unknown = {m for m in TRAINING_MODULES if _training_part(m) not in layered}
    assert not unknown, f"training modules outside every layer: {sorted(unknown)}"


@pytest.mark.parametrize("module", sorted(TRAINING_MODULES))
def test_no_training_part_imports_a_later_one(module):
    level = {part: i for i, row in enumerate(TRAINING_LAYERS) for part in row}
    mine = level[_training_part(module)]
    bad = {i for i in _training_graph()[module] if level[_training_part(i)] > mine}
    assert not bad, f"{module} imports later parts {sorted(bad)}"


def test_no_import_cycle_in_training():
    graphlib.TopologicalSorter(_training_graph()).prepare()  # raises CycleError naming it


def test_the_engine_imports_neither_training_nor_the_cli():
    for module, path in MODULES.items():
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
        bad = {n for n in names if n.split(".")[0] in ("xrdsim_training", "xrdsim_cli")}
        assert not bad, f"{module} imports {sorted(bad)}"


def test_the_public_table_names_training_only_for_predict():
    """``xrdsim.predict`` is the one door from the engine's public API into the training
    package: a name in the lazy table, never an import of an engine module."""
    import xrdsim

    into_training = {n for n, m in xrdsim._EXPORTS.items() if m.startswith("xrdsim_training")}
    assert into_training == {"predict", "Prediction"}


def test_torch_free_parts_load_no_torch():
    code = ("import sys\n"
            + "".join(f"import {m}\n" for m in TORCH_FREE)
            + "import xrdsim_cli.train\n"
            + "import xrdsim; xrdsim.predict, xrdsim.Prediction\n"
            + "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if 'torch' in m)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
