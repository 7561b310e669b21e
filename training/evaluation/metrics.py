"""Classification metrics, the cosine-similarity block matrix, and the per-epoch log."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
from xrdsim_training.inference import Predictions

from xrdsim.files import write_json
from xrdsim.structures.crystal_systems import SG_TO_CRYSTAL_SYSTEM

#: k of the top-k accuracies reported for every task.
TOP_K: tuple[int, ...] = (1, 3, 5)


def top_k_accuracy(prob: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Fraction of rows whose label is among the ``k`` most probable columns."""
    k = min(k, prob.shape[1])
    top = np.argpartition(-prob, k - 1, axis=1)[:, :k]
    return float(np.mean(np.any(top == labels[:, None], axis=1)))


def classification_metrics(pred: Predictions) -> dict[str, Any]:
    """CS / EG / SG accuracies, top-k and the SG-consistent-with-CS rate.

    Keys:
        ``cs_accuracy``, ``eg_accuracy``: argmax of the CS / EG head.
        ``sg_accuracy``: SG from the SG head of the *predicted* crystal system (das2025 §4.3).
        ``sg_accuracy_joint``: argmax of ``p(cs)·p(sg|cs)`` over all 230 space groups.
        ``{cs,eg,sg}_top{k}``: top-k accuracies (SG on the joint probabilities).
        ``sg_consistent_with_cs``: fraction of patterns whose joint-argmax SG lies in the
            predicted crystal system (the routed SG is consistent by construction).
        ``n_patterns``.
    """
    lab = pred.labels
    cs_hat = pred.cs_prob.argmax(1)
    sg_joint = pred.sg_prob.argmax(1) + 1
    out: dict[str, Any] = {
        "n_patterns": len(pred),
        "cs_accuracy": float(np.mean(cs_hat == lab["crystal_system"])),
        "eg_accuracy": float(np.mean(pred.eg_prob.argmax(1) == lab["extinction_group"])),
        "sg_accuracy": float(np.mean(pred.sg_routed == lab["space_group"])),
        "sg_accuracy_joint": float(np.mean(sg_joint == lab["space_group"])),
        "sg_consistent_with_cs": float(np.mean(SG_TO_CRYSTAL_SYSTEM[sg_joint] == cs_hat)),
    }
    for k in TOP_K:
        out[f"cs_top{k}"] = top_k_accuracy(pred.cs_prob, lab["crystal_system"], k)
        out[f"eg_top{k}"] = top_k_accuracy(pred.eg_prob, lab["extinction_group"], k)
        out[f"sg_top{k}"] = top_k_accuracy(pred.sg_prob, lab["space_group"] - 1, k)
    return out


def confusion_matrix(true: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """``M[i, j]`` = number of patterns of class ``i`` predicted as ``j``, int64."""
    m = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(m, (true, predicted), 1)
    return m


def cosine_block_matrix(embeddings: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, dict]:
    """Cosine similarities of ``N·M`` embeddings sorted by group (das2025 Fig. 4).

    Args:
        embeddings: (N·M, D) representations.
        groups: (N·M,) structure index of each row; rows are sorted by it so the
            views of a structure sit together and the ideal matrix is block-diagonal.

    Returns:
        ``(S, summary)``: the (N·M, N·M) similarity matrix and
        ``{"mean_within", "mean_between", "contrast"}`` — mean similarity of two
        different views of one structure, of views of two structures, and their
        difference.
    """
    order = np.argsort(groups, kind="stable")
    e = embeddings[order].astype(np.float64)
    e /= np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
    s = e @ e.T
    g = groups[order]
    same = g[:, None] == g[None, :]
    off_diag = ~np.eye(len(g), dtype=bool)
    within = float(s[same & off_diag].mean()) if np.any(same & off_diag) else float("nan")
    between = float(s[~same].mean()) if np.any(~same) else float("nan")
    return s, {"mean_within": within, "mean_between": between, "contrast": within - between}


class MetricsLog:
    """``metrics.csv`` and ``metrics.json`` of a run, rewritten whole after each epoch."""

    def __init__(self, run_dir: str | Path, history: list[dict[str, Any]] | None = None):
        self.run_dir = Path(run_dir)
        self.history: list[dict[str, Any]] = list(history or [])

    def append(self, row: dict[str, Any]) -> None:
        self.history.append(dict(row))
        self.write()

    def write(self) -> None:
        columns: list[str] = []
        for row in self.history:
            columns += [k for k in row if k not in columns]
        with open(self.run_dir / "metrics.csv", "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns, restval="")
            writer.writeheader()
            writer.writerows(self.history)
        write_json(self.run_dir / "metrics.json", self.history)
