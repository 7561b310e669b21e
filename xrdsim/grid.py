"""The model's 2θ grid and wavelength conversion of 2θ axes.

The grid is the one of das2025 Table 1: ``N = 12,000`` bins of width 0.01°, bin
``j`` (0-based here) centred at ``2θ_j = 0.01·j + 0.005`` degrees, covering
[0°, 120°). Patterns from the simulator, the dataset builder and the
measured-pattern preparation all live on this grid.
"""

from __future__ import annotations

import numpy as np

#: Number of bins of the model grid (das2025 Table 1).
N_BINS = 12_000
#: Bin width in degrees 2θ.
BIN_WIDTH = 0.01
#: Lower edge of the first bin, degrees 2θ.
TWO_THETA_MIN = 0.0
#: Upper edge of the last bin, degrees 2θ.
TWO_THETA_MAX = TWO_THETA_MIN + N_BINS * BIN_WIDTH


def bin_centers(index: np.ndarray | int) -> np.ndarray | float:
    """Centre in degrees 2θ of the 0-based bin(s) ``index`` (float64), without building
    the whole grid: ``2θ_j = 0.01·(j−1) + 0.005`` for ``j = index + 1`` (das2025 Table 1)."""
    return TWO_THETA_MIN + BIN_WIDTH * (np.asarray(index, dtype=np.float64) + 0.5)


def grid_centers() -> np.ndarray:
    """Bin centres in degrees 2θ, shape ``(12000,)``, float64 (:func:`bin_centers` of
    every bin)."""
    return bin_centers(np.arange(N_BINS))


def bin_index(two_theta: np.ndarray) -> np.ndarray:
    """Index of the grid bin holding each 2θ value (−1 where off the grid).

    Args:
        two_theta: degrees 2θ, any shape.

    Returns:
        int64 array of the same shape; ``floor((2θ − 0)/0.01)`` where it falls in
        ``[0, N)``, else −1.
    """
    x = np.asarray(two_theta, dtype=np.float64)
    idx = np.floor((x - TWO_THETA_MIN) / BIN_WIDTH).astype(np.int64)
    idx[(idx < 0) | (idx >= N_BINS) | ~np.isfinite(x)] = -1
    return idx


def convert_two_theta(
    two_theta: np.ndarray, *, from_wavelength: float, to_wavelength: float
) -> np.ndarray:
    """Convert 2θ′ measured at λ′ to the 2θ the same d-spacing has at λ.

    ``2θ = 2·asin(λ/λ′ · sin(2θ′/2))`` (das2025 §4.3, via Bragg's law
    ``λ = 2d·sinθ``). Points whose ``λ/λ′·sin θ′`` exceeds 1 cannot diffract at λ
    and come back as NaN, so callers can drop them (this is the "points past the
    edge drop" rule of SPEC §3, which happens when converting to a longer λ).

    Args:
        two_theta: degrees 2θ′ at ``from_wavelength``.
        from_wavelength: λ′ in Å.
        to_wavelength: λ in Å.

    Returns:
        float64 array of degrees 2θ at ``to_wavelength``, NaN where unreachable.
    """
    x = np.asarray(two_theta, dtype=np.float64)
    s = (to_wavelength / from_wavelength) * np.sin(np.deg2rad(x) / 2.0)
    out = np.full_like(s, np.nan)
    ok = np.abs(s) <= 1.0
    out[ok] = 2.0 * np.rad2deg(np.arcsin(s[ok]))
    return out


def d_spacing(two_theta: np.ndarray, *, wavelength: float) -> np.ndarray:
    """d-spacing in Å for degrees 2θ at ``wavelength`` (Å): ``d = λ / (2 sin θ)``."""
    x = np.asarray(two_theta, dtype=np.float64)
    return wavelength / (2.0 * np.sin(np.deg2rad(x) / 2.0))
