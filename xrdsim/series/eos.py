"""Lattice volume along an external variable: Birch–Murnaghan compression, linear expansion.

Pressure (third-order Birch–Murnaghan; Birch 1947, Phys. Rev. 71, 809), with x = V/V₀:

    P(x) = (3K₀/2)·(x^(−7/3) − x^(−5/3))·[1 + (3/4)(K₀′ − 4)(x^(−2/3) − 1)]

and its inverse x(P) by bisection (P is strictly decreasing in x on the bracket for
K₀ > 0, K₀′ ≥ 0). Temperature (linear thermal expansion, isotropic):
a(T) = a₀·(1 + α·(T − T₀)), so x(T) = (1 + α·(T − T₀))³. Lattice vectors scale by x^(1/3).
"""

from __future__ import annotations

import numpy as np

from xrdsim.errors import ConfigError

#: Bracket of V/V₀ searched by :func:`bm3_volume_ratio`: 40 % compression is beyond any
#: path this package simulates (P(0.6) ≈ 2.3·K₀ for K₀′ = 4).
VOLUME_RATIO_BRACKET = (0.6, 1.0)
#: Bisection steps: the bracket shrinks 2⁻⁶⁰-fold, below float64 resolution.
BISECTION_STEPS = 60


def bm3_pressure(volume_ratio: np.ndarray, *, k0: float, k0_prime: float) -> np.ndarray:
    """Pressure (GPa, like ``k0``) at V/V₀ = ``volume_ratio`` (third-order Birch–Murnaghan)."""
    x = np.asarray(volume_ratio, dtype=np.float64)
    f = x ** (-2.0 / 3.0)  # (V₀/V)^(2/3)
    return 1.5 * k0 * (f**3.5 - f**2.5) * (1.0 + 0.75 * (k0_prime - 4.0) * (f - 1.0))


def bm3_volume_ratio(pressure: np.ndarray, *, k0: float, k0_prime: float) -> np.ndarray:
    """V/V₀ at ``pressure`` (GPa): the inverse of :func:`bm3_pressure`.

    Raises:
        ConfigError: K₀ ≤ 0, K₀′ < 0, negative pressure, or a pressure above
            P(V/V₀ = 0.6) (outside :data:`VOLUME_RATIO_BRACKET`).
    """
    if not (k0 > 0.0 and k0_prime >= 0.0):
        raise ConfigError(f"bulk modulus K0 must be > 0 and K0' >= 0, got {k0}, {k0_prime}")
    p = np.asarray(pressure, dtype=np.float64)
    p_max = float(bm3_pressure(VOLUME_RATIO_BRACKET[0], k0=k0, k0_prime=k0_prime))
    if (p < 0.0).any() or (p > p_max).any():
        raise ConfigError(
            f"pressures must lie in [0, {p_max:.1f}] GPa for K0 = {k0} GPa, K0' = {k0_prime} "
            f"(40 % compression); got [{p.min():.1f}, {p.max():.1f}]: lower the path's stop"
        )
    lo = np.full(p.shape, VOLUME_RATIO_BRACKET[0])
    hi = np.full(p.shape, VOLUME_RATIO_BRACKET[1])
    for _ in range(BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        above = bm3_pressure(mid, k0=k0, k0_prime=k0_prime) > p  # too compressed: x ↑
        lo = np.where(above, mid, lo)
        hi = np.where(above, hi, mid)
    return 0.5 * (lo + hi)


def thermal_volume_ratio(
    temperature: np.ndarray, *, alpha: float, reference: float = 300.0
) -> np.ndarray:
    """V/V₀ = (1 + α·(T − T₀))³ for a linear expansion coefficient α (1/K)."""
    t = np.asarray(temperature, dtype=np.float64)
    scale = 1.0 + alpha * (t - reference)
    if (scale <= 0.0).any():
        raise ConfigError(f"1 + alpha·(T − {reference}) must stay > 0; alpha = {alpha}")
    return scale**3
