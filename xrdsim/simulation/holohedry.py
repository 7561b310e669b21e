"""Crystal geometry the preferred-orientation op needs: reciprocal metrics and the
equivalent reflections of each line.

A merged powder line carries one representative hkl (see ``xrdsim.peaks.merge_kernel``).
Its equivalent reflections are taken as the orbit of that hkl under the lattice's
holohedry — every candidate operation (the 48 of m-3m and the 24 of 6/mmm in hexagonal
axes, as integer matrices on hkl) that leaves the reciprocal metric G* unchanged. These
are exactly the reflections of equal d that a powder line merges (symmetry-equivalent or
metrically coincident), so the March–Dollase average runs over them with equal weights.
"""

from __future__ import annotations

import functools

import numpy as np

from xrdsim.errors import PeakInputError

#: Relative tolerance on M^T·G*·M = G* for an operation to belong to a lattice's holohedry.
METRIC_TOL = 1e-4
#: Distinct operations of m-3m (48) and 6/mmm (24), 8 of which they share.
N_OPERATIONS = 64
#: Default preferred directions (plate normals, reciprocal-lattice hkl): the low-index ones.
DEFAULT_DIRECTIONS = ((0, 0, 1), (1, 0, 0), (0, 1, 0), (1, 1, 0), (1, 0, 1), (0, 1, 1), (1, 1, 1))


def _closure(generators: list[np.ndarray]) -> list[np.ndarray]:
    group = [np.eye(3, dtype=np.int64)]
    frontier = list(group)
    while frontier:
        new = []
        for a in frontier:
            for g in generators:
                m = g @ a
                if not any((m == b).all() for b in group):
                    group.append(m)
                    new.append(m)
        frontier = new
    return group


@functools.lru_cache(maxsize=1)
def candidate_operations() -> np.ndarray:
    """(64, 3, 3) int64: m-3m (cubic axes) and 6/mmm (hexagonal axes) acting on hkl columns."""
    inv = -np.eye(3, dtype=np.int64)
    cubic = _closure([
        np.array([[0, 0, 1], [1, 0, 0], [0, 1, 0]]),  # 3 along [111]: (h,k,l) → (l,h,k)
        np.array([[0, 1, 0], [1, 0, 0], [0, 0, 1]]),  # mirror swapping h and k
        np.diag([-1, 1, 1]), inv,
    ])  # fmt: skip
    hexagonal = _closure([
        np.array([[1, 1, 0], [-1, 0, 0], [0, 0, 1]]),  # 6 along c*: (h,k,l) → (h+k, −h, l)
        np.array([[0, 1, 0], [1, 0, 0], [0, 0, 1]]),  # (h,k,l) → (k,h,l)
        inv,
    ])  # fmt: skip
    ops = np.unique(np.array(cubic + hexagonal, dtype=np.int64), axis=0)  # 8 shared
    if ops.shape[0] != N_OPERATIONS:
        raise AssertionError(f"expected {N_OPERATIONS} operations, got {ops.shape[0]}")
    ops.setflags(write=False)
    return ops


def reciprocal_metric(cells: np.ndarray) -> np.ndarray:
    """(B, 3, 3) G* = G⁻¹ from (B, 6) cells a, b, c (Å), α, β, γ (degrees)."""
    cells = np.asarray(cells, dtype=np.float64).reshape(-1, 6)
    a, b, c = cells[:, 0], cells[:, 1], cells[:, 2]
    ca, cb, cg = (np.cos(np.deg2rad(cells[:, k])) for k in (3, 4, 5))
    g = np.stack([
        np.stack([a * a, a * b * cg, a * c * cb], -1),
        np.stack([a * b * cg, b * b, b * c * ca], -1),
        np.stack([a * c * cb, b * c * ca, c * c], -1),
    ], 1)  # fmt: skip
    return np.linalg.inv(g)


def orientation_inputs(
    cells: np.ndarray | None, n_patterns: int
) -> tuple[np.ndarray, np.ndarray]:
    """(B, 9) G* rows and (B, 64) bool holohedry mask of each pattern's lattice.

    Raises:
        PeakInputError: missing cells, wrong shape, or a non-positive / degenerate cell.
    """
    if cells is None:
        raise PeakInputError(
            "preferred_orientation needs the unit cell of every pattern: pass cells= "
            "(B, 6) a, b, c, alpha, beta, gamma and hkl= (n, 3) to simulate_batch"
        )
    cells = np.asarray(cells, dtype=np.float64)
    if cells.shape != (n_patterns, 6):
        raise PeakInputError(f"cells must have shape ({n_patterns}, 6), got {cells.shape}")
    if not (np.isfinite(cells).all() and (cells[:, :3] > 0).all()
            and ((cells[:, 3:] > 0) & (cells[:, 3:] < 180)).all()):  # fmt: skip
        b = int(np.argmax(~np.isfinite(cells).all(1) | (cells[:, :3] <= 0).any(1)
                          | (cells[:, 3:] <= 0).any(1) | (cells[:, 3:] >= 180).any(1)))  # fmt: skip
        raise PeakInputError(f"pattern {b}: cell {cells[b].tolist()} is not a valid unit cell")
    gs = reciprocal_metric(cells)
    ops = candidate_operations().astype(np.float64)
    # M^T G* M for every op and pattern, compared with G*
    moved = np.einsum("mji,bjk,mkl->bmil", ops, gs, ops)
    scale = np.abs(gs).max(axis=(1, 2))[:, None]
    mask = (np.abs(moved - gs[:, None]).max(axis=(2, 3)) <= METRIC_TOL * scale).astype(np.bool_)
    return np.ascontiguousarray(gs.reshape(-1, 9)), np.ascontiguousarray(mask)


def check_hkl(hkl: np.ndarray | None, n_peaks: int) -> np.ndarray:
    """(n, 3) int64 Miller indices of every line (preferred orientation, lattice strain)."""
    if hkl is None:
        raise PeakInputError(
            "preferred_orientation needs the hkl of every line: pass hkl= (n, 3) (PeakBatch.hkl "
            "from PeakDatabase.ragged(..., hkl=True)) and cells= to simulate_batch"
        )
    hkl = np.ascontiguousarray(hkl, dtype=np.int64)
    if hkl.shape != (n_peaks, 3):
        raise PeakInputError(f"hkl must have shape ({n_peaks}, 3), got {hkl.shape}")
    zero = ~hkl.any(axis=1)
    if zero.any():
        raise PeakInputError(f"line {int(np.argmax(zero))}: hkl (0, 0, 0) is not a reflection; "
                             "give every line its Miller indices")
    return hkl


def directions_array(directions: list) -> np.ndarray:
    """(D, 3) float64 preferred directions from the op's setting."""
    return np.asarray(directions, dtype=np.float64).reshape(-1, 3)

