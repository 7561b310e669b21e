"""Read-side view of one split of an ``xrdsim-dataset/1`` Zarr store (STORE_SCHEMA.md).

Opening validates everything training relies on — the split exists, its label
arrays exist and agree in length, the store says which shards are complete — and
raises :class:`~xrdsim.errors.TrainingError` naming what is missing and the fix.
Only rows of complete shards are ever handed out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from xrdsim.dataset.checksums import missing_shard_files
from xrdsim.dataset.splits import TRAIN
from xrdsim.errors import DatasetError, TrainingError

#: Per-pattern label arrays every split must carry.
LABELS: tuple[str, ...] = (
    "crystal_system", "extinction_group", "space_group", "structure_index", "view",
)
STORE_FORMAT = "xrdsim-dataset/1"
#: Splits scored when none are named (those the store has).
DEFAULT_SPLITS = ("equivariance", "invariance", "held_out_invariance")


@dataclass(frozen=True)
class SplitReader:
    """One split of a store: the ``patterns`` array, its labels and its complete shards.

    Attributes:
        path: the store path.
        split: split name (``"train"``, ``"equivariance"``, ...).
        patterns: the zarr array ``(N, 12000)`` float16/float32.
        labels: ``{name: (N,) int64}`` for :data:`LABELS`, read eagerly (small).
        shard_size: patterns per shard (the unit of shuffling and of completion).
        complete_shards: sorted shard indices whose rows may be read.
        n_extinction_groups: K from the store attrs.
        attrs: the root attributes.
    """

    path: str
    split: str
    patterns: Any
    labels: dict[str, np.ndarray]
    shard_size: int
    complete_shards: tuple[int, ...]
    n_extinction_groups: int
    attrs: dict[str, Any]

    @property
    def n_patterns(self) -> int:
        return int(self.patterns.shape[0])

    def shard_rows(self, shard: int) -> tuple[int, int]:
        """Row range ``[lo, hi)`` of shard ``shard``."""
        lo = shard * self.shard_size
        return lo, min(lo + self.shard_size, self.n_patterns)

    def complete_rows(self) -> np.ndarray:
        """Indices (int64) of every readable row, in store order."""
        parts = [np.arange(*self.shard_rows(s)) for s in self.complete_shards]
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)


def open_split(path: str | Path, split: str) -> SplitReader:
    """Open ``split`` of the store at ``path`` for reading.

    Raises:
        TrainingError: no store there, wrong format, split or label arrays missing,
            label lengths that disagree, or no completion record.
    """
    path = str(path)
    if not Path(path).exists():
        raise TrainingError(f"no dataset store at {path!r}; build one with `xrdsim build`")
    try:
        root = zarr.open_group(path, mode="r")
    except Exception as exc:  # zarr raises several unrelated types for a non-store
        raise TrainingError(f"{path!r} is not a readable Zarr store: {exc}") from exc
    attrs = dict(root.attrs)
    fmt = attrs.get("format")
    if fmt != STORE_FORMAT:
        raise TrainingError(
            f"{path!r} has format {fmt!r}, expected {STORE_FORMAT!r}; "
            "rebuild it with `xrdsim build`"
        )
    available = sorted(k for k in root.group_keys() if k != "structures")
    if split not in available:
        raise TrainingError(
            f"store {path!r} has no split {split!r}; it has {available}. Pick one of those "
            "or rebuild the store with that split enabled."
        )
    group = root[split]
    if "patterns" not in group:
        raise TrainingError(
            f"split {split!r} of {path!r} has no 'patterns' array; rebuild the store"
        )
    patterns = group["patterns"]
    if patterns.ndim != 2 or patterns.dtype not in (np.float16, np.float32):
        raise TrainingError(
            f"{split}/patterns must be (N, n_bins) float16/float32, got shape {patterns.shape} "
            f"dtype {patterns.dtype}"
        )
    labels = {}
    for name in LABELS:
        if name not in group:
            raise TrainingError(
                f"split {split!r} of {path!r} lacks the label array {name!r} (needed: {LABELS}); "
                "the store is incomplete or from another tool — rebuild it with `xrdsim build`"
            )
        labels[name] = np.asarray(group[name][:], dtype=np.int64)
        if labels[name].shape != (patterns.shape[0],):
            raise TrainingError(
                f"{split}/{name} has shape {labels[name].shape} but {split}/patterns has "
                f"{patterns.shape[0]} rows; the store is corrupt — rebuild it"
            )
    split_attrs = dict(group.attrs)
    shard_size = int(split_attrs.get("shard_size") or (patterns.shards or patterns.chunks)[0])
    n_shards = -(-patterns.shape[0] // shard_size)
    if attrs.get("status") == "complete":
        complete = tuple(range(n_shards))
    elif "complete_shards" in split_attrs:
        listed = (int(s) for s in split_attrs["complete_shards"])
        complete = tuple(sorted(s for s in listed if s < n_shards))
    else:
        raise TrainingError(
            f"store {path!r} is not complete (status {attrs.get('status')!r}) and split "
            f"{split!r} has no 'complete_shards' record; finish the build with "
            "`xrdsim build --resume`"
        )
    try:
        missing = missing_shard_files(path)
    except DatasetError as exc:
        raise TrainingError(str(exc)) from None
    if missing:
        raise TrainingError(f"store {path!r} is damaged: {len(missing)} shard file(s) missing, "
                            f"e.g. {missing[:3]} (they would read as NaN rows); rebuild it, or "
                            "run `xrdsim verify` for the full list")
    k = attrs.get("n_extinction_groups")
    if not isinstance(k, int) or k < 1:
        raise TrainingError(f"store {path!r} lacks the attribute n_extinction_groups (got {k!r})")
    _check_label_ranges(path, split, labels, k)
    return SplitReader(path, split, patterns, labels, shard_size, complete, k, attrs)


def _check_label_ranges(path: str, split: str, labels: dict[str, np.ndarray], k: int) -> None:
    bounds = {"crystal_system": (0, 6), "extinction_group": (0, k - 1), "space_group": (1, 230)}
    for name, (lo, hi) in bounds.items():
        values = labels[name]
        if values.size and (values.min() < lo or values.max() > hi):
            raise TrainingError(
                f"{split}/{name} of {path!r} holds values in [{values.min()}, {values.max()}], "
                f"outside the {lo}–{hi} the heads predict; the store and the model disagree "
                "on the label encoding"
            )


def store_groups(data: str | Path) -> list[str]:
    """Names of the groups (splits, ``structures``) of the store at ``data``."""
    return list(zarr.open_group(str(data), mode="r").group_keys())


def resolve_splits(data: str | Path, splits: tuple[str, ...] | None) -> tuple[str, ...]:
    """``splits`` as given, or those of :data:`DEFAULT_SPLITS` the store has.

    Raises:
        TrainingError: none given and the store has none of :data:`DEFAULT_SPLITS`.
    """
    if splits is not None:
        return tuple(splits)
    available = store_groups(data)
    found = tuple(s for s in DEFAULT_SPLITS if s in available)
    if not found:
        raise TrainingError(f"store {str(data)!r} has none of the test splits "
                            f"{DEFAULT_SPLITS}; name one with --split (it has {available})")
    return found


def store_structures(data: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``(structure_id (S,) str, split code (S,) int64)`` of the store's structures table,
    indexed by the splits' ``structure_index`` (codes ``TRAIN`` / ``HELD_OUT``).

    Raises:
        TrainingError: no readable store, or one without a structures table.
    """
    try:
        table = zarr.open_group(str(data), mode="r")["structures"]
        # zarr v3 returns NumPy's variable-width StringDType: via Python str to "<U"
        return (np.array(table["structure_id"][:].tolist(), dtype=str),
                np.asarray(table["split"][:], dtype=np.int64))
    except Exception as exc:  # zarr raises several unrelated types for a non-store
        raise TrainingError(f"{str(data)!r} is not a dataset store with a structures table "
                            f"({type(exc).__name__}); build one with `xrdsim build`") from None


def store_train_structures(data: str | Path) -> list[str]:
    """Ids of the store's train structures (those of its train / invariance splits)."""
    ids, code = store_structures(data)
    return ids[code == TRAIN].tolist()
