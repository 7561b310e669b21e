"""The profile op in batched torch: lines → 12,000 bins (as numba ``profile_kernel``).

Every line adds s·[C(u_right) − C(u_left)] to each bin inside its window, C the cubic
Hermite interpolant of the cumulative pseudo-Voigt shape (per-pattern (η, ρ) tables,
:func:`cubic_tables`), u = (edge − 2θ_line)/Γ clipped to ±k(η). Windows differ in
length line by line (Γ from 0.005° to several degrees), so the (line, edge) pairs are
laid out flat — ragged, without padding — and processed in chunks of at most
``edge_chunk`` edges, which bounds memory whatever the batch. The per-edge table
coordinate t = t₀ + r·dt is computed relative to each pattern's own table size, exactly
as the numba kernel does, so a pattern's profile does not depend on the other patterns
of its batch.

Also the transparency op (an exponential tail toward low angle), a first-order linear
recurrence over the bins, evaluated as a doubling (Hillis–Steele) scan of affine maps.
"""

from __future__ import annotations

import functools
import math

import torch

from xrdsim.grid import BIN_WIDTH, N_BINS
from xrdsim.simulation import caglioti
from xrdsim.simulation.profile_kernel import SCHERRER_K, TABLE_DU, TABLE_NODES, TABLE_UMAX

#: (line, edge) pairs per profile block on the CPU (~100 bytes each at the peak: ~100 MB).
EDGE_CHUNK = 1 << 20
#: The same on an accelerator (~6 GB): fewer, larger kernels.
EDGE_CHUNK_ACCELERATOR = 1 << 26
_RAD2DEG = 180.0 / math.pi
_DEG2RAD = math.pi / 180.0
_FOUR_LN2 = 4.0 * math.log(2.0)
_INV_DU = 1.0 / TABLE_DU


def half_window(eta: torch.Tensor, cutoff: float) -> torch.Tensor:
    """(B,) half windows k (FWHM units): (1 − η)·exp(−4 ln2 k²) + η/(1 + 4k²) = cutoff,
    by the same 60 bisection steps on [0, TABLE_UMAX] as the numba kernel."""
    lo = torch.zeros_like(eta)
    hi = torch.full_like(eta, TABLE_UMAX)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        f = (1.0 - eta) * torch.exp(-_FOUR_LN2 * mid * mid) + eta / (1.0 + 4.0 * mid * mid)
        above = f > cutoff
        lo = torch.where(above, mid, lo)
        hi = torch.where(above, hi, mid)
    return hi


def cubic_tables(tables: torch.Tensor, eta: torch.Tensor, rho: torch.Tensor,
                 nk: torch.Tensor) -> torch.Tensor:
    """(4, B·2K) float64 Hermite coefficients of C, column b·2K + n for interval n of pattern b.

    K = max nk. Node n of pattern b sits at u = (n − nk_b)·du; C(±u) = ±S(u) − ρA(u) and
    du·F(±u) = du·(pV(u) ∓ ρ·pV(u)erf(u)) with S, A, pV, pV·erf mixed from the 8 rows of
    ``tables`` by (1 − η, η). On [n, n+1]: a0 = C_n, a1 = du·F_n,
    a2 = 3(C_{n+1} − C_n) − 2du·F_n − du·F_{n+1}, a3 = 2(C_n − C_{n+1}) + du·F_n + du·F_{n+1}.
    Nodes beyond a pattern's own ±nk_b are filled but never read.
    """
    big = int(nk.max())
    n = torch.arange(2 * big + 1, device=eta.device)
    m = n[None, :] - nk[:, None]
    am = m.abs().clamp(max=TABLE_NODES - 1)
    a, e, r = (1.0 - eta)[:, None], eta[:, None], rho[:, None]

    def mix(g: int) -> torch.Tensor:  # (1 − η)·row g + η·row g+1 at |m|
        return a * tables[g][am] + e * tables[g + 1][am]

    pv, pve, s, q = mix(0), mix(2), mix(4), mix(6)
    neg = m <= 0  # numba writes tab[nk − m] last, so m = 0 takes the negative-side form
    c = torch.where(neg, -s - r * q, s - r * q)
    d = TABLE_DU * torch.where(neg, pv + r * pve, pv - r * pve)
    c0, c1, d0, d1 = c[:, :-1], c[:, 1:], d[:, :-1], d[:, 1:]
    coef = torch.stack([c0, d0, 3.0 * (c1 - c0) - 2.0 * d0 - d1, 2.0 * (c0 - c1) + d0 + d1])
    return coef.reshape(4, -1)


