"""Labels of measured patterns and the accuracy report over them (no torch).

Shared by ``xrdsim predict --labels`` and ``xrdsim evaluate --measured`` (networks and
HAND alike): a CSV with columns ``file`` and ``space_group`` gives the truth; crystal
system and extinction group follow from the space group.
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path
from typing import Any

import numpy as np

from xrdsim.errors import ConfigError

#: Tasks, in the order of the models' outputs; names match the peak-DB label columns.
TASKS = ("crystal_system", "extinction_group", "space_group")


def read_labels_csv(path: str | Path) -> list[tuple[str, int]]:
    """Rows ``(file, space group)`` of a labels CSV with columns ``file`` and ``space_group``.

    Raises:
        ConfigError: missing columns or a space group that is not an integer 1–230.
    """
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or not {"file", "space_group"} <= set(reader.fieldnames):
            raise ConfigError(f"{path}: need CSV columns 'file' and 'space_group', got "
                              f"{reader.fieldnames}")
        rows = []
        for i, rec in enumerate(reader, start=2):
            try:
                sg = int(rec["space_group"])
            except (TypeError, ValueError):
                raise ConfigError(f"{path}, line {i}: space_group {rec['space_group']!r} is "
                                  "not an integer 1–230") from None
            if not 1 <= sg <= 230:
                raise ConfigError(f"{path}, line {i}: space_group {sg} outside 1–230")
            rows.append((rec["file"], sg))
    return rows


def read_labels(path: str | Path) -> dict[str, int]:
    """``{basename: space group}`` from a CSV with columns ``file`` and ``space_group``.

    Raises:
        ConfigError: missing columns, a bad space group, or one basename listed twice.
    """
    labels: dict[str, int] = {}
    for name, sg in read_labels_csv(path):
        base = Path(name).name
        if base in labels and labels[base] != sg:
            raise ConfigError(f"{path}: file {base!r} is listed twice with space groups "
                              f"{labels[base]} and {sg}; files are matched by basename, so "
                              "keep one row per basename")
        labels[base] = sg
    return labels


@functools.cache
def space_group_symbol(space_group: int) -> str:
    """Short Hermann–Mauguin symbol (spglib, standard setting) of a space group 1–230."""
    import spglib

    from xrdsim.structures.extinction import default_hall_numbers

    return str(spglib.get_spacegroup_type(default_hall_numbers()[int(space_group)],
                                          _throw=True).international_short)


def accuracy_report(true: dict[str, np.ndarray], pred: dict[str, np.ndarray]) -> dict[str, Any]:
    """Accuracy per task, overall and per true crystal system, plus the rate at which the
    predicted SG lies in the predicted crystal system."""
    from xrdsim.structures.crystal_systems import CRYSTAL_SYSTEMS, crystal_system_index

    cs = np.asarray(true["crystal_system"])
    report: dict[str, Any] = {"n": int(cs.size), "accuracy": {}, "per_crystal_system": {}}
    for task in TASKS:
        report["accuracy"][task] = float(np.mean(pred[task] == true[task])) if cs.size else None
    for i, name in enumerate(CRYSTAL_SYSTEMS):
        mask = cs == i
        if mask.any():
            report["per_crystal_system"][name] = {
                "n": int(mask.sum()),
                **{t: float(np.mean(pred[t][mask] == true[t][mask])) for t in TASKS}}
    if cs.size:
        consistent = crystal_system_index(pred["space_group"]) == pred["crystal_system"]
        report["sg_consistent_with_cs"] = float(np.mean(consistent))
    return report
