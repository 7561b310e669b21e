"""Kernel inputs built from a config and the caller's peaks: line positions per
wavelength and the crystal arrays of preferred orientation."""

from __future__ import annotations

from typing import Any

import numpy as np

from xrdsim.errors import PeakInputError
from xrdsim.grid import convert_two_theta
from xrdsim.simulation.config import SimulationConfig
from xrdsim.simulation.ops import OPS
from xrdsim.simulation.orientation import (
    candidate_operations,
    check_hkl,
    directions_array,
    orientation_inputs,
)
from xrdsim.wavelengths import TUNGSTEN_LALPHA1

#: Ops that need each line's hkl and its crystal's cell: (op, parameter, value recorded
#: when no crystal is given and the op is skipped).
CRYSTAL_OPS = (("preferred_orientation", "r", 1.0), ("lattice_strain", "amplitude", 0.0))


def needs_crystal(cfg: SimulationConfig) -> bool:
    """True when an op of ``cfg`` reads the lines' hkl and cells (:data:`CRYSTAL_OPS`)."""
    return any(cfg.enabled(name) for name, _, _ in CRYSTAL_OPS)


def line_positions(tt: np.ndarray, cfg: SimulationConfig, enc: Any) -> np.ndarray:
    """(4, n) float64 2θ of every peak for Kα1 (or the single line), Kα2, Kβ1 and W Lα1.

    Rows of ops that are off are NaN; a line that cannot diffract (sin θ > 1) is NaN.
    """
    rows = np.full((4, tt.size), np.nan)
    names = [op.name for op in OPS]
    with np.errstate(invalid="ignore"):
        if enc.on[names.index("doublet")]:
            for r, lam in enumerate(enc.kalpha):
                rows[r] = convert_two_theta(tt, from_wavelength=cfg.wavelength, to_wavelength=lam)
        else:
            rows[0] = tt
        if enc.on[names.index("tube_lines")]:
            for r, lam in ((2, enc.kbeta), (3, TUNGSTEN_LALPHA1)):
                rows[r] = convert_two_theta(tt, from_wavelength=cfg.wavelength, to_wavelength=lam)
    return rows


def orientation_arrays(cfg: SimulationConfig, active: bool, hkl: Any, cells: Any, phase: Any,
                 offsets: np.ndarray) -> tuple[np.ndarray, ...]:
    """Crystal inputs of preferred orientation and lattice strain (1-element dummies when
    ``active`` is False: neither op is on).

    Without ``phase`` the crystal of pattern b (``cells[b]``) owns all its lines;
    with it, line i belongs to crystal ``cells[phase[i]]`` (multi-phase patterns).
    """
    ops = np.ascontiguousarray(candidate_operations().reshape(-1, 9), dtype=np.float64)
    n_pat, n_peaks = offsets.size - 1, int(offsets[-1])
    if not active:
        return (np.zeros((1, 3), np.int64), np.zeros(1, np.int64), np.zeros((1, 9)),
                np.zeros((1, ops.shape[0]), np.bool_), ops, np.ones((1, 3)))  # fmt: skip
    if phase is None:
        phase = np.repeat(np.arange(n_pat, dtype=np.int64), np.diff(offsets))
        n_cells = n_pat
    else:
        phase = np.ascontiguousarray(phase, dtype=np.int64)
        n_cells = 0 if cells is None else np.asarray(cells).reshape(-1, 6).shape[0]
    gs, mask = orientation_inputs(cells, n_cells)
    dirs = directions_array(cfg.op("preferred_orientation").settings["directions"])
    return check_hkl(hkl, n_peaks), phase, gs, mask, ops, dirs


def check_peaks(tt: np.ndarray, inten: np.ndarray, offsets: np.ndarray) -> None:
    """Refuse ragged peaks the kernels cannot take (bad shapes, offsets, NaN/inf, < 0)."""
    if tt.ndim != 1 or inten.shape != tt.shape:
        raise PeakInputError(
            f"two_theta and intensity must be 1-D of equal length, got {tt.shape} and {inten.shape}"
        )
    if offsets.ndim != 1 or offsets.size < 1 or offsets[0] != 0 or offsets[-1] != tt.size:
        raise PeakInputError(
            f"offsets must be 1-D, start at 0 and end at len(two_theta)={tt.size}, got "
            f"{offsets[:3].tolist()}...{offsets[-3:].tolist()}"
        )
    if (np.diff(offsets) < 0).any():
        raise PeakInputError("offsets must be non-decreasing (ragged bounds of each pattern)")
    for arr, what in ((tt, "two_theta"), (inten, "intensity")):
        bad = ~np.isfinite(arr) | ((arr < 0) if what == "intensity" else False)
        if bad.any():
            i = int(np.argmax(bad))
            b = int(np.searchsorted(offsets, i, side="right") - 1)
            raise PeakInputError(
                f"pattern {b}, peak {i - offsets[b]}: {what} = {float(arr[i])!r}; "
                f"{what} must be finite"
                + (" and >= 0" if what == "intensity" else "")
                + " (drop or repair the peak list)"
            )
