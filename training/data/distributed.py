"""Where this data stream runs: DataLoader worker and DDP rank, as one global worker id."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class WorkerLayout:
    """``rank``/``world`` of DDP and ``worker``/``workers`` of the DataLoader.

    The global worker id ``rank · workers + worker`` among ``world · workers``
    decides which shards (or structures) this stream reads.
    """

    rank: int = 0
    world: int = 1
    worker: int = 0
    workers: int = 1

    @property
    def global_id(self) -> int:
        return self.rank * self.workers + self.worker

    @property
    def total(self) -> int:
        return self.world * self.workers


def current_layout() -> WorkerLayout:
    """The layout of the calling process (main process, DataLoader worker, DDP rank)."""
    rank, world = 0, 1
    if dist.is_available() and dist.is_initialized():
        rank, world = dist.get_rank(), dist.get_world_size()
    info = torch.utils.data.get_worker_info()
    worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
    return WorkerLayout(rank=rank, world=world, worker=worker, workers=workers)
