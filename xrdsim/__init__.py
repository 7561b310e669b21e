"""xrdsim: fast, reproducible powder X-ray diffraction simulation for machine learning.

Public API (imported lazily, so ``import xrdsim`` stays cheap and numba kernels
compile only when first used):

- :func:`compute_peaks` — Bragg peak list of one structure (``xrdsim.peaks.lines``).
- :func:`read_structures` — CIFs / folders / CSV(.gz) of CIF text → structures + error records.
- :func:`structure_labels` — spglib symmetry labels of one structure.
- :class:`PeakDatabase` / :func:`write_peak_database` — the HDF5 peak database.
- :class:`SimulationConfig` / :func:`load_config` / :func:`check_disjoint` — profile configs.
- :func:`simulate` / :func:`simulate_batch` — full 12,000-bin patterns from peak lists.
- :func:`build_dataset` — sharded Zarr v3 datasets with train / invariance / equivariance splits.
- :func:`read_pattern` / :func:`prepare_pattern` — measured patterns onto the model grid.
- :func:`predict` / :class:`Prediction` — crystal system, extinction group and space group of
  one measured pattern with the bundled (or a named) trained model, calibrated top-k. It is
  the one entry of the training package (``xrdsim_training.measured.api``) in this table:
  the engine's modules never import it, and it imports torch only when called
  (``pip install xrdsim[training]``).
- :func:`index_pattern` — unit cells of a measured pattern by powder indexing.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# name -> module that defines it
_EXPORTS = {
    "compute_peaks": "xrdsim.peaks.lines",
    "PeakList": "xrdsim.peaks.lines",
    "read_structures": "xrdsim.structures.reader",
    "StructureRecord": "xrdsim.structures.reader",
    "structure_labels": "xrdsim.structures.symmetry",
    "StructureLabels": "xrdsim.structures.symmetry",
    "PeakDatabase": "xrdsim.peaks.database",
    "write_peak_database": "xrdsim.peaks.job",
    "SimulationConfig": "xrdsim.simulation.config",
    "load_config": "xrdsim.simulation.config",
    "check_disjoint": "xrdsim.simulation.disjoint",
    "simulate": "xrdsim.simulation.simulator",
    "simulate_batch": "xrdsim.simulation.simulator",
    "build_dataset": "xrdsim.dataset.build",
    "read_pattern": "xrdsim.measured.readers",
    "prepare_pattern": "xrdsim.measured.prepare",
    "index_pattern": "xrdsim.indexing.index",
    "resolve_wavelength": "xrdsim.wavelengths",
    "convert_two_theta": "xrdsim.grid",
    "grid_centers": "xrdsim.grid",
    "pattern_from_arrays": "xrdsim.measured.readers",
    "predict": "xrdsim_training.measured.api",
    "Prediction": "xrdsim_training.measured.api",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'xrdsim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
