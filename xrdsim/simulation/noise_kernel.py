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
#: λ from which Poisson counts are the corrected normal of :func:`normal_count` (one uniform).
POISSON_NORMAL_MIN = 50.0
#: Smallest tail probability :func:`normal_quantile` evaluates (½ of the uniforms' step 2⁻⁵³).
NORMAL_TAIL_MIN = 2.0**-54
#: Coefficients of AS 241 (PPND16): central region |u − ½| ≤ 0.425 (A / B), tails with
#: r = √(−log min(u, 1 − u)) ≤ 5 (C / D, in r − 1.6) and beyond (E / F, in r − 5).
_AS241_A = (3.3871328727963666080e0, 1.3314166789178437745e2, 1.9715909503065514427e3,
            1.3731693765509461125e4, 4.5921953931549871457e4, 6.7265770927008700853e4,
            3.3430575583588128105e4, 2.5090809287301226727e3)
_AS241_B = (1.0, 4.2313330701600911252e1, 6.8718700749205790830e2, 5.3941960214247511077e3,
            2.1213794301586595867e4, 3.9307895800092710610e4, 2.8729085735721942674e4,
            5.2264952788528545610e3)
_AS241_C = (1.42343711074968357734e0, 4.63033784615654529590e0, 5.76949722146069140550e0,
            3.64784832476320460504e0, 1.27045825245236838258e0, 2.41780725177450611770e-1,
            2.27238449892691845833e-2, 7.74545014278341407640e-4)
_AS241_D = (1.0, 2.05319162663775882187e0, 1.67638483018380384940e0, 6.89767334985100004550e-1,
            1.48103976427480074590e-1, 1.51986665636164571966e-2, 5.47593808499534494600e-4,
            1.05075007164441684324e-9)
_AS241_E = (6.65790464350110377720e0, 5.46378491116411436990e0, 1.78482653991729133580e0,
            2.96560571828504891230e-1, 2.65321895265761230930e-2, 1.24266094738807843860e-3,
            2.71155556874348757815e-5, 2.01033439929228813265e-7)
_AS241_F = (1.0, 5.99832206555887937690e-1, 1.36929880922735805310e-1, 1.48753612908506148525e-2,
            7.86869131145613259100e-4, 1.84631831751005468180e-5, 1.42151175831644588870e-7,
            2.04426310338993978564e-15)
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


@nb.njit(cache=True, inline="always")
def _horner(c, r):
    """c₀ + r·(c₁ + r·(c₂ + … + r·c₇)), the polynomials of :func:`normal_quantile`."""
    return c[0] + r * (c[1] + r * (c[2] + r * (c[3] + r * (c[4] + r * (c[5] + r * (
        c[6] + r * c[7]))))))


@nb.njit(cache=True)
def normal_quantile(u):
    """Φ⁻¹(u): Wichura's algorithm AS 241 (PPND16, Appl. Statist. 37, 477, 1988), relative
    error ~1e-16; u ≤ 0 or u ≥ 1 is taken as ½ of the smallest uniform step from the end."""
    q = u - 0.5
    if abs(q) <= 0.425:
        r = 0.180625 - q * q
        return q * _horner(_AS241_A, r) / _horner(_AS241_B, r)
    r = max(u if q < 0.0 else 1.0 - u, NORMAL_TAIL_MIN)
    r = math.sqrt(-math.log(r))
    if r <= 5.0:
        z = _horner(_AS241_C, r - 1.6) / _horner(_AS241_D, r - 1.6)
    else:
        z = _horner(_AS241_E, r - 5.0) / _horner(_AS241_F, r - 5.0)
    return -z if q < 0.0 else z


@nb.njit(cache=True, inline="always")
def normal_count(lam, u):
    """Poisson(λ ≥ :data:`POISSON_NORMAL_MIN`) from one uniform: the Cornish–Fisher
    expansion of its quantile to order 1/√λ, rounded: ⌊λ + √λ·z + (z² − 1)/6
    + (z − z³)/(72√λ) + ½⌋, z = Φ⁻¹(u), at least 0 (skewness and kurtosis of the
    Poisson law; total variation distance to it ≈ 0.020/λ, ≤ 4.1e-4)."""
    z = normal_quantile(u)
    s = math.sqrt(lam)
    return max(0.0, math.floor(lam + s * z + (z * z - 1.0) / 6.0 + (z - z * z * z) / (72.0 * s)
                               + 0.5))  # fmt: skip


@nb.njit(cache=True)
def poisson(lam, skey, j):
    """One Poisson(λ) count from the uniforms of bin j (counters 64j, 64j+1, ...).

    λ < :data:`POISSON_INVERSION_MAX`: inversion of the CDF with u = uniform(64j).
    λ ≥ :data:`POISSON_NORMAL_MIN`: :func:`normal_count` of u = uniform(64j).
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
    if lam >= POISSON_NORMAL_MIN:
        return normal_count(lam, uniform(skey, base))
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
def add_poisson(y, counts, skey, jlo, jhi):
    """y_j ← Poisson(N·max(y_j, 0))/N with N = counts at the maximum, on bins [jlo, jhi).

    Every bin's count is :func:`poisson` of its λ; the bins of λ ≥
    :data:`POISSON_NORMAL_MIN` (most of them above a few thousand counts) are drawn in
    this loop, the rest listed and drawn after it.
    """
    inv = 1.0 / counts
    rest = np.empty(N_BINS, dtype=np.int64)
    n_rest = 0
    for j in range(jlo, jhi):
        lam = y[j] * counts
        if lam >= POISSON_NORMAL_MIN:
            y[j] = normal_count(lam, uniform(skey, 64 * j)) * inv
        else:
            rest[n_rest] = j
            n_rest += 1
    for n in range(n_rest):
        j = rest[n]
        lam = y[j] * counts
        y[j] = poisson(lam, skey, j) * inv if lam > 0.0 else 0.0


@nb.njit(cache=True)
def add_counting(y, counts, skey, q, jlo, jhi):
    """y ← y + √(max(y, 0)/C)·z, z ~ N(0, 1)  (Gaussian limit of Poisson), on bins [jlo, jhi)."""
    inv_c = 1.0 / counts
    for j in range(jlo, jhi):
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
def add_background_noise(y, amp, dilation, skey, jlo, jhi):
    """Knots z_k ~ U(−n, n) every D = max(d, 1) bins, linear in between, on bins [jlo, jhi)
    (knot k from counter k, so a bin's value does not depend on the range)."""
    inv_sp = 1.0 / max(dilation, 1.0)
    kk = int(math.floor(jlo * inv_sp))
    z0 = amp * (2.0 * uniform(skey, kk) - 1.0)
    z1 = amp * (2.0 * uniform(skey, kk + 1) - 1.0)
    for j in range(jlo, jhi):
        p = j * inv_sp
        while p >= kk + 1:
            kk += 1
            z0 = z1
            z1 = amp * (2.0 * uniform(skey, kk + 1) - 1.0)
        f = p - kk
        y[j] += z0 + (z1 - z0) * f
