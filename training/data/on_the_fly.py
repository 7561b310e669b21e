"""Fresh simulated views every step: an ``IterableDataset`` over the HDF5 peak database.

Each batch reads the peaks of ``B`` structures with
:meth:`xrdsim.peaks.database.PeakDatabase.ragged` and simulates full 12,000-bin patterns
with :func:`xrdsim.simulation.phases.simulate_database` inside the DataLoader worker
(``threads=1`` per worker, so workers do not oversubscribe the cores). This is the
data pipeline of CNNaug and DIFCON (das2025 §4.4–4.5), which need new views every
step; contrastive methods get two views of every structure.

Reproducibility: every epoch permutes the structures with a generator seeded by
``(seed, epoch, cycle)``; the simulator's seed is derived from ``(seed, epoch)``
and a row's view number from ``(cycle, view)``. Since a simulated row is a pure
function of (peaks, config, seed, structure key, view), the patterns of an epoch
do not depend on the number of workers or ranks, nor on which one simulates them.

Batches (``DataLoader(ds, batch_size=None)``)::

    {"pattern": (B, 12000) float32, ["pattern_b": (B, 12000) float32 — second view,]
     "crystal_system", "extinction_group", "space_group", "structure_index", "view": (B,) int64}
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import IterableDataset
from xrdsim_training.data.distributed import WorkerLayout, current_layout

from xrdsim.errors import TrainingError


class OnTheFlyDataset(IterableDataset):
    """Simulate batches of views from a peak database.

    Args:
        peaks: the ``peaks.h5`` database.
        sim_config: a :class:`~xrdsim.simulation.config.SimulationConfig`, a preset
            name or a YAML path.
        batch_size: structures per batch.
        structures: database indices to draw from (default: all).
        views: 1 (supervised) or 2 (two views of each structure, contrastive).
        steps_per_epoch: batches per epoch per rank; 0 = one pass over ``structures``.
        seed: base seed.
    """

    def __init__(
        self,
        peaks: str | Path,
        *,
        sim_config: Any,
        batch_size: int,
        structures: np.ndarray | None = None,
        views: int = 1,
        steps_per_epoch: int = 0,
        seed: int = 0,
    ):
        super().__init__()
        from xrdsim.peaks.database import PeakDatabase
        from xrdsim.simulation.config import load_config
        from xrdsim.wavelengths import check_peak_wavelength

        if views not in (1, 2):
            raise TrainingError(f"views must be 1 or 2, got {views!r}")
        self.peaks_path = str(peaks)
        self.db = PeakDatabase(self.peaks_path)
        self.config = load_config(sim_config) if isinstance(sim_config, str) else sim_config
        check_peak_wavelength(self.db.attrs["wavelength"], self.config.wavelength,
                              source=f"peak database {self.peaks_path}")
        n = len(self.db)
        self.structures = (np.arange(n) if structures is None
                           else np.asarray(structures, dtype=np.int64))
        if self.structures.size == 0:
            raise TrainingError(f"no structures to simulate from {self.peaks_path!r}")
        self.batch_size, self.views = int(batch_size), int(views)
        self.steps_per_epoch, self.seed, self.epoch = int(steps_per_epoch), int(seed), 0
        labels = self.db.labels
        for name in ("crystal_system", "extinction_group", "space_group"):
            if name not in labels:
                raise TrainingError(f"peak database {self.peaks_path!r} lacks label {name!r}")
        self.labels = {k: np.asarray(labels[k], dtype=np.int64)
                       for k in ("crystal_system", "extinction_group", "space_group")}
        self.keys = self._structure_keys(labels["structure_id"])

    @staticmethod
    def _structure_keys(ids: np.ndarray) -> np.ndarray:
        from xrdsim.simulation.simulator import structure_key

        return np.array([structure_key(str(s)) for s in ids], dtype=np.int64)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _sequence_length(self, world: int) -> int:
        """Batches of the whole epoch over all ranks (a multiple of ``world``)."""
        if self.steps_per_epoch:
            return self.steps_per_epoch * world
        return len(self.structures) // self.batch_size // world * world

    def batches_per_epoch(self, layout: WorkerLayout | None = None) -> int:
        """Batches one rank yields per epoch."""
        layout = layout or current_layout()
        return self._sequence_length(layout.world) // layout.world

    def _batch_structures(self, j: int) -> tuple[np.ndarray, int]:
        """Database indices of global batch ``j`` and the pass (cycle) it belongs to."""
        b, n = self.batch_size, len(self.structures)
        start = j * b
        cycle, first = divmod(start, n)
        out, c, pos = [], cycle, first
        while sum(len(o) for o in out) < b:
            order = np.random.default_rng([self.seed, self.epoch, c]).permutation(n)
            out.append(order[pos : pos + b - sum(len(o) for o in out)])
            c, pos = c + 1, 0
        return self.structures[np.concatenate(out)], cycle

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        return self.iterate(current_layout())

    def plan(self, layout: WorkerLayout) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(structure indices, simulated rows, view numbers) of each batch of ``layout``."""
        for j in range(self._sequence_length(layout.world)):
            mine = (j % layout.world == layout.rank
                    and (j // layout.world) % layout.workers == layout.worker)
            if not mine:
                continue
            idx, cycle = self._batch_structures(j)
            rows = np.concatenate([idx] * self.views)
            view = np.repeat(np.arange(self.views) + self.views * cycle, len(idx))
            yield idx, rows, view

    def simulation_seed(self) -> int:
        """The simulator's seed of this epoch, from ``(seed, epoch)``."""
        return int(np.random.SeedSequence([self.seed, self.epoch]).generate_state(1)[0])

    def batch(self, idx: np.ndarray, view: np.ndarray, patterns: torch.Tensor
              ) -> dict[str, torch.Tensor]:
        """The batch dict of simulated ``patterns`` (views stacked), on their device."""
        device = patterns.device
        out = {"pattern": patterns[: len(idx)]}
        if self.views == 2:
            out["pattern_b"] = patterns[len(idx) :]
        for name, values in self.labels.items():
            out[name] = torch.from_numpy(values[idx]).to(device)
        out["structure_index"] = torch.from_numpy(idx.astype(np.int64)).to(device)
        out["view"] = torch.from_numpy(view[: len(idx)].astype(np.int64)).to(device)
        return out

    def iterate(self, layout: WorkerLayout) -> Iterator[dict[str, torch.Tensor]]:
        """The batches of global worker ``layout`` this epoch (``__iter__`` uses the caller's)."""
        from xrdsim.simulation.phases import simulate_database

        threads = 1 if torch.utils.data.get_worker_info() is not None else None
        sim_seed = self.simulation_seed()
        for idx, rows, view in self.plan(layout):
            result = simulate_database(self.db, rows, self.config, seed=sim_seed,
                                       structure_keys=self.keys[rows], views=view,
                                       threads=threads)
            patterns = torch.from_numpy(np.ascontiguousarray(result.patterns, dtype=np.float32))
            yield self.batch(idx, view, patterns)
