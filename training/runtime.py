"""Where a run executes: device choice and (under ``torchrun``) the DDP process group."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from xrdsim.errors import TrainingError


@dataclass(frozen=True)
class Runtime:
    """Device and DDP position of this process; ``is_main`` writes files and logs."""

    device: torch.device
    rank: int = 0
    world: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1


def resolve_device(name: str) -> torch.device:
    """``"auto"`` → CUDA when available else CPU; refuse CUDA where there is none."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise TrainingError(
            f"device {name!r} asked for but CUDA is not available; use --device cpu"
        )
    return device


def setup_runtime(device: str) -> Runtime:
    """Join the DDP group when launched by ``torchrun`` (``WORLD_SIZE`` > 1), else run alone.

    Under DDP each rank uses ``cuda:LOCAL_RANK`` (NCCL) or the CPU (gloo).
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Runtime(resolve_device(device))
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device)
    if dev.type == "cuda":
        dev = torch.device("cuda", local)
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return Runtime(dev, rank=rank, world=world)


def teardown_runtime(runtime: Runtime) -> None:
    """Leave the DDP group if this process joined one."""
    if runtime.distributed and dist.is_initialized():
        dist.destroy_process_group()
