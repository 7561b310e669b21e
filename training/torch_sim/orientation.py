"""March–Dollase preferred orientation in batched torch (as ``ops_kernel.march_dollase``).

Each line's factor is the mean of (r²cos²α + sin²α/r)^(−3/2) over its equivalent
reflections M·hkl (the operations of ``ops`` its crystal's holohedry ``mask`` keeps),
α the angle between the reciprocal vectors of M·hkl and the preferred direction p
(Dollase, J. Appl. Cryst. 19, 267 (1986)). Same formula, same operand order as the numba
kernel; only the order of the sum over operations may differ (float64 rounding).
"""

from __future__ import annotations

import torch

#: Lines per chunk: the (chunk, M) float64 temporaries stay near 16 MiB for M = 64.
CHUNK_LINES = 32_768


def _quad(v: torch.Tensor, g: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """v·G·w for rows of v, w (k, 3) and G (k, 9) row-major, summed as the numba kernel."""
    gw0 = g[:, 0] * w[:, 0] + g[:, 1] * w[:, 1] + g[:, 2] * w[:, 2]
    gw1 = g[:, 3] * w[:, 0] + g[:, 4] * w[:, 1] + g[:, 5] * w[:, 2]
    gw2 = g[:, 6] * w[:, 0] + g[:, 7] * w[:, 1] + g[:, 8] * w[:, 2]
    return v[:, 0] * gw0 + v[:, 1] * gw1 + v[:, 2] * gw2


def march_dollase(
    *,
    hkl: torch.Tensor,
    gs: torch.Tensor,
    mask: torch.Tensor,
    ops: torch.Tensor,
    direction: torch.Tensor,
    r: torch.Tensor,
) -> torch.Tensor:
    """(k,) float64 March–Dollase factors W of k lines.

    Args:
        hkl: (k, 3) int64 representative Miller indices.
        gs: (k, 9) float64 reciprocal metric G* (row-major) of each line's crystal.
        mask: (k, M) bool, the operations of each line's holohedry.
        ops: (M, 9) float64 integer matrices acting on hkl columns.
        direction: (k, 3) float64 preferred direction p of each line's pattern.
        r: (k,) float64 March parameter of each line's pattern.

    Returns:
        W = ⟨(r²c² + (1 − c²)/r)^(−3/2)⟩ over the masked equivalents, c² = min((h'·G*·p)² /
        ((h'·G*·h')(p·G*·p)), 1).
    """
    out = torch.empty(hkl.shape[0], dtype=torch.float64, device=hkl.device)
    for s in range(0, hkl.shape[0], CHUNK_LINES):
        e = min(s + CHUNK_LINES, hkl.shape[0])
        h = hkl[s:e].to(torch.float64)
        g, p, rr = gs[s:e], direction[s:e], r[s:e, None]
        gp0 = g[:, 0] * p[:, 0] + g[:, 1] * p[:, 1] + g[:, 2] * p[:, 2]
        gp1 = g[:, 3] * p[:, 0] + g[:, 4] * p[:, 1] + g[:, 5] * p[:, 2]
        gp2 = g[:, 6] * p[:, 0] + g[:, 7] * p[:, 1] + g[:, 8] * p[:, 2]
        pp = (p[:, 0] * gp0 + p[:, 1] * gp1 + p[:, 2] * gp2)[:, None]
        hh = _quad(h, g, h)[:, None]
        hk, kk, lk = h[:, 0:1], h[:, 1:2], h[:, 2:3]
        a = ops[:, 0] * hk + ops[:, 1] * kk + ops[:, 2] * lk  # (k, M): rows of M·hkl
        b = ops[:, 3] * hk + ops[:, 4] * kk + ops[:, 5] * lk
        c = ops[:, 6] * hk + ops[:, 7] * kk + ops[:, 8] * lk
        hp = a * gp0[:, None] + b * gp1[:, None] + c * gp2[:, None]
        c2 = torch.clamp(hp * hp / (hh * pp), max=1.0)
        x = rr * rr * c2 + (1.0 - c2) / rr
        term = torch.where(mask[s:e], 1.0 / (x * torch.sqrt(x)), 0.0)
        out[s:e] = term.sum(dim=1) / mask[s:e].sum(dim=1)
    return out
