"""Background estimation for measured powder patterns: SNIP and iterative polynomial.

Both estimators work on an equally spaced 1-D intensity array (the model grid's
0.01° bins, see :mod:`xrdsim.measured.prepare`) and return a background of the same shape
that lies under the peaks.

- **SNIP** (Statistics-sensitive Non-linear Iterative Peak-clipping; Ryan et al.,
  Nucl. Instrum. Meth. B 34, 396 (1988); Morháč et al., Nucl. Instrum. Meth. A 401,
  113 (1997)). Each pass ``p`` replaces ``v_i`` by ``min(v_i, (v_{i−p} + v_{i+p})/2)``;
  with a *decreasing* clipping window (p = m … 1, Morháč's variant) peaks up to
  ``2m+1`` points wide are removed while the background keeps its curvature. The
  data are first compressed by the LLS operator ``v = ln(ln(√(y+1)+1)+1)`` so that
  strong and weak peaks are clipped alike, and expanded back afterwards.
- **Iterative polynomial** ("ModPoly", Lieber & Mahadevan-Jansen, Appl. Spectrosc.
  57, 1363 (2003)): fit a polynomial, replace the data by ``min(data, fit)``, refit,
  until the fit changes by less than ``tol``.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter1d

from xrdsim.errors import ConfigError

#: Background methods :func:`estimate_background` knows.
METHODS = ("snip", "poly")
#: Default SNIP half-window in degrees 2θ: wider than the base of laboratory peaks
#: (FWHM 0.05–0.3°) and narrower than the background's curvature (several degrees).
SNIP_WIDTH_DEG = 1.0
#: Default moving-average width (degrees 2θ) applied before estimating the background:
#: wide enough to average ~30 grid bins of counting noise, narrow against the SNIP window.
SMOOTH_DEG = 0.3
#: Default polynomial degree of the iterative fit, in a Chebyshev basis over the range.
POLY_DEGREE = 6
#: Convergence threshold of the iterative fit: max change of the fit relative to its range.
POLY_TOL = 1e-4
#: Iteration cap of the iterative fit (ModPoly converges in 20–100 passes in practice).
POLY_MAX_ITER = 500


def snip(intensity: np.ndarray, *, half_window: int, lls: bool = True,
         decreasing: bool = True) -> np.ndarray:
    """SNIP background of an equally spaced pattern.

    Args:
        intensity: (n,) intensities, any float dtype; values below 0 are allowed (the
            LLS operator is applied to ``y − min(y, 0)`` and shifted back).
        half_window: m, the largest clipping half-width in points (>= 1). Choose it
            about the full width of the broadest peak at its base.
        lls: compress with the LLS operator before clipping (recommended for counts).
        decreasing: clip with p = m … 1 (Morháč) instead of p = 1 … m (Ryan).

    Returns:
        (n,) float64 background, ``<= intensity`` everywhere.
    """
    y = np.asarray(intensity, dtype=np.float64)
    if y.ndim != 1:
        raise ConfigError(f"snip needs a 1-D array, got shape {y.shape}")
    if int(half_window) < 1:
        raise ConfigError(f"SNIP half_window must be >= 1 point, got {half_window!r}")
    offset = min(float(y.min()), 0.0) if y.size else 0.0
    v = y - offset
    if lls:  # v = ln(ln(√(y+1)+1)+1): compresses the dynamic range
        v = np.log(np.log(np.sqrt(v + 1.0) + 1.0) + 1.0)
    # no padding (as in Ryan/Morháč): point i is clipped only by windows p <= min(i, n-1-i),
    # so a straight background stays exact up to the ends
    m = min(int(half_window), (y.size - 1) // 2)
    passes = range(m, 0, -1) if decreasing else range(1, m + 1)
    for p in passes:
        # v_i <- min(v_i, (v_{i-p} + v_{i+p}) / 2) for p <= i < n - p
        mean = 0.5 * (v[: -2 * p] + v[2 * p:])
        np.minimum(v[p:-p], mean, out=v[p:-p])
    if lls:  # inverse of the LLS operator
        v = (np.exp(np.exp(v) - 1.0) - 1.0) ** 2 - 1.0
    return np.minimum(v + offset, y)


def poly_background(x: np.ndarray, intensity: np.ndarray, *, degree: int = POLY_DEGREE,
                    tol: float = POLY_TOL, max_iter: int = POLY_MAX_ITER) -> np.ndarray:
    """Iterative polynomial (ModPoly) background.

    Args:
        x: (n,) abscissa (degrees 2θ), increasing.
        intensity: (n,) intensities.
        degree: polynomial degree (0–20), Chebyshev basis on the data's range.
        tol: stop when ``max|fit_k − fit_{k−1}| <= tol · (max y − min y)``.
        max_iter: iteration cap.

    Returns:
        (n,) float64 background. Unlike SNIP it may exceed the data locally (noise).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(intensity, dtype=np.float64)
    if not 0 <= int(degree) <= 20:
        raise ConfigError(f"poly degree must be in 0–20, got {degree!r}")
    if x.shape != y.shape or x.ndim != 1 or x.size <= degree:
        raise ConfigError(f"poly background needs matching 1-D x, y with more than {degree} "
                          f"points, got shapes {x.shape}, {y.shape}")
    scale = max(float(np.ptp(y)), 1e-300)
    work = y.copy()
    fit = np.polynomial.Chebyshev.fit(x, work, int(degree))(x)
    for _ in range(int(max_iter)):
        work = np.minimum(work, fit)  # points above the fit are peaks: pull them down
        new = np.polynomial.Chebyshev.fit(x, work, int(degree))(x)
        done = np.max(np.abs(new - fit)) <= tol * scale
        fit = new
        if done:
            break
    return fit


def estimate_background(two_theta: np.ndarray, intensity: np.ndarray, *, method: str = "snip",
                        width_deg: float = SNIP_WIDTH_DEG, degree: int = POLY_DEGREE,
                        smooth_deg: float = SMOOTH_DEG, lls: bool = True) -> np.ndarray:
    """Background of an equally spaced pattern by name.

    The data are first smoothed with a moving average ``smooth_deg`` wide: both
    estimators follow the *lower* edge of the noise band otherwise, which biases the
    background low by 1.5–3 σ of the counting noise (measured in tests/measured/test_background.py).

    Args:
        two_theta: (n,) degrees 2θ, equally spaced (the model grid).
        intensity: (n,) intensities.
        method: ``"snip"`` (default) or ``"poly"``.
        width_deg: SNIP half-window in degrees 2θ (converted to points with the step).
        degree: polynomial degree for ``"poly"``.
        smooth_deg: moving-average width in degrees 2θ before estimation; 0 = none.
        lls: LLS compression for SNIP.

    Returns:
        (n,) float64 background.
    """
    x = np.asarray(two_theta, dtype=np.float64)
    y = np.asarray(intensity, dtype=np.float64)
    if method not in METHODS:
        raise ConfigError(f"unknown background method {method!r}; use one of {METHODS} or None")
    if not (width_deg > 0 and smooth_deg >= 0):
        raise ConfigError(f"need width_deg > 0 and smooth_deg >= 0 degrees, got "
                          f"{width_deg!r} and {smooth_deg!r}")
    step = float(np.median(np.diff(x))) if x.size > 1 else 1.0
    smooth = round(smooth_deg / step)
    if smooth > 1:  # centred moving average, ends extended with the end values
        y = uniform_filter1d(y, size=2 * (smooth // 2) + 1, mode="nearest")
    if method == "snip":
        return snip(y, half_window=max(1, round(width_deg / step)), lls=lls)
    return poly_background(x, y, degree=degree)
