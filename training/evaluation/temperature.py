"""Calibrated probabilities: temperature scaling fitted on the equivariance split.

A network trained with cross-entropy is over-confident; one temperature per task,
``p_T ∝ p^(1/T)`` (i.e. softmax of logits / T, Guo et al. 2017), fitted by minimising the
negative log-likelihood on held-out patterns, makes the top-1 probability match the
top-1 accuracy without changing any ranking. das2025 §5 asks for exactly this: a
single confident answer is "inherently flawed", top-k with honest probabilities is not.

:func:`calibrate_run` fits ``T`` on one half of the equivariance split (every other
structure), measures the expected calibration error (ECE, 15 equal-width confidence bins)
before and after on the other half, and writes ``RUN_DIR/calibration.json``; ``xrdsim
predict`` then reports calibrated probabilities and flags a file as *unsure* when the
calibrated crystal-system probability is below :data:`UNSURE_BELOW`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from xrdsim.errors import TrainingError
from xrdsim.files import write_json

CALIBRATION_FILE = "calibration.json"
#: Equal-width confidence bins of the expected calibration error (Guo et al. 2017 use 15).
ECE_BINS = 15
#: Temperatures searched (log-uniform bounds): far beyond any fitted value in practice.
T_BOUNDS = (0.05, 20.0)
#: A calibrated top-1 crystal-system probability below this marks a prediction unsure:
#: under one half, the model thinks another answer at least as likely as this one.
UNSURE_BELOW = 0.5
#: Keys of :class:`~xrdsim_training.inference.Predictions` per task.
TASK_PROBS = {"crystal_system": "cs_prob", "extinction_group": "eg_prob",
              "space_group": "sg_prob"}


def apply_temperature(prob: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log p / T)`` row-wise; (N, C) probabilities in, (N, C) float64 out."""
    logp = np.log(np.clip(np.asarray(prob, dtype=np.float64), 1e-300, None)) / temperature
    logp -= logp.max(axis=1, keepdims=True)
    e = np.exp(logp)
    return e / e.sum(axis=1, keepdims=True)


def nll(prob: np.ndarray, labels: np.ndarray) -> float:
    """Mean negative log-likelihood of integer ``labels`` (column indices)."""
    p = prob[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.clip(p, 1e-300, None))))


def fit_temperature(prob: np.ndarray, labels: np.ndarray) -> float:
    """The temperature minimising the NLL of ``labels`` under ``apply_temperature(prob, T)``."""
    from scipy.optimize import minimize_scalar

    if len(labels) == 0:
        raise TrainingError("no patterns to fit a temperature on")
    lo, hi = np.log(T_BOUNDS)
    res = minimize_scalar(lambda t: nll(apply_temperature(prob, np.exp(t)), labels),
                          bounds=(lo, hi), method="bounded", options={"xatol": 1e-4})
    return float(np.exp(res.x))


def expected_calibration_error(prob: np.ndarray, labels: np.ndarray, *,
                               n_bins: int = ECE_BINS) -> float:
    """ECE = Σ_b (n_b / N)·|accuracy_b − confidence_b| over equal-width top-1 confidence bins."""
    conf = prob.max(axis=1)
    correct = prob.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1]), 0, n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        m = which == b
        if m.any():
            ece += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(ece)


def _columns(task: str, labels: np.ndarray) -> np.ndarray:
    """Label → probability column (space groups 1–230 sit in columns 0–229)."""
    return labels - 1 if task == "space_group" else labels


def calibrate(pred_fit, pred_test) -> dict[str, Any]:
    """Fit one temperature per task on ``pred_fit``; ECE and NLL before/after on ``pred_test``.

    Args:
        pred_fit, pred_test: :class:`~xrdsim_training.inference.Predictions`.
    """
    out: dict[str, Any] = {}
    for task, key in TASK_PROBS.items():
        t = fit_temperature(getattr(pred_fit, key), _columns(task, pred_fit.labels[task]))
        p, y = getattr(pred_test, key), _columns(task, pred_test.labels[task])
        q = apply_temperature(p, t)
        out[task] = {"temperature": t,
                     "ece_before": expected_calibration_error(p, y),
                     "ece_after": expected_calibration_error(q, y),
                     "nll_before": nll(p, y), "nll_after": nll(q, y)}
    return out


