"""Derived numbers of a calibration: noise level, Bernstein background levels, fitted cell."""

from __future__ import annotations

from math import comb

import numpy as np
from scipy.optimize import nnls

from xrdsim.calibration import model as fm


def noise_level(y: np.ndarray, fitted: np.ndarray, peak_max: float,
           background: np.ndarray) -> dict[str, float]:
    """Counting-noise level from the point-to-point scatter of the residual.

    e_i = r_i − (r_{i−1} + r_{i+1})/2 of the residual r has variance 1.5σ² for white noise;
    with Poisson-like σ² = f/g, g = Σ f / Σ(e²/1.5). In the simulator's units (pattern
    divided by the peak maximum M) that is ``counting_noise.counts`` C = g·M.
    """
    r = y - fitted
    e = r[1:-1] - 0.5 * (r[:-2] + r[2:])
    gain = float(np.sum(np.maximum(fitted[1:-1], 0.0)) / (np.sum(e * e) / 1.5))
    counts = gain * peak_max
    sigma_bg = float(np.sqrt(max(np.median(background), 0.0) / gain)) / peak_max
    return {"counts_equivalent": counts, "noise_at_peak_top": 1.0 / np.sqrt(counts),
            "noise_at_background": sigma_bg,
            "residual_rms_relative": float(np.sqrt(np.mean(r * r)) / peak_max)}


def bernstein_levels(x: np.ndarray, background: np.ndarray) -> list[float]:
    """c0…c3 ≥ 0 of the simulator's cubic Bernstein background (t = 2θ/120°) closest to the
    fitted one (non-negative least squares on the measured points)."""
    t = x / 120.0
    basis = np.stack([comb(3, k) * t**k * (1.0 - t) ** (3 - k) for k in range(4)], axis=1)
    coef, _ = nnls(basis, background)
    return [float(c) for c in coef]


def fitted_lattice(structure, p: np.ndarray) -> dict[str, float]:
    """a, b, c (Å) of the CIF cell stretched by the fitted strains; angles as in the CIF."""
    lat = structure.lattice
    first = fm.INDEX["strain_a"]
    return {"a": lat.a * (1.0 + p[first]), "b": lat.b * (1.0 + p[first + 1]),
            "c": lat.c * (1.0 + p[first + 2]), "alpha": lat.alpha, "beta": lat.beta,
            "gamma": lat.gamma}


def b_extra_note(structure, b_extra: float) -> str | None:
    """Why a fitted B_extra is not a Debye–Waller factor, or None when it can be one.

    B_extra multiplies every line by exp(−2·B_extra·(sinθ/λ)²) on top of the CIF's own B; a
    thermal B of a site is ≥ 0, so a B_extra below −min(B of the CIF's sites) makes some
    site's total B negative, which no vibration gives. Such a value is kept (bounding it
    would push the same angular trend into the background, the scale and η, the instrument
    quantities the fit is for) and reported as what it absorbs.
    """
    b_sites = structure.site_properties.get("b_iso") or [0.0]
    lowest = float(min(b_sites))
    if b_extra >= -lowest:
        return None
    return (f"B_extra = {b_extra:.2f} Å² makes the total B of a site {lowest + b_extra:.2f} Å² "
            f"(< 0; the CIF's lowest B is {lowest:.2f} Å²): not a physical Debye–Waller factor. "
            "It absorbs intensities that fall off with angle more slowly than the CIF model: "
            "surface roughness or micro-absorption of a Bragg–Brentano sample, a polarisation "
            "(monochromator) factor other than the one assumed, or CIF B values that are too "
            "large. It is reported only, never written into a simulation op.")
