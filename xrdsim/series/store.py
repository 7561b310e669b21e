"""Series stores: one Zarr v3 group per series, readable by ``xrdsim_training.series``.

Layout::

    store.zarr/                     attrs: format = "xrdsim-series", format_version = 1
      <series name>/                attrs: Series.attrs (variable, unit, phases, ...)
        patterns   (N, 12000) float32   on the model grid
        variable   (N,) float64         pressure (GPa) / temperature (K), acquisition order
        labels     (N,) int8            0 before / 1 during / 2 after; −1 unknown (measured)
        fractions  (N, P) float32       weight fractions (NaN unknown)
        lattice    (N, P, 6) float32    a, b, c, α, β, γ per phase (NaN unknown)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from xrdsim.errors import DatasetError
from xrdsim.series.simulate import Series

FORMAT = "xrdsim-series"
FORMAT_VERSION = 1
ARRAYS = ("patterns", "variable", "labels", "fractions", "lattice")


def write_series(path: str | Path, series: list[Series], *, overwrite: bool = False) -> None:
    """Add series to the store at ``path`` (created when missing).

    Raises:
        DatasetError: ``path`` exists and is not a series store, or a series name is
            already in it and ``overwrite`` is false.
    """
    import zarr

    path = Path(path)
    if path.exists():
        root = _open(path, mode="a")
    else:
        root = zarr.open_group(str(path), mode="w")
        root.attrs.update({"format": FORMAT, "format_version": FORMAT_VERSION})
    for s in series:
        if s.name in root:
            if not overwrite:
                raise DatasetError(
                    f"{path}: series {s.name!r} exists; pass overwrite=True (--overwrite) "
                    "or choose another name"
                )
            del root[s.name]
        group = root.create_group(s.name)
        group.attrs.update(json.loads(json.dumps(s.attrs)))
        n = s.patterns.shape[0]
        for name in ARRAYS:
            data = np.ascontiguousarray(getattr(s, name))
            chunks = (min(n, 64),) + data.shape[1:]
            group.create_array(name, data=data, chunks=chunks)


def check_series_output(path: str | Path) -> None:
    """Refuse, before any work, an output that exists and is not a series store.

    Raises:
        DatasetError: naming the path and the fix.
    """
    path = Path(path)
    if path.exists() or path.is_symlink():
        _open(path, mode="r")


def _open(path: Path, *, mode: str):
    import zarr

    try:
        root = zarr.open_group(str(path), mode=mode)
    except Exception as exc:  # noqa: BLE001 - a file, a foreign or damaged store: zarr raises many kinds
        raise DatasetError(f"{path}: not a series store ({type(exc).__name__}: "
                           f"{' '.join(str(exc).split())[:160]}); choose another output or "
                           "write one with `xrdsim series`") from None
    if root.attrs.get("format") != FORMAT:
        raise DatasetError(
            f"{path}: not a series store (attribute format = {root.attrs.get('format')!r}, "
            f"expected {FORMAT!r}); write one with `xrdsim series simulate`"
        )
    return root


def series_names(path: str | Path) -> list[str]:
    """Names of the series in a store, sorted."""
    return sorted(_open(Path(path), mode="r").group_keys())


def read_series(path: str | Path, name: str) -> Series:
    """One series of a store.

    Raises:
        DatasetError: not a series store, or no series ``name`` in it.
    """
    root = _open(Path(path), mode="r")
    if name not in root:
        names = sorted(root.group_keys())
        raise DatasetError(f"{path}: no series {name!r}; it holds {names}")
    group = root[name]
    arrays = {k: group[k][...] for k in ARRAYS}
    return Series(name=name, attrs=dict(group.attrs), **arrays)
