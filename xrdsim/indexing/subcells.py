"""Sub-cells of a found cell: the supercell check of an indexing.

A cell n times too large along an axis indexes every line of the true cell and, with n
times as many calculated lines, any stray line by chance: when a pattern holds more
impurity or tube lines than the search allows unindexed, the true cell is rejected and a
supercell that happens to index one of them is found instead (hexagonal MP-20 patterns
under the ``invariance`` preset: a × 2 and c × 2 at M20 ≈ 46 while the true cells, which
leave 2–4 lines of 2–10 % unindexed, reach M20 = 85–139). As TREOR and DICVOL04 do
(the latter by comparing reduced cells), every found cell is checked for sub-cells: the
axes divided by 2 or 3 (and for hexagonal and tetragonal cells the √3 and √2 sub-cells,
a rotated by 30° or 45°), each refined on the lines and ranked by its figure of merit with
the others (:mod:`xrdsim.indexing.search`).

Dividing the direct axes by ``N = diag(n₁, n₂, n₃)`` multiplies the reciprocal metric to
``N G* N`` (International Tables Vol. A, §5.1); the candidates are written in the
parameters ``g`` of the system (:mod:`xrdsim.indexing.cell`).
"""

from __future__ import annotations

import itertools

import numpy as np

from xrdsim.indexing.cell import params_from_metric, reciprocal_metric

#: Axis divisors tried: each axis allowed by the system halved, or one axis divided by 3.
DIVISORS = (2, 3)
#: Factors of the first parameter (A) of the rotated sub-cells: hexagonal a/√3 (the
#: H-centred cell's P sub-cell), tetragonal a/√2 (the C-centred cell's P sub-cell).
ROTATED = {"hexagonal": 3.0, "tetragonal": 2.0}


def _axis_factors(system: str) -> list[tuple[int, int, int]]:
    """(n₁, n₂, n₃) of the sub-cells of a system's cell: axes that must stay equal are
    divided together (a and b of tetragonal and hexagonal cells, all three of cubic ones)."""
    if system == "cubic":
        return [(n, n, n) for n in DIVISORS]
    if system in ("tetragonal", "hexagonal"):
        out = [(n, n, 1) for n in DIVISORS] + [(1, 1, n) for n in DIVISORS]
        return out + [(2, 2, 2)]
    halves = [f for f in itertools.product((1, 2), repeat=3) if f != (1, 1, 1)]
    thirds = [f for f in itertools.permutations((3, 1, 1))]
    return halves + sorted(set(thirds))


def subcell_params(system: str, g: np.ndarray) -> list[np.ndarray]:
    """Parameters ``g`` of every sub-cell of the cell ``g`` of ``system`` that
    :func:`_axis_factors` and :data:`ROTATED` list (a cell 2 or 3 times smaller along one
    or more axes, in the same system)."""
    g = np.asarray(g, dtype=np.float64)
    gstar = reciprocal_metric(system, g)
    out = []
    for factors in _axis_factors(system):
        n = np.diag(np.asarray(factors, dtype=np.float64))
        out.append(params_from_metric(system, n @ gstar @ n))
    if system in ROTATED:
        for c_factor in (1.0, 4.0):
            rotated = g.copy()
            rotated[0] *= ROTATED[system]
            rotated[1] *= c_factor
            out.append(rotated)
    return out
