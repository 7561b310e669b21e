"""Measured files as a series: order them by an external variable, put them on the grid.

The variable of each file comes from a CSV (``file,value`` rows; the file column matched
by name or by path) or from its file name (a regular expression whose first group is
the number, e.g. ``r"_(\\d+(?:\\.\\d+)?)GPa"``). Each file goes through
:func:`xrdsim.measured.prepare.prepare_pattern` (wavelength, grid, background, max = 1);
the series is stored like a simulated one, with labels −1 and NaN fractions / lattices.
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from xrdsim.errors import ConfigError, brief
from xrdsim.measured.prepare import prepare_pattern
from xrdsim.measured.readers import read_pattern
from xrdsim.series.config import VARIABLES
from xrdsim.series.simulate import Series

#: Largest file,value table read (a row per measured file; 16 MB is ~10⁶ rows).
MAX_TABLE_BYTES = 16 * 1024 * 1024


def variables_from_names(files: list[Path], pattern: str) -> dict[Path, float]:
    """The first group of ``pattern`` in each file name, as a number.

    Raises:
        ConfigError: a name that does not match, or a group that is not a number.
    """
    regex = re.compile(pattern)
    out = {}
    for f in files:
        m = regex.search(f.name)
        if m is None or not m.groups():
            raise ConfigError(f"{f.name}: no match of {pattern!r} with a group for the value")
        try:
            out[f] = float(m.group(1))
        except ValueError:
            raise ConfigError(f"{f.name}: {m.group(1)!r} is not a number") from None
    return out


def variables_from_csv(files: list[Path], table: Path) -> dict[Path, float]:
    """Values from a two-column CSV (file, value; a header row is allowed).

    Raises:
        ConfigError: a file missing from the table, or a value that is not a number.
    """
    rows: dict[str, str] = {}
    try:
        if not table.is_file() or table.stat().st_size > MAX_TABLE_BYTES:
            raise ValueError(f"not a regular file of at most {MAX_TABLE_BYTES} bytes")
        with table.open(newline="", encoding="utf-8") as fh:
            for row in csv.reader(fh):
                if len(row) >= 2 and row[0].strip():
                    rows[row[0].strip()] = row[1].strip()
    except (OSError, UnicodeDecodeError, csv.Error, ValueError) as exc:
        raise ConfigError(f"{table}: not a readable UTF-8 CSV of 'file,value' rows "
                          f"({type(exc).__name__}: {' '.join(str(exc).split())[:120]})") from None
    out = {}
    for f in files:
        key = next((k for k in (str(f), f.name) if k in rows), None)
        if key is None:
            raise ConfigError(f"{table}: no row for {f.name}; add '{f.name},VALUE'")
        try:
            out[f] = float(rows[key])
        except ValueError:
            out[f] = math.nan
        if not math.isfinite(out[f]):
            raise ConfigError(f"{table}: value {brief(rows[key])} of {f.name} is not a finite "
                              "number")
    return out


def measured_series(
    files: list[Path],
    values: dict[Path, float],
    *,
    name: str,
    variable: str,
    wavelength: float | str | None = None,
    prepare: dict[str, Any] | None = None,
) -> Series:
    """A series of measured files, in ascending order of their values.

    Raises:
        ConfigError: an unknown variable, two files with the same value, fewer than 2 files.
        PatternReadError: an unreadable file (the series is not written).
    """
    if variable not in VARIABLES:
        raise ConfigError(f"variable must be one of {sorted(VARIABLES)}, got {variable!r}")
    if len(files) < 2:
        raise ConfigError(f"a series needs at least 2 files, got {len(files)}")
    order = sorted(files, key=lambda f: values[f])
    v = np.array([values[f] for f in order])
    if (np.diff(v) == 0).any():
        i = int(np.flatnonzero(np.diff(v) == 0)[0])
        raise ConfigError(f"{order[i].name} and {order[i + 1].name} have the same value {v[i]}")
    prepared = [
        prepare_pattern(read_pattern(f, wavelength=wavelength), **(prepare or {})) for f in order
    ]
    n = len(order)
    return Series(
        name=name,
        patterns=np.stack([p.pattern for p in prepared]).astype(np.float32),
        variable=v,
        fractions=np.full((n, 2), np.nan, dtype=np.float32),
        labels=np.full(n, -1, dtype=np.int8),
        lattice=np.full((n, 2, 6), np.nan, dtype=np.float32),
        attrs={
            "variable": variable,
            "unit": VARIABLES[variable],
            "sources": [str(f) for f in order],
            "measured": True,
        },
    )