def calibrate_run(run_dir: str | Path, *, data: str | Path, split: str = "equivariance",
                  max_patterns: int = 0, batch_size: int = 256, device: str = "auto"
                  ) -> dict[str, Any]:
    """Fit the temperatures of ``run_dir`` on ``split`` of ``data``; write calibration.json.

    Structures with an even index in the sorted list of the split's structures fit the
    temperatures, the odd ones measure ECE (views of one structure never straddle).

    Returns:
        ``{"split", "n_fit", "n_test", task: {"temperature", "ece_before", "ece_after",
        "nll_before", "nll_after"}, "output"}``.
    """
    import torch
    from torch.utils.data import DataLoader
    from xrdsim_training.checkpoint import load_run
    from xrdsim_training.data.store import open_split
    from xrdsim_training.data.zarr_stream import ZarrStreamDataset
    from xrdsim_training.inference import predict

    model, payload = load_run(run_dir, device=device)
    dev = next(model.parameters()).device
    reader = open_split(data, split)
    rows = reader.complete_rows()
    if max_patterns and rows.size > max_patterns:
        rows = rows[np.linspace(0, rows.size - 1, max_patterns).astype(np.int64)]
    structures = reader.labels["structure_index"][rows]
    rank = np.searchsorted(np.unique(structures), structures)
    parts = []
    for half in (rows[rank % 2 == 0], rows[rank % 2 == 1]):
        if half.size == 0:
            raise TrainingError(f"split {split!r} has too few structures to calibrate on")
        dataset = ZarrStreamDataset(data, split, batch_size=batch_size, shuffle=False,
                                    drop_last=False, rows=half, dtype="native")
        with torch.no_grad():
            parts.append(predict(model, DataLoader(dataset, batch_size=None), device=dev,
                                 amp=payload["config"].amp))
    report = {"split": split, "n_fit": len(parts[0]), "n_test": len(parts[1]),
              **calibrate(parts[0], parts[1])}
    path = Path(run_dir) / CALIBRATION_FILE
    write_json(path, report)
    report["output"] = str(path)
    return report


def load_temperatures(run_dir: str | Path) -> dict[str, float] | None:
    """``{task: T}`` of ``RUN_DIR/calibration.json``, or None when the run is uncalibrated.

    Raises:
        TrainingError: the file is unreadable (read like a config: capped, regular files
            only) or a temperature is missing or outside (0, :data:`MAX_TEMPERATURE`].
    """
    from xrdsim.config_files import read_config_file
    from xrdsim.errors import ConfigError, TrainingError, brief

    path = Path(run_dir) / CALIBRATION_FILE
    if not (path.exists() or path.is_symlink()):
        return None
    try:
        report = read_config_file(path, what="calibration")
    except ConfigError as exc:
        raise TrainingError(f"{exc}; delete it or run `xrdsim evaluate --calibrate` "
                            "again") from None
    out = {}
    for task in TASK_PROBS:
        entry = report.get(task) if isinstance(report, dict) else None
        value = entry.get("temperature") if isinstance(entry, dict) else None
        if not (isinstance(value, (int, float)) and not isinstance(value, bool)
                and T_BOUNDS[0] <= value <= T_BOUNDS[1]):
            raise TrainingError(f"{path}: {task} temperature must be a number in "
                                f"[{T_BOUNDS[0]:g}, {T_BOUNDS[1]:g}] (the fit's range), got "
                                f"{brief(value)}; delete the file or run `xrdsim evaluate "
                                "--calibrate` again")
        out[task] = float(value)
    return out
