"""The network's answers checked against an indexing of the same files
(``xrdsim predict --index``).

Each predicted file is read again and indexed (:func:`xrdsim.indexing.index.index_pattern`);
its record gains ``"indexing"`` (the best cells, or why there is none) and ``"checked"``
(:func:`check_ranking`: the network's crystal systems and space groups, those a conclusive
cell backs first). A file that cannot be indexed gets
``"indexing": {"error": ...}`` and the others go on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from xrdsim.errors import XrdsimError
from xrdsim.indexing.index import index_pattern
from xrdsim.indexing.settings import IndexingSettings
from xrdsim.indexing.solution import CellSolution, IndexingResult
from xrdsim.indexing.systems import backed_systems, compatible_systems, rerank
from xrdsim.measured.readers import read_pattern
from xrdsim.structures.crystal_systems import crystal_system_name
from xrdsim.structures.symmetry import bravais_lattice

#: Cells listed per file in a record.
CELLS_LISTED = 3


def carries(solution: CellSolution, space_group: int, symbol: str) -> bool:
    """A crystal of this space group (number, Hermann–Mauguin ``symbol``) can have this
    cell's lattice: its crystal system is one the lattice carries
    (:func:`compatible_systems`) and, where the cell's centring was decided by absences
    (anything but P), the group's Bravais lattice is the cell's (a P cell leaves the
    centring open: too few of the lines a centring forbids fell in the scan)."""
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


def indexing_summary(result: IndexingResult) -> dict[str, Any]:
    """The part of an indexing a prediction record carries: the first cells, the reason
    when there is none, the CPU time."""
    return {"cells": [{"crystal_system": s.crystal_system, "bravais_lattice": s.bravais_lattice,
                       "cell": [round(x, 5) for x in s.cell], "volume": round(s.volume, 3),
                       "m20": round(s.m20, 2), "n_merit": s.n_merit,
                       "n_unindexed": s.n_unindexed, "conclusive": s.conclusive,
                       "text": s.describe()}
                      for s in result.solutions[:CELLS_LISTED]],
            "reason": result.reason, "n_lines": len(result.lines),
            "cpu_seconds": result.stats.get("cpu_seconds")}


def check_records(records: list[dict[str, Any]], *, wavelength: Any = None,
                  force_wavelength: bool = False,
                  settings: IndexingSettings | None = None) -> list[dict[str, Any]]:
    """Index the file of every record of :func:`~xrdsim_training.measured.predict.predict_files`
    that has a prediction and add ``"indexing"`` and ``"checked"`` to it (in place; the
    records are returned)."""
    for record in records:
        if "error" in record:
            continue
        try:
            pattern = read_pattern(record["source"], wavelength=wavelength,
                                   force_wavelength=force_wavelength)
            result = index_pattern(pattern, settings=settings)
        except XrdsimError as exc:
            record["indexing"] = {"error": str(exc)}
            continue
        record["indexing"] = indexing_summary(result)
        record["checked"] = check_ranking(
            [c["name"] for c in record["crystal_system"]["top_k"]],
            [(c["label"], c["symbol"]) for c in record["space_group"]["top_k"]],
            result).to_dict()
    return records
