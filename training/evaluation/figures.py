"""Figures of an evaluation report: crystal-system confusion matrices, the cosine block
matrix (das2025 Fig. 4)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from xrdsim.plotting import pyplot, save_figure
from xrdsim.structures.crystal_systems import CRYSTAL_SYSTEMS


def confusion_figure(report: dict[str, Any], path: Path) -> Path:
    """One normalised 7×7 crystal-system confusion matrix per scored split, side by side."""
    plt = pyplot()

    splits = list(report["splits"])
    fig, axes = plt.subplots(1, len(splits), figsize=(5.6 * len(splits), 5), squeeze=False)
    for ax, split in zip(axes[0], splits, strict=True):
        m = np.asarray(report["splits"][split]["cs_confusion"], dtype=float)
        m = m / np.maximum(m.sum(1, keepdims=True), 1)
        image = ax.imshow(m, vmin=0, vmax=1, cmap="viridis")
        fig.colorbar(image, ax=ax, fraction=0.046, label="fraction of the true class")
        ax.set_xticks(range(7), CRYSTAL_SYSTEMS, rotation=90)
        ax.set_yticks(range(7), CRYSTAL_SYSTEMS)
        ax.set_xlabel("predicted crystal system")
        ax.set_ylabel("true crystal system")
        ax.set_title(f"{split}: CS acc {report['splits'][split]['cs_accuracy']:.2f}")
    return save_figure(fig, path, dpi=120)


def matrix_figure(matrix: np.ndarray, path: Path, *, title: str) -> None:
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(5.5, 4.6))
    image = ax.imshow(matrix, vmin=-1, vmax=1, cmap="RdBu_r")
    fig.colorbar(image, ax=ax, label="cosine similarity")
    ax.set_xlabel("pattern (grouped by structure)")
    ax.set_ylabel("pattern (grouped by structure)")
    ax.set_title(title, fontsize=9)
    save_figure(fig, path, dpi=120)
