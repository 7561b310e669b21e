"""Series stores as training arrays: crop, bin and min–max normalise (sun2023 §Methods).

sun2023 normalises every pattern to [0, 1] before augmenting. Patterns on the 12,000-bin
model grid are cropped to ``crop`` (° 2θ) and mean-pooled by ``pool`` bins
(16 → 0.16° samples: the ≥ 0.1° peaks of the ``series`` preset blur into one or two
samples, their splitting by a 1–3 % distortion, ≥ 0.4° at 2θ = 40°, stays resolved).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xrdsim.errors import TrainingError
from xrdsim.grid import BIN_WIDTH, N_BINS
from xrdsim.series.store import read_series, series_names


def preprocess(patterns: np.ndarray, *, crop: tuple[float, float], pool: int) -> np.ndarray:
    """(N, 12000) → (N, L) float32 in [0, 1], L = ⌊(crop₁ − crop₀)/(0.01°·pool)⌋."""
    start, stop = round(crop[0] / BIN_WIDTH), round(crop[1] / BIN_WIDTH)
    if not (0 <= start < stop <= N_BINS) or pool < 1 or (stop - start) // pool < 16:
        raise TrainingError(f"crop {crop} ° and pool {pool} leave fewer than 16 samples")
    x = np.asarray(patterns, dtype=np.float32)[:, start:stop]
    n = (stop - start) // pool
    x = x[:, : n * pool].reshape(x.shape[0], n, pool).mean(axis=2)
    lo, hi = x.min(axis=1, keepdims=True), x.max(axis=1, keepdims=True)
    return ((x - lo) / np.where(hi > lo, hi - lo, 1.0)).astype(np.float32)


@dataclass(frozen=True)
class SeriesArrays:
    """Every pattern of the chosen series, concatenated in store order.

    Attributes:
        x: (M, L) float32 preprocessed patterns.
        labels: (M,) int64, 0/1/2, −1 unknown.
        series: (M,) int64 index into ``names``.
        order: (M,) int64 acquisition index inside its series.
        length: (M,) int64 length of its series.
        variable: (M,) float64 external variable.
        names: the series names.
        units: the unit of each series' variable.
    """

    x: np.ndarray
    labels: np.ndarray
    series: np.ndarray
    order: np.ndarray
    length: np.ndarray
    variable: np.ndarray
    names: tuple[str, ...]
    units: tuple[str, ...]

    def rows(self, name: str) -> np.ndarray:
        """Row indices of one series, in acquisition order."""
        return np.flatnonzero(self.series == self.names.index(name))


def load_series(
    store: str | Path, names: list[str] | None = None, *, crop: tuple[float, float], pool: int
) -> SeriesArrays:
    """Read and preprocess the named series of a store (all of them by default)."""
    names = list(names) if names else series_names(store)
    parts: dict[str, list] = {
        k: [] for k in ("x", "labels", "series", "order", "length", "variable")
    }
    units = []
    for i, name in enumerate(names):
        s = read_series(store, name)
        n = s.patterns.shape[0]
        parts["x"].append(preprocess(s.patterns, crop=crop, pool=pool))
        parts["labels"].append(s.labels.astype(np.int64))
        parts["series"].append(np.full(n, i))
        parts["order"].append(np.arange(n))
        parts["length"].append(np.full(n, n))
        parts["variable"].append(np.asarray(s.variable, dtype=np.float64))
        units.append(str(s.attrs.get("unit", "")))
    return SeriesArrays(
        **{k: np.concatenate(v) for k, v in parts.items()}, names=tuple(names), units=tuple(units)
    )
