"""numba kernels of the successive-dichotomy cell search (driven by :mod:`.search`).

The search works on the reciprocal metric written linearly: every line of a lattice has
``Q = 1/d² = Σ_j c_j(hkl)·g_j`` with integer coefficients ``c(hkl)`` and parameters ``g``
of the crystal system (:data:`N_PARAMS` of them)::

    cubic         Q = N·A                          N = h²+k²+l²,   A = 1/a²
    tetragonal    Q = s·A + l²·C                   s = h²+k²,      A = 1/a², C = 1/c²
    hexagonal     Q = s·A + l²·C                   s = h²+hk+k²,   A = 4/(3a²), C = 1/c²
    orthorhombic  Q = h²A + k²B + l²C
    monoclinic    Q = h²A + k²B + l²C + hl·F       A = a*², B = b*², C = c*², F = 2a*c*cos β*
    triclinic     Q = h²A + k²B + l²C + hk·D + kl·E + hl·F

so over a box ``lo ≤ g ≤ hi`` each line's range is exact: ``Q⁻ = Σ_j min(c_j lo_j, c_j hi_j)``,
``Q⁺`` likewise with max. A box also carries ranges ``[z₀, z₁]`` of the zero shift and
``[D₀, D₁]`` of an angle-dependent shift (degrees 2θ, observed = true + z + D·w_i, with
``w_i`` a fixed shape per line: the specimen displacement's cos θ_i − 1, see
:mod:`.search`): line i's observed ``Q_i`` then lies in
``[Q(2θ_i − s⁺_i − ε_i), Q(2θ_i − s⁻_i + ε_i)]`` with ``s±_i`` the extremes of z + D·w_i
over the box and ``Q(2θ) = 4 sin²θ / λ²``.

A box is kept when it has at most ``max_lines`` lines surely below the last observed one and
every line meets the range of some hkl but a few (at most ``max_miss`` in all, a weak line
counting less than a strong one: an impurity's lines are weak)
(Louër & Louër, J. Appl. Cryst. 5, 271 (1972); Boultif & Louër, J. Appl. Cryst. 24, 987
(1991), DICVOL91; 37, 724 (2004), DICVOL04). A kept box is halved along every dimension
whose width moves the calculated lines by at least half as much as the widest one does
(its "contribution": width × the largest |coefficient| among the box's hkl; for z, width ×
the largest dQ/d2θ; for D, width × the largest |w_i|·dQ/d2θ_i), depth first, until every
contribution is below ``stop_frac`` × the tolerance window of the last line: that box is a
leaf, a cell for least squares (unless it lies next to a recent leaf: one cell gives a
cluster of neighbouring leaves).

Arrays in / arrays out, float64 / int64 only; the hkl of a start box ("tile") are
enumerated once at its lower corner and filtered down the tree.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

CUBIC, TETRAGONAL, HEXAGONAL, ORTHORHOMBIC, MONOCLINIC, TRICLINIC = range(6)
#: Parameters g of each system's quadratic form, in the order of the constants above.
N_PARAMS = (1, 2, 2, 3, 4, 6)
#: Deepest level of the tree (a safety net: the stop rule ends branches far earlier).
MAX_DEPTH = 60
#: Dimensions halved together: those whose contribution is at least this fraction of the widest.
SPLIT_FRACTION = 0.75
#: A new leaf is compared with this many of the last leaves recorded (see ``_known_leaf``).
RECENT_LEAVES = 32

#: Status bits returned by :func:`dichotomy`.
STATUS_ROWS_FULL = 1  # a tile had more hkl than the row buffer: it was skipped
STATUS_LEAVES_FULL = 2  # the leaf buffer filled: the search stopped early
STATUS_BOXES_SPENT = 4  # the box budget ran out: the search stopped early


@njit(cache=True)
def observed_bounds(tt, w, eps, lam, z0, z1, d0, d1, qlo, qhi):
    """Each line's range of Q over shifts z + D·w_i with z in [z0, z1] and D in [d0, d1]
    (degrees) and ±eps; returns max(qhi).

    Q(2θ) = 4·sin²(θ)/λ² with 2θ = 2θ_obs − z − D·w ∓ ε (clipped to [0, 180]).
    """
    scale = 4.0 / (lam * lam)
    top = 0.0
    for i in range(tt.size):
        s_lo = z0 + min(d0 * w[i], d1 * w[i])
        s_hi = z1 + max(d0 * w[i], d1 * w[i])
        lo = min(max(tt[i] - s_hi - eps[i], 0.0), 180.0)
        hi = min(max(tt[i] - s_lo + eps[i], 0.0), 180.0)
        sin_lo = math.sin(math.radians(lo) / 2.0)
        sin_hi = math.sin(math.radians(hi) / 2.0)
        qlo[i] = scale * sin_lo * sin_lo
        qhi[i] = scale * sin_hi * sin_hi
        top = max(top, qhi[i])
    return top


@njit(cache=True)
def _q_minus(row, lo, hi, p):
    """Lowest Q of one hkl (coefficient row) over the box [lo, hi]."""
    q = 0.0
    for j in range(p):
        c = row[j]
        q += c * lo[j] if c >= 0.0 else c * hi[j]
    return q


@njit(cache=True)
def _q_plus(row, lo, hi, p):
    """Highest Q of one hkl over the box [lo, hi]."""
    q = 0.0
    for j in range(p):
        c = row[j]
        q += c * hi[j] if c >= 0.0 else c * lo[j]
    return q


@njit(cache=True)
def _put(rows, n, c0, c1, c2, c3, c4, c5):
    if n < rows.shape[0]:
        rows[n, 0] = c0
        rows[n, 1] = c1
        rows[n, 2] = c2
        rows[n, 3] = c3
        rows[n, 4] = c4
        rows[n, 5] = c5
    return n + 1


@njit(cache=True)
def enumerate_hkl(system, lo, hi, qmax, sums, caps, rows):
    """Coefficient rows c(hkl) of every hkl whose lowest Q over [lo, hi] is ≤ qmax.

    One row per distinct coefficient vector (cubic: per N; tetragonal, hexagonal: per
    (s, l²); monoclinic: l ≥ 0, and h ≥ 0 when l = 0; triclinic: one of ±hkl).
    ``sums[s]`` is 1 where s is a possible N (cubic) or s (tetragonal, hexagonal);
    ``caps`` bounds |h|, |k|, |l| where the form is not positive definite over the box.

    Returns:
        the number of rows; more than ``rows.shape[0]`` means the buffer was too small.
    """
    n = 0
    if system == CUBIC:
        top = min(int(qmax / lo[0]), sums.size - 1)
        for s in range(1, top + 1):
            if sums[s]:
                n = _put(rows, n, float(s), 0.0, 0.0, 0.0, 0.0, 0.0)
    elif system == TETRAGONAL or system == HEXAGONAL:
        lmax = int(math.sqrt(qmax / lo[1]))
        for m in range(lmax + 1):
            ql = m * m * lo[1]
            top = min(int((qmax - ql) / lo[0]), sums.size - 1)
            for s in range(0 if m > 0 else 1, top + 1):
                if sums[s]:
                    n = _put(rows, n, float(s), float(m * m), 0.0, 0.0, 0.0, 0.0)
    elif system == ORTHORHOMBIC:
        hmax = int(math.sqrt(qmax / lo[0]))
        for h in range(hmax + 1):
            qh = h * h * lo[0]
            kmax = int(math.sqrt((qmax - qh) / lo[1]))
            for k in range(kmax + 1):
                qk = qh + k * k * lo[1]
                lmax = int(math.sqrt((qmax - qk) / lo[2]))
                for m in range(lmax + 1):
                    if h + k + m > 0:
                        n = _put(rows, n, float(h * h), float(k * k), float(m * m), 0.0, 0.0,
                                 0.0)
    elif system == MONOCLINIC:
        # Q⁻ = h²A⁻ + k²B⁻ + l²C⁻ + hl·(F⁻ if hl ≥ 0 else F⁺), F ≥ 0 (β ≥ 90°)
        kmax = int(math.sqrt(qmax / lo[1]))
        for k in range(kmax + 1):
            qk = k * k * lo[1]
            for m in range(caps[2] + 1):
                rest = qk + m * m * lo[2]
                # the lowest Q over h: rest − (l·F⁺)²/(4A⁻) when that dips below
                if rest - (m * hi[3]) ** 2 / (4.0 * lo[0]) > qmax:
                    if lo[2] - hi[3] ** 2 / (4.0 * lo[0]) > 0.0:
                        break
                    continue
                for h in range(0, caps[0] + 1):
                    q = h * h * lo[0] + h * m * lo[3] + rest
                    if q > qmax:
                        break
                    if h + k + m > 0:
                        n = _put(rows, n, float(h * h), float(k * k), float(m * m),
                                 float(h * m), 0.0, 0.0)
                if m == 0:
                    continue
                vertex = m * hi[3] / (2.0 * lo[0])
                for u in range(1, caps[0] + 1):
                    q = u * u * lo[0] - u * m * hi[3] + rest
                    if q > qmax:
                        if u > vertex:
                            break
                        continue
                    n = _put(rows, n, float(u * u), float(k * k), float(m * m),
                             float(-u * m), 0.0, 0.0)
    else:  # TRICLINIC: Friedel half-space h > 0, or h = 0 and k > 0, or h = k = 0 and l > 0
        row = np.empty(6)
        for h in range(0, caps[0] + 1):
            for k in range(-caps[1] if h > 0 else 0, caps[1] + 1):
                for m in range(-caps[2] if (h > 0 or k > 0) else 1, caps[2] + 1):
                    row[0] = h * h
                    row[1] = k * k
                    row[2] = m * m
                    row[3] = h * k
                    row[4] = k * m
                    row[5] = h * m
                    if _q_minus(row, lo, hi, 6) <= qmax:
                        n = _put(rows, n, row[0], row[1], row[2], row[3], row[4], row[5])
    return n


@njit(cache=True)
def _feasible(system, lo, hi):
    """False when no positive-definite metric of the search's cell choice lies in the box.

    Monoclinic: F ≤ √(AC) (β ≤ 120°, F ≥ 0). Triclinic (Buerger-reduced reciprocal cell):
    |D| ≤ A, |E| ≤ B, |F| ≤ A, A ≤ B ≤ C.
    """
    if system == MONOCLINIC:
        return lo[3] * lo[3] <= hi[0] * hi[2]
    if system == TRICLINIC:
        return (lo[0] <= hi[1] and lo[1] <= hi[2] and lo[3] <= hi[0] and hi[3] >= -hi[0]
                and lo[4] <= hi[1] and hi[4] >= -hi[1] and lo[5] <= hi[0] and hi[5] >= -hi[0])
    return True


@njit(cache=True)
def _test(box, p, rows, parent, n_parent, child, tt, w, eps, cost, lam, max_miss, max_lines,
          last, qlo, qhi, qm, qp, pmax):
    """Filter the parent's hkl into ``child`` (Q⁻ ≤ the highest observed Q) and test the box.

    The box fails when more than ``max_lines`` hkl lie surely below the last line
    (``last``), or when the lines that meet no hkl range cost more than ``max_miss``
    (each line its ``cost``). ``child`` comes out
    sorted by Q⁻ (the parent's order is nearly right: an insertion sort finishes it), so a
    line meets some range iff the largest Q⁺ among the rows with Q⁻ ≤ its upper bound
    (a prefix maximum, found by bisection) reaches its lower bound.

    Returns:
        (hkl kept, True when the box passes).
    """
    lo = box[:p, 0]
    hi = box[:p, 1]
    top = observed_bounds(tt, w, eps, lam, box[p, 0], box[p, 1], box[p + 1, 0], box[p + 1, 1],
                          qlo, qhi)
    n = 0
    below = 0
    for r in range(n_parent):
        j = parent[r]
        q = _q_minus(rows[j], lo, hi, p)
        if q > top:
            continue
        q_up = _q_plus(rows[j], lo, hi, p)
        if q_up < qlo[last]:
            below += 1
        m = n  # insertion into the sorted prefix
        while m > 0 and qm[m - 1] > q:
            qm[m] = qm[m - 1]
            qp[m] = qp[m - 1]
            child[m] = child[m - 1]
            m -= 1
        qm[m] = q
        qp[m] = q_up
        child[m] = j
        n += 1
    if below > max_lines:
        return n, False
    running = -1.0
    for r in range(n):
        running = max(running, qp[r])
        pmax[r] = running
    miss = 0.0
    for i in range(tt.size):
        # rows with Q⁻ ≤ qhi[i]: the first k of the sorted list
        a, b = 0, n
        while a < b:
            c = (a + b) >> 1
            if qm[c] <= qhi[i]:
                a = c + 1
            else:
                b = c
        if a == 0 or pmax[a - 1] < qlo[i]:
            miss += cost[i]
            if miss > max_miss + 1e-9:
                return n, False
    return n, True


@njit(cache=True)
def _splits(box, p, rows, kept, n_kept, dqdt_max, dqdw_max, tol_q, stop_frac, split, contrib):
    """Mark the dimensions to halve; returns their number (0: the box is a leaf).

    A dimension's contribution is how far its width moves the calculated or observed Q:
    width × the largest |coefficient| among the box's hkl for g; for the zero shift
    width × max dQ/d2θ, for D width × max |w_i|·dQ/d2θ_i (both per radian).
    """
    contrib[:] = 0.0
    for r in range(n_kept):
        row = rows[kept[r]]
        for j in range(p):
            contrib[j] = max(contrib[j], abs(row[j]))
    for j in range(p):
        contrib[j] *= box[j, 1] - box[j, 0]
    contrib[p] = math.radians(box[p, 1] - box[p, 0]) * dqdt_max
    contrib[p + 1] = math.radians(box[p + 1, 1] - box[p + 1, 0]) * dqdw_max
    widest = contrib.max()
    if widest <= stop_frac * tol_q:
        return 0
    m = 0
    for j in range(p + 2):
        split[j] = contrib[j] >= SPLIT_FRACTION * widest
        if split[j]:
            m += 1
    return m


@njit(cache=True)
def _known_leaf(box, p, leaves, n_leaves):
    """True when ``box`` lies within two widths of one of the last :data:`RECENT_LEAVES`
    leaves in every parameter (the zero shift aside): the same cell's neighbourhood."""
    for r in range(n_leaves - 1, max(n_leaves - RECENT_LEAVES, 0) - 1, -1):
        near = True
        for j in range(p):
            width = leaves[r, j, 1] - leaves[r, j, 0]
            centre = 0.5 * (leaves[r, j, 0] + leaves[r, j, 1])
            if abs(0.5 * (box[j, 0] + box[j, 1]) - centre) > 2.0 * width:
                near = False
                break
        if near:
            return True
    return False


@njit(cache=True)
def dichotomy(system, tiles, z0, z1, d0, d1, tt, w, eps, cost, lam, sums, caps, max_miss,
              max_lines, stop_frac, max_rows, max_boxes, leaves):
    """Depth-first successive dichotomy from each tile; the leaves found go to ``leaves``.

    Args:
        system: one of the system constants.
        tiles: (n_tiles, p, 2) float64 start boxes [lo, hi] of the parameters g.
        z0, z1: zero-shift range (degrees 2θ) every tile starts with.
        d0, d1: range of D, the coefficient of the angle-dependent shift ``D·w_i``
            (degrees; [0, 0] searches a constant shift only).
        tt, w, eps: (n,) float64 observed 2θ, shape of the angle-dependent shift at each
            line and tolerances (degrees).
        lam: wavelength, Å.
        sums, caps: see :func:`enumerate_hkl`.
        cost: (n,) float64 what a line that meets no hkl costs (a weak line less).
        max_miss: total cost of the lines allowed to meet no hkl.
        max_lines: calculated lines allowed below the last observed line (a denser cell
            would index any pattern by chance, see :mod:`xrdsim.indexing.search`).
        stop_frac: a box whose widest contribution is below stop_frac × the Q window of the
            last line (its ±eps) is a leaf.
        max_rows: hkl buffer per tile. max_boxes: boxes tested before giving up.
        leaves: (max_leaves, p + 2, 2) float64 output; rows p and p + 1 are the ranges of
            the zero shift and of D.

    Returns:
        (leaves found, boxes tested, status bits :data:`STATUS_ROWS_FULL` …).
    """
    p = tiles.shape[1]
    n_lines = tt.size
    box = np.empty((MAX_DEPTH + 1, p + 2, 2))
    rows = np.empty((max_rows, 6))
    kept = np.empty((MAX_DEPTH + 1, max_rows), np.int64)
    n_kept = np.zeros(MAX_DEPTH + 1, np.int64)
    split = np.zeros((MAX_DEPTH + 1, p + 2), np.bool_)
    n_child = np.zeros(MAX_DEPTH + 1, np.int64)
    next_child = np.zeros(MAX_DEPTH + 1, np.int64)
    qlo = np.empty(n_lines)
    qhi = np.empty(n_lines)
    qm = np.empty(max_rows)
    qp = np.empty(max_rows)
    pmax = np.empty(max_rows)
    contrib = np.empty(p + 2)
    top = 0
    for i in range(n_lines):
        if tt[i] > tt[top]:
            top = i
    scale = 4.0 / (lam * lam)
    dqdt_max = 0.0  # dQ/d2θ = 2 sin(2θ)/λ² per radian, largest over the lines
    dqdw_max = 0.0  # |w_i|·dQ/d2θ_i, largest over the lines
    for i in range(n_lines):
        dqdt = 0.5 * scale * math.sin(math.radians(tt[i]))
        dqdt_max = max(dqdt_max, dqdt)
        dqdw_max = max(dqdw_max, abs(w[i]) * dqdt)
    tol_q = 0.5 * scale * math.sin(math.radians(tt[top])) * math.radians(2.0 * eps[top])
    n_leaves = 0
    n_boxes = 0
    status = 0
    for t in range(tiles.shape[0]):
        for j in range(p):
            box[0, j, 0] = tiles[t, j, 0]
            box[0, j, 1] = tiles[t, j, 1]
        box[0, p, 0] = z0
        box[0, p, 1] = z1
        box[0, p + 1, 0] = d0
        box[0, p + 1, 1] = d1
        if not _feasible(system, box[0, :p, 0], box[0, :p, 1]):
            continue
        qtop = observed_bounds(tt, w, eps, lam, z0, z1, d0, d1, qlo, qhi)
        n = enumerate_hkl(system, box[0, :p, 0], box[0, :p, 1], qtop, sums, caps, rows)
        if n > max_rows:
            status |= STATUS_ROWS_FULL
            continue
        for r in range(n):
            kept[MAX_DEPTH, r] = r  # scratch row of the tile's full list
        n_boxes += 1
        n_kept[0], ok = _test(box[0], p, rows, kept[MAX_DEPTH], n, kept[0], tt, w, eps, cost,
                              lam, max_miss, max_lines, top, qlo, qhi, qm, qp, pmax)
        if not ok:
            continue
        m = _splits(box[0], p, rows, kept[0], n_kept[0], dqdt_max, dqdw_max, tol_q, stop_frac,
                    split[0], contrib)
        if m == 0:
            if not _known_leaf(box[0], p, leaves, n_leaves):
                if n_leaves >= leaves.shape[0]:
                    return n_leaves, n_boxes, status | STATUS_LEAVES_FULL
                leaves[n_leaves] = box[0]
                n_leaves += 1
            continue
        n_child[0] = 1 << m
        next_child[0] = 0
        d = 0
        while d >= 0:
            if next_child[d] == n_child[d]:
                d -= 1
                continue
            c = next_child[d]
            next_child[d] += 1
            bit = 0
            for j in range(p + 2):
                lo = box[d, j, 0]
                hi = box[d, j, 1]
                if split[d, j]:
                    mid = 0.5 * (lo + hi)
                    if (c >> bit) & 1:
                        lo = mid
                    else:
                        hi = mid
                    bit += 1
                box[d + 1, j, 0] = lo
                box[d + 1, j, 1] = hi
            if not _feasible(system, box[d + 1, :p, 0], box[d + 1, :p, 1]):
                continue
            n_boxes += 1
            if n_boxes > max_boxes:
                return n_leaves, n_boxes, status | STATUS_BOXES_SPENT
            n_kept[d + 1], ok = _test(box[d + 1], p, rows, kept[d], n_kept[d], kept[d + 1], tt,
                                      w, eps, cost, lam, max_miss, max_lines, top, qlo, qhi, qm,
                                      qp, pmax)
            if not ok:
                continue
            m = 0
            if d + 1 < MAX_DEPTH - 1:
                m = _splits(box[d + 1], p, rows, kept[d + 1], n_kept[d + 1], dqdt_max, dqdw_max,
                            tol_q, stop_frac, split[d + 1], contrib)
            if m == 0:
                if not _known_leaf(box[d + 1], p, leaves, n_leaves):
                    if n_leaves >= leaves.shape[0]:
                        return n_leaves, n_boxes, status | STATUS_LEAVES_FULL
                    leaves[n_leaves] = box[d + 1]
                    n_leaves += 1
                continue
            d += 1
            n_child[d] = 1 << m
            next_child[d] = 0
    return n_leaves, n_boxes, status