def fwhm2(tan: torch.Tensor, cos: torch.Tensor, prm: dict[str, torch.Tensor],
          wavelength: float) -> torch.Tensor:
    """FWHM² (deg²): U t² + V t + W + P/c², plus (Kλ/(D c) + 4ε t)·180/π in quadrature
    where the crystallite size D > 0 (``prm`` entries broadcast against ``tan``)."""
    f2 = caglioti.fwhm2(prm["U"], prm["V"], prm["W"], prm["P"], tan, cos)
    size = prm["size"]
    safe = torch.where(size > 0.0, size, torch.ones_like(size))
    extra = _RAD2DEG * (SCHERRER_K * wavelength / (safe * 10.0 * cos) + 4.0 * prm["strain"] * tan)
    return torch.where(size > 0.0, f2 + extra * extra, f2)


def exact_windows(x, s, prm, k, nk, wavelength):
    """Window of every line at its true 2θ (``profile_exact``): (jlo, nbins, t0, dt).

    Γ at the line's own θ; bins floor((x ∓ kΓ)/h) clipped to the grid;
    t₀ = (jlo·h − x)/Γ/du + nk, dt = h/Γ/du (table coordinate of edge jlo, step per bin).
    Lines with s = 0 get no bins.
    """
    theta = 0.5 * x * _DEG2RAD
    gamma = torch.sqrt(fwhm2(torch.tan(theta), torch.cos(theta), prm, wavelength))
    kk = k[:, None]
    jlo = torch.floor((x - kk * gamma) / BIN_WIDTH).clamp(min=0.0)
    jhi = torch.floor((x + kk * gamma) / BIN_WIDTH).clamp(max=N_BINS - 1.0)
    nbins = torch.where(s != 0.0, (jhi - jlo + 1.0).clamp(min=0.0), torch.zeros_like(x))
    dt = BIN_WIDTH / gamma * _INV_DU
    t0 = (jlo * BIN_WIDTH - x) / gamma * _INV_DU + nk[:, None]
    return jlo.long(), nbins.long(), t0, dt


def binned_windows(sticks, trig, prm, k, nk, wavelength):
    """Windows of the binned sticks (``profile_binned``): each non-zero bin i is a line at
    its centre, bins i − m … i + m with m = ⌈k/step − ½⌉, step = h/Γ_i.

    Returns (b, s, jlo, nbins, t0, dt) for the non-zero sticks, in (pattern, bin) order.
    """
    b, i = torch.nonzero(sticks, as_tuple=True)
    s = sticks[b, i]
    one = {name: v[b] for name, v in prm.items()}
    step = BIN_WIDTH / torch.sqrt(fwhm2(trig[0][i], trig[1][i], one, wavelength))
    m = torch.ceil(k[b] / step - 0.5).clamp(max=float(N_BINS)).long()
    jlo = (i - m).clamp(min=0)
    jhi = (i + m).clamp(max=N_BINS - 1)
    dt = step * _INV_DU
    t0 = (jlo - i - 0.5) * dt + nk[b]
    return b, s, jlo, jhi - jlo + 1, t0, dt


@functools.lru_cache(maxsize=1)
def compiled_block():
    """:func:`_add_block` through ``torch.compile`` (dynamic shapes: fused kernels
    compiled on first use, once per process, ~1.5 min on a busy 2-core CPU)."""
    return torch.compile(_add_block, dynamic=True)


