"""Opening a dataset store for reading: only rows of complete shards are trusted."""

from __future__ import annotations

import os

import numpy as np
import zarr

from xrdsim.dataset.shards import complete_shards, layout_of, open_store
from xrdsim.errors import DatasetError


def complete_rows(group: zarr.Group) -> np.ndarray:
    """Boolean mask (N,) of the rows of a split that lie in complete shards."""
    layout = layout_of(group)
    mask = np.zeros(layout.n_patterns, dtype=bool)
    for i in complete_shards(group):
        start, stop = layout.rows(i)
        mask[start:stop] = True
    return mask


def open_split(path: str | os.PathLike, split: str, *,
               allow_incomplete: bool = False) -> tuple[zarr.Group, np.ndarray]:
    """Open one split for reading, with the mask of rows that may be trusted.

    Args:
        path: the store.
        split: split name.
        allow_incomplete: accept a store still being built (or killed); the mask
            then covers only the complete shards.

    Returns:
        ``(group, mask)``: the split's zarr group and a (N,) bool mask of complete rows.

    Raises:
        DatasetError: unknown split, or an incomplete store without ``allow_incomplete``.
    """
    root = open_store(path)
    if split not in root:
        raise DatasetError(f"{path} has no split {split!r}; it has {sorted(root.group_keys())}")
    group = root[split]
    mask = complete_rows(group)
    if root.attrs.get("status") != "complete" and not allow_incomplete:
        layout = layout_of(group)
        raise DatasetError(
            f"{path} is incomplete (status {root.attrs.get('status')!r}): split {split!r} has "
            f"{len(complete_shards(group))} of {layout.n_shards} shards complete. Finish it "
            "with `xrdsim build ... --resume`, or read the complete rows with "
            "allow_incomplete=True.")
    return group, mask
