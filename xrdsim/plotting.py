"""Figures written to files: matplotlib without a display, and one way to save a figure.

Every PNG xrdsim draws (a calibration fit, a prepared pattern, a store's example views,
training reports, series predictions, benchmark scaling plots) is drawn on the Agg
backend, so it works on a server with no display, and written by :func:`save_figure`.
matplotlib is imported only when a figure is drawn.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType
from typing import Any


def pyplot() -> ModuleType:
    """``matplotlib.pyplot`` on the non-interactive Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | os.PathLike, *, dpi: int) -> Path:
    """Lay ``fig`` out tightly, write it to ``path`` at ``dpi`` dots per inch, close it.

    The folder of ``path`` is made when missing; the format follows the suffix (``.png``).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    import matplotlib.pyplot as plt

    path = Path(path)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