def add_windows(y, coef, width, b, s, jlo, nbins, t0, dt, t_lo, t_hi, *, edge_chunk,
                compiled=False):
    """y[b, j] += s·[C(t_{r+1}) − C(t_r)] for bin j = jlo + r of every line, t_r = t₀ + r·dt
    clipped to [t_lo, t_hi] (±k).

    Lines are grouped by window length (the edge count rounded up to a quarter of its
    power of two: at most 25 % padding) and each group is evaluated as dense (lines,
    edges) blocks of at most ``edge_chunk`` entries, so per-line values broadcast
    instead of being gathered per edge; padding edges go to a scratch bin. The
    additions into one bin come group by group, in line order inside a group — an order
    fixed by each line alone, so a pattern's result does not depend on its batch.

    Args:
        y: (B, N_BINS) float64, added to in place; coef: (4, B·width) from
            :func:`cubic_tables` (``width`` = 2K intervals per pattern).
        b, s, jlo, nbins, t0, dt: (n,) per line (pattern, height, first bin, bins, table
            coordinate of edge jlo, step per bin); t_lo, t_hi: (B,) clip of t to ±k.
        compiled: run the blocks through :func:`compiled_block`.
    """
    block = compiled_block() if compiled else _add_block
    keep = nbins > 0
    if not bool(keep.any()):
        return
    idx = torch.nonzero(keep, as_tuple=True)[0]
    b, s, jlo, nbins, t0, dt = (v[idx] for v in (b, s, jlo, nbins, t0, dt))
    edges = (nbins + 1).to(torch.float64)
    quarter = torch.exp2((torch.floor(torch.log2(edges)) - 2.0).clamp(min=0.0))
    group = (torch.ceil(edges / quarter) * quarter).long().clamp(min=8)  # ≤ 25 % padding
    scratch = y.numel()
    flat = torch.cat([y.view(-1), y.new_zeros(1)])
    order = torch.sort(group, stable=True).indices  # line order kept inside each group
    sizes, counts = torch.unique_consecutive(group[order], return_counts=True)
    start = 0
    for n_edges, count in zip(sizes.tolist(), counts.tolist(), strict=True):
        sel = order[start : start + count]
        start += count
        per = max(1, edge_chunk // n_edges)
        for lo in range(0, count, per):
            i = sel[lo : lo + per]
            bi = b[i]
            block(flat, coef, n_edges, bi * width, s[i], bi * N_BINS + jlo[i], nbins[i],
                       t0[i], dt[i], t_lo[bi], t_hi[bi], scratch)
    y.view(-1).copy_(flat[:scratch])


def _add_block(flat, coef, n_edges, row, s, first, nbins, t0, dt, t_lo, t_hi, scratch):
    """One dense block: lines × ``n_edges`` edges (the first nbins + 1 of each are real)."""
    r = torch.arange(n_edges, device=flat.device, dtype=torch.float64)
    t = torch.addcmul(t0[:, None], r, dt[:, None]).clamp_(t_lo[:, None], t_hi[:, None])  # ±k
    n = t.long()
    f = t.sub_(n)
    idx = n.add_(row[:, None]).view(-1)
    cdf = coef[3].index_select(0, idx).view_as(f)
    for col in (2, 1, 0):  # C(n + f) = a0 + f·(a1 + f·(a2 + f·a3)), Horner
        cdf = torch.addcmul(coef[col].index_select(0, idx).view_as(f), f, cdf)
    del f, idx, n
    val = (cdf[:, 1:] - cdf[:, :-1]).mul_(s[:, None])  # s·[C(right edge) − C(left edge)]
    ri = torch.arange(n_edges - 1, device=flat.device)
    bins = torch.where(ri < nbins[:, None], first[:, None] + ri, scratch)
    flat.index_add_(0, bins.view(-1), val.view(-1))


def add_transparency(y: torch.Tensor, mu: torch.Tensor, radius_mm: float) -> torch.Tensor:
    """y'_j = (1 − a_j)·y_j + a_j·y'_{j+1} from high to low angle, a_j = δ_j/(h + δ_j),
    δ_j = sin 2θ_j/(2μR)·180/π; ``mu`` (B,) in 1/cm, R in mm.

    Each step is the affine map v ↦ a_j·v + (1 − a_j)·y_j; composing neighbours at
    distances 1, 2, 4, … (⌈log₂ N_BINS⌉ = 14 rounds) gives every y'_j = map_j ∘ … ∘
    map_{N−1}(0) without a loop over bins.
    """
    scale = _RAD2DEG / (2.0 * mu * 0.1 * radius_mm)
    centres = (torch.arange(N_BINS, device=y.device, dtype=torch.float64) + 0.5) * BIN_WIDTH
    delta = scale[:, None] * torch.sin(centres * _DEG2RAD)[None, :]
    a = delta / (BIN_WIDTH + delta)
    c = (1.0 - a) * y
    d = 1
    while d < N_BINS:
        c = torch.cat([c[:, :-d] + a[:, :-d] * c[:, d:], c[:, -d:]], 1)
        a = torch.cat([a[:, :-d] * a[:, d:], a[:, -d:]], 1)
        d *= 2
    return c
