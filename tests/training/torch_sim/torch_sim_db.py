"""A small real peak database for the torch_sim tests, built once per session.

Two MP-20 structures of every crystal system (≤ 8 atoms, first in file order, so cubic
and hexagonal lattices are there for preferred orientation), through the real
:func:`xrdsim.write_peak_database` at Cu Kα over 0–120° 2θ (peaks up to the grid edge).

Import the fixture into a test module with ``from torch_sim_db import peak_db``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from training_store import pick_structures

PER_SYSTEM = 2
_BUILT: dict[str, Path] = {}


@pytest.fixture(scope="session")
def peak_db(tmp_path_factory, shared_data) -> Path:
    """Path of the session's small peak database (read-only)."""
    from xrdsim import write_peak_database

    key = str(tmp_path_factory.getbasetemp())
    if key not in _BUILT:
        folder = tmp_path_factory.mktemp("torch_sim_db")
        picked = folder / "picked.csv"
        csv = shared_data / "structures" / "mp20_test.csv.gz"
        pick_structures(csv, per_system=PER_SYSTEM).to_csv(picked, index=False)
        write_peak_database([picked], folder / "peaks.h5", wavelength=1.5418,
                            two_theta_range=(0.0, 120.0), progress=False)  # fmt: skip
        _BUILT[key] = folder / "peaks.h5"
    return _BUILT[key]
