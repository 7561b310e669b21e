"""Scaling curves: log–log power-law fits, local slopes, where a curve leaves its law, plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from xrdsim.plotting import pyplot, save_figure

#: A local slope further than this from the expected exponent counts as a departure.
DEPARTURE = 0.3
#: Points per log-spaced bin when computing local slopes.
BINS = 4


def fit_power(x, y, *, expected: float) -> dict:
    """Fit ``y = c·x^k`` on log–log axes; local slopes between log-spaced bins of x.

    Returns the exponent ``k``, the prefactor ``c``, the expected exponent, the local
    slopes between the medians of successive bins (``[x_from, x_to, slope]``) and
    ``departs_at``: the median x of the first bin from which the local slope differs from
    ``expected`` by more than :data:`DEPARTURE` (None when it never does, or when there are
    too few points).
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = (x > 0) & (y > 0)
    x, y = x[ok], y[ok]
    if len(x) < 3 or x.max() / x.min() < 1.5:
        return {"points": int(len(x)), "exponent": None, "expected": expected,
                "local_slopes": [], "departs_at": None}  # fmt: skip
    lx, ly = np.log10(x), np.log10(y)
    k, c = np.polyfit(lx, ly, 1)
    edges = np.linspace(lx.min(), lx.max(), BINS + 1)
    centres = []
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        sel = (lx >= a) & (lx <= b)
        if sel.any():
            centres.append((float(np.median(lx[sel])), float(np.median(ly[sel]))))
    slopes = []
    departs = None
    for (xa, ya), (xb, yb) in zip(centres[:-1], centres[1:], strict=True):
        if xb - xa < 1e-9:
            continue
        s = (yb - ya) / (xb - xa)
        slopes.append([10**xa, 10**xb, s])
        if departs is None and abs(s - expected) > DEPARTURE:
            departs = 10**xa
    return {
        "points": int(len(x)),
        "exponent": float(k),
        "prefactor": float(10**c),
        "expected": expected,
        "local_slopes": slopes,
        "departs_at": departs,
    }


def describe(fit: dict) -> str:
    """One phrase: fitted exponent, expected one, and where the curve departs."""
    if fit["exponent"] is None:
        return f"too few points ({fit['points']})"
    text = f"{fit['exponent']:.2f} (law {fit['expected']:g})"
    if fit["departs_at"] is not None:
        text += f", departs from x ≈ {fit['departs_at']:.3g}"
    return text


def plot(path: Path, title: str, xlabel: str, ylabel: str, series: dict[str, tuple]) -> None:
    """Log–log scatter of each series ``name -> (x, y, fit)`` with its fitted line."""
    fig, ax = pyplot().subplots(figsize=(6.4, 4.4))
    for name, (x, y, fit) in series.items():
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        if not len(x):
            continue
        (pts,) = ax.plot(x, y, "o", ms=3, alpha=0.6, label=f"{name}: {describe(fit)}")
        if fit["exponent"] is not None:
            xs = np.geomspace(x[x > 0].min(), x.max(), 50)
            ax.plot(xs, fit["prefactor"] * xs ** fit["exponent"], "-", color=pts.get_color())
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    save_figure(fig, path, dpi=110)
