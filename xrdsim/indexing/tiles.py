"""Start boxes ("tiles") of the dichotomy search, in the reciprocal parameters g of each system.

As in DICVOL (Boultif & Louër 1991, §2.2) the direct-space lengths are cut into
intervals and every combination that respects the system's cell choice is a start box;
DICVOL steps 0.5 Å, here the steps grow with the length (edges ``a_k = a_min·r^k``) so every
tile has the same relative width and so the same power to reject. Each tile also gets its
smallest volume: the search runs the tiles in shells of volume (:func:`shell_index`),
smallest first, so that the smallest cell that indexes the pattern is found before its
supercells, and the search can stop there.

Cell choices:
- orthorhombic: a ≤ b ≤ c;
- monoclinic (b unique): a ≤ c, the two shortest vectors of the a–c plane, so that
  90° ≤ β ≤ 120° and c·|cos β| ≤ a/2 (a reduced 2-D cell);
- triclinic: the Buerger-reduced reciprocal cell, with A = a*², B = b*², C = c*² taken from
  low-angle lines (:func:`triclinic_tiles`) and D = 2a*·b*, E = 2b*·c*, F = 2a*·c* cut by
  the dichotomy within 0 ≤ D ≤ A, 0 ≤ E ≤ B, |F| ≤ A (turning a* or c* round changes the
  signs of D and F, or of E and F, and not the lattice).
"""

from __future__ import annotations

import math

import numpy as np

#: Largest β of the monoclinic search (degrees): a reduced a–c plane has 90° ≤ β ≤ 120°.
MONOCLINIC_MAX_BETA = 120.0
#: Width of the β intervals of the monoclinic tiles (degrees; DICVOL's 5°).
BETA_STEP = 5.0
#: Volume shells (Å³): the first ends at :data:`FIRST_SHELL`, each next one is
#: :data:`SHELL_RATIO` times wider. DICVOL's shells are 400 Å³ wide; the boxes a shell
#: costs grow steeply with the volume (denser lines prune less: for a monoclinic TiO2
#: pattern, start boxes up to 125 Å³ cost 0.1 M boxes, those of 300–400 Å³ 10 M), so
#: the search stops within a factor 1.4 of the volume where it finds its cell.
FIRST_SHELL = 100.0
SHELL_RATIO = 1.4


def shell_index(volume: np.ndarray) -> np.ndarray:
    """Shell of each smallest tile volume: 0 below :data:`FIRST_SHELL`, then geometric."""
    v = np.maximum(np.asarray(volume, dtype=np.float64), 1e-9)
    k = np.floor(np.log(v / FIRST_SHELL) / math.log(SHELL_RATIO)) + 1
    return np.maximum(k, 0).astype(np.int64)


def length_edges(min_length: float, max_length: float, ratio: float) -> np.ndarray:
    """Interval edges a_min·ratio^k up to (and covering) max_length, Å."""
    n = max(1, math.ceil(math.log(max_length / min_length) / math.log(ratio)))
    return min_length * ratio ** np.arange(n + 1)


def _inv_sq(edges: np.ndarray, factor: float = 1.0) -> np.ndarray:
    """(m, 2) [lo, hi] of factor/a² over each length interval."""
    return np.stack([factor / edges[1:] ** 2, factor / edges[:-1] ** 2], axis=1)


def system_tiles(system: str, *, min_length: float, max_length: float, ratio: float,
                 max_volume: float) -> tuple[np.ndarray, np.ndarray]:
    """Tiles of a system other than triclinic, sorted by their smallest volume.

    Returns:
        tiles (n, p, 2) float64 [lo, hi] of g; (n,) smallest volume of each tile (Å³).
    """
    e = length_edges(min_length, max_length, ratio)
    lo = e[:-1]
    m = lo.size
    if system == "cubic":
        tiles = _inv_sq(e)[:, None, :]
        vmin = lo ** 3
    elif system in ("tetragonal", "hexagonal"):
        factor = 4.0 / 3.0 if system == "hexagonal" else 1.0
        shape = math.sqrt(3.0) / 2.0 if system == "hexagonal" else 1.0
        ia, ic = (x.ravel() for x in np.meshgrid(np.arange(m), np.arange(m), indexing="ij"))
        tiles = np.stack([_inv_sq(e, factor)[ia], _inv_sq(e)[ic]], axis=1)
        vmin = shape * lo[ia] ** 2 * lo[ic]
    elif system == "orthorhombic":
        ia, ib, ic = (x.ravel() for x in np.meshgrid(*(np.arange(m),) * 3, indexing="ij"))
        keep = (ia <= ib) & (ib <= ic)
        ia, ib, ic = ia[keep], ib[keep], ic[keep]
        inv = _inv_sq(e)
        tiles = np.stack([inv[ia], inv[ib], inv[ic]], axis=1)
        vmin = lo[ia] * lo[ib] * lo[ic]
    elif system == "monoclinic":
        tiles, vmin = _monoclinic(e)
    else:
        raise ValueError(f"no length tiles for {system!r}")
    keep = vmin <= max_volume
    order = np.argsort(vmin[keep], kind="stable")
    return np.ascontiguousarray(tiles[keep][order]), vmin[keep][order]


