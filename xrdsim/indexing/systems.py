"""Crystal systems backed by an indexing, and a classifier's ranking checked against them.

A cell fixes the lattice, not the crystal: its metric system is the highest one the crystal
can have (a crystal of lower symmetry on a lattice of higher metric symmetry is possible,
but rare). A hexagonal primitive lattice (hP) carries hexagonal and trigonal P crystals; a
rhombohedral one (hR) trigonal crystals. :func:`check_ranking` puts a classifier's crystal
systems and space groups that a conclusive cell backs ahead of those none backs
(``xrdsim predict --index``, ``xrdsim.predict(..., index=True)``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

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


def carries(solution: CellSolution, space_group: int, symbol: str) -> bool:
    """A crystal of this space group (number, Hermann–Mauguin ``symbol``) can have this
    cell's lattice: its crystal system is one the lattice carries
    (:func:`compatible_systems`) and, where the cell's centring was decided by absences
    (anything but P), the group's Bravais lattice is the cell's (a P cell leaves the
    centring open: too few of the lines a centring forbids fell in the scan)."""
    from xrdsim.structures.crystal_systems import crystal_system_name
    from xrdsim.structures.symmetry import bravais_lattice

    if crystal_system_name(int(space_group)) not in compatible_systems(solution):
        return False
    return solution.centring == "P" or bravais_lattice(int(space_group), symbol) == \
        solution.bravais_lattice


@dataclasses.dataclass(frozen=True)
class CheckedRanking:
    """A classifier's answer checked against an indexing (:func:`check_ranking`).

    Attributes:
        crystal_systems: the classifier's crystal systems re-ranked (:func:`rerank`).
        space_groups: the classifier's (number, symbol) candidates re-ranked: those that a
            conclusive cell carries (:func:`carries`) first, each group in the classifier's
            order.
        backed: crystal systems a conclusive cell backs (:func:`backed_systems`).
        cell: the best conclusive cell of the combined first crystal system, or None.
        agrees: the classifier's first crystal system is backed (None: no conclusive cell,
            nothing to agree with).
    """

    crystal_systems: tuple[str, ...]
    space_groups: tuple[tuple[int, str], ...]
    backed: tuple[str, ...]
    cell: CellSolution | None
    agrees: bool | None

    def to_dict(self) -> dict[str, Any]:
        return {"crystal_systems": list(self.crystal_systems),
                "space_groups": [{"label": n, "symbol": s} for n, s in self.space_groups],
                "backed": list(self.backed),
                "cell": None if self.cell is None else self.cell.describe(),
                "agrees": self.agrees}


def check_ranking(systems: Sequence[str], space_groups: Sequence[tuple[int, str]],
                  result: IndexingResult | None) -> CheckedRanking:
    """Check a classifier's crystal systems (best first) and space groups ((number, symbol),
    best first) against an indexing: a system or group that a conclusive cell (every one of
    the first N lines indexed, M_N ≥ conclusive_merit) backs outranks one that none backs;
    within each part the classifier's order stays."""
    conclusive = [s for s in (result.solutions if result is not None else ()) if s.conclusive]
    backed = tuple(backed_systems(result)) if result is not None else ()
    ranked = tuple(rerank(systems, result))
    fits = [sg for sg in space_groups if any(carries(s, sg[0], sg[1]) for s in conclusive)]
    groups = tuple(fits + [sg for sg in space_groups if sg not in fits])
    cell = next((s for s in conclusive if ranked and ranked[0] in compatible_systems(s)), None)
    agrees = None if not backed else bool(systems) and systems[0] in backed
    return CheckedRanking(crystal_systems=ranked, space_groups=groups, backed=backed,
                          cell=cell, agrees=agrees)
