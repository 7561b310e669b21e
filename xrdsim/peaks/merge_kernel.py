"""numba kernel that merges reflections into powder lines (``xrdsim.peaks.bragg_kernel`` calls it).

:func:`merge_lines`: sort reflections by 2θ (O(n) bucket sort) and merge those in the same
2θ bin into lines (sum of intensities, multiplicity = reflections counting ``±G``), with
one representative hkl per line.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _preferred(hkl: np.ndarray, i: int, j: int) -> bool:
    """True if row i of ``hkl`` is a better representative than row j.

    Fewer negative indices first (hexagonal {110} -> 110, not 2-10), then the
    lexicographically larger triple (cubic {100} -> 100).
    """
    neg_i = (hkl[i, 0] < 0) + (hkl[i, 1] < 0) + (hkl[i, 2] < 0)
    neg_j = (hkl[j, 0] < 0) + (hkl[j, 1] < 0) + (hkl[j, 2] < 0)
    if neg_i != neg_j:
        return neg_i < neg_j
    for c in range(3):
        if hkl[i, c] != hkl[j, c]:
            return hkl[i, c] > hkl[j, c]
    return False


@njit(cache=True)
def _sort_order(values: np.ndarray) -> np.ndarray:
    """Stable ascending argsort of non-negative values in O(n) expected time.

    Bucket sort: bucket ``⌊n·(v/v_max)³⌋`` (reflections are spread evenly in |G|³, and
    2θ is monotone in |G|), then insertion sort inside each bucket. The result equals
    ``np.argsort(values, kind="stable")``.
    """
    n = values.shape[0]
    order = np.empty(n, dtype=np.int64)
    if n == 0:
        return order
    top = 0.0
    for i in range(n):
        top = max(top, values[i])
    bucket = np.empty(n, dtype=np.int64)
    start = np.zeros(n + 1, dtype=np.int64)
    for i in range(n):
        u = values[i] / top if top > 0.0 else 0.0
        b = min(int(n * u * u * u), n - 1)
        bucket[i] = b
        start[b + 1] += 1
    for b in range(n):
        start[b + 1] += start[b]
    fill = start[:n].copy()
    for i in range(n):  # in index order, so each bucket starts stable
        order[fill[bucket[i]]] = i
        fill[bucket[i]] += 1
    for b in range(n):
        for p in range(start[b] + 1, start[b + 1]):
            item = order[p]
            q = p - 1
            while q >= start[b] and values[order[q]] > values[item]:
                order[q + 1] = order[q]
                q -= 1
            order[q + 1] = item
    return order


@njit(cache=True)
def merge_lines(
    two_theta: np.ndarray, intensity: np.ndarray, hkl: np.ndarray, tolerance: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Merge reflections that fall in the same 2θ bin of width ``tolerance``.

    Bin key ``round(2θ / tolerance)`` (round half to even), pymatgen's rule, so lines are
    identical to ``XRDCalculator``'s.

    Args:
        two_theta: (M,) float64 degrees, any order.
        intensity: (M,) float64 intensity of each ±G pair.
        hkl: (M, 3) int32 Miller indices (one per ±G pair).
        tolerance: bin width, degrees 2θ.

    Returns:
        two_theta (n,) float64 ascending (2θ of each line's lowest member), intensity (n,)
        float64 (sums), hkl (n, 3) int32 (see :func:`_preferred`), multiplicity
        (n,) int32 (2 × members: both G and −G are counted).
    """
    order = _sort_order(two_theta)
    keys = np.rint(two_theta / tolerance)
    n_in = two_theta.shape[0]
    tt_out = np.empty(n_in, dtype=np.float64)
    i_out = np.empty(n_in, dtype=np.float64)
    hkl_out = np.empty((n_in, 3), dtype=np.int32)
    mult = np.empty(n_in, dtype=np.int32)
    n = -1
    best = -1
    last_key = 0.0
    for pos in range(n_in):
        r = order[pos]
        if n < 0 or keys[r] != last_key:
            n += 1
            last_key = keys[r]
            tt_out[n] = two_theta[r]
            i_out[n] = intensity[r]
            mult[n] = 2
            best = r
        else:
            i_out[n] += intensity[r]
            mult[n] += 2
            if _preferred(hkl, r, best):
                best = r
        hkl_out[n, 0] = hkl[best, 0]
        hkl_out[n, 1] = hkl[best, 1]
        hkl_out[n, 2] = hkl[best, 2]
    n += 1
    return tt_out[:n].copy(), i_out[:n].copy(), hkl_out[:n].copy(), mult[:n].copy()
