"""Which known phase a measured pattern shows: labels of measured files derived from CIFs.

A measured file is named after the phases it holds (``MnO.xy``, ``TiO2+MnO.xy``); the CIF
folder may hold several polymorphs of one formula (``MnO_186.cif``, ``MnO_225.cif``).
:func:`identify_phases` derives, without any typed space group:

1. for every named phase, the CIFs of the same reduced formula; the one whose stick
   pattern (absolute kinematic intensities, Gaussian lines of :data:`MATCH_FWHM_DEG`)
   has the highest cosine similarity with the measured pattern (SNIP background
   subtracted, negative bins set to 0) is the phase;
2. for a mixture, the weight fractions of the chosen phases from a non-negative
   least-squares fit ``y ≈ Σ_p c_p·s_p`` of the measured pattern by the phases' stick
   patterns, converted with the Rietveld relation ``w_p ∝ c_p·(ZM)_p·V_p`` (Hill & Howard
   1987: the scale of a phase is ∝ w_p / (ρ_p·V_p²) for intensities per cell); the
   label of a mixture is its majority phase;
3. the space group of the chosen CIF by spglib
   (:func:`xrdsim.structures.symmetry.structure_labels`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xrdsim.errors import ConfigError

#: FWHM (degrees 2θ) of the Gaussian lines of the reference stick patterns: between the
#: 0.1° of a lab diffractometer and the broadening of fine powders. The weight fractions of
#: the shared mixtures move by < 0.06 between 0.1° and 0.4° (docs/training.md).
MATCH_FWHM_DEG = 0.2


@dataclass(frozen=True)
class PhaseMatch:
    """One named phase of a measured file.

    Attributes:
        phase: the name as written in the file name (``"TiO2"``).
        cif: the chosen CIF (best cosine among the same-formula CIFs).
        space_group: spglib space group of that CIF (symprec 0.1 Å).
        cosine: cosine similarity of its stick pattern with the measured pattern.
        runner_up: the best cosine among the other polymorphs (``nan`` if none).
        weight_fraction: Rietveld weight fraction in the file (1.0 for a single phase).
    """

    phase: str
    cif: Path
    space_group: int
    cosine: float
    runner_up: float
    weight_fraction: float


def stick_pattern(structure, *, wavelength: float, fwhm_deg: float = MATCH_FWHM_DEG
                  ) -> np.ndarray:
    """(12000,) float64 grid pattern of unit-area Gaussians scaled by ``Σ 2|F|²·LP`` per line."""
    from xrdsim.grid import grid_centers
    from xrdsim.peaks.lines import compute_peaks

    x = grid_centers()
    peaks = compute_peaks(structure, wavelength=wavelength)
    sigma = fwhm_deg / (2.0 * np.sqrt(2.0 * np.log(2.0)))
    y = np.zeros_like(x)
    for t, area in zip(peaks.two_theta, peaks.intensity_raw, strict=True):
        near = np.abs(x - t) < 6.0 * sigma + 0.05
        # I(2θ) = A·exp(−(2θ − 2θ₀)²/2σ²)/(σ√2π)
        y[near] += area * np.exp(-0.5 * ((x[near] - t) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))
    return y


def cifs_of_formula(cif_dirs: list[Path], formula: str) -> list[tuple[Path, object]]:
    """``(path, structure)`` of every readable CIF in ``cif_dirs`` with the reduced formula
    of ``formula``, sorted by path."""
    from pymatgen.core import Composition

    from xrdsim.structures.reader import StructureRecord, read_structures

    target = Composition(formula).reduced_formula
    out = []
    for path in sorted(p for d in cif_dirs for p in Path(d).glob("*.cif")):
        for record in read_structures(path):
            if isinstance(record, StructureRecord) and \
                    record.structure.composition.reduced_formula == target:
                out.append((path, record.structure))
    return out


def identify_phases(pattern_path: str | Path, phases: list[str], cif_dirs: list[Path], *,
                    wavelength: float | str | None = None) -> list[PhaseMatch]:
    """The CIF, space group and weight fraction of every phase named for a measured file.

    Raises:
        ConfigError: a phase without any CIF of its formula.
    """
    from scipy.optimize import nnls

    from xrdsim.measured.prepare import prepare_pattern
    from xrdsim.measured.readers import read_pattern
    from xrdsim.structures.symmetry import structure_labels

    prepared = prepare_pattern(read_pattern(pattern_path, wavelength=wavelength))
    mask = prepared.measured
    y = np.maximum(prepared.pattern[mask].astype(np.float64), 0.0)
    chosen = []
    for phase in phases:
        candidates = cifs_of_formula(cif_dirs, phase)
        if not candidates:
            raise ConfigError(f"{pattern_path}: no CIF of formula {phase!r} in "
                              f"{[str(d) for d in cif_dirs]}")
        scored = []
        for path, structure in candidates:
            s = stick_pattern(structure, wavelength=prepared.wavelength)[mask]
            scored.append((float(s @ y / (np.linalg.norm(s) * np.linalg.norm(y))), path,
                           structure, s))
        scored.sort(key=lambda r: -r[0])
        runner_up = scored[1][0] if len(scored) > 1 else float("nan")
        chosen.append((phase, runner_up, *scored[0]))
    coef, _ = nnls(np.stack([c[-1] for c in chosen], axis=1), y)
    # w_p ∝ c_p·(ZM)_p·V_p: cell mass (formula units × molar mass) times cell volume
    mass = np.array([c[-2].composition.weight * c[-2].volume for c in chosen]) * coef
    fractions = mass / mass.sum() if mass.sum() > 0 else np.full(len(chosen), np.nan)
    return [PhaseMatch(phase, path, structure_labels(structure).space_group, cosine,
                       runner_up, float(w))
            for (phase, runner_up, cosine, path, structure, _), w
            in zip(chosen, fractions, strict=True)]
