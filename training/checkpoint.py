"""Checkpoints: everything needed to continue a run exactly where it stopped.

``RUN_DIR/checkpoint.pt`` holds the model, optimiser and scheduler states, the
number of completed epochs, the RNG states (torch, NumPy, Python), the resolved
:class:`~xrdsim_training.config.TrainConfig` and the metrics history. It is
written to a temporary file and renamed into place, so a run killed while saving
still leaves the previous checkpoint intact.

A checkpoint is read with ``torch.load(weights_only=True)``: only tensors, numbers,
strings and containers of them are accepted, so a crafted file in a run directory
cannot run code when ``predict`` / ``evaluate`` / ``train --resume`` open it. Anything
that is not a tensor (config, history, NumPy and Python RNG states) is stored as one
JSON string.
"""

from __future__ import annotations

import json
import os
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from xrdsim_training.config import ModelConfig, TrainConfig
from xrdsim_training.models import XrdNet
from xrdsim_training.runtime import resolve_device

from xrdsim.errors import TrainingError
from xrdsim.structures.extinction_table import extinction_table

CHECKPOINT_NAME = "checkpoint.pt"
#: The epoch with the best validation score (early stopping, das2025 §4.3), same format.
BEST_NAME = "best.pt"
CHECKPOINT_FORMAT = "xrdsim-checkpoint/2"
#: A checkpoint of the largest model is a few hundred MB; bigger files are refused unread.
MAX_CHECKPOINT_BYTES = 8 << 30


