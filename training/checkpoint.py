"""Checkpoints: everything needed to continue a run exactly where it stopped.

``RUN_DIR/checkpoint.pt`` holds the model, optimiser and scheduler states, the
number of completed epochs, the RNG states (torch, NumPy, Python), the resolved
:class:`~xrdsim_training.config.TrainConfig` and the metrics history. It is
written to a temporary file and renamed into place, so a run killed while saving
still leaves the previous checkpoint intact.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from xrdsim_training.config import ModelConfig, TrainConfig

from xrdsim.errors import TrainingError

CHECKPOINT_NAME = "checkpoint.pt"
#: The epoch with the best validation score (early stopping, das2025 §4.3), same format.
BEST_NAME = "best.pt"
CHECKPOINT_FORMAT = "xrdsim-checkpoint/1"


def rng_states() -> dict[str, Any]:
    """Current torch / NumPy / Python global RNG states."""
    return {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),  # noqa: NPY002 - the legacy global stream
        "python": random.getstate(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def restore_rng_states(states: dict[str, Any]) -> None:
    """Undo :func:`rng_states`."""
    torch.set_rng_state(states["torch"])
    np.random.set_state(states["numpy"])  # noqa: NPY002
    random.setstate(states["python"])
    if states.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def save_checkpoint(
    run_dir: str | Path,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    epoch: int,
    config: TrainConfig,
    history: list[dict[str, Any]],
) -> Path:
    """Write ``run_dir/checkpoint.pt`` atomically after ``epoch`` completed epochs."""
    path = Path(run_dir) / CHECKPOINT_NAME
    payload = {
        "format": CHECKPOINT_FORMAT,
        "epoch": int(epoch),
        "config": config.to_dict(),
        "model": _unwrap(model).state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": rng_states(),
        "history": list(history),
    }
    tmp = path.with_suffix(".pt.tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (on the CPU).

    Raises:
        TrainingError: missing, unreadable, or not an xrdsim checkpoint.
    """
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise TrainingError(f"no checkpoint at {str(path)!r}; train a run first (`xrdsim train`)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises pickle / zip / runtime errors alike
        raise TrainingError(f"checkpoint {str(path)!r} is unreadable ({exc}); it is truncated "
                            "or not a torch file — delete it and train again") from exc
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise TrainingError(f"{str(path)!r} is not an xrdsim checkpoint ({CHECKPOINT_FORMAT})")
    payload["config"] = TrainConfig.from_dict(payload["config"])
    return payload


def best_checkpoint(run_dir: str | Path) -> Path:
    """``run_dir/best.pt`` when the run validated, else ``run_dir/checkpoint.pt`` (or a file
    given directly): the weights that evaluation and prediction use."""
    run_dir = Path(run_dir)
    if run_dir.is_dir() and (run_dir / BEST_NAME).is_file():
        return run_dir / BEST_NAME
    return run_dir


def check_architecture(saved: ModelConfig, wanted: ModelConfig, *, source: str) -> None:
    """Refuse to load weights of one architecture into another.

    Raises:
        TrainingError: naming every architecture field that differs.
    """
    a, b = saved.to_dict(), wanted.to_dict()
    diff = {k: (a[k], b[k]) for k in a if a[k] != b[k]}
    if diff:
        listed = ", ".join(f"{k}: checkpoint {x} vs asked {y}" for k, (x, y) in diff.items())
        raise TrainingError(
            f"checkpoint {source!r} is from another architecture ({listed}); use the same "
            "--width/--depth/... as the run that wrote it, or start a new RUN_DIR"
        )


def load_weights(model: torch.nn.Module, payload: dict[str, Any], *, source: str) -> None:
    """Load the checkpoint's weights into ``model`` after checking the architecture."""
    target = _unwrap(model)
    check_architecture(payload["config"].model, target.config, source=source)
    target.load_state_dict(payload["model"])


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if hasattr(model, "module") else model
