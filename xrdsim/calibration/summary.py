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
