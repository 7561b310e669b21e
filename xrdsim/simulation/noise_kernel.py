"""numba kernels of the background and noise ops, applied to one normalised pattern.

Every random number comes from a counter-based stream of :mod:`xrdsim.simulation.rng`
(key of the pattern and op, counter = bin / hump / knot index), never a global RNG.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from xrdsim.grid import BIN_WIDTH, N_BINS
from xrdsim.simulation.rng import uniform

_FOUR_LN2 = 4.0 * math.log(2.0)
#: λ below which Poisson counts are drawn by inversion (one uniform), PTRS above.
POISSON_INVERSION_MAX = 10.0
#: Uniform pairs PTRS may use per bin (acceptance > 0.9 each, so never exhausted in practice).
POISSON_ATTEMPTS = 32
#: Hump values below this fraction of its height are not added (the recurrences stop).
HUMP_FLOOR = 1e-12


@nb.njit(cache=True, inline="always")
def normal(q, u):
    """Standard normal quantile by linear interpolation of q at u_k = (k + ½)/M."""
    m = q.shape[0]
    t = u * m - 0.5
    if t <= 0.0:
        return q[0]
    if t >= m - 1:
        return q[m - 1]
    n = int(t)
    f = t - n
    return q[n] + f * (q[n + 1] - q[n])


@nb.njit(cache=True, inline="always")
def _ptrs_shape(lam):
    """PTRS constants of λ that every attempt needs: b = 0.931 + 2.53√λ,
    a = −0.059 + 0.02483·b, v_r = 0.9277 − 3.6224/(b − 2)."""
    b = 0.931 + 2.53 * math.sqrt(lam)
    return b, -0.059 + 0.02483 * b, 0.9277 - 3.6224 / (b - 2.0)


@nb.njit(cache=True, inline="always")
def _ptrs_candidate(lam, a, b, skey, counter):
    """One PTRS attempt's (k, u_s, v) from the uniform pair (counter, counter + 1):
    k = ⌊(2a/u_s + b)·u + λ + 0.43⌋, u = U − ½, u_s = ½ − |u|."""
    uu = uniform(skey, counter) - 0.5
    v = uniform(skey, counter + 1)
    us = 0.5 - abs(uu)
    return math.floor((2.0 * a / us + b) * uu + lam + 0.43), us, v


@nb.njit(cache=True)
def poisson(lam, skey, j):
    """One Poisson(λ) count from the uniforms of bin j (counters 64j, 64j+1, ...).

    λ < :data:`POISSON_INVERSION_MAX`: inversion of the CDF with u = uniform(64j).
    Otherwise PTRS, the transformed rejection of Hörmann (Insurance: Math. Econ. 12, 39,
    1993), as in NumPy: attempt a uses the pair (64j + 2a, 64j + 2a + 1).
    """
    base = 64 * j
    if lam < POISSON_INVERSION_MAX:
        u = uniform(skey, base)
        p = math.exp(-lam)
        cdf = p
        k = 0
        while u > cdf and k < 200:
            k += 1
            p *= lam / k
            cdf += p
        return float(k)
    b, a, vr = _ptrs_shape(lam)
    for att in range(POISSON_ATTEMPTS):
        k, us, v = _ptrs_candidate(lam, a, b, skey, base + 2 * att)
        if us >= 0.07 and v <= vr:
            return k
        if k < 0.0 or (us < 0.013 and v > us):
            continue
        # the squeeze failed: the exact test (1/α and log λ only needed here)
        invalpha = 1.1239 + 1.1328 / (b - 3.4)
        if (math.log(v) + math.log(invalpha) - math.log(a / (us * us) + b)
                <= -lam + k * math.log(lam) - math.lgamma(k + 1.0)):  # fmt: skip
            return k
    return max(0.0, math.floor(lam + 0.5))


@nb.njit(cache=True)
def add_poisson(y, counts, skey):
    """y_j ← Poisson(N·max(y_j, 0))/N with N = counts at the maximum (exact counting).

    Two passes, the same draws as :func:`poisson` bin by bin: PTRS's first attempt on every
    bin without branches (its squeeze accepts ~70 % of them at once), then :func:`poisson`
    on the bins it left (λ < :data:`POISSON_INVERSION_MAX` included), listed in the first.
    """
    inv = 1.0 / counts
    rest = np.empty(N_BINS, dtype=np.int64)
    n_rest = 0
    for j in range(N_BINS):
        lam = y[j] * counts
        b, a, vr = _ptrs_shape(lam)
        k, us, v = _ptrs_candidate(lam, a, b, skey, 64 * j)
        done = (lam >= POISSON_INVERSION_MAX) & (us >= 0.07) & (v <= vr)
        y[j] = k * inv if done else y[j]
        rest[n_rest] = j
        n_rest += 1 - done
    for n in range(n_rest):
        j = rest[n]
        lam = y[j] * counts
        y[j] = poisson(lam, skey, j) * inv if lam > 0.0 else 0.0


@nb.njit(cache=True)
def add_counting(y, counts, skey, q):
    """y ← y + √(max(y, 0)/C)·z, z ~ N(0, 1)  (Gaussian limit of Poisson)."""
    inv_c = 1.0 / counts
    for j in range(N_BINS):
        if y[j] > 0.0:
            y[j] += math.sqrt(y[j] * inv_c) * normal(q, uniform(skey, j))


@nb.njit(cache=True)
def add_hump(y, height, center, fwhm, eta):
    """y_j += h·[(1 − η)·exp(−4 ln2 d²/w²) + η/(1 + 4d²/w²)], d = 2θ_j − c (bin centres).

    The Gaussian part by the exact recurrence g_{j±1} = g_j·r_j, r_{j±1} = r_j·e^{−2ah²}
    (a = 4 ln2/w²) outward from the centre bin, until both parts fall below
    :data:`HUMP_FLOOR`·h.
    """
    h = BIN_WIDTH
    a = _FOUR_LN2 / (fwhm * fwhm)
    q = math.exp(-2.0 * a * h * h)
    j0 = min(max(int(math.floor(center / h)), 0), N_BINS - 1)
    inv_w2 = 4.0 / (fwhm * fwhm)
    for direction in (1, -1):
        j = j0 if direction == 1 else j0 - 1
        if j < 0:
            continue
        d = (j + 0.5) * h - center
        g = math.exp(-a * d * d)
        r = math.exp(-a * (2.0 * d * direction * h + h * h))  # g_{j+dir}/g_j
        while 0 <= j < N_BINS:
            d = (j + 0.5) * h - center
            lor = 1.0 / (1.0 + inv_w2 * d * d)
            y[j] += height * ((1.0 - eta) * g + eta * lor)
            if g < HUMP_FLOOR and eta * lor < HUMP_FLOOR:
                break
            g *= r
            r *= q
            j += direction


@nb.njit(cache=True)
def add_air_scatter(y, amplitude, decay):
    """y_j += A·exp(−2θ_j/τ), by the recurrence e_{j+1} = e_j·exp(−h/τ)."""
    e = amplitude * math.exp(-0.5 * BIN_WIDTH / decay)
    f = math.exp(-BIN_WIDTH / decay)
    floor = HUMP_FLOOR * amplitude
    for j in range(N_BINS):
        if e < floor:
            break
        y[j] += e
        e *= f


@nb.njit(cache=True)
def add_background_noise(y, amp, dilation, skey):
    """Knots z_k ~ U(−n, n) every D = max(d, 1) bins, linear in between."""
    inv_sp = 1.0 / max(dilation, 1.0)
    kk = 0
    z0 = amp * (2.0 * uniform(skey, 0) - 1.0)
    z1 = amp * (2.0 * uniform(skey, 1) - 1.0)
    for j in range(N_BINS):
        p = j * inv_sp
        while p >= kk + 1:
            kk += 1
            z0 = z1
            z1 = amp * (2.0 * uniform(skey, kk + 1) - 1.0)
        f = p - kk
        y[j] += z0 + (z1 - z0) * f
