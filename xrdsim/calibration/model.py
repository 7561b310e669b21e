"""The calibration forward model: a measured pattern of one known phase, vectorised NumPy.

Formulas (degrees 2θ unless stated; they are the simulator's ops of ``docs/simulation.md``
where one exists, so fitted values are config values):

- line position: sinθ = λ / 2d, 1/d² = h·G*′·h with G*′ = E⁻¹ G* E⁻¹, E = diag(1 + ε_a,
  1 + ε_b, 1 + ε_c): the CIF cell's axes stretched by ε (angles kept), axes that the
  symmetry maps onto each other tied (cubic: one ε; tetragonal, hexagonal: a = b);
  2θ_obs = 2θ + δ − (2 s cosθ / R)·180/π — zero shift δ (op ``zero_shift``) and sample
  displacement s (mm) on a goniometer of radius R (mm);
- Kα1 + Kα2: both lines from the same d, intensities I/(1 + r) and I·r/(1 + r) (op
  ``doublet``, r = Kα2/Kα1 ratio); a monochromatic source has the Kα1 (or only) line;
- intensity: I = I_CIF · PO · exp(−2 B_extra (sinθ/λ)²), I_CIF the kinematic line intensity
  of :func:`xrdsim.peaks.lines.compute_peaks` (LP included), PO the March–Dollase mean of
  :mod:`xrdsim.calibration.preferred_orientation`, B_extra an overall Debye–Waller correction (Å²);
- profile (op ``profile``): FWHM² Γ² = U tan²θ + V tanθ + W + P/cos²θ (deg²), with
  u = (2θ − 2θ_obs)/Γ the line contributes I/Γ · [(1−η) G(u) + η L(u)] · (1 − ρ erf(u)),
  G(u) = 2√(ln2/π) exp(−4 ln2 u²), L(u) = (2/π)/(1 + 4u²); ρ > 0 puts the tail on the
  low-angle side. Point values (measured files are sampled, not binned);
- background: Σ_k b_k T_k(t) (Chebyshev, t = 2θ mapped to [−1, 1] over the scan) plus an
  optional Gaussian hump a·exp(−4 ln2 ((2θ − c)/w)²) (amorphous / holder scattering).

The scale, the Chebyshev coefficients and the hump height enter linearly and are solved by
weighted linear least squares for every set of the other parameters (variable projection).
V is fitted as V = q·2√(UW) with q > −1, which keeps Γ² > 0 at every angle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import erf

from xrdsim.calibration.preferred_orientation import march_dollase
from xrdsim.simulation import caglioti

#: Non-linear parameters, in vector order: (name, lower bound, upper bound, start).
PARAMETERS: tuple[tuple[str, float, float, float], ...] = (
    ("zero_shift", -1.0, 1.0, 0.0),  # δ, degrees 2θ
    ("displacement", -1.0, 1.0, 0.0),  # s, mm
    ("strain_a", -0.03, 0.03, 0.0),  # ε_a = Δa/a
    ("strain_b", -0.03, 0.03, 0.0),  # ε_b = Δb/b
    ("strain_c", -0.03, 0.03, 0.0),  # ε_c = Δc/c
    ("U", 0.0, 1.0, 0.0),  # deg²
    ("V_q", -0.98, 20.0, 0.0),  # V = q·2√(UW)
    ("W", 1e-6, 1.0, 0.01),  # deg²
    ("P", 0.0, 1.0, 0.0),  # deg²
    ("eta", 0.0, 1.0, 0.5),
    ("rho", -0.9, 0.9, 0.0),
    ("ratio", 0.0, 0.6, 0.5),  # Kα2/Kα1: 0.5 unfiltered, lower behind a monochromator
    ("b_extra", -3.0, 5.0, 0.0),  # Å²
    ("po_r", 0.2, 5.0, 1.0),  # March coefficient
    ("hump_center", 0.0, 180.0, 20.0),  # degrees 2θ
    ("hump_fwhm", 2.0, 60.0, 10.0),  # degrees 2θ
)
NAMES = tuple(p[0] for p in PARAMETERS)
INDEX = {name: i for i, name in enumerate(NAMES)}

#: Half-width (degrees 2θ) of the window each line is evaluated over, at least; also
#: WINDOW_FWHM × its FWHM. The Lorentzian beyond 12 FWHM is below 0.2 % of the line's top.
WINDOW_DEG = 3.0
WINDOW_FWHM = 12.0
#: ... and at most this (degrees 2θ): very broad lines are cut at ±8°.
WINDOW_MAX_DEG = 8.0
#: Smallest FWHM (degrees) the model evaluates; narrower than any scan step.
MIN_FWHM = 1e-3

_G = 2.0 * np.sqrt(np.log(2.0) / np.pi)
_FOUR_LN2 = 4.0 * np.log(2.0)


@dataclass(frozen=True)
class Setup:
    """Everything fixed during a fit.

    Attributes:
        x: (n,) measured 2θ, degrees, ascending.
        hkl: (m, 3) float, a Miller index triple of each CIF line.
        g_star: (3, 3) reciprocal metric tensor of the CIF cell, Å⁻².
        axis_leader: for each axis, the axis whose strain it takes (symmetry ties).
        intensity: (m,) their intensities (0–100).
        wavelengths: (λ1,) or (λ1, λ2) in Å: one line per reflection, or Kα1 + Kα2.
        radius: goniometer radius R, mm.
        background_degree: highest Chebyshev order.
        hump: whether the Gaussian hump is part of the background.
        po_cos2, po_line: March–Dollase input (cos²α per family member, its line) or None.
    """

    x: np.ndarray
    hkl: np.ndarray
    g_star: np.ndarray
    axis_leader: tuple[int, int, int]
    intensity: np.ndarray
    wavelengths: tuple[float, ...]
    radius: float
    background_degree: int
    hump: bool
    po_cos2: np.ndarray | None = None
    po_line: np.ndarray | None = None

    def chebyshev(self) -> np.ndarray:
        """(n, degree + 1) Chebyshev basis T_k(t) over the scan."""
        t = (2.0 * self.x - (self.x[0] + self.x[-1])) / (self.x[-1] - self.x[0])
        return np.polynomial.chebyshev.chebvander(t, self.background_degree)


def parameter_vector(**values: float) -> np.ndarray:
    """A parameter vector: the start values of :data:`PARAMETERS`, overridden by ``values``
    (names of :data:`NAMES`; ``V`` in deg² is accepted and converted to ``V_q``)."""
    p = np.array([b[3] for b in PARAMETERS])
    v = values.pop("V", None)
    for name, value in values.items():
        p[INDEX[name]] = value
    if v is not None:
        p[INDEX["V_q"]] = v / (2.0 * np.sqrt(p[INDEX["U"]] * p[INDEX["W"]]))
    return p


def caglioti_v(p: np.ndarray) -> float:
    """V (deg²) from the fitted q: V = q·2√(UW)."""
    return float(p[INDEX["V_q"]] * 2.0 * np.sqrt(p[INDEX["U"]] * p[INDEX["W"]]))


def fwhm(p: np.ndarray, two_theta: np.ndarray) -> np.ndarray:
    """Γ = √(U tan²θ + V tanθ + W + P/cos²θ), degrees 2θ."""
    theta = np.deg2rad(np.asarray(two_theta, dtype=np.float64) / 2.0)
    g2 = caglioti.fwhm2(p[INDEX["U"]], caglioti_v(p), p[INDEX["W"]], p[INDEX["P"]],
                        np.tan(theta), np.cos(theta))
    return np.sqrt(np.maximum(g2, MIN_FWHM * MIN_FWHM))


def d_spacings(p: np.ndarray, s: Setup) -> np.ndarray:
    """(m,) d (Å) of the strained cell: 1/d² = h·E⁻¹G*E⁻¹·h."""
    stretch = 1.0 / (1.0 + p[INDEX["strain_a"] + np.asarray(s.axis_leader)])
    g = stretch[:, None] * s.g_star * stretch[None, :]
    return 1.0 / np.sqrt(np.einsum("mi,ij,mj->m", s.hkl, g, s.hkl))


def line_table(p: np.ndarray, s: Setup) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Observed position (deg), FWHM (deg) and intensity of every emitted line.

    Kα1 lines first, then Kα2 lines (when the setup has two wavelengths); lines whose
    sinθ would exceed 1 get intensity 0 and position 180°.
    """
    d = d_spacings(p, s)
    ratio = p[INDEX["ratio"]]
    weights = (1.0,) if len(s.wavelengths) == 1 else (1.0 / (1.0 + ratio), ratio / (1.0 + ratio))
    factor = s.intensity.copy()
    if s.po_cos2 is not None:
        factor *= march_dollase(s.po_cos2, s.po_line, len(d), p[INDEX["po_r"]])
    pos, width, height = [], [], []
    for lam, weight in zip(s.wavelengths, weights, strict=True):
        sin_t = lam / (2.0 * d)
        ok = sin_t < 1.0
        theta = np.arcsin(np.where(ok, sin_t, 1.0))
        two_theta = (np.rad2deg(2.0 * theta) + p[INDEX["zero_shift"]]
                     - np.rad2deg(2.0 * p[INDEX["displacement"]] * np.cos(theta) / s.radius))
        dw = np.exp(-2.0 * p[INDEX["b_extra"]] * (sin_t / lam) ** 2)  # exp(−2B (sinθ/λ)²)
        pos.append(np.where(ok, two_theta, 180.0))
        width.append(fwhm(p, two_theta))
        height.append(np.where(ok, factor * dw * weight, 0.0))
    return np.concatenate(pos), np.concatenate(width), np.concatenate(height)


