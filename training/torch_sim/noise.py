"""Background and noise ops in batched torch (as :mod:`xrdsim.simulation.noise_kernel`).

Every function takes a (B, N_BINS) float64 pattern and (B,) per-pattern parameters and
draws its random numbers from the same counter-based streams as the numba kernels
(:mod:`xrdsim_training.torch_sim.rng`, stream keys passed in as (B,) int64), so counts and
noise values are those of the numba simulator, bin for bin.
"""

from __future__ import annotations

import math

import torch
from xrdsim_training.torch_sim.rng import uniform

from xrdsim.grid import BIN_WIDTH, N_BINS
from xrdsim.simulation import noise_kernel as NK
from xrdsim.simulation.noise_kernel import (
    HUMP_FLOOR,
    NORMAL_TAIL_MIN,
    POISSON_ATTEMPTS,
    POISSON_INVERSION_MAX,
    POISSON_NORMAL_MIN,
)

_FOUR_LN2 = 4.0 * math.log(2.0)
#: Largest count the CDF inversion walks to (the numba loop's cap).
INVERSION_CAP = 200


def _bins(y: torch.Tensor) -> torch.Tensor:
    return torch.arange(N_BINS, device=y.device)


def _centres(y: torch.Tensor) -> torch.Tensor:
    return (_bins(y).to(torch.float64) + 0.5) * BIN_WIDTH


def add_hump(y, height, center, fwhm, eta, active):
    """y_j += h·[(1 − η)·exp(−4 ln2 d²/w²) + η/(1 + 4d²/w²)], d = 2θ_j − c, where ``active``.

    Evaluated in closed form on every bin; the numba recurrence stops where both parts
    fall below HUMP_FLOOR, so the two differ by less than 2·HUMP_FLOOR·h per bin.
    """
    d = _centres(y)[None, :] - center[:, None]
    w2 = (fwhm * fwhm)[:, None]
    g = torch.exp(-(_FOUR_LN2 / w2) * d * d)
    lor = 1.0 / (1.0 + (4.0 / w2) * d * d)
    e = eta[:, None]
    add = height[:, None] * ((1.0 - e) * g + e * lor)
    return y + torch.where(active[:, None], add, torch.zeros_like(add))


def add_air_scatter(y, amplitude, decay):
    """y_j += A·exp(−2θ_j/τ) on the bins where it is at least HUMP_FLOOR·A (as numba)."""
    e = amplitude[:, None] * torch.exp(-_centres(y)[None, :] / decay[:, None])
    return y + torch.where(e >= HUMP_FLOOR * amplitude[:, None], e, torch.zeros_like(e))


