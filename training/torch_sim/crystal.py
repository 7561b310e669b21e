"""The crystal ops in batched torch (as :mod:`xrdsim.simulation.crystal_kernel`).

**Preferred orientation** (``march_dollase``). Each line's factor is the mean of (r²cos²α +
sin²α/r)^(−3/2) over its equivalent reflections M·hkl (the operations of ``ops`` its
crystal's holohedry ``mask`` keeps), α the angle between the reciprocal vectors of M·hkl
and the preferred direction p (Dollase, J. Appl. Cryst. 19, 267 (1986)). Same formula, same
operand order as the numba kernel; only the order of the sum over operations differs
(float64 rounding). M and −M give the same cos²α, so each ± couple is evaluated once and
counted per member kept, and only for the couples a crystal's holohedry keeps (1 for
triclinic, 24 for cubic lattices, of the 32 couples of the 64 candidate operations).

**Lattice strain** (``strain_draws`` / ``strained_metric``). Each crystal of pattern b
takes the pattern's draws e = ε(2u − 1) (e₀, then E row-major), S = e₀·I + D⁻¹·E·D with
D = diag(√G*₁₁, √G*₂₂, √G*₃₃), G*″ = (I + S)ᵀ·G*·(I + S), and G*′ the mean of Mᵀ·G*″·M
over its holohedry; a line of Miller index h then has d / d′ = √(hᵀG*′h / hᵀG*h). Same
formula and operand order as the numba kernel; the holohedry mean sums in another order
(float64 rounding).
"""

from __future__ import annotations

import torch
from xrdsim_training.torch_sim import rng

from xrdsim.simulation.crystal_kernel import N_STRAIN_DRAWS
from xrdsim.simulation.rng import STREAM_LATTICE

#: Lines per chunk: ≤ 32 (line, ±operation) pairs each, so a pair temporary stays ≤ 8 MiB.
CHUNK_LINES = 32_768


