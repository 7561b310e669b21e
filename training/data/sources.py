"""Turn ``--data`` / ``--peaks`` into the datasets of a run, and check they fit the model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from xrdsim_training.config import TrainConfig
from xrdsim_training.data.store import open_split
from xrdsim_training.data.zarr_stream import ZarrStreamDataset
from xrdsim_training.methods import Phase, sources_needed

from xrdsim.errors import TrainingError

#: The split scored after each epoch (das2025 §4.3: the equivariance set is the validation set).
VALIDATION_SPLIT = "equivariance"


def check_inputs(config: TrainConfig, *, data: str | Path | None, peaks: str | Path | None) -> None:
    """Refuse a method whose data source was not given."""
    needed = sources_needed(config.method)
    if "store" in needed and data is None:
        raise TrainingError(f"method {config.method!r} trains on precomputed patterns: give "
                            "--data dataset.zarr")
    if "on_the_fly" in needed and peaks is None:
        raise TrainingError(f"method {config.method!r} simulates fresh views every step: give "
                            "--peaks peaks.h5 (and --data dataset.zarr to pick its train "
                            "structures and validate)")


def n_extinction_groups(*, data: str | Path | None, peaks: str | Path | None) -> int:
    """K, the EG classes: from the store attrs, else from the extinction table.

    Raises:
        TrainingError: when the store and the extinction table disagree.
    """
    k_store = None
    if data is not None:
        k_store = open_split(data, "train").n_extinction_groups
    if peaks is None:
        return int(k_store)
    from xrdsim.structures.extinction_table import extinction_table

    k_table = extinction_table().n_classes
    if k_store is not None and k_store != k_table:
        raise TrainingError(
            f"store {str(data)!r} has {k_store} extinction groups but this xrdsim's extinction "
            f"table has {k_table}; rebuild the store or the peak database with one version"
        )
    return int(k_table)


def train_structures(data: str | Path | None, peaks: str | Path) -> np.ndarray | None:
    """Peak-DB indices of the store's train structures (``None``: use every structure)."""
    if data is None:
        return None
    import zarr

    from xrdsim.errors import DatabaseError
    from xrdsim.peaks.database import PeakDatabase

    root = zarr.open_group(str(data), mode="r")
    if "structures" not in root:
        raise TrainingError(f"store {str(data)!r} has no 'structures' table; rebuild it")
    table = root["structures"]
    ids = [str(s) for s in np.asarray(table["structure_id"][:]).tolist()]
    split = np.asarray(table["split"][:])
    db = PeakDatabase(peaks)
    try:
        return np.array([db.index(s) for s, part in zip(ids, split, strict=True) if part == 0],
                        dtype=np.int64)
    except DatabaseError as exc:
        raise TrainingError(
            f"store {str(data)!r} was not built from {str(peaks)!r}: {exc}"
        ) from exc


def train_dataset(
    config: TrainConfig, phase: Phase, *, data: str | Path | None, peaks: str | Path | None,
    structures: np.ndarray | None, device: Any = "cpu",
):
    """The IterableDataset of one phase (on-the-fly views simulated on ``device`` when
    ``config.simulate_on == "device"``)."""
    if phase.source == "store":
        return ZarrStreamDataset(data, "train", batch_size=config.batch_size, shuffle=True,
                                 buffer_size=config.shuffle_buffer, seed=config.seed,
                                 dtype="native")
    from xrdsim_training.data.on_the_fly import OnTheFlyDataset

    kwargs = dict(sim_config=config.sim_config, batch_size=config.batch_size,
                  structures=structures, views=phase.views,
                  steps_per_epoch=config.steps_per_epoch, seed=config.seed)
    if config.simulate_on == "device":
        from xrdsim_training.data.device_on_the_fly import DeviceOnTheFlyDataset

        return DeviceOnTheFlyDataset(peaks, device=device, **kwargs)
    return OnTheFlyDataset(peaks, **kwargs)


def validation_dataset(config: TrainConfig, data: str | Path | None) -> ZarrStreamDataset | None:
    """Evenly spaced rows of the validation split (``None`` without a store or that split)."""
    if data is None or config.val_max_patterns == 0:
        return None
    import zarr

    if VALIDATION_SPLIT not in zarr.open_group(str(data), mode="r"):
        return None
    reader = open_split(data, VALIDATION_SPLIT)
    rows = reader.complete_rows()
    if rows.size == 0:
        return None
    if rows.size > config.val_max_patterns:
        rows = rows[np.linspace(0, rows.size - 1, config.val_max_patterns).astype(np.int64)]
    return ZarrStreamDataset(data, VALIDATION_SPLIT, batch_size=config.batch_size, shuffle=False,
                             drop_last=False, rows=rows, dtype="native")


def train_labels(config: TrainConfig, *, data: str | Path | None, peaks: str | Path | None,
                 structures: np.ndarray | None) -> dict[str, np.ndarray]:
    """CS / EG / SG labels of what the run trains on, one per training example: the store's
    train rows (store methods) or the train structures of the peak database (on-the-fly)."""
    tasks = ("crystal_system", "extinction_group", "space_group")
    if "on_the_fly" not in sources_needed(config.method):
        labels = open_split(data, "train").labels
        return {t: np.asarray(labels[t], dtype=np.int64) for t in tasks}
    from xrdsim.peaks.database import PeakDatabase

    db = PeakDatabase(peaks)
    idx = np.arange(len(db)) if structures is None else np.asarray(structures)
    return {t: np.asarray(db.labels[t], dtype=np.int64)[idx] for t in tasks}
