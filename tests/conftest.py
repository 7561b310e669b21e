"""Shared fixtures: paths to the real data beside the repository and in tests/data."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]
TEST_DATA = Path(__file__).resolve().parent / "data"
# The real data lives in ../shared/data beside the checkout (CI puts it there too);
# XRDSIM_SHARED_DATA overrides.
SHARED_DATA = Path(os.environ.get("XRDSIM_SHARED_DATA", REPO.parent / "shared" / "data"))
# tests/training/training_store.py (the small built store every training subfolder uses)
# imports as ``training_store`` from tests/training/*/ as from tests/training/.
sys.path.insert(0, str(Path(__file__).resolve().parent / "training"))


def benchmark_script(relative: str) -> ModuleType:
    """The script ``benchmarks/<relative>`` imported as a module (its ``main`` not run)."""
    path = REPO / "benchmarks" / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"real data not found at {SHARED_DATA}; set XRDSIM_SHARED_DATA")
    return SHARED_DATA


@pytest.fixture(scope="session")
def test_data() -> Path:
    return TEST_DATA


@pytest.fixture(scope="session")
def hostile_data() -> Path:
    """tests/data/hostile: small malformed and hostile inputs (docs/trust_model.md)."""
    return Path(__file__).parent / "data" / "hostile"


@pytest.fixture
def cell_solution():
    """Factory of a minimal :class:`~xrdsim.indexing.solution.CellSolution` (unit cell,
    M20 = 50, every line indexed) of a given crystal system, Bravais lattice and verdict."""
    from xrdsim.indexing.solution import CellSolution

    def make(system: str, bravais: str, conclusive: bool) -> CellSolution:
        return CellSolution(
            crystal_system=system, bravais_lattice=bravais, centring="P", cell=(1.0,) * 6,
            cell_esd=(0.0,) * 6, volume=1.0, zero_shift=0.0, shift=(0.0, 0.0, 0.0), m20=50.0,
            f_n=50.0, f_n_delta=0.01, f_n_possible=20, n_merit=20, n_unindexed=0,
            conclusive=conclusive, hkl=(), two_theta_calc=(), unindexed=(), ticks=(),
            score=50.0)
    return make
