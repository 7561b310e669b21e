"""Fresh simulated views made on the training device (``xrdsim train --simulate-on device``).

:class:`DeviceOnTheFlyDataset` is :class:`~xrdsim_training.data.on_the_fly.OnTheFlyDataset`
with the simulator swapped: the whole peak database is held on the device
(:class:`xrdsim_training.torch_sim.DevicePeaks`) and every batch is rendered there by
:mod:`xrdsim_training.torch_sim`, so a GPU run never waits for CPU loader workers and no
pattern crosses the PCIe bus. Same batches, same structures, same views and, up to
float32 rounding, the same patterns as the loader path (tests/training/data/test_device_views.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from xrdsim_training.data.distributed import WorkerLayout
from xrdsim_training.data.on_the_fly import OnTheFlyDataset


class DeviceOnTheFlyDataset(OnTheFlyDataset):
    """:class:`OnTheFlyDataset` simulated by torch_sim on ``device`` (same arguments, plus
    ``device``); iterate it in the training process (no DataLoader workers)."""

    def __init__(self, peaks: str | Path, *, device: torch.device | str, **kwargs: Any):
        super().__init__(peaks, **kwargs)
        self.device = torch.device(device)
        self._on_device = None

    def iterate(self, layout: WorkerLayout) -> Iterator[dict[str, torch.Tensor]]:
        from xrdsim_training.torch_sim import DevicePeaks, render

        if self._on_device is None:  # the database goes to the device once
            self._on_device = DevicePeaks(self.db, device=self.device)
        sim_seed = self.simulation_seed()
        for idx, rows, view in self.plan(layout):
            # patterns only: the drawn parameters stay where they are (no device → host copy)
            inputs = self._on_device.kernel_inputs(rows, self.config, seed=sim_seed,
                                                   structure_keys=self.keys[rows], views=view)
            yield self.batch(idx, view, render(inputs))