def _monoclinic(e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bounding boxes in (A, B, C, F) of the tiles a × b × c × β (a ≤ c, reduced a–c plane).

    A = 1/(a² sin²β), C = 1/(c² sin²β), F = 2|cos β|/(a·c·sin²β) ≥ 0, B = 1/b²;
    on 90° ≤ β ≤ 120° sin β falls and |cos β| rises with β, so each is monotone.
    """
    lo, hi = e[:-1], e[1:]
    m = lo.size
    betas = np.arange(90.0, MONOCLINIC_MAX_BETA, BETA_STEP)
    ia, ib, ic, it = (x.ravel() for x in np.meshgrid(np.arange(m), np.arange(m), np.arange(m),
                                                     np.arange(betas.size), indexing="ij"))
    b_lo = np.radians(betas[it])
    b_hi = np.radians(betas[it] + BETA_STEP)
    keep = (ia <= ic) & (lo[ic] * np.abs(np.cos(b_lo)) <= hi[ia] / 2.0)
    ia, ib, ic, b_lo, b_hi = ia[keep], ib[keep], ic[keep], b_lo[keep], b_hi[keep]
    s2_lo, s2_hi = np.sin(b_hi) ** 2, np.sin(b_lo) ** 2  # sin²β range
    cos_lo, cos_hi = np.abs(np.cos(b_lo)), np.abs(np.cos(b_hi))
    tiles = np.stack([
        np.stack([1 / (hi[ia] ** 2 * s2_hi), 1 / (lo[ia] ** 2 * s2_lo)], axis=1),
        np.stack([1 / hi[ib] ** 2, 1 / lo[ib] ** 2], axis=1),
        np.stack([1 / (hi[ic] ** 2 * s2_hi), 1 / (lo[ic] ** 2 * s2_lo)], axis=1),
        np.stack([2 * cos_lo / (hi[ia] * hi[ic] * s2_hi), 2 * cos_hi / (lo[ia] * lo[ic] * s2_lo)],
                 axis=1),
    ], axis=1)
    vmin = lo[ia] * lo[ib] * lo[ic] * np.sqrt(s2_lo)
    return tiles, vmin


def triclinic_tiles(q_windows: np.ndarray, *, n_anchor: int) -> np.ndarray:
    """Start boxes (A, B, C, D, E, F) with A ≤ B ≤ C taken from the first lines' Q windows.

    The Buerger-reduced reciprocal cell has a* the shortest reciprocal vector, b* the
    shortest not parallel to it and c* the shortest out of their plane, so Q(100) = A,
    Q(010) = B, Q(001) = C are the lowest lines of the lattice. As TREOR's base lines
    (Werner, Eriksson & Westdahl, J. Appl. Cryst. 18, 367 (1985)) they are sought among
    the first ``n_anchor`` observed lines: every ordered triple i < j < k of them gives a
    tile with A, B, C in those lines' windows; D, E, F start at [0, A], [0, B], [−A, A].

    Args:
        q_windows: (n, 2) [lo, hi] Q range of each observed line (tolerance and zero shift).

    Returns:
        (m, 6, 2) float64 tiles.
    """
    w = np.asarray(q_windows, dtype=np.float64)[:n_anchor]
    out = []
    n = w.shape[0]
    for i in range(n):
        for j in range(i + 1, n):
            for k in range(j + 1, n):
                a, b, c = w[i], w[j], w[k]
                out.append([a, b, c, [0.0, a[1]], [0.0, b[1]], [-a[1], a[1]]])
    return np.asarray(out, dtype=np.float64).reshape(-1, 6, 2)
