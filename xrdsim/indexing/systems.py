"""Crystal systems backed by an indexing, and a classifier's ranking checked against them.

A cell fixes the lattice, not the crystal: its metric system is the highest one the crystal
can have (a crystal of lower symmetry on a lattice of higher metric symmetry is possible,
but rare). A hexagonal primitive lattice (hP) carries hexagonal and trigonal P crystals; a
rhombohedral one (hR) trigonal crystals. :func:`rerank` puts a classifier's crystal systems
that a conclusive cell backs ahead of those none backs; the space groups are checked in
:mod:`xrdsim_training.measured.checked` (``xrdsim predict --index``).
"""

from __future__ import annotations

from collections.abc import Sequence

from xrdsim.indexing.solution import CellSolution, IndexingResult


def compatible_systems(solution: CellSolution) -> tuple[str, ...]:
    """Crystal systems a crystal with this cell's lattice has (hP: hexagonal or trigonal)."""
    if solution.bravais_lattice == "hP":
        return ("hexagonal", "trigonal")
    return (solution.crystal_system,)


def backed_systems(result: IndexingResult) -> list[str]:
    """Systems backed by a conclusive cell (every line of the first N indexed,
    M_N ≥ conclusive_merit), in the order of the result's ranking."""
    out: list[str] = []
    for sol in result.solutions:
        if sol.conclusive:
            out.extend(s for s in compatible_systems(sol) if s not in out)
    return out


def rerank(ranking: Sequence[str], result: IndexingResult | None) -> list[str]:
    """A classifier's crystal systems (best first) re-ranked by an indexing: the systems a
    conclusive cell backs come first, in the classifier's order, then the others.

    A backed system the ranking lacks is put after the backed ones it has; without a
    result (or a conclusive cell) the ranking is returned unchanged.
    """
    backed = backed_systems(result) if result is not None else []
    first = [s for s in ranking if s in backed]
    first += [s for s in backed if s not in first]
    return first + [s for s in ranking if s not in first]

