"""DataLoaders for the batch-yielding datasets, with a fork-safe start for the simulator.

Both datasets yield whole batches, so the loader runs with ``batch_size=None``.
Workers of the on-the-fly dataset run numba kernels; numba's OpenMP threading layer
aborts a process forked from a parent that has already run a parallel kernel
("fork() called from a process already using GNU OpenMP"). Those workers are
therefore started from a *forkserver* (a clean process that preloads the simulator
modules once), never by a plain fork. Store-streaming workers only decompress and
keep the cheap default fork.

With ``workers=0`` the batches are prepared by a background *thread* of the training
process (:class:`ThreadPrefetcher`): zarr decompresses with its own thread pool and
NumPy copies release the GIL, so reading overlaps the training step without the
shared-memory copy every worker process pays per batch. On 2 cores this is the faster
store path (benchmarks/results/streaming.json).
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
from collections.abc import Iterable, Iterator

import torch
from torch.utils.data import DataLoader, IterableDataset

#: Modules the forkserver imports once, so each simulator worker starts warm.
FORKSERVER_PRELOAD = ["torch", "numba", "xrdsim.simulation.simulator", "xrdsim.peaks.database",
                      "xrdsim_training.data.on_the_fly"]
#: Batches each worker prepares ahead of the training step.
PREFETCH = 4


class ThreadPrefetcher:
    """Iterate ``source`` in a daemon thread, ``depth`` batches ahead (re-iterable)."""

    def __init__(self, source: Iterable, *, depth: int = PREFETCH):
        self.source, self.depth = source, depth

    def __iter__(self) -> Iterator:
        q: queue.Queue = queue.Queue(maxsize=self.depth)
        done = object()
        stop = threading.Event()

        def run() -> None:
            try:
                for item in self.source:
                    while not stop.is_set():
                        try:
                            q.put(item, timeout=0.1)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
                q.put(done)
            except BaseException as exc:  # handed to the consumer, raised there
                q.put(exc)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        try:
            while True:
                item = q.get()
                if item is done:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()


def make_loader(
    dataset: IterableDataset, *, workers: int, device: torch.device
) -> DataLoader | ThreadPrefetcher:
    """Batches of ``dataset``: ``workers`` processes, or a prefetch thread when 0; views
    simulated on the device come straight from the dataset (no copies, no thread)."""
    from xrdsim_training.data.device_on_the_fly import DeviceOnTheFlyDataset
    from xrdsim_training.data.on_the_fly import OnTheFlyDataset

    if isinstance(dataset, DeviceOnTheFlyDataset):
        return dataset

    if workers == 0:
        return ThreadPrefetcher(dataset)

    kw = {}
    if workers and isinstance(dataset, OnTheFlyDataset):
        multiprocessing.set_forkserver_preload(FORKSERVER_PRELOAD)
        kw["multiprocessing_context"] = multiprocessing.get_context("forkserver")
    return DataLoader(dataset, batch_size=None, num_workers=workers,
                      pin_memory=device.type == "cuda",
                      prefetch_factor=PREFETCH if workers else None, **kw)
