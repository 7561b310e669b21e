"""Preferred orientation: March–Dollase factors over the equivalent reflections of each line.

A platy or needle-shaped powder lies with one crystal direction H (a plane normal, given as
Miller indices of the CIF cell) preferentially along the diffraction vector. The
March–Dollase model (Dollase, J. Appl. Cryst. 19, 267 (1986)) multiplies a reflection h by

    W(α) = (r² cos²α + sin²α / r)^(−3/2),

α the angle between h and H, r the March coefficient (r = 1: random powder; r < 1: plates
with H along the diffraction vector; r > 1: needles). A powder line merges all reflections
equivalent to its representative hkl, so its factor is the mean of W over that family
(the equivalents h·R for the point-group rotations R of the structure, with Friedel mates).
Lines that merge several families by coincidence (cubic 333/511) take the family of their
representative only.
"""

from __future__ import annotations

import numpy as np
import spglib

from xrdsim.errors import StructureError
from xrdsim.structures.symmetry import spglib_cell

#: Low-index plane normals tried as preferred directions (CIF cell setting).
LOW_INDEX_DIRECTIONS = ((0, 0, 1), (1, 0, 0), (0, 1, 0), (1, 1, 0), (1, 0, 1), (0, 1, 1),
                        (1, 1, 1))

#: spglib tolerance (Å) for the rotations, the project's labelling tolerance.
SYMPREC = 0.1


def point_rotations(structure, *, source: str = "structure") -> np.ndarray:
    """(k, 3, 3) int32 rotation parts of the space-group operations, CIF-cell basis.

    Raises:
        StructureError: spglib finds no symmetry (degenerate structure).
    """
    data = spglib.get_symmetry(spglib_cell(structure), symprec=SYMPREC)
    if data is None:
        raise StructureError(source, "spglib found no symmetry operations; check the CIF")
    rotations = np.unique(np.asarray(data["rotations"], dtype=np.int32), axis=0)
    return np.concatenate([rotations, -rotations])  # with Friedel mates (−h)


def reflection_families(hkl: np.ndarray, rotations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Equivalent reflections of every line.

    Args:
        hkl: (n, 3) int, one representative per line.
        rotations: (k, 3, 3) int from :func:`point_rotations`.

    Returns:
        members (M, 3) float64 and line (M,) int64: member m belongs to line ``line[m]``;
        each family is ``{h·R}`` without repeats.
    """
    members, owner = [], []
    for i, h in enumerate(np.asarray(hkl, dtype=np.int64)):
        family = np.unique(np.einsum("j,kjl->kl", h, rotations), axis=0)  # h·R for every R
        members.append(family)
        owner.append(np.full(len(family), i, dtype=np.int64))
    if not members:
        return np.zeros((0, 3)), np.zeros(0, dtype=np.int64)
    return np.concatenate(members).astype(np.float64), np.concatenate(owner)


def distinct_directions(rotations: np.ndarray) -> list[tuple[int, int, int]]:
    """The symmetry-distinct members of :data:`LOW_INDEX_DIRECTIONS` (first of each orbit)."""
    kept: list[tuple[int, int, int]] = []
    seen: set[tuple[int, ...]] = set()
    for direction in LOW_INDEX_DIRECTIONS:
        if tuple(direction) in seen:
            continue
        kept.append(direction)
        orbit = np.einsum("j,kjl->kl", np.asarray(direction), rotations)
        seen.update(tuple(int(v) for v in row) for row in orbit)
    return kept


def cos2_angles(members: np.ndarray, direction, lattice_matrix: np.ndarray) -> np.ndarray:
    """cos²α between each reflection and the plane normal ``direction`` (both Miller indices).

    cos α = h·G*·H / √((h·G*·h)(H·G*·H)), G* = (L Lᵀ)⁻¹ the reciprocal metric tensor of the
    lattice L (rows = cell vectors, Å).
    """
    g_star = np.linalg.inv(lattice_matrix @ lattice_matrix.T)
    big_h = np.asarray(direction, dtype=np.float64)
    dot = members @ g_star @ big_h
    norm_h = np.einsum("mi,ij,mj->m", members, g_star, members)
    cos2 = dot * dot / (norm_h * float(big_h @ g_star @ big_h))
    return np.clip(cos2, 0.0, 1.0)


def march_dollase(cos2: np.ndarray, line: np.ndarray, n_lines: int, r: float) -> np.ndarray:
    """(n_lines,) mean March–Dollase factor (r² cos²α + sin²α/r)^(−3/2) over each family."""
    w = (r * r * cos2 + (1.0 - cos2) / r) ** -1.5
    return np.bincount(line, weights=w, minlength=n_lines) / np.bincount(line, minlength=n_lines)


def tied_axes(rotations: np.ndarray) -> tuple[int, int, int]:
    """For each cell axis, the first axis the symmetry maps it onto (union over rotations).

    A rotation whose column i has a non-zero entry in row j ≠ i sends axis i towards axis j,
    so the two must stretch alike to keep the symmetry: cubic (0, 0, 0), tetragonal and
    hexagonal (0, 0, 2), orthorhombic and lower (0, 1, 2).
    """
    leader = [0, 1, 2]

    def find(i: int) -> int:
        while leader[i] != i:
            i = leader[i]
        return i

    for rotation in rotations:
        for i in range(3):
            for j in range(3):
                if i != j and rotation[j, i] != 0:
                    a, b = sorted((find(i), find(j)))
                    leader[b] = a
    return tuple(find(i) for i in range(3))  # type: ignore[return-value]
