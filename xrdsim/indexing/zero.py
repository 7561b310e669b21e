"""The zero shift of a scan, estimated from its lines before any cell is known.

A reflection hkl and its higher orders nh nk nl have ``sin θ_n = n·sin θ_1``. With an
unknown zero shift z (observed 2θ = true 2θ + z), a pair of observed lines (t₁, t₂) that
are orders 1 and n of one reflection gives z exactly: with a = t₂/2, b = t₁/2 and u = z/2,
``sin(a − u) = n·sin(b − u)`` ⇒ ``tan u = (sin a − n sin b)/(cos a − n cos b)``.
Every pair of lines proposes a z for n = 2 and 3; pairs that really are orders agree on one
value and pile up there, the others scatter over the allowed range. The piles found are
the candidates, most supported first. The search then scans a narrow zero-shift window
around each candidate instead of the whole allowed range (the width of that window
multiplies the boxes of the dichotomy: ±0.25° cost 50× ±0 on an orthorhombic shell).
"""

from __future__ import annotations

import numpy as np

#: Orders compared (second and third orders of a reflection are the ones a scan shows).
ORDERS = (2, 3)
#: Pairs whose proposals lie within this many degrees count as one pile.
PILE_WIDTH = 0.02
#: A pile must hold at least this many pairs...
MIN_SUPPORT = 2
#: ... and this many times the pairs a uniform scatter would put in a window that wide.
MIN_EXCESS = 3.0


def zero_candidates(two_theta: np.ndarray, max_zero: float, *, limit: int = 2
                    ) -> list[tuple[float, int]]:
    """Up to ``limit`` zero-shift candidates (degrees) with their support (pairs agreeing).

    Args:
        two_theta: (n,) observed line positions, degrees.
        max_zero: proposals beyond ±max_zero are ignored.

    Returns:
        [(z, pairs), ...], most supported first; empty when no pile stands out.
    """
    t = np.radians(np.sort(np.asarray(two_theta, dtype=np.float64))) / 2.0
    i, j = np.triu_indices(t.size, k=1)
    proposals = []
    for n in ORDERS:
        a, b = t[j], t[i]
        z = np.degrees(2.0 * np.arctan2(np.sin(a) - n * np.sin(b), np.cos(a) - n * np.cos(b)))
        z = (z + 180.0) % 360.0 - 180.0  # tan has period π in u: fold onto (−180°, 180°]
        proposals.append(z[np.abs(z) <= max_zero])
    z = np.sort(np.concatenate(proposals))
    if z.size < MIN_SUPPORT:
        return []
    # pairs within PILE_WIDTH after each proposal: a sliding window over the sorted values
    counts = np.searchsorted(z, z + PILE_WIDTH, side="right") - np.arange(z.size)
    expected = z.size * PILE_WIDTH / (2.0 * max_zero) if max_zero > 0 else 0.0
    out: list[tuple[float, int]] = []
    taken = np.zeros(z.size, bool)
    for k in np.argsort(-counts, kind="stable"):
        if len(out) >= limit or counts[k] < max(MIN_SUPPORT, MIN_EXCESS * expected):
            break
        members = slice(k, k + counts[k])
        if taken[members].any():
            continue
        taken[members] = True
        out.append((float(np.median(z[members])), int(counts[k])))
    return out