def instrument_shift(p: np.ndarray, s: Setup, two_theta: float) -> float:
    """δ − (2 s cosθ / R)·180/π at ``two_theta`` (degrees): zero shift plus displacement."""
    theta = np.deg2rad(two_theta / 2.0)
    return float(p[INDEX["zero_shift"]]
                 - np.rad2deg(2.0 * p[INDEX["displacement"]] * np.cos(theta) / s.radius))


def window_pairs(p: np.ndarray, s: Setup) -> tuple[np.ndarray, np.ndarray]:
    """(point index, line index) of every point inside a line's window at parameters p."""
    pos, width, height = line_table(p, s)
    half = np.clip(WINDOW_FWHM * width, WINDOW_DEG, WINDOW_MAX_DEG)
    lo = np.searchsorted(s.x, pos - half)
    hi = np.searchsorted(s.x, pos + half)
    counts = np.where(height > 0.0, hi - lo, 0)
    line = np.repeat(np.arange(len(pos)), counts)
    start = np.repeat(lo - np.cumsum(counts) + counts, counts)
    point = np.arange(int(counts.sum())) + start
    return point, line


def peak_curve(p: np.ndarray, s: Setup, pairs: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """(n,) sum of all line profiles at scale 1 over the points of ``pairs``."""
    pos, width, height = line_table(p, s)
    point, line = pairs
    gamma = width[line]
    u = (s.x[point] - pos[line]) / gamma
    eta, rho = p[INDEX["eta"]], p[INDEX["rho"]]
    u2 = u * u
    shape = (1.0 - eta) * _G * np.exp(-_FOUR_LN2 * u2) + eta * (2.0 / np.pi) / (1.0 + 4.0 * u2)
    values = height[line] / gamma * shape * (1.0 - rho * erf(u))
    return np.bincount(point, weights=values, minlength=len(s.x))


def hump_curve(p: np.ndarray, s: Setup) -> np.ndarray:
    """(n,) unit-height Gaussian hump exp(−4 ln2 ((2θ − c)/w)²)."""
    z = (s.x - p[INDEX["hump_center"]]) / p[INDEX["hump_fwhm"]]
    return np.exp(-_FOUR_LN2 * z * z)


def design(p: np.ndarray, s: Setup, pairs, basis: np.ndarray) -> np.ndarray:
    """(n, k) columns of the linear part: peaks, Chebyshev terms, hump (when on)."""
    columns = [peak_curve(p, s, pairs)[:, None], basis]
    if s.hump:
        columns.append(hump_curve(p, s)[:, None])
    return np.hstack(columns)


def solve_linear(a: np.ndarray, y: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Weighted linear least squares argmin_c Σ w²(y − A c)², by the normal equations on
    unit-norm columns (a handful of well-conditioned columns; SVD would cost 100× more)."""
    aw = a * weight[:, None]
    norm = np.sqrt(np.einsum("ij,ij->j", aw, aw))
    norm[norm == 0.0] = 1.0
    aw /= norm
    gram = aw.T @ aw
    gram[np.diag_indices_from(gram)] += 1e-12
    coef = np.linalg.solve(gram, aw.T @ (y * weight))
    return coef / norm


def rwp(y: np.ndarray, model: np.ndarray, weight: np.ndarray) -> float:
    """Weighted-profile R factor √(Σ w (y − f)² / Σ w y²) with w = weight², in %."""
    w2 = weight * weight
    return float(100.0 * np.sqrt(np.sum(w2 * (y - model) ** 2) / np.sum(w2 * y * y)))