def quadratic_form(v: torch.Tensor, g: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """v·G·w for rows of v, w (k, 3) and G (k, 9) row-major, summed as the numba kernel."""
    gw0 = g[:, 0] * w[:, 0] + g[:, 1] * w[:, 1] + g[:, 2] * w[:, 2]
    gw1 = g[:, 3] * w[:, 0] + g[:, 4] * w[:, 1] + g[:, 5] * w[:, 2]
    gw2 = g[:, 6] * w[:, 0] + g[:, 7] * w[:, 1] + g[:, 8] * w[:, 2]
    return v[:, 0] * gw0 + v[:, 1] * gw1 + v[:, 2] * gw2


def march_dollase(
    *,
    hkl: torch.Tensor,
    phase: torch.Tensor,
    gs: torch.Tensor,
    mask: torch.Tensor,
    ops: torch.Tensor,
    direction: torch.Tensor,
    r: torch.Tensor,
) -> torch.Tensor:
    """(k,) float64 March–Dollase factors W of k lines.

    Args:
        hkl: (k, 3) int64 representative Miller indices.
        phase: (k,) int64 crystal of each line: a row of ``gs`` and ``mask``.
        gs: (C, 9) float64 reciprocal metrics G* (row-major) of the crystals.
        mask: (C, M) bool, the operations of each crystal's holohedry.
        ops: (M, 9) float64 integer matrices acting on hkl columns.
        direction: (k, 3) float64 preferred direction p of each line's pattern.
        r: (k,) float64 March parameter of each line's pattern.

    Returns:
        W = ⟨(r²c² + (1 − c²)/r)^(−3/2)⟩ over the masked equivalents, c² = min((h'·G*·p)² /
        ((h'·G*·h')(p·G*·p)), 1).
    """
    dev = hkl.device
    rep, neg = _half(ops)
    # per crystal: weight of representative m = how many of ±M_m its holohedry holds
    w = mask[:, rep].to(torch.int64) + (mask[:, neg] & (neg != rep)).to(torch.int64)
    ci, oi = torch.nonzero(w, as_tuple=True)  # (crystal, operation) pairs, crystal-major
    pair_w, pair_op = w[ci, oi].to(torch.float64), ops[rep[oi]]
    n_ops = (w > 0).sum(dim=1)
    first = torch.cumsum(n_ops, 0) - n_ops
    count = mask.sum(dim=1).to(torch.float64)
    out = torch.empty(hkl.shape[0], dtype=torch.float64, device=dev)
    for s in range(0, hkl.shape[0], CHUNK_LINES):
        e = min(s + CHUNK_LINES, hkl.shape[0])
        ph = phase[s:e]
        h = hkl[s:e].to(torch.float64)
        g, p, rr = gs[ph], direction[s:e], r[s:e]
        gp = torch.stack([g[:, 0] * p[:, 0] + g[:, 1] * p[:, 1] + g[:, 2] * p[:, 2],
                          g[:, 3] * p[:, 0] + g[:, 4] * p[:, 1] + g[:, 5] * p[:, 2],
                          g[:, 6] * p[:, 0] + g[:, 7] * p[:, 1] + g[:, 8] * p[:, 2]], dim=1)
        pp = p[:, 0] * gp[:, 0] + p[:, 1] * gp[:, 1] + p[:, 2] * gp[:, 2]
        hhpp = quadratic_form(h, g, h) * pp
        # every (line, operation) pair of the chunk: line li, pair index of its crystal
        k = n_ops[ph]
        total_pairs = int(k.sum())
        li = torch.repeat_interleave(torch.arange(e - s, device=dev), k, output_size=total_pairs)
        pair = first[ph][li] + torch.arange(total_pairs, device=dev) - (torch.cumsum(k, 0) - k)[li]
        hl, op, gl = h[li], pair_op[pair], gp[li]
        a = op[:, 0] * hl[:, 0] + op[:, 1] * hl[:, 1] + op[:, 2] * hl[:, 2]  # M·hkl
        b = op[:, 3] * hl[:, 0] + op[:, 4] * hl[:, 1] + op[:, 5] * hl[:, 2]
        c = op[:, 6] * hl[:, 0] + op[:, 7] * hl[:, 1] + op[:, 8] * hl[:, 2]
        hp = a * gl[:, 0] + b * gl[:, 1] + c * gl[:, 2]
        c2 = torch.clamp(hp * hp / hhpp[li], max=1.0)
        rl = rr[li]
        x = rl * rl * c2 + (1.0 - c2) / rl
        term = pair_w[pair] / (x * torch.sqrt(x))
        total = torch.zeros(e - s, dtype=torch.float64, device=dev)
        out[s:e] = total.index_add_(0, li, term) / count[ph]
    return out


def _half(ops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (rep, neg) with ops[neg] = −ops[rep], one per ± couple: (−M)·hkl gives the
    same cos²α, so each couple is computed once and counted once per member the mask
    keeps. An operation without its negative among ``ops`` stands alone (neg = rep)."""
    minus = (ops[:, None, :] == -ops[None, :, :]).all(dim=2)  # (M, M)
    has = minus.any(dim=1)
    partner = torch.where(has, minus.to(torch.int64).argmax(dim=1),
                          torch.arange(ops.shape[0], device=ops.device))
    idx = torch.arange(ops.shape[0], device=ops.device)
    keep = idx <= partner
    return idx[keep], partner[keep]


def strained_metrics(gs: torch.Tensor, mask: torch.Tensor, ops: torch.Tensor,
                     draws: torch.Tensor) -> torch.Tensor:  # fmt: skip
    """(C, 9) strained reciprocal metrics G*′ of C crystals, each with its (C, 10) draws.

    Written entry by entry (no batched matmul or einsum, whose summation order can
    depend on the batch size): a crystal's metric is bit-identical in any batch.
    """
    d = torch.sqrt(gs[:, [0, 4, 8]])
    t = [[draws[:, 1 + 3 * i + j] * d[:, j] / d[:, i] + ((1.0 + draws[:, 0]) if i == j else 0.0)
          for j in range(3)] for i in range(3)]  # I + S
    g = [[gs[:, 3 * k + m] for m in range(3)] for k in range(3)]
    gt = [[sum(g[k][m] * t[m][j] for m in range(3)) for j in range(3)] for k in range(3)]
    g2 = [[sum(t[k][i] * gt[k][j] for k in range(3)) for j in range(3)] for i in range(3)]
    w = mask.to(gs.dtype)  # (C, M)
    # Mᵀ·G*″·M of every operation, (C, M) per entry, then the mean over the holohedry
    g2m = [[sum(g2[k][m][:, None] * ops[None, :, 3 * m + j] for m in range(3)) for j in range(3)]
           for k in range(3)]  # fmt: skip
    count = w.sum(dim=1)
    out = [(sum(ops[None, :, 3 * k + i] * g2m[k][j] for k in range(3)) * w).sum(dim=1) / count
           for i in range(3) for j in range(3)]
    return torch.stack(out, dim=1)


def strain_scale(*, hkl: torch.Tensor, phase: torch.Tensor, pat: torch.Tensor,
                 gs: torch.Tensor, mask: torch.Tensor, ops: torch.Tensor, keys: torch.Tensor,
                 amplitude: torch.Tensor) -> torch.Tensor:  # fmt: skip
    """(n,) float64 d / d′ of every line (its pattern's strain, its crystal's metric).

    Args:
        hkl: (n, 3) int64; phase: (n,) crystal row of each line; pat: (n,) its pattern.
        gs: (C, 9) float64; mask: (C, M) bool; ops: (M, 9) float64 (``render_batch``'s).
        keys: (B,) int64 pattern keys; amplitude: (B,) float64 ε of each pattern.
    """
    if phase.numel() == 0:
        return torch.ones(0, dtype=torch.float64, device=hkl.device)
    counters = torch.arange(N_STRAIN_DRAWS, device=keys.device)
    u = rng.uniform(rng.stream_key(keys, STREAM_LATTICE)[:, None], counters[None, :])
    draws = amplitude[:, None] * (2.0 * u - 1.0)  # (B, 10)
    # the pattern that owns each crystal row (every row of gs is one pattern's crystal;
    # a row without lines gets pattern 0's draws, unused): no data-dependent shapes, so
    # no device → host sync
    owner = torch.zeros(gs.shape[0], dtype=torch.int64, device=gs.device).scatter_(0, phase, pat)
    strained = strained_metrics(gs, mask, ops, draws[owner])
    h = hkl.to(torch.float64)
    return torch.sqrt(quadratic_form(h, strained[phase], h) / quadratic_form(h, gs[phase], h))
