"""Crystal systems and their space-group ranges (International Tables, Vol. A).

The ordering here is the label encoding used everywhere in xrdsim (HDF5 peak
databases, Zarr datasets, model heads): index 0 = triclinic … 6 = cubic.
Trigonal includes the rhombohedral space groups, as in das2025 §4.3.
"""

from __future__ import annotations

import numpy as np

from xrdsim.errors import ConfigError

#: Crystal-system names in label order.
CRYSTAL_SYSTEMS: tuple[str, ...] = (
    "triclinic",
    "monoclinic",
    "orthorhombic",
    "tetragonal",
    "trigonal",
    "hexagonal",
    "cubic",
)

#: Inclusive space-group number range of each crystal system, in label order.
SPACE_GROUP_RANGES: tuple[tuple[int, int], ...] = (
    (1, 2),
    (3, 15),
    (16, 74),
    (75, 142),
    (143, 167),
    (168, 194),
    (195, 230),
)

_FIRST = np.array([lo for lo, _ in SPACE_GROUP_RANGES])
#: ``SG_TO_CRYSTAL_SYSTEM[sg]`` is the crystal-system index of space group ``sg``
#: (entry 0 is unused and holds −1).
SG_TO_CRYSTAL_SYSTEM = np.concatenate(
    [[-1], np.searchsorted(_FIRST, np.arange(1, 231), side="right") - 1]
).astype(np.int8)


def crystal_system_index(space_group: int | np.ndarray) -> int | np.ndarray:
    """Crystal-system index (0–6) of a space-group number (1–230), scalar or array.

    Raises:
        ConfigError: for numbers outside 1–230.
    """
    sg = np.asarray(space_group)
    if np.any((sg < 1) | (sg > 230)):
        raise ConfigError(f"space-group numbers must lie in 1–230, got {space_group!r}")
    out = SG_TO_CRYSTAL_SYSTEM[sg]
    return int(out) if out.ndim == 0 else out


def crystal_system_name(space_group: int) -> str:
    """Name of the crystal system of space group ``space_group`` (1–230)."""
    return CRYSTAL_SYSTEMS[crystal_system_index(int(space_group))]
