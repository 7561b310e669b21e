"""The network's answers checked against an indexing of the same files
(``xrdsim predict --index``).

Each predicted file is read again and indexed (:func:`xrdsim.indexing.index.index_pattern`);
its record gains ``"indexing"`` (the best cells, or why there is none) and ``"checked"``
(:func:`xrdsim.indexing.systems.check_ranking`: the network's crystal systems and space
groups, those a conclusive cell backs first). A file that cannot be indexed gets
``"indexing": {"error": ...}`` and the others go on.
"""

from __future__ import annotations

from typing import Any

from xrdsim.errors import XrdsimError
from xrdsim.indexing.index import index_pattern
from xrdsim.indexing.settings import IndexingSettings
from xrdsim.indexing.solution import IndexingResult
from xrdsim.indexing.systems import check_ranking
from xrdsim.measured.readers import read_pattern

#: Cells listed per file in a record.
CELLS_LISTED = 3


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