def normal(q: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Standard normal quantile: linear interpolation of q at u_k = (k + ½)/M, ends held."""
    m = q.shape[0]
    t = u * m - 0.5
    n = t.clamp(0.0, m - 2.0).long()
    f = t - n
    mid = q[n] + f * (q[n + 1] - q[n])
    return torch.where(t <= 0.0, q[0], torch.where(t >= m - 1, q[m - 1], mid))


def add_counting(y, counts, skey, q):
    """y ← y + √(max(y, 0)/C)·z, z = normal(q, uniform(skey, j))."""
    z = normal(q, uniform(skey[:, None], _bins(y)[None, :]))
    noise = torch.sqrt(y.clamp(min=0.0) * (1.0 / counts)[:, None]) * z
    return torch.where(y > 0.0, y + noise, y)


def add_background_noise(y, amp, dilation, skey):
    """Knots z_k = n·(2u_k − 1) every D = max(d, 1) bins, linear in between:
    p = j/D, k = ⌊p⌋, y_j += z_k + (z_{k+1} − z_k)(p − k)."""
    inv_sp = (1.0 / dilation.clamp(min=1.0))[:, None]
    p = _bins(y).to(torch.float64)[None, :] * inv_sp
    kk = torch.floor(p)
    knot = kk.long()
    a = amp[:, None]
    z0 = a * (2.0 * uniform(skey[:, None], knot) - 1.0)
    z1 = a * (2.0 * uniform(skey[:, None], knot + 1) - 1.0)
    return y + (z0 + (z1 - z0) * (p - kk))


def _inversion(lam, skey, j):
    """Poisson(λ < 10) by inversion of the CDF with u = uniform(skey, 64j)."""
    u = uniform(skey, 64 * j)
    p = torch.exp(-lam)
    cdf = p.clone()
    k = torch.zeros_like(lam)
    sel = torch.nonzero(u > cdf, as_tuple=True)[0]
    pk, ck, uk, lk = p[sel], cdf[sel], u[sel], lam[sel]
    step = 0
    while sel.numel() and step < INVERSION_CAP:
        step += 1
        pk = pk * (lk / step)  # p_k = p_{k−1}·λ/k
        ck = ck + pk
        k[sel] = float(step)
        go = uk > ck
        sel, pk, ck, uk, lk = sel[go], pk[go], ck[go], uk[go], lk[go]
    return k


def _horner(c, r):
    """c[0] + r·(c[1] + r·(… + r·c[7])), evaluated in the numba kernel's order."""
    out = c[-1] * r
    for ck in c[-2:0:-1]:
        out = r * (ck + out)
    return c[0] + out


def normal_quantile(u: torch.Tensor) -> torch.Tensor:
    """Φ⁻¹(u) by AS 241, every branch as numba ``noise_kernel.normal_quantile``."""
    q = u - 0.5
    r0 = 0.180625 - q * q
    central = q * _horner(NK._AS241_A, r0) / _horner(NK._AS241_B, r0)
    r = torch.sqrt(-torch.log(torch.where(q < 0.0, u, 1.0 - u).clamp(min=NORMAL_TAIL_MIN)))
    near = _horner(NK._AS241_C, r - 1.6) / _horner(NK._AS241_D, r - 1.6)
    far = _horner(NK._AS241_E, r - 5.0) / _horner(NK._AS241_F, r - 5.0)
    tail = torch.where(r <= 5.0, near, far)
    return torch.where(q.abs() <= 0.425, central, torch.where(q < 0.0, -tail, tail))


def _normal_counts(lam, skey, j):
    """Poisson(λ ≥ 50): ⌊λ + √λ·z + (z² − 1)/6 + (z − z³)/(72√λ) + ½⌋ ≥ 0,
    z = Φ⁻¹(uniform(skey, 64j)) (numba ``noise_kernel.normal_count``)."""
    z = normal_quantile(uniform(skey, 64 * j))
    s = torch.sqrt(lam)
    k = torch.floor(lam + s * z + (z * z - 1.0) / 6.0 + (z - z * z * z) / (72.0 * s) + 0.5)
    return k.clamp(min=0.0)


def _ptrs(lam, skey, j):
    """Poisson(10 ≤ λ < 50) by PTRS (Hörmann 1993, as NumPy): attempt a uses the uniforms
    (64j + 2a, 64j + 2a + 1); after POISSON_ATTEMPTS rejections, ⌊λ + ½⌋."""
    out = torch.floor(lam + 0.5).clamp(min=0.0)
    b = 0.931 + 2.53 * torch.sqrt(lam)
    # columns: λ, log λ, b, a, 1/α, v_r (the rejected bins are carried to the next attempt)
    state = torch.stack([lam, torch.log(lam), b, -0.059 + 0.02483 * b,
                         1.1239 + 1.1328 / (b - 3.4), 0.9277 - 3.6224 / (b - 2.0)])
    sel = torch.arange(lam.numel(), device=lam.device)
    base = 64 * j
    for att in range(POISSON_ATTEMPTS):
        if not sel.numel():
            break
        lam_, loglam, b_, a_, invalpha, vr = state
        uu = uniform(skey, base + 2 * att) - 0.5
        v = uniform(skey, base + 2 * att + 1)
        us = 0.5 - uu.abs()
        k = torch.floor((2.0 * a_ / us + b_) * uu + lam_ + 0.43)
        fast = (us >= 0.07) & (v <= vr)
        reject = (k < 0.0) | ((us < 0.013) & (v > us))
        lhs = torch.log(v) + torch.log(invalpha) - torch.log(a_ / (us * us) + b_)
        rhs = -lam_ + k * loglam - torch.lgamma(k + 1.0)
        accept = fast | (~reject & (lhs <= rhs))
        out[sel[accept]] = k[accept]
        again = torch.nonzero(~accept, as_tuple=True)[0]
        sel, state, skey, base = sel[again], state[:, again], skey[again], base[again]
    return out


def add_poisson(y, counts, skey):
    """y_j ← Poisson(N·y_j)/N where N·y_j > 0, else 0 (N = counts at the maximum)."""
    lam = (y * counts[:, None]).view(-1)
    out = torch.zeros_like(lam)
    for pick, draw in (((lam > 0.0) & (lam < POISSON_INVERSION_MAX), _inversion),
                       ((lam >= POISSON_INVERSION_MAX) & (lam < POISSON_NORMAL_MIN), _ptrs),
                       (lam >= POISSON_NORMAL_MIN, _normal_counts)):
        i = torch.nonzero(pick, as_tuple=True)[0]
        if i.numel():
            b = i // N_BINS
            out[i] = draw(lam[i], skey[b], i - b * N_BINS) * (1.0 / counts[b])
    return out.view_as(y)
