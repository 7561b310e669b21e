"""The phases of a series: compressed / expanded cells, symmetry-lowering distortions, mixing.

A two-phase pattern's lines follow the Rietveld scale of each phase (Hill & Howard 1987,
J. Appl. Cryst. 20, 467): I_p ∝ w_p / (ρ_p·V_p²) · Σ 2|F|²·LP, so a weight fraction w_p
enters through the phase's density ρ_p (g/cm³) and cell volume V_p (Å³).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xrdsim.errors import ConfigError
from xrdsim.peaks.lines import compute_peaks

#: Lines of a distorted cell closer than this (° 2θ) are merged (pseudo-equivalent
#: reflections that the strain separates by less than a bin).
DISTORTED_MERGE_TOL = 1e-3


def scaled(structure, volume_ratio: float):
    """A copy of ``structure`` with its lattice vectors scaled by ``volume_ratio^(1/3)``."""
    out = structure.copy()
    out.scale_lattice(structure.volume * float(volume_ratio))
    return out


def strain_tensor(kind: str, strain: float) -> np.ndarray:
    """(3, 3) traceless symmetric strain that breaks the symmetry of a cell.

    tetragonal: diag(−ε/2, −ε/2, ε); orthorhombic: diag(ε, −ε, 0);
    shear: ε₁₃ = ε₃₁ = ε/2, a shear of the a–c plane (cubic → orthorhombic, the a ± c
    diagonals becoming the new axes; lower parents → monoclinic).
    """
    e = float(strain)
    if kind == "tetragonal":
        return np.diag([-e / 2, -e / 2, e])
    if kind == "orthorhombic":
        return np.diag([e, -e, 0.0])
    if kind == "shear":
        t = np.zeros((3, 3))
        t[0, 2] = t[2, 0] = e / 2
        return t
    raise ConfigError(f"unknown distortion {kind!r}; use tetragonal, orthorhombic or shear")


def distorted(structure, *, kind: str, strain: float, volume_change: float):
    """The symmetry-lowered second phase: lattice rows M ← M·(I + ε), then ΔV/V applied.

    Fractional coordinates are kept, so the atoms follow the cell.
    """
    from pymatgen.core import Lattice, Structure

    matrix = structure.lattice.matrix @ (np.eye(3) + strain_tensor(kind, strain))
    out = Structure(
        Lattice(matrix),
        structure.species_and_occu,
        structure.frac_coords,
        site_properties=structure.site_properties or None,
    )
    target = structure.volume * (1.0 + float(volume_change))
    out.scale_lattice(target)
    return out


@dataclass(frozen=True)
class PhaseLines:
    """Lines of one phase at one step, on the Rietveld weight-fraction scale.

    Attributes:
        two_theta: (n,) degrees 2θ.
        intensity: (n,) Σ 2|F|²·LP / (ρ·V²) per unit weight fraction.
    """

    two_theta: np.ndarray
    intensity: np.ndarray


def phase_lines(structure, *, wavelength: float, merge_tolerance: float) -> PhaseLines:
    """The phase's lines and their scale 1/(ρ·V²) (Hill & Howard)."""
    peaks = compute_peaks(structure, wavelength=wavelength, merge_tolerance=merge_tolerance)
    scale = 1.0 / (float(structure.density) * structure.volume**2)
    return PhaseLines(peaks.two_theta.copy(), peaks.intensity_raw * scale)


def mix(lines: list[PhaseLines], fractions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated (2θ ascending, intensity scaled to max 100) lines of the phases present."""
    tt = np.concatenate([p.two_theta for p, f in zip(lines, fractions, strict=True) if f > 0])
    inten = np.concatenate(
        [p.intensity * f for p, f in zip(lines, fractions, strict=True) if f > 0]
    )
    order = np.argsort(tt, kind="stable")
    tt, inten = tt[order], inten[order]
    top = inten.max() if inten.size else 0.0
    return tt, (inten * (100.0 / top) if top > 0 else inten)
