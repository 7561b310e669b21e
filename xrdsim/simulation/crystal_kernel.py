"""numba kernels of the crystal ops: preferred orientation and lattice strain of each line.

Both read a line's representative hkl and its crystal's reciprocal metric G* (9,) row-major
with the holohedry ``mask`` among the candidate operations ``ops`` (M, 9)
(:mod:`xrdsim.simulation.holohedry`). Called per peak by the line stage
(:mod:`xrdsim.simulation.lines_kernel`); the torch twin is ``xrdsim_training.torch_sim.crystal``.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from xrdsim.simulation.rng import STREAM_LATTICE, stream_key, uniform

#: Random numbers of one lattice strain: e₀ and the 9 entries of E (:func:`strained_metric`).
N_STRAIN_DRAWS = 10


@nb.njit(cache=True, inline="always")
def quad(h, g):
    """hᵀ·G·h for a (3,) vector (Miller index or direction) and a (9,) row-major metric."""
    x, y, z = float(h[0]), float(h[1]), float(h[2])
    return (x * (g[0] * x + g[1] * y + g[2] * z) + y * (g[3] * x + g[4] * y + g[5] * z)
            + z * (g[6] * x + g[7] * y + g[8] * z))  # fmt: skip


@nb.njit(cache=True)
def march_dollase(hkl, gs, mask, ops, p, r):
    """W = ⟨(r²cos²α + sin²α/r)^(−3/2)⟩ over the equivalents M·hkl (mask) of one line.

    α is the angle between the reciprocal vectors of M·hkl and the preferred direction p:
    cos²α = (h'·G*·p)² / ((h'·G*·h')(p·G*·p)); G* is ``gs`` (9,) row-major.
    """
    gp0 = gs[0] * p[0] + gs[1] * p[1] + gs[2] * p[2]
    gp1 = gs[3] * p[0] + gs[4] * p[1] + gs[5] * p[2]
    gp2 = gs[6] * p[0] + gs[7] * p[1] + gs[8] * p[2]
    pp = p[0] * gp0 + p[1] * gp1 + p[2] * gp2  # quad(p, gs), from the G*·p just made
    h, k, l = float(hkl[0]), float(hkl[1]), float(hkl[2])
    hh = quad(hkl, gs)
    total = 0.0
    n = 0
    for m in range(ops.shape[0]):
        if not mask[m]:
            continue
        a = ops[m, 0] * h + ops[m, 1] * k + ops[m, 2] * l
        b = ops[m, 3] * h + ops[m, 4] * k + ops[m, 5] * l
        c = ops[m, 6] * h + ops[m, 7] * k + ops[m, 8] * l
        hp = a * gp0 + b * gp1 + c * gp2
        c2 = min(hp * hp / (hh * pp), 1.0)
        x = r * r * c2 + (1.0 - c2) / r
        total += 1.0 / (x * math.sqrt(x))
        n += 1
    return total / n


@nb.njit(cache=True)
def strain_draws(key, amplitude, e):
    """e[k] = ε(2u_k − 1), k < :data:`N_STRAIN_DRAWS`: e₀, then E row-major."""
    ks = stream_key(key, STREAM_LATTICE)
    for k in range(N_STRAIN_DRAWS):
        e[k] = amplitude * (2.0 * uniform(ks, k) - 1.0)


@nb.njit(cache=True)
def strained_metric(gs, mask, ops, e, out):
    """Reciprocal metric G*′ (9,) of a crystal under the strain draws ``e``.

    S = e₀·I + D⁻¹·E·D with D = diag(√G*₁₁, √G*₂₂, √G*₃₃) (E acts on the reciprocal
    components scaled to length), G*″ = (I + S)ᵀ·G*·(I + S), and G*′ the mean of
    Mᵀ·G*″·M over the lattice's holohedry (``mask`` of ``ops``): a metric the holohedry
    keeps, so symmetry-equivalent lines stay equal and the crystal system is unchanged
    (cubic: isotropic; tetragonal / hexagonal: a and c; … triclinic: all six).
    """
    d = np.empty(3)
    for i in range(3):
        d[i] = math.sqrt(gs[4 * i])
    t = np.empty(9)  # I + S
    for i in range(3):
        for j in range(3):
            t[3 * i + j] = e[1 + 3 * i + j] * d[j] / d[i] + ((1.0 + e[0]) if i == j else 0.0)
    g2 = np.empty(9)  # G*'' = Tᵀ G* T
    for i in range(3):
        for j in range(3):
            acc = 0.0
            for k in range(3):
                for m in range(3):
                    acc += t[3 * k + i] * gs[3 * k + m] * t[3 * m + j]
            g2[3 * i + j] = acc
    for q in range(9):
        out[q] = 0.0
    n = 0
    for o in range(ops.shape[0]):
        if not mask[o]:
            continue
        for i in range(3):
            for j in range(3):
                acc = 0.0
                for k in range(3):
                    for m in range(3):
                        acc += ops[o, 3 * k + i] * g2[3 * k + m] * ops[o, 3 * m + j]
                out[3 * i + j] += acc
        n += 1
    for q in range(9):
        out[q] /= n
