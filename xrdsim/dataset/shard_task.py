"""The work unit of a dataset build: simulate the rows of one shard and write them.

A :class:`ShardTask` is picklable and self-contained (store path, peak-database path,
the split's loaded config, seed, rows, labels, structure keys), so
:func:`run_shard` can run in this process or on any worker of a cluster;
:func:`xrdsim.dataset.build.build_dataset` plans the tasks and records completed shards.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ShardTask:
    """One work unit: the rows of shard ``shard_index`` of ``split`` (picklable)."""

    store: str
    peaks: str
    split: str
    shard_index: int
    config: Any  # the split's SimulationConfig, loaded once by build_dataset
    seed: int
    structure_index: np.ndarray  # (n,) int32 rows of the peak database / structure table
    view: np.ndarray  # (n,) int16
    labels: dict  # space_group / crystal_system / extinction_group (n,)
    structure_keys: np.ndarray  # (n,) int64
    #: numba threads of the simulator: 1 on cluster workers (one process per core), None
    #: (every core) when the build runs in-process; the bytes are the same either way
    threads: int | None = 1


#: Peak databases open in this process, keyed by path *and* file identity: a file
#: replaced at the same path (``overwrite``) must not be read through a stale handle.
_OPEN_DBS: dict[tuple, Any] = {}


def _peak_db(path: str) -> Any:
    from xrdsim.peaks.database import PeakDatabase

    st = os.stat(path)
    key = (path, st.st_ino, st.st_mtime_ns, st.st_size)
    if key not in _OPEN_DBS:
        for old in [k for k in _OPEN_DBS if k[0] == path]:
            _OPEN_DBS.pop(old).close()
        _OPEN_DBS[key] = PeakDatabase(path)
    return _OPEN_DBS[key]


def simulate_rows(task: ShardTask) -> dict[str, np.ndarray]:
    """Simulate the rows of one task: every array of its shard, keyed as the store's."""
    from xrdsim.simulation.phases import simulate_database

    result = simulate_database(_peak_db(task.peaks), task.structure_index, task.config,
                               seed=task.seed,
                               structure_keys=task.structure_keys,
                               views=task.view.astype(np.int64), threads=task.threads)
    arrays = {"patterns": result.patterns, "structure_index": task.structure_index,
              "view": task.view, **task.labels}
    arrays.update({f"params/{k}": np.asarray(v) for k, v in result.params.items()})
    return arrays


def run_shard(task: ShardTask) -> tuple[str, int]:
    """Work unit: simulate one shard and write it to the store; returns ``(split, shard)``."""
    from xrdsim.dataset.shards import write_shard

    write_shard(task.store, task.split, task.shard_index, simulate_rows(task))
    return task.split, task.shard_index
