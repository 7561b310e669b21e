"""Lattice strain in batched torch (as ``ops_kernel.strain_draws`` / ``strained_metric``).

Each crystal of pattern b takes the pattern's draws e = ε(2u − 1) (e₀, then E row-major),
S = e₀·I + D⁻¹·E·D with D = diag(√G*₁₁, √G*₂₂, √G*₃₃), G*″ = (I + S)ᵀ·G*·(I + S), and
G*′ the mean of Mᵀ·G*″·M over its holohedry; a line of Miller index h then has
d / d′ = √(hᵀG*′h / hᵀG*h). Same formula and operand order as the numba kernel; the
holohedry mean sums in another order (float64 rounding).
"""

from __future__ import annotations

import torch
from xrdsim_training.torch_sim import rng
from xrdsim_training.torch_sim.orientation import quadratic_form

from xrdsim.simulation.ops_kernel import N_STRAIN_DRAWS
from xrdsim.simulation.rng import STREAM_LATTICE


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
