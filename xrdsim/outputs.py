"""Replacing an output (``--overwrite``): only what the same command wrote.

``prepare``, ``peaks`` and ``build`` replace an existing output only when its own
metadata says the same command wrote it (the ``format`` attribute of a Zarr store's root
``zarr.json`` or of an HDF5 file), when it is none of the command's inputs and holds none
of them, and when no writer holds its lock. Anything else is refused before a byte is
deleted: ``xrdsim prepare mydata -o mydata --overwrite`` once deleted its own inputs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from xrdsim.errors import DatasetError

#: Largest root ``zarr.json`` read to learn a store's format (a real one is < 1 KB).
MAX_METADATA_BYTES = 1024 * 1024


def output_format(path: str | os.PathLike) -> str | None:
    """The ``format`` attribute xrdsim wrote into ``path``, or None for anything else: a
    Zarr store's root ``zarr.json`` (read up to :data:`MAX_METADATA_BYTES`, regular files
    only) or an HDF5 file's root attributes."""
    path = Path(path)
    if path.is_dir():
        meta = path / "zarr.json"
        try:
            if not meta.is_file() or meta.stat().st_size > MAX_METADATA_BYTES:
                return None
            attrs = json.loads(meta.read_text(encoding="utf-8")).get("attributes", {})
        except (OSError, ValueError, AttributeError):
            return None
        value = attrs.get("format") if isinstance(attrs, dict) else None
        return value if isinstance(value, str) else None
    if not path.is_file():
        return None
    try:
        import h5py

        with h5py.File(path, "r") as f:
            value = f.attrs.get("format")
    except Exception:  # noqa: BLE001 - not HDF5, unreadable: not ours
        return None
    return value.decode() if isinstance(value, bytes) else (
        value if isinstance(value, str) else None)


def check_replaceable(output: str | os.PathLike, *, expected: str, command: str,
                      inputs: Iterable[str | os.PathLike] = ()) -> None:
    """Raise ``DatasetError`` unless ``output`` may be replaced by ``command``.

    Args:
        output: the existing output (nothing is checked when it does not exist).
        expected: the ``format`` the command writes (:func:`output_format`).
        command: the command's name, for the message (``"xrdsim prepare"``).
        inputs: the command's input paths; the output may be none of them and hold none.
    """
    from xrdsim.store_lock import lock_holder

    output = Path(output)
    if not (output.exists() or output.is_symlink()):
        return
    real = output.resolve()
    for item in inputs:
        given = Path(item).resolve()
        if given == real or real in given.parents:
            raise DatasetError(f"{output} is (or holds) the input {item}; --overwrite never "
                               "replaces an input — choose another output path")
    found = output_format(output)
    if found != expected:
        raise DatasetError(f"{output} was not written by `{command}` (format {found!r}, "
                           f"expected {expected!r}); --overwrite replaces only that command's "
                           "output — move it away or choose another output path")
    holder = lock_holder(output)
    if holder is not None:
        raise DatasetError(f"{output} is locked by a running writer ({holder}); wait for it "
                           "to finish or choose another output path")
