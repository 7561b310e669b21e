"""DataLoaders for the batch-yielding datasets, with a fork-safe start for the simulator.

Both datasets yield whole batches, so the loader runs with ``batch_size=None``.
Workers of the on-the-fly dataset run numba kernels; numba's OpenMP threading layer
aborts a process forked from a parent that has already run a parallel kernel
("fork() called from a process already using GNU OpenMP"). Those workers are
therefore started from a *forkserver* (a clean process that preloads the simulator
modules once), never by a plain fork. Store-streaming workers only decompress and
keep the cheap default fork.
"""

from __future__ import annotations

import multiprocessing

import torch
from torch.utils.data import DataLoader, IterableDataset

#: Modules the forkserver imports once, so each simulator worker starts warm.
FORKSERVER_PRELOAD = ["torch", "numba", "xrdsim.profile", "xrdsim.peakdb",
                      "xrdsim_training.data.on_the_fly"]
#: Batches each worker prepares ahead of the training step.
PREFETCH = 4


def make_loader(dataset: IterableDataset, *, workers: int, device: torch.device) -> DataLoader:
    """A ``DataLoader(batch_size=None)`` over ``dataset`` with ``workers`` processes."""
    from xrdsim_training.data.on_the_fly import OnTheFlyDataset

    kw = {}
    if workers and isinstance(dataset, OnTheFlyDataset):
        multiprocessing.set_forkserver_preload(FORKSERVER_PRELOAD)
        kw["multiprocessing_context"] = multiprocessing.get_context("forkserver")
    return DataLoader(dataset, batch_size=None, num_workers=workers,
                      pin_memory=device.type == "cuda",
                      prefetch_factor=PREFETCH if workers else None, **kw)