def rng_states() -> dict[str, Any]:
    """Current torch / NumPy / Python global RNG states (tensors, ints and lists only)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()  # noqa: NPY002 - legacy stream
    version, internal, gauss_next = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "numpy": [kind, [int(k) for k in keys], int(pos), int(has_gauss), float(gauss)],
        "python": [version, list(internal), gauss_next],
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def restore_rng_states(states: dict[str, Any]) -> None:
    """Undo :func:`rng_states`."""
    torch.set_rng_state(states["torch"])
    kind, keys, pos, has_gauss, gauss = states["numpy"]
    keys = np.asarray(keys, dtype=np.uint32)
    np.random.set_state((kind, keys, pos, has_gauss, gauss))  # noqa: NPY002
    version, internal, gauss_next = states["python"]
    random.setstate((version, tuple(internal), gauss_next))
    if states.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def _plain(value: Any) -> Any:
    """JSON fallback for NumPy scalars in the metrics history."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def save_checkpoint(
    run_dir: str | Path,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    epoch: int,
    config: TrainConfig,
    history: list[dict[str, Any]],
    trained: torch.nn.Module | None = None,
    ema_steps: int | None = None,
) -> Path:
    """Write ``run_dir/checkpoint.pt`` atomically after ``epoch`` completed epochs.

    ``model`` is the network that predicts (the weight average when the run keeps one);
    ``trained`` the optimised weights, saved beside it (``trained_model``) only when they
    differ, with ``ema_steps`` the steps averaged so far, so that ``--resume`` continues both.
    """
    path = Path(run_dir) / CHECKPOINT_NAME
    rng = rng_states()
    meta = {"config": config.to_dict(), "history": list(history),
            "rng_numpy": rng["numpy"], "rng_python": rng["python"]}
    payload = {
        "format": CHECKPOINT_FORMAT,
        "epoch": int(epoch),
        "meta": json.dumps(meta, default=_plain),
        "model": _unwrap(model).state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng_torch": rng["torch"],
        "rng_cuda": rng["cuda"],
    }
    if trained is not None:
        payload["trained_model"] = _unwrap(trained).state_dict()
        payload["ema_steps"] = int(ema_steps or 0)
    tmp = path.with_suffix(".pt.tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (on the CPU), safely.

    The file is opened with ``weights_only=True``: a pickle that asks for any object other
    than tensors and plain containers is refused before anything in it runs.

    Returns:
        ``format``, ``epoch``, ``config`` (a :class:`TrainConfig`), ``history``, ``model``,
        ``optimizer``, ``scheduler`` and ``rng`` (for :func:`restore_rng_states`); with a
        weight average (``TrainConfig.ema``) also ``trained_model`` and ``ema_steps``.

    Raises:
        TrainingError: missing, too big, unreadable, unsafe, or not an xrdsim checkpoint.
    """
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise TrainingError(f"no checkpoint at {str(path)!r}; train a run first (`xrdsim train`)")
    if path.stat().st_size > MAX_CHECKPOINT_BYTES:
        raise TrainingError(f"checkpoint {str(path)!r} is larger than {MAX_CHECKPOINT_BYTES} "
                            "bytes; no xrdsim model is that big, refused")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises pickle / zip / runtime errors alike
        raise TrainingError(f"checkpoint {str(path)!r} refused: {_refusal(exc)}; nothing in "
                            "it was run — train again") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise TrainingError(f"{str(path)!r} is not an xrdsim checkpoint ({CHECKPOINT_FORMAT}); "
                            "train again")
    try:
        meta = _meta(payload.pop("meta", None), str(path))
        payload["config"] = TrainConfig.from_dict(meta["config"], saved=True)
        payload["history"] = list(meta["history"])
        payload["rng"] = {"torch": payload.pop("rng_torch"), "cuda": payload.pop("rng_cuda"),
                          "numpy": meta["rng_numpy"], "python": meta["rng_python"]}
        _check_rng(payload["rng"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise TrainingError(f"checkpoint {str(path)!r} lacks its metadata or has it damaged "
                            f"({type(exc).__name__}: {' '.join(str(exc).split())[:100]}); "
                            "train again") from None
    return payload


def _refusal(exc: Exception) -> str:
    """Why ``torch.load(weights_only=True)`` refused a file, in xrdsim's words: what the
    pickle asked for, never torch's advice to load it with ``weights_only=False``."""
    import pickle

    text = str(exc)
    found = re.search(r"Unsupported [a-z]+: [^.\n]*", text)  # "... GLOBAL os.system was ..."
    if isinstance(exc, pickle.UnpicklingError) or "Weights only load failed" in text:
        asked = f" ({found.group(0)[:160]})" if found else ""
        return (f"its pickle asks for objects other than tensors, numbers, strings and "
                f"containers{asked}, which could run code when loaded; xrdsim loads only "
                "those (it is from xrdsim-checkpoint/1, or not from xrdsim)")
    return (f"unreadable ({type(exc).__name__}; truncated or not a checkpoint: "
            f"{' '.join(text.split())[:120]})")


def _meta(raw: Any, source: str) -> dict[str, Any]:
    """The checkpoint's JSON metadata, parsed within the config caps (size, depth, count)."""
    from xrdsim.config_files import parse_config_text
    from xrdsim.errors import ConfigError

    if not isinstance(raw, str) or len(raw) > 64 << 20:
        raise ValueError("metadata is not a JSON string of at most 64 MiB")
    try:
        meta = parse_config_text(raw, suffix=".json", source=f"checkpoint {source} metadata")
    except ConfigError as exc:
        raise ValueError(str(exc)) from None
    if not isinstance(meta, dict) or not isinstance(meta.get("history"), list):
        raise ValueError("metadata is not an object with a history list")
    return meta


def _check_rng(states: dict[str, Any]) -> None:
    """Refuse RNG states that :func:`restore_rng_states` could not restore (ValueError)."""
    kind, keys, pos, has_gauss, gauss = states["numpy"]
    if kind != "MT19937" or not isinstance(keys, list) or len(keys) != 624 or not all(
            isinstance(k, int) and 0 <= k < 2**32 for k in keys) or not (
            isinstance(pos, int) and 0 <= pos <= 624) or has_gauss not in (0, 1) or not (
            isinstance(gauss, (int, float))):
        raise ValueError("the NumPy RNG state is not an MT19937 state")
    version, internal, gauss_next = states["python"]
    if version != 3 or not isinstance(internal, list) or len(internal) != 625 or not all(
            isinstance(k, int) and 0 <= k < 2**32 for k in internal) or not (
            gauss_next is None or isinstance(gauss_next, float)):
        raise ValueError("the Python RNG state is not a Mersenne Twister state")
    if not (isinstance(states["torch"], torch.Tensor) and states["torch"].dtype == torch.uint8
            and states["torch"].ndim == 1):
        raise ValueError("the torch RNG state is not a byte tensor")


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
    weights = payload["model"]
    expected = target.state_dict()
    if not isinstance(weights, dict) or set(weights) != set(expected) or any(
            not isinstance(weights[k], torch.Tensor) or weights[k].shape != v.shape
            for k, v in expected.items()):
        raise TrainingError(f"checkpoint {source!r}: its weights do not fit the architecture its "
                            "config names (tensor names or shapes differ); it is damaged or "
                            "not from xrdsim — train again")
    target.load_state_dict(weights)


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if hasattr(model, "module") else model


def load_run(run_dir: str | Path, *, device: str = "auto") -> tuple[XrdNet, dict[str, Any]]:
    """The network of ``run_dir/best.pt`` (else ``checkpoint.pt``) in eval mode on ``device``,
    and the payload.

    Raises:
        TrainingError: no checkpoint, another architecture, or an EG head whose size
            differs from the shipped extinction table.
    """
    run_dir = Path(run_dir)
    payload = load_checkpoint(best_checkpoint(run_dir))
    config = payload["config"]
    k = extinction_table().n_classes
    if config.model.n_extinction_groups != k:
        raise TrainingError(f"run {str(run_dir)!r} has {config.model.n_extinction_groups} "
                            f"extinction groups but the shipped table has {k}; predict with "
                            "the xrdsim version that trained the run")
    model = XrdNet(config.model)
    load_weights(model, payload, source=str(run_dir))
    return model.to(resolve_device(device)).eval(), payload
