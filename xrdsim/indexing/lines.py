"""Observed lines of a measured scan: the peak list an indexing starts from.

Steps (:func:`find_lines`):

1. the scan onto an even step (its median step), leading and trailing runs of exact zeros
   (a simulated scan's unmeasured ends) dropped;
2. background: the lower envelope of features narrower than 4 × the strongest peak's FWHM
   (at least 1°), by a morphological opening (:func:`_background`; the FWHM from a first
   net scan under SNIP, :func:`xrdsim.measured.background.estimate_background`);
3. peaks by ``scipy.signal.find_peaks`` on the net scan smoothed by a Gaussian 0.7 × the
   strongest peak's FWHM wide, with a height and a prominence of at least ``noise_sigmas``
   × the local noise σ of the smoothed scan (σ of the raw scan from a running median of
   its absolute second differences) and ``min_intensity`` % of the maximum; at most
   :data:`MAX_LINES`, the highest;
4. for a Kα source (the wavelength is the Kα mean of a known anode and ``monochromatic``
   is off) each peak is a Kα1 + Kα2 doublet, ``2θ₂ = 2·asin((λ₂/λ₁)·sin θ₁)``, with one
   intensity ratio R for the scan: fitted on the strongest peaks whose doublet is split by
   at least :data:`RESOLVED_SPLIT` of their width, else the file's ratio, else 0.5. A found
   peak at the Kα2 position of one at least 1/:data:`KALPHA2_MAX_HEIGHT` times higher is
   that peak's Kα2 and is dropped, as is one at a Kβ1 or W Lα1 position of a peak
   1/:data:`TUBE_LINE_MAX_HEIGHT` times higher (Kβ filters leak, tungsten deposits on
   aged anodes);
5. every peak's position from a least-squares fit of pseudo-Voigt profiles (doublets for
   a Kα source) over its window, neighbours whose windows overlap fitted together, on a
   linear local baseline. Positions are those of Kα1 (or of the single line), so
   ``d = λ₁ / (2 sin θ)``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from xrdsim.errors import PatternReadError
from xrdsim.measured.background import estimate_background
from xrdsim.wavelengths import KALPHA_DOUBLETS, KBETA, TUNGSTEN_LALPHA1, WAVELENGTHS

#: A wavelength within this many Å of an anode's Kα mean is that anode's Kα1 + Kα2 doublet
#: (the file or user value 1.5418 and the tabulated 1.54184 Å are the same line).
KALPHA_MATCH = 2e-3
#: Kα2/Kα1 intensity ratio assumed when the scan shows no split doublet and the file
#: states none (the ratio of an unmonochromated tube, e.g. Cu 0.497).
DEFAULT_KALPHA2_RATIO = 0.5
#: A doublet split by at least this fraction of the peak's FWHM determines the ratio R.
RESOLVED_SPLIT = 0.6
#: Peaks whose fitted R enters the scan's median.
RATIO_PEAKS = 8
#: A peak at another's Kα2 position is its Kα2 when at most this fraction of its height.
KALPHA2_MAX_HEIGHT = 0.8
#: ... at a Kβ1 / W Lα1 position when at most this fraction (filters pass a few %).
TUBE_LINE_MAX_HEIGHT = 0.08
#: Fit window half-width in FWHM each side of a peak (plus its doublet split).
WINDOW_FWHM = 2.0
#: Peaks fitted together at most; a longer run of overlapping windows is cut into runs.
MAX_GROUP = 4
#: Peaks kept at most (the highest): indexing uses the first 20 strong ones.
MAX_LINES = 80
#: Gaussian smoothing before peak detection: its FWHM as a fraction of the strongest
#: peak's (near the matched filter, which maximises a peak's height over the noise).
SMOOTH_FWHM = 0.7
#: Width (degrees) of the running median of the local noise estimate.
NOISE_WINDOW_DEG = 2.0
#: Function evaluations of one group's fit at most.
MAX_NFEV = 60
#: Background window: this many times the FWHM of the strongest peak, at least
#: :data:`MIN_BACKGROUND_DEG` degrees.
BACKGROUND_FWHM = 4.0
MIN_BACKGROUND_DEG = 1.0
#: A scan with fewer points than this has no lines to find.
MIN_POINTS = 50


@dataclasses.dataclass(frozen=True)
class ObservedLines:
    """Lines of one scan, ascending in 2θ.

    Attributes:
        two_theta: (n,) float64 degrees, Kα1 (or single-line) positions as observed (the
            zero shift is the indexing's to find).
        intensity: (n,) float64 fitted peak height above background (Kα1 + Kα2).
        fwhm: (n,) float64 fitted full width at half maximum, degrees.
        sigma: (n,) float64 standard uncertainty of each position from the fit, degrees.
        wavelength: λ of the positions, Å (Kα1 for a Kα source).
        kalpha2_ratio: the Kα2/Kα1 ratio of the fit (0 for a single line).
        kalpha2_wavelength: λ(Kα2), Å, or None for a single line.
        source: the file.
    """

    two_theta: np.ndarray
    intensity: np.ndarray
    fwhm: np.ndarray
    sigma: np.ndarray
    wavelength: float
    kalpha2_ratio: float = 0.0
    kalpha2_wavelength: float | None = None
    source: str = ""

    def __post_init__(self) -> None:
        arrays = {k: np.ascontiguousarray(getattr(self, k), dtype=np.float64)
                  for k in ("two_theta", "intensity", "fwhm", "sigma")}
        n = arrays["two_theta"].shape
        if any(a.ndim != 1 or a.shape != n for a in arrays.values()):
            raise PatternReadError(self.source, "line arrays must be 1-D and of equal length")
        if np.any(np.diff(arrays["two_theta"]) < 0):
            raise PatternReadError(self.source, "line positions must ascend")
        for k, a in arrays.items():
            a.setflags(write=False)
            object.__setattr__(self, k, a)

    def __len__(self) -> int:
        return int(self.two_theta.size)

    @property
    def d(self) -> np.ndarray:
        """(n,) d-spacings, Å (zero shift not removed)."""
        return self.wavelength / (2.0 * np.sin(np.radians(self.two_theta) / 2.0))

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        for k in ("two_theta", "intensity", "fwhm", "sigma"):
            out[k] = np.asarray(out[k]).tolist()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ObservedLines:
        return cls(**data)


def kalpha_doublet(wavelength: float) -> tuple[float, float] | None:
    """(λ(Kα1), λ(Kα2)) when ``wavelength`` is the Kα mean of a known anode, else None."""
    for anode, pair in KALPHA_DOUBLETS.items():
        if abs(wavelength - WAVELENGTHS[f"{anode}Ka"]) <= KALPHA_MATCH:
            return pair
    return None


def _tube_lines(wavelength: float) -> tuple[float, ...]:
    """Kβ1 and W Lα1 wavelengths of the anode whose Kα1 is ``wavelength``."""
    for anode, (k1, _) in KALPHA_DOUBLETS.items():
        if abs(wavelength - k1) <= KALPHA_MATCH:
            return (KBETA[anode], TUNGSTEN_LALPHA1)
    return ()


def _moved(tt: np.ndarray, ratio: float) -> np.ndarray:
    """2θ of the same d at a wavelength ``ratio`` times the original (NaN past 180°)."""
    s = ratio * np.sin(np.radians(tt) / 2.0)
    with np.errstate(invalid="ignore"):
        return np.where(np.abs(s) < 1.0, 2.0 * np.degrees(np.arcsin(np.clip(s, -1, 1))), np.nan)


def pseudo_voigt(x: np.ndarray, center: float, fwhm: float, eta: float) -> np.ndarray:
    """Unit-height pseudo-Voigt: η/(1 + 4u²) + (1 − η)·exp(−4 ln2·u²), u = (x − x₀)/FWHM."""
    u2 = ((x - center) / fwhm) ** 2
    return eta / (1.0 + 4.0 * u2) + (1.0 - eta) * np.exp(-4.0 * math.log(2.0) * u2)


def _prepare(pattern: Any) -> tuple[np.ndarray, np.ndarray]:
    """The scan on an even step, exact-zero ends dropped."""
    x = np.asarray(pattern.two_theta, dtype=np.float64)
    y = np.asarray(pattern.intensity, dtype=np.float64)
    nonzero = np.flatnonzero(y != 0)
    if nonzero.size == 0:
        return x[:0], y[:0]
    x, y = x[nonzero[0]: nonzero[-1] + 1], y[nonzero[0]: nonzero[-1] + 1]
    keep = (x > 0.5) & (x < 179.5)
    x, y = x[keep], y[keep]
    if x.size < MIN_POINTS:
        return x[:0], y[:0]
    step = float(np.median(np.diff(x)))
    grid = x[0] + step * np.arange(int(math.floor((x[-1] - x[0]) / step + 1e-9)) + 1)
    return grid, np.interp(grid, x, y)


def _background(y: np.ndarray, points: float) -> np.ndarray:
    """Lower envelope of features narrower than ``points``: a morphological opening
    (running minimum, then running maximum, over ``points``) of the scan smoothed over a
    tenth of that, then a running mean over ``points``; never above the smoothed scan.

    Unlike SNIP, which erodes a broad concave hump pass after pass (an amorphous hump or a
    sample holder's scatter at low angle), the opening keeps every feature wider than
    its window and removes every narrower one.
    """
    from scipy.ndimage import grey_opening, uniform_filter1d

    size = max(3, int(round(points)) | 1)
    smooth = uniform_filter1d(y, size=max(1, size // 10) | 1, mode="nearest")
    floor = grey_opening(smooth, size=size, mode="nearest")
    return np.minimum(uniform_filter1d(floor, size=size, mode="nearest"), smooth)


def _noise(y: np.ndarray, points: int) -> np.ndarray:
    """(n,) local σ of the counting noise: 1.4826 × the running median (over ``points``) of
    |y_i − (y_{i−1} + y_{i+1})/2|, divided by √1.5 (the σ of that difference for white
    noise). Local, because counting noise grows with the counts: a hump or a high
    background is noisier than the tail of the scan."""
    from scipy.ndimage import median_filter

    second = np.abs(y[1:-1] - 0.5 * (y[:-2] + y[2:]))
    second = np.concatenate([second[:1], second, second[-1:]])
    return 1.4826 * median_filter(second, size=max(3, points), mode="nearest") / math.sqrt(1.5)


def _smooth(y: np.ndarray, sigma_points: float) -> tuple[np.ndarray, float]:
    """Gaussian smoothing (σ in points) and its white-noise gain √Σw² ≈ (2√π σ)^(−1/2)."""
    from scipy.ndimage import gaussian_filter1d

    if sigma_points < 0.5:
        return y, 1.0
    return (gaussian_filter1d(y, sigma_points, mode="nearest"),
            1.0 / math.sqrt(2.0 * math.sqrt(math.pi) * sigma_points))


def _strongest_fwhm(x: np.ndarray, net: np.ndarray, step: float) -> float:
    from scipy.signal import peak_widths

    lightly, _ = _smooth(net, 1.0)
    top = int(np.argmax(lightly))
    width = float(peak_widths(lightly, [top], rel_height=0.5)[0][0]) * step
    return float(np.clip(width, 2.0 * step, 3.0))


def find_lines(pattern: Any, *, min_intensity: float = 0.5, noise_sigmas: float = 5.0,
               monochromatic: bool = False) -> ObservedLines:
    """Observed lines of a measured pattern (:class:`xrdsim.measured.readers.MeasuredPattern`).

    Args:
        pattern: the scan; its ``wavelength`` must be known.
        min_intensity: peaks below this % of the strongest are ignored.
        noise_sigmas: peaks must stand this many noise σ above their surroundings.
        monochromatic: one line per reflection even at a Kα wavelength.

    Raises:
        PatternReadError: the pattern states no wavelength.
    """
    src = str(getattr(pattern, "source", ""))
    if pattern.wavelength is None:
        raise PatternReadError(src, "indexing needs the wavelength: pass it, e.g. "
                                    "--wavelength CuKa (or 1.5406 for Å)")
    wavelength = float(pattern.wavelength)
    doublet = None if monochromatic else kalpha_doublet(wavelength)
    lam1 = doublet[0] if doublet else wavelength
    empty = ObservedLines(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0), wavelength=lam1,
                          source=src)
    x, y = _prepare(pattern)
    if x.size == 0:
        return empty
    step = float(x[1] - x[0])
    rough = y - estimate_background(x, y, method="snip", width_deg=1.0)
    fwhm0 = _strongest_fwhm(x, rough, step)
    net = y - _background(y, max(MIN_BACKGROUND_DEG, BACKGROUND_FWHM * fwhm0) / step)
    sigma = np.maximum(_noise(y, int(round(NOISE_WINDOW_DEG / step))),
                       1e-6 * float(np.max(np.abs(net))))
    smooth, gain = _smooth(net, SMOOTH_FWHM * fwhm0 / (2.0 * math.sqrt(2.0 * math.log(2.0)))
                           / step)
    top = float(smooth.max())
    if not top > 0:
        return empty
    from scipy.signal import find_peaks

    threshold = np.maximum(noise_sigmas * sigma * gain, min_intensity / 100.0 * top)
    idx, _ = find_peaks(smooth, height=threshold, prominence=threshold)
    idx = np.sort(idx[np.argsort(-smooth[idx], kind="stable")[:MAX_LINES]])
    if idx.size == 0:
        return empty
    centers, heights = x[idx], smooth[idx]
    ratio2 = doublet[1] / doublet[0] if doublet else None
    centers, heights = _drop_satellites(centers, heights, ratio2, lam1, fwhm0)
    fit_ratio = 0.0
    if doublet:
        meta = getattr(pattern, "metadata", {}) or {}
        stated = meta.get("kalpha2_kalpha1_ratio", meta.get("ratio"))
        fit_ratio = _doublet_ratio(x, net, centers, heights, fwhm0, ratio2,
                                   DEFAULT_KALPHA2_RATIO if stated is None else float(stated))
    pos, height, width, unc = _fit_all(x, net, centers, heights, fwhm0, ratio2, fit_ratio)
    keep = np.isfinite(pos) & (height >= min_intensity / 100.0 * max(top, height.max(initial=0)))
    order = np.argsort(pos[keep], kind="stable")
    return ObservedLines(two_theta=pos[keep][order], intensity=height[keep][order],
                         fwhm=width[keep][order], sigma=unc[keep][order], wavelength=lam1,
                         kalpha2_ratio=fit_ratio,
                         kalpha2_wavelength=doublet[1] if doublet else None, source=src)


def _drop_satellites(centers: np.ndarray, heights: np.ndarray, ratio2: float | None,
                     lam1: float, fwhm: float) -> tuple[np.ndarray, np.ndarray]:
    """Drop peaks that are the Kα2, Kβ1 or W Lα1 satellites of stronger peaks."""
    if centers.size < 2:
        return centers, heights
    tol = max(0.03, 0.3 * fwhm)
    drop = np.zeros(centers.size, bool)
    rules = [(ratio2, KALPHA2_MAX_HEIGHT)] if ratio2 else []
    rules += [(lam / lam1, TUBE_LINE_MAX_HEIGHT) for lam in _tube_lines(lam1)] if ratio2 else []
    for ratio, max_height in rules:
        at = _moved(centers, ratio)  # where each peak's satellite falls
        near = np.abs(centers[None, :] - at[:, None]) <= tol  # near[i, j]: j at i's satellite
        weaker = heights[None, :] <= max_height * heights[:, None]
        drop |= np.any(near & weaker, axis=0)
    return centers[~drop], heights[~drop]


def _pv_parts(x: np.ndarray, center: np.ndarray, fwhm: np.ndarray, eta: float
              ) -> tuple[np.ndarray, ...]:
    """(k, m) unit pseudo-Voigts of k peaks at m points and their derivatives with respect
    to centre, FWHM and η: with u = (x − x₀)/w, L = 1/(1 + 4u²), G = exp(−4 ln2·u²),
    pV = ηL + (1 − η)G, ∂pV/∂u = −8u·(ηL² + (1 − η)·ln2·G), ∂u/∂x₀ = −1/w, ∂u/∂w = −u/w."""
    w = fwhm[:, None]
    u = (x[None, :] - center[:, None]) / w
    lor = 1.0 / (1.0 + 4.0 * u * u)
    gau = np.exp(-4.0 * math.log(2.0) * u * u)
    dpdu = -8.0 * u * (eta * lor * lor + (1.0 - eta) * math.log(2.0) * gau)
    return eta * lor + (1.0 - eta) * gau, -dpdu / w, -dpdu * u / w, lor - gau


def _model(p: np.ndarray, x: np.ndarray, k: int, mid: float, ratio2: float | None, r: float,
           fit_ratio: bool) -> tuple[np.ndarray, np.ndarray]:
    """The group's model at ``x`` and its (m, n_params) Jacobian (parameters as in
    :func:`_fit_group`): Σ_j h_j·(pV(x; c_j) + R·pV(x; c₂(c_j))) + c0 + c1·(x − mid), with
    c₂ the Kα2 position of c_j (dc₂/dc = ratio·cos(c/2)/cos(c₂/2))."""
    c, h, w = p[0: 3 * k: 3], p[1: 3 * k: 3], p[2: 3 * k: 3]
    eta = float(p[3 * k])
    rr = float(p[3 * k + 3]) if fit_ratio else r
    jac = np.zeros((x.size, p.size))
    one, d_c, d_w, d_eta = _pv_parts(x, c, w, eta)
    if ratio2 and rr > 0:
        c2 = _moved(c, ratio2)
        ok = np.isfinite(c2)
        two, d_c2, d_w2, d_eta2 = (a * ok[:, None] for a in
                                   _pv_parts(x, np.where(ok, c2, 0.0), w, eta))
        slope = np.where(ok, ratio2 * np.cos(np.radians(c) / 2.0)
                         / np.cos(np.radians(np.where(ok, c2, 0.0)) / 2.0), 0.0)
        shape = one + rr * two
        d_c = d_c + rr * slope[:, None] * d_c2
        d_w = d_w + rr * d_w2
        d_eta = d_eta + rr * d_eta2
        if fit_ratio:
            jac[:, 3 * k + 3] = h @ two
    else:
        shape = one
    jac[:, 0: 3 * k: 3] = (h[:, None] * d_c).T
    jac[:, 1: 3 * k: 3] = shape.T
    jac[:, 2: 3 * k: 3] = (h[:, None] * d_w).T
    jac[:, 3 * k] = h @ d_eta
    jac[:, 3 * k + 1] = 1.0
    jac[:, 3 * k + 2] = x - mid
    return h @ shape + p[3 * k + 1] + p[3 * k + 2] * (x - mid), jac


def _fit_group(x: np.ndarray, y: np.ndarray, centers: np.ndarray, heights: np.ndarray,
               fwhm: float, ratio2: float | None, r: float, *, fit_ratio: bool = False):
    """Least-squares fit of a group of peaks on a linear baseline.

    Parameters: per peak (center, height, fwhm), then η, baseline c0, c1 and, with
    ``fit_ratio``, the Kα2 ratio. Returns (centers, heights, fwhms, σ of centers, ratio).
    """
    from scipy.optimize import least_squares

    k = centers.size
    mid = float(x.mean())
    x0 = np.concatenate([np.column_stack([centers, heights / (1 + r), np.full(k, fwhm)]).ravel(),
                         [0.5, 0.0, 0.0], [r] if fit_ratio else []])
    lo = np.concatenate([np.column_stack([centers - 0.6 * fwhm, np.zeros(k),
                                          np.full(k, 0.2 * fwhm)]).ravel(),
                         [0.0, -np.inf, -np.inf], [0.0] if fit_ratio else []])
    hi = np.concatenate([np.column_stack([centers + 0.6 * fwhm, np.full(k, np.inf),
                                          np.full(k, 5.0 * fwhm)]).ravel(),
                         [1.0, np.inf, np.inf], [1.0] if fit_ratio else []])
    x0 = np.clip(x0, lo, hi)

    last: dict[str, Any] = {}

    def evaluated(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Model and Jacobian at p, once per p (least_squares asks for each separately)."""
        if last.get("p") is None or not np.array_equal(last["p"], p):
            last["p"], last["out"] = p.copy(), _model(p, x, k, mid, ratio2, r, fit_ratio)
        return last["out"]

    fit = least_squares(lambda p: evaluated(p)[0] - y, x0, jac=lambda p: evaluated(p)[1],
                        bounds=(lo, hi), method="trf", max_nfev=MAX_NFEV)
    p = fit.x
    dof = max(x.size - p.size, 1)
    try:
        cov = np.linalg.inv(fit.jac.T @ fit.jac) * (2.0 * fit.cost / dof)
        unc = np.sqrt(np.clip(np.diag(cov)[0: 3 * k: 3], 0.0, None))
    except np.linalg.LinAlgError:
        unc = np.full(k, np.nan)
    rr = float(p[3 * k + 3]) if fit_ratio else r
    return p[0: 3 * k: 3], p[1: 3 * k: 3] * (1 + rr), p[2: 3 * k: 3], unc, rr


def _groups(centers: np.ndarray, fwhm: float, split: np.ndarray) -> list[np.ndarray]:
    """Indices of peaks whose fit windows overlap, in runs of at most :data:`MAX_GROUP`."""
    lo = centers - WINDOW_FWHM * fwhm
    hi = centers + WINDOW_FWHM * fwhm + split
    out, current = [], [0]
    for i in range(1, centers.size):
        if lo[i] <= hi[current[-1]] and len(current) < MAX_GROUP:
            current.append(i)
        else:
            out.append(np.array(current))
            current = [i]
    out.append(np.array(current))
    return out


def _split(centers: np.ndarray, ratio2: float | None) -> np.ndarray:
    if not ratio2:
        return np.zeros(centers.size)
    return np.nan_to_num(_moved(centers, ratio2) - centers, nan=0.0)


def _window(x: np.ndarray, centers: np.ndarray, fwhm: float, split: np.ndarray) -> np.ndarray:
    return (x >= centers.min() - WINDOW_FWHM * fwhm) & (x <= (centers + split).max()
                                                        + WINDOW_FWHM * fwhm)


def _doublet_ratio(x: np.ndarray, net: np.ndarray, centers: np.ndarray, heights: np.ndarray,
                   fwhm: float, ratio2: float, fallback: float) -> float:
    """Median Kα2/Kα1 ratio fitted on the strongest isolated, split peaks; else ``fallback``."""
    split = _split(centers, ratio2)
    candidates = [g for g in _groups(centers, fwhm, split)
                  if g.size == 1 and split[g[0]] >= RESOLVED_SPLIT * fwhm]
    candidates.sort(key=lambda g: -heights[g[0]])
    ratios = []
    for g in candidates[:RATIO_PEAKS]:
        w = _window(x, centers[g], fwhm, split[g])
        *_, r = _fit_group(x[w], net[w], centers[g], heights[g], fwhm, ratio2, fallback,
                           fit_ratio=True)
        ratios.append(r)
    return float(np.median(ratios)) if len(ratios) >= 2 else fallback


def _fit_all(x, net, centers, heights, fwhm, ratio2, r):
    split = _split(centers, ratio2)
    pos, height, width, unc = (np.full(centers.size, np.nan) for _ in range(4))
    for g in _groups(centers, fwhm, split):
        w = _window(x, centers[g], fwhm, split[g])
        if np.count_nonzero(w) < 3 * g.size + 4:
            pos[g], height[g], width[g], unc[g] = centers[g], heights[g], fwhm, fwhm / 4
            continue
        pos[g], height[g], width[g], unc[g], _ = _fit_group(x[w], net[w], centers[g],
                                                            heights[g], fwhm, ratio2, r)
    return pos, height, width, np.where(np.isfinite(unc), unc, fwhm / 4)
