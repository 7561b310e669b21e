"""Figure of an indexing: the scan, its observed lines, and the ticks of the best cells."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from xrdsim.indexing.solution import IndexingResult

#: Cells drawn as rows of ticks under the scan.
MAX_CELLS = 3


def plot_indexing(result: IndexingResult, path: str | Path) -> Path:
    """PNG of the scan (top), its observed lines (dotted; red where the best cell leaves
    them unindexed) and, below, the calculated lines of up to three cells.

    Args:
        result: what :func:`xrdsim.indexing.index.index_pattern` returned (with its scan;
            a result of bare lines is drawn as lines only).
        path: the PNG to write (its folder is created).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    solutions = result.solutions[:MAX_CELLS]
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(10, 5.5), sharex=True,
        gridspec_kw={"height_ratios": [3, 1 + 0.5 * max(len(solutions), 1)]})
    if result.scan is not None:
        x = np.asarray(result.scan[0])
        top.plot(x, np.asarray(result.scan[1]), lw=0.6, color="0.2")
    else:
        x = np.asarray(result.lines.two_theta)
        top.vlines(x, 0, result.lines.intensity, color="0.2")
    unindexed = set(result.best.unindexed) if result.best else set()
    for i, t in enumerate(result.lines.two_theta):
        top.axvline(t, color="tab:red" if i in unindexed else "tab:blue", lw=0.6, ls=":",
                    alpha=0.8)
    top.set_ylabel("intensity")
    title = Path(result.source).name or "pattern"
    top.set_title(f"{title}: {len(result.lines)} lines" + (
        f" — best {result.best.crystal_system} {result.best.bravais_lattice}, "
        f"M{result.best.n_merit} = {result.best.m20:.1f}" if result.best else
        " — no solution"))
    left = float(x.min(initial=0.0))
    for row, sol in enumerate(solutions):
        bottom.vlines(np.asarray(sol.ticks), row + 0.1, row + 0.9, color=f"C{row}", lw=0.8)
        cell = " ".join(f"{v:.4f}" for v in sol.cell[:3]) + " " + " ".join(
            f"{v:.2f}" for v in sol.cell[3:])
        bottom.text(left, row + 0.5, f" {row + 1}. {sol.bravais_lattice} {cell}",
                    va="center", fontsize=7)
    bottom.vlines(result.lines.two_theta, -0.9, -0.1, color="0.3", lw=0.8)
    bottom.text(left, -0.5, " observed", va="center", fontsize=7)
    bottom.set_ylim(-1, max(len(solutions), 1))
    bottom.set_yticks([])
    bottom.set_xlabel("2θ (degrees)")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
