"""HAND features: settings, peak lists → feature vectors, and the pattern peak finder.

Features of one pattern (at Cu Kα, λ = 1.5418 Å): the 2θ of the first ten peaks
(ascending, padded with 0 when there are fewer) and the number of peaks in 0–90°
(:func:`hand_features`, 11 values), from the lines of a peak database
(:func:`database_features`, :func:`visible_lines`) or from the peaks found in a
pattern on the model grid (:func:`find_pattern_peaks`). The classifiers that use them
are in :mod:`xrdsim_training.hand`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from xrdsim.errors import ConfigError, brief
from xrdsim.grid import BIN_WIDTH, bin_centers, convert_two_theta
from xrdsim.wavelengths import DEFAULT_WAVELENGTH, KALPHA_DOUBLETS

#: sin θ(Kα2) / sin θ(Kα1) = λ(Kα2) / λ(Kα1) of a Cu tube; unchanged by 2θ conversion.
CU_KALPHA2_RATIO = KALPHA_DOUBLETS["Cu"][1] / KALPHA_DOUBLETS["Cu"][0]
#: A found peak within this many degrees of the Kα2 position of a stronger peak is its
#: Kα2 component (about 3 grid bins; the doublet splitting itself is 0.1–0.3° in 30–90°).
DOUBLET_TOL_DEG = 0.03
#: ... and only when it is at most this fraction of that peak's height (Kα2/Kα1 ≈ 0.5).
DOUBLET_MAX_HEIGHT = 0.75
#: Running-median window (bins, 0.21°) of the noise estimate: wider than a lab peak's
#: top, so the residual is mostly counting noise.
NOISE_WINDOW = 21


#: Settings that must be whole numbers.
_WHOLE_SETTINGS = frozenset({"n_positions", "n_estimators", "min_samples_leaf", "seed"})


@dataclasses.dataclass(frozen=True)
class HandSettings:
    """Feature and classifier settings of a HAND model (stored beside the model).

    Attributes:
        n_positions: peak positions used as features (das2025: the first ten).
        count_max_deg: peaks are counted in 0–``count_max_deg`` degrees 2θ (das2025: 90).
        scan_edge_deg: peaks found within this many degrees of a pattern's first measured
            (non-zero) bin are ignored. A lab scan's first degrees hold the beam knife's
            and the air scatter's rise, where the background fit is least sure; a maximum
            left there becomes the "first peak" and shifts all ten positions by one.
            Database lines are not touched, so the forests do not depend on it: a model
            saved before the setting existed predicts with it as well.
        min_intensity: database lines below this % of the strongest line are dropped.
        merge_deg: database lines closer than this (degrees) are counted as one peak.
        prominence: peak-finder prominence as a fraction of the pattern's maximum.
        min_distance_deg: peak-finder minimum distance between peaks, degrees 2θ.
        smooth_deg: Savitzky–Golay (order 2) window in degrees applied before peak finding.
        noise_sigmas: peaks must also be this many noise σ prominent (σ from the MAD of
            the residual of a 0.21° running median). Prominence is peak-to-trough, so
            noise bumps reach 6–9 σ over 12,000 bins; 10 leaves none on synthetic
            Gaussian noise (tests/training/hand/test_hand_model.py).
        kalpha2_ratio: λ(Kα2)/λ(Kα1) of the tube the patterns were measured with (Cu by
            default); resolved Kα2 components are then dropped by the peak finder.
            None for monochromatic (Kα1-only) or synchrotron data.
        wavelength: λ (Å) of the features; database lines are converted to it.
        n_estimators: trees per ExtraTrees classifier.
        min_samples_leaf: smallest leaf; 2 halves the model size against 1 at the same
            accuracy (MP-20, see docs/measured.md). Memory grows as
            8 bytes × trees × nodes × classes (the SG classifier dominates).
        seed: random_state of the classifiers and of the train/test split.
    """

    n_positions: int = 10
    count_max_deg: float = 90.0
    scan_edge_deg: float = 3.5
    min_intensity: float = 1.0
    merge_deg: float = 0.05
    prominence: float = 0.02
    min_distance_deg: float = 0.05
    smooth_deg: float = 0.1
    noise_sigmas: float = 10.0
    kalpha2_ratio: float | None = CU_KALPHA2_RATIO
    wavelength: float = DEFAULT_WAVELENGTH
    n_estimators: int = 100
    min_samples_leaf: int = 2
    seed: int = 0

    def __post_init__(self) -> None:
        for name, value in self.to_dict().items():
            if name == "kalpha2_ratio" and value is None:
                continue
            whole = name in _WHOLE_SETTINGS
            if (isinstance(value, bool) or not isinstance(value, int if whole else (int, float))
                    or not math.isfinite(value)):
                raise ConfigError(f"invalid HAND setting {name}: expected a finite "
                                  f"{'whole number' if whole else 'number'}, got {brief(value)}")
        checks = {
            "n_positions": 1 <= self.n_positions <= 1000,
            "count_max_deg": 0 < self.count_max_deg <= 180,
            "scan_edge_deg": 0 <= self.scan_edge_deg < 90,
            "min_intensity": 0 <= self.min_intensity < 100,
            "merge_deg": 0 <= self.merge_deg <= 10,
            "prominence": 0 < self.prominence < 1,
            "min_distance_deg": 0 <= self.min_distance_deg <= 10,
            "smooth_deg": 0 <= self.smooth_deg <= 10,
            "noise_sigmas": 0 <= self.noise_sigmas <= 1e3,
            "wavelength": 0.05 <= self.wavelength <= 5,
            "n_estimators": 1 <= self.n_estimators <= 10_000,
            "min_samples_leaf": 1 <= self.min_samples_leaf <= 10**6,
            "seed": 0 <= self.seed < 2**63,
            "kalpha2_ratio": self.kalpha2_ratio is None or 1 < self.kalpha2_ratio < 1.1,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ConfigError(f"invalid HAND settings {', '.join(bad)}: got "
                              f"{brief({k: getattr(self, k) for k in bad})}; see HandSettings")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HandSettings:
        """Inverse of :meth:`to_dict`; ``ConfigError`` for anything but a mapping of the
        known settings."""
        if not isinstance(data, dict):
            raise ConfigError(f"HAND settings must be a mapping, got {brief(data)}")
        unknown = sorted(set(data) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ConfigError(f"unknown HAND settings {brief(unknown)}")
        return cls(**data)


def hand_features(two_theta: np.ndarray, *, n_positions: int = 10,
                  count_max_deg: float = 90.0) -> np.ndarray:
    """The HAND feature vector of one peak list.

    Args:
        two_theta: (n,) peak positions, degrees 2θ at Cu Kα (any order).

    Returns:
        (n_positions + 1,) float64: the first ``n_positions`` positions ascending (0 where
        there are fewer peaks), then the number of peaks with 2θ <= ``count_max_deg``.
    """
    x = np.sort(np.asarray(two_theta, dtype=np.float64).ravel())
    out = np.zeros(n_positions + 1, dtype=np.float64)
    first = x[:n_positions]
    out[: first.size] = first
    out[n_positions] = np.count_nonzero(x <= count_max_deg)
    return out


def visible_lines(two_theta: np.ndarray, intensity: np.ndarray, *, min_intensity: float,
                  merge_deg: float) -> np.ndarray:
    """Positions of the database lines a measured pattern would show as peaks.

    Drops lines below ``min_intensity`` % of the strongest, then merges runs of lines
    closer than ``merge_deg`` into their intensity-weighted mean position.
    """
    x = np.asarray(two_theta, dtype=np.float64)
    y = np.asarray(intensity, dtype=np.float64)
    if x.size == 0:
        return x
    keep = y >= min_intensity / 100.0 * y.max()
    x, y = x[keep], y[keep]
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    if merge_deg <= 0 or x.size < 2:
        return x
    group = np.concatenate([[0], np.cumsum(np.diff(x) > merge_deg)])
    weight = np.bincount(group, weights=y)
    return np.bincount(group, weights=x * y) / np.where(weight > 0, weight, 1.0)


def find_pattern_peaks(pattern: np.ndarray, *, prominence: float = 0.02,
                       min_distance_deg: float = 0.05, smooth_deg: float = 0.0,
                       noise_sigmas: float = 0.0,
                       kalpha2_ratio: float | None = None) -> np.ndarray:
    """Peak positions (degrees 2θ) of a pattern on the model grid.

    The pattern is optionally smoothed (Savitzky–Golay, order 2, ``smooth_deg`` wide),
    then ``scipy.signal.find_peaks`` runs with a prominence of
    ``max(prominence · max(pattern), noise_sigmas · σ)`` — σ is the counting noise,
    1.4826 · median |y − running median(y)| over the non-zero bins — and a minimum
    distance of ``min_distance_deg`` between peaks; each maximum is refined by a
    parabola through its bin and the two neighbours. With ``kalpha2_ratio`` set, a peak
    lying within :data:`DOUBLET_TOL_DEG` of ``2·asin(ratio·sin θ)`` of a peak at least
    1/:data:`DOUBLET_MAX_HEIGHT` times higher is taken for its Kα2 component and dropped.

    Args:
        pattern: (12000,) intensities on the grid (a PreparedPattern's ``pattern``).
        kalpha2_ratio: λ(Kα2)/λ(Kα1) of the tube, e.g. :data:`CU_KALPHA2_RATIO`; None keeps
            every peak.

    Returns:
        (m,) float64 ascending degrees 2θ.
    """
    from scipy.ndimage import median_filter
    from scipy.signal import find_peaks, savgol_filter

    y = np.asarray(pattern, dtype=np.float64)
    window = 2 * (round(smooth_deg / BIN_WIDTH) // 2) + 1
    if window >= 5 and y.size > window:
        y = savgol_filter(y, window, 2)
    top = float(y.max()) if y.size else 0.0
    if not top > 0:
        return np.zeros(0)
    threshold = prominence * top
    inside = y[y != 0]
    if noise_sigmas > 0 and inside.size > NOISE_WINDOW:
        residual = inside - median_filter(inside, NOISE_WINDOW, mode="nearest")
        threshold = max(threshold, noise_sigmas * 1.4826 * float(np.median(np.abs(residual))))
    idx, _ = find_peaks(y, prominence=threshold,
                        distance=max(1, round(min_distance_deg / BIN_WIDTH)))
    idx = idx[(idx > 0) & (idx < y.size - 1)]
    left, mid, right = y[idx - 1], y[idx], y[idx + 1]
    curvature = left - 2 * mid + right
    # vertex of the parabola through (−1, left), (0, mid), (1, right)
    shift = np.where(curvature < 0, 0.5 * (left - right) / np.where(curvature < 0, curvature,
                                                                     -1.0), 0.0)
    x = bin_centers(idx) + np.clip(shift, -0.5, 0.5) * BIN_WIDTH
    if kalpha2_ratio is None or x.size < 2:
        return x
    # 2θ of the Kα2 component of each peak: sin θ2 = (λ2/λ1)·sin θ1
    s2 = kalpha2_ratio * np.sin(np.radians(x / 2))
    x2 = np.where(s2 < 1, 2 * np.degrees(np.arcsin(np.minimum(s2, 1.0))), np.inf)
    near = np.abs(x[None, :] - x2[:, None]) <= DOUBLET_TOL_DEG  # near[i, j]: j at Kα2 of i
    weaker = mid[None, :] <= DOUBLET_MAX_HEIGHT * mid[:, None]
    return x[~np.any(near & weaker, axis=0)]


def database_features(db: Any, settings: HandSettings,
                      indices: np.ndarray | None = None) -> np.ndarray:
    """(N, F) features of the structures ``indices`` (default: all) of a PeakDatabase."""
    idx = np.arange(len(db)) if indices is None else np.asarray(indices, dtype=np.int64)
    wavelength = float(db.attrs["wavelength"])
    rows = []
    for start in range(0, idx.size, 4096):
        batch = db.ragged(idx[start:start + 4096])
        x = batch.two_theta
        if abs(wavelength - settings.wavelength) > 1e-6:  # lines to the feature λ
            x = convert_two_theta(x, from_wavelength=wavelength,
                                  to_wavelength=settings.wavelength)
        for k in range(len(batch)):
            a, b = batch.offsets[k], batch.offsets[k + 1]
            xs, ys = x[a:b], batch.intensity[a:b]
            ok = np.isfinite(xs)
            lines = visible_lines(xs[ok], ys[ok], min_intensity=settings.min_intensity,
                                  merge_deg=settings.merge_deg)
            rows.append(hand_features(lines, n_positions=settings.n_positions,
                                      count_max_deg=settings.count_max_deg))
    return np.asarray(rows).reshape(idx.size, settings.n_positions + 1)


def pattern_features(pattern: np.ndarray, settings: HandSettings, *,
                     measured: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Peaks of one grid pattern and their HAND features.

    :func:`find_pattern_peaks` with ``settings``, less the peaks below the scan's first
    measured bin + ``settings.scan_edge_deg``.

    Args:
        measured: (12000,) bool, the bins the scan covers (a
            :class:`~xrdsim.measured.prepare.PreparedPattern`'s ``measured``). None: the
            non-zero bins (right for a pattern before background subtraction; a
            subtracted one can be exactly 0 up to its first peak).

    Returns:
        ((m,) degrees 2θ of the peaks kept, (F,) features).
    """
    s = settings
    y = np.asarray(pattern)
    peaks = find_pattern_peaks(y, prominence=s.prominence,
                               min_distance_deg=s.min_distance_deg, smooth_deg=s.smooth_deg,
                               noise_sigmas=s.noise_sigmas, kalpha2_ratio=s.kalpha2_ratio)
    covered = np.flatnonzero(y if measured is None else measured)
    if covered.size and s.scan_edge_deg > 0:
        start = float(bin_centers(covered[0]))
        peaks = peaks[peaks >= start + s.scan_edge_deg]
    return peaks, hand_features(peaks, n_positions=s.n_positions,
                                count_max_deg=s.count_max_deg)
