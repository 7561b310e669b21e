"""The shipped extinction-group table (``xrdsim/data/extinction_groups.json``) and its loader.

The table is derived from the symmetry operations by
:func:`xrdsim.structures.extinction.derive_extinction_table` and written by
:func:`write_table_json`; runtime code only loads it.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from xrdsim.errors import ConfigError
from xrdsim.structures.extinction import HKL_BOX, derive_extinction_table

DATA_FILE = "extinction_groups.json"


@dataclass(frozen=True)
class ExtinctionTable:
    """The extinction-group table (see :func:`extinction_table`).

    Attributes:
        symbols: symbol of each group, by index.
        groups: the raw JSON records (index, symbol, crystal_system, space_groups,
            conditions), by index.
    """

    symbols: tuple[str, ...]
    groups: tuple[dict[str, Any], ...]

    @property
    def n_classes(self) -> int:
        """Number of extinction groups."""
        return len(self.groups)

    @functools.cached_property
    def _sg_to_group(self) -> np.ndarray:
        table = np.full(231, -1, dtype=np.int16)
        for g in self.groups:
            table[g["space_groups"]] = g["index"]
        return table

    def of_space_group(self, space_group: int) -> int:
        """0-based extinction-group index of a space group (1–230)."""
        if not 1 <= int(space_group) <= 230:
            raise ConfigError(
                f"space-group numbers must lie in 1–230, got {space_group!r}"
            )
        return int(self._sg_to_group[int(space_group)])

    def space_groups(self, index: int) -> tuple[int, ...]:
        """Space-group numbers of extinction group ``index`` (ascending)."""
        return tuple(self._group(index)["space_groups"])

    def crystal_system(self, index: int) -> int:
        """Crystal-system index (0–6) of extinction group ``index``."""
        return int(self._group(index)["crystal_system"])

    def conditions(self, index: int) -> tuple[str, ...]:
        """Minimal reflection conditions of extinction group ``index``."""
        return tuple(self._group(index)["conditions"])

    def _group(self, index: int) -> dict[str, Any]:
        if not 0 <= int(index) < self.n_classes:
            raise ConfigError(
                f"extinction-group index must lie in 0–{self.n_classes - 1}, got {index!r}"
            )
        return self.groups[int(index)]


def load_table_json() -> dict[str, Any]:
    """The shipped table as parsed JSON (``xrdsim/data/extinction_groups.json``)."""
    text = resources.files("xrdsim.data").joinpath(DATA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


@functools.lru_cache(maxsize=1)
def extinction_table() -> ExtinctionTable:
    """The shipped extinction-group table (loaded once, cached)."""
    data = load_table_json()
    groups = tuple(data["groups"])
    return ExtinctionTable(symbols=tuple(g["symbol"] for g in groups), groups=groups)


def write_table_json(path: str, box: int = HKL_BOX) -> dict[str, Any]:
    """Derive the table and write it as JSON to ``path`` (used to build the data file)."""
    table = derive_extinction_table(box)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(table, fh, indent=1, ensure_ascii=False)
        fh.write("\n")
    return table
