"""Least-squares calibration of an instrument on a measured pattern of a known phase.

:func:`calibrate` fits the forward model of :mod:`xrdsim.calibration.model` to a
:class:`~xrdsim.measured.readers.MeasuredPattern` with :func:`scipy.optimize.least_squares`
in stages, each starting where the previous one ended:

1. **positions**: a grid search of zero shift δ (±0.5°, 0.01° steps) × cell strain ε
   (±1 %, 0.05 % steps) maximising Σ I_k·y(2θ_k) over the background-subtracted data, then
   δ, ε and W fitted (U = V = P = 0, η = 0.5);
2. **instrument**: every parameter but the preferred orientation;
3. **preferred orientation**: the March coefficient r fitted (with B_extra) for every
   symmetry-distinct low-index direction; the best is kept if it lowers Rwp by
   :data:`PO_MIN_GAIN` or more;
4. **final**: every parameter together.

Weights are 1/σ with σ from the file, else σ² = max(y, 1 % of the median): Poisson
statistics for counts (Rwp does not depend on the overall scale of the weights).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy.optimize import least_squares

from xrdsim.calibration import model as fm
from xrdsim.calibration.preferred_orientation import (
    cos2_angles,
    distinct_directions,
    point_rotations,
    reflection_families,
    tied_axes,
)
from xrdsim.calibration.summary import b_extra_note, bernstein_levels, fitted_lattice, noise_level
from xrdsim.errors import CalibrationError, ConfigError
from xrdsim.measured.background import estimate_background
from xrdsim.peaks.lines import compute_peaks
from xrdsim.wavelengths import KALPHA_DOUBLETS

#: |λ − λ_Kα(mean or 1)| below which a wavelength is read as that anode's Kα1 + Kα2 (Å).
ANODE_TOL = 5e-4
#: Relative Rwp gain a preferred-orientation direction must bring to be kept.
PO_MIN_GAIN = 0.02
#: Kα2/Kα1 intensity ratio of an unfiltered tube (≈ 0.5 for every anode), used when the
#: doublet is not resolved.
NATURAL_RATIO = 0.5
#: The doublet counts as resolved when its splitting at the scan end is at least this
#: fraction of the FWHM there.
RESOLVED_FRACTION = 0.5
#: March coefficients scanned per direction before the fit of r.
PO_SCAN = (0.4, 0.55, 0.7, 0.85, 1.0, 1.2, 1.45, 1.8, 2.5)
#: A fit above this Rwp (%) is refused: the phase or the wavelength does not match.
MAX_RWP = 60.0
#: Lines computed up to this far beyond the scan end (degrees 2θ), for shifts and tails.
LINE_MARGIN = 5.0
#: Function evaluations allowed per stage.
MAX_NFEV = 400


@dataclass(frozen=True)
class CalibrationSettings:
    """Options of :func:`calibrate`.

    Attributes:
        radius: goniometer radius R in mm (sample displacement Δ2θ = −2s·cosθ/R).
        fix_cell: keep the CIF cell (ε = 0), as for a certified standard (LaB6, Si).
        displacement: fit the sample displacement s. None (default): only with ``fix_cell``;
            with a free cell the shifts δ, −2s·cosθ/R and −2ε·tanθ are nearly collinear
            over a lab scan (MnO, 10–100°: δ = −0.48°, s = −1 mm when all three are free),
            so s stays 0 and δ, ε absorb it.
        hump: fit a Gaussian amorphous hump in the background.
        monochromatic: one line per reflection even when λ is a Kα wavelength.
        background_degree: highest Chebyshev order of the background.
        preferred_orientation: try March–Dollase along the low-index directions.
    """

    radius: float = 240.0
    fix_cell: bool = False
    displacement: bool | None = None
    hump: bool = True
    monochromatic: bool = False
    background_degree: int = 6
    preferred_orientation: bool = True

    def __post_init__(self) -> None:
        if not self.radius > 0:
            raise ConfigError(f"radius must be a positive number of mm, got {self.radius!r}")
        if not 0 <= int(self.background_degree) <= 20:
            raise ConfigError(f"background_degree must be 0–20, got {self.background_degree!r}")


@dataclass(frozen=True)
class CalibrationResult:
    """A fitted instrument. ``values`` holds the numbers (see :meth:`to_dict`); the arrays
    are the data and the fit on the measured points, for plots."""

    source: str
    cif: str
    values: dict[str, Any]
    two_theta: np.ndarray = field(repr=False)
    measured: np.ndarray = field(repr=False)
    fitted: np.ndarray = field(repr=False)
    background: np.ndarray = field(repr=False)
    line_positions: np.ndarray = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "cif": self.cif, **self.values}


def source_lines(wavelength: float, *, monochromatic: bool) -> tuple[tuple[float, ...], str | None]:
    """((λ1,) or (λ_Kα1, λ_Kα2), anode or None) for a pattern's wavelength.

    A wavelength within :data:`ANODE_TOL` of an anode's Kα mean or Kα1 is that anode's
    doublet, unless ``monochromatic``; any other is a single line.
    """
    for anode, (k1, k2) in KALPHA_DOUBLETS.items():
        mean = (2.0 * k1 + k2) / 3.0
        if min(abs(wavelength - mean), abs(wavelength - k1)) < ANODE_TOL:
            return ((k1,) if monochromatic else (k1, k2)), anode
    return (float(wavelength),), None


def _weights(pattern) -> np.ndarray:
    if pattern.sigma is not None and np.all(pattern.sigma > 0):
        return 1.0 / np.asarray(pattern.sigma, dtype=np.float64)
    y = np.asarray(pattern.intensity, dtype=np.float64)
    floor = 0.01 * max(float(np.median(np.abs(y))), 1e-12)
    return 1.0 / np.sqrt(np.maximum(y, floor))


class _Problem:
    """One fit: the setup, data, weights, the current parameters and which are free."""

    def __init__(self, setup: fm.Setup, y: np.ndarray, weight: np.ndarray, p: np.ndarray):
        self.setup, self.y, self.weight, self.p = setup, y, weight, p.copy()
        self.basis = setup.chebyshev()
        self.lower = np.array([b[1] for b in fm.PARAMETERS])
        self.upper = np.array([b[2] for b in fm.PARAMETERS])
        self.lower[fm.INDEX["hump_center"]] = setup.x[0]
        self.upper[fm.INDEX["hump_center"]] = setup.x[-1]
        self.nfev = 0

    def full(self, free: list[int], values: np.ndarray) -> np.ndarray:
        p = self.p.copy()
        p[free] = values
        first = fm.INDEX["strain_a"]
        p[first:first + 3] = p[first + np.asarray(self.setup.axis_leader)]  # tied axes
        return p

    def model(self, p: np.ndarray, pairs) -> tuple[np.ndarray, np.ndarray]:
        a = fm.design(p, self.setup, pairs, self.basis)
        coef = fm.solve_linear(a, self.y, self.weight)
        return a @ coef, coef

    def fit(self, names: list[str], *, max_nfev: int | None = None) -> Any:
        free = [fm.INDEX[n] for n in names]
        pairs = fm.window_pairs(self.p, self.setup)

        def residual(values: np.ndarray) -> np.ndarray:
            model, _ = self.model(self.full(free, values), pairs)
            return self.weight * (self.y - model)

        start = np.clip(self.p[free], self.lower[free], self.upper[free])
        out = least_squares(residual, start, bounds=(self.lower[free], self.upper[free]),
                            x_scale="jac", max_nfev=max_nfev or MAX_NFEV, xtol=1e-7,
                            ftol=1e-7)
        self.nfev += int(out.nfev)
        self.p = self.full(free, out.x)
        return out

    def rwp(self) -> float:
        model, _ = self.model(self.p, fm.window_pairs(self.p, self.setup))
        return fm.rwp(self.y, model, self.weight)


def _grid_start(setup: fm.Setup, y: np.ndarray, background: np.ndarray, *, fix_cell: bool,
                p: np.ndarray) -> tuple[float, float]:
    """(δ, ε) maximising Σ I_k·(y − background)(2θ_k) over a grid (Kα1 positions)."""
    net = np.convolve(y - background, np.ones(5) / 5.0, mode="same")
    strains = np.zeros(1) if fix_cell else np.linspace(-0.01, 0.01, 41)
    zeros = np.linspace(-0.5, 0.5, 101)
    d = fm.d_spacings(p, setup)
    sin_t = setup.wavelengths[0] / (2.0 * d[None, :] * (1.0 + strains[:, None]))
    two_theta = np.rad2deg(2.0 * np.arcsin(np.minimum(sin_t, 1.0)))  # (n_strain, n_lines)
    pos = two_theta[:, None, :] + zeros[None, :, None]
    score = (np.interp(pos, setup.x, net, left=0.0, right=0.0) * setup.intensity).sum(axis=2)
    i, j = np.unravel_index(int(np.argmax(score)), score.shape)
    return float(zeros[j]), float(strains[i])


def _doublet_resolved(problem: _Problem) -> bool:
    """Whether the Kα1–Kα2 splitting reaches :data:`RESOLVED_FRACTION` of the FWHM at the
    end of the scan (where it is largest: Δ2θ ≈ 2 tanθ·Δλ/λ)."""
    k1, k2 = problem.setup.wavelengths
    end = problem.setup.x[-1]
    theta = np.deg2rad(end / 2.0)
    split = np.rad2deg(2.0 * (np.arcsin(min(k2 / k1 * np.sin(theta), 1.0)) - theta))
    return bool(split >= RESOLVED_FRACTION * fm.fwhm(problem.p, np.array([end]))[0])


def make_setup(structure, x: np.ndarray, *, wavelengths: tuple[float, ...],
               settings: CalibrationSettings, source: str = "pattern",
               cif: str = "structure") -> tuple[fm.Setup, Any, np.ndarray]:
    """(:class:`~xrdsim.calibration.model.Setup`, the CIF's PeakList at λ1, the rotations)
    for a scan ``x`` (degrees 2θ, ascending) of ``structure``.

    Raises:
        CalibrationError: no Bragg line of the structure inside the scan.
    """
    peaks = compute_peaks(structure, wavelength=wavelengths[0],
                          two_theta_range=(0.0, min(180.0, x[-1] + LINE_MARGIN)))
    if len(peaks) == 0 or peaks.two_theta[-1] < x[0]:
        raise CalibrationError(source, f"{cif} has no Bragg line inside the scan "
                               f"{x[0]:.2f}–{x[-1]:.2f}° at λ = {wavelengths[0]} Å; check the "
                               "CIF and the wavelength (read_pattern(wavelength=...), CLI "
                               "--wavelength)")
    rotations = point_rotations(structure, source=cif)
    lattice = np.asarray(structure.lattice.matrix, dtype=np.float64)
    setup = fm.Setup(x=np.asarray(x, dtype=np.float64), hkl=peaks.hkl.astype(np.float64),
                     g_star=np.linalg.inv(lattice @ lattice.T),
                     axis_leader=tied_axes(rotations), intensity=peaks.intensity,
                     wavelengths=wavelengths, radius=settings.radius,
                     background_degree=settings.background_degree, hump=settings.hump)
    return setup, peaks, rotations


def calibrate(pattern, structure, *, settings: CalibrationSettings | None = None,
              cif: str = "structure") -> CalibrationResult:
    """Fit scale, zero shift, displacement, cell strain, U V W P, η, ρ, Kα2 ratio, B_extra,
    March–Dollase r, background (+ hump) and the noise level to a measured pattern.

    Args:
        pattern: a :class:`~xrdsim.measured.readers.MeasuredPattern` with its wavelength.
        structure: the pymatgen structure of the phase (from the CIF).
        settings: :class:`CalibrationSettings` (defaults when None).
        cif: the CIF's name for messages and the result.

    Returns:
        :class:`CalibrationResult`.

    Raises:
        CalibrationError: no wavelength, no Bragg line in the scan, no convergence, or an
            Rwp above :data:`MAX_RWP` (wrong phase or wavelength).
    """
    settings = settings or CalibrationSettings()
    started, cpu = time.perf_counter(), time.process_time()
    src = str(pattern.source)
    if pattern.wavelength is None:
        raise CalibrationError(src, "the pattern has no wavelength; read it with "
                               "read_pattern(path, wavelength='CuKa') or 1.5406 for Å (CLI "
                               "--wavelength)")
    x = np.asarray(pattern.two_theta, dtype=np.float64)
    y = np.asarray(pattern.intensity, dtype=np.float64)
    wavelengths, anode = source_lines(float(pattern.wavelength),
                                      monochromatic=settings.monochromatic)
    setup, peaks, rotations = make_setup(structure, x, wavelengths=wavelengths,
                                         settings=settings, source=src, cif=cif)
    lattice = np.asarray(structure.lattice.matrix, dtype=np.float64)
    leader = setup.axis_leader
    weight = _weights(pattern)
    p = np.array([b[3] for b in fm.PARAMETERS])
    if len(wavelengths) == 1:
        p[fm.INDEX["ratio"]] = 0.0
    snip = estimate_background(x, y, method="snip")
    if settings.hump:
        excess = snip - np.linspace(snip[0], snip[-1], len(x))
        p[fm.INDEX["hump_center"]] = float(x[int(np.argmax(excess))])
    strain = fm.INDEX["strain_a"]
    p[fm.INDEX["zero_shift"]], p[strain] = _grid_start(setup, y, snip,
                                                        fix_cell=settings.fix_cell, p=p)
    p[strain + 1] = p[strain + 2] = p[strain]
    strains = [] if settings.fix_cell else [f"strain_{'abc'[i]}" for i in sorted(set(leader))]
    problem = _Problem(setup, y, weight, p)

    base = ["zero_shift", "U", "V_q", "W", "P", "eta", "rho", "b_extra"]
    base += strains
    if settings.displacement or (settings.displacement is None and settings.fix_cell):
        base.append("displacement")
    if len(wavelengths) == 2:
        base.append("ratio")
    if settings.hump:
        base += ["hump_center", "hump_fwhm"]
    problem.fit(["zero_shift", "W"] + strains)
    problem.fit(base)
    if "ratio" in base and not _doublet_resolved(problem):
        base.remove("ratio")  # an unresolved doublet only broadens: its ratio is not measured
        problem.p[fm.INDEX["ratio"]] = NATURAL_RATIO
        problem.fit(base)
    direction = None
    if settings.preferred_orientation:
        direction = _choose_orientation(problem, rotations, lattice, peaks.hkl)
    final = problem.fit(base + (["po_r"] if direction is not None else []))
    if final.status == 0:
        raise CalibrationError(src, f"the fit against {cif} did not converge in {MAX_NFEV} "
                               "evaluations; check that the CIF is the measured phase and the "
                               "wavelength is right, or try CalibrationSettings(hump=False) / "
                               "(fix_cell=True) (CLI --no-hump / --fix-cell)")
    return _result(problem, settings, pattern, cif, anode, direction, structure, base,
                   (time.perf_counter() - started, time.process_time() - cpu))


def _choose_orientation(problem: _Problem, rotations: np.ndarray, lattice: np.ndarray,
                        hkl: np.ndarray) -> tuple[int, int, int] | None:
    """Try March–Dollase along each distinct low-index direction; keep the best if it helps."""
    members, line = reflection_families(hkl, rotations)
    plain_setup, plain_p, plain_rwp = problem.setup, problem.p.copy(), problem.rwp()
    best = (plain_rwp, None, plain_setup, plain_p)
    for direction in distinct_directions(rotations):
        problem.setup = replace(plain_setup, po_cos2=cos2_angles(members, direction, lattice),
                                po_line=line)
        problem.p = plain_p.copy()
        scan = []
        for r in PO_SCAN:  # coarse scan first: the fit alone stalls near r = 1
            problem.p[fm.INDEX["po_r"]] = r
            scan.append(problem.rwp())
        problem.p[fm.INDEX["po_r"]] = PO_SCAN[int(np.argmin(scan))]
        problem.fit(["po_r", "b_extra"])
        value = problem.rwp()
        if value < best[0]:
            best = (value, direction, problem.setup, problem.p.copy())
    if best[1] is None or best[0] > (1.0 - PO_MIN_GAIN) * plain_rwp:
        problem.setup, problem.p = plain_setup, plain_p
        return None
    problem.setup, problem.p = best[2], best[3]
    return best[1]


def _result(problem: _Problem, settings: CalibrationSettings, pattern, cif: str,
            anode: str | None, direction, structure, free: list[str],
            seconds: tuple[float, float]) -> CalibrationResult:
    s, p, x, y = problem.setup, problem.p, problem.setup.x, problem.y
    pairs = fm.window_pairs(p, s)
    fitted, coef = problem.model(p, pairs)
    peaks_only = coef[0] * fm.peak_curve(p, s, pairs)
    background = fitted - peaks_only
    peak_max = float(peaks_only.max())
    src = str(pattern.source)
    if not (coef[0] > 0 and peak_max > 0):
        raise CalibrationError(src, f"no peak of {cif} found in the pattern (fitted scale "
                               f"{coef[0]:.3g}): the CIF is probably not the measured phase, "
                               "or the pattern's wavelength is wrong (CLI --wavelength)")
    value = fm.rwp(y, fitted, problem.weight)
    if value > MAX_RWP:
        raise CalibrationError(src, f"the best fit against {cif} has Rwp = {value:.1f} % "
                               f"(> {MAX_RWP:.0f} %): the CIF is probably not the measured phase, "
                               "or the pattern's wavelength is wrong (CLI --wavelength)")
    n_free = len(fm.NAMES) + coef.size
    w2 = problem.weight**2
    rexp = float(100.0 * np.sqrt(max(len(y) - n_free, 1) / np.sum(w2 * y * y)))
    grid = np.linspace(x[0], x[-1], 200)
    widths = fm.fwhm(p, grid)
    named = {n: float(p[i]) for i, n in enumerate(fm.NAMES) if n != "V_q"}
    named["V"] = fm.caglioti_v(p)
    if direction is None:
        named["po_r"] = 1.0
    hump = None
    if s.hump:
        hump = {"center": named["hump_center"], "fwhm": named["hump_fwhm"],
                "height_relative": float(coef[-1] / peak_max)}
    for key in ("hump_center", "hump_fwhm"):
        named.pop(key)
    if len(s.wavelengths) == 1:
        named.pop("ratio")
    values = {
        "wavelength": float(pattern.wavelength), "anode": anode,
        "lines": "Kα1+Kα2" if len(s.wavelengths) == 2 else "single",
        "line_wavelengths": list(s.wavelengths), "radius_mm": settings.radius,
        "two_theta_range": [float(x[0]), float(x[-1])], "n_points": int(len(x)),
        "n_lines": int(len(s.hkl)),
        "lattice_fitted": fitted_lattice(structure, p), "rwp": value, "rexp": rexp,
        "parameters": named,
        "preferred_direction": None if direction is None else list(direction),
        "fwhm_range": [float(widths.min()), float(widths.max())],
        "fwhm_at": {f"{t:g}": float(fm.fwhm(p, np.array([t]))[0])
                    for t in (20.0, 40.0, 60.0, 80.0)},
        "shift_at": {f"{t:g}": fm.instrument_shift(p, s, t) for t in (20.0, 40.0, 60.0, 80.0)},
        "scale": float(coef[0]), "peak_max": peak_max,
        "background": {"chebyshev": [float(c) for c in coef[1:1 + problem.basis.shape[1]]],
                       "bernstein_relative": bernstein_levels(x, background / peak_max),
                       "relative_range": [float(background.min() / peak_max),
                                          float(background.max() / peak_max)],
                       "hump": hump},
        "noise": noise_level(y, fitted, peak_max, background),
        "b_extra_note": b_extra_note(structure, named["b_extra"]),
        "settings": {"fix_cell": settings.fix_cell, "displacement": "displacement" in free,
                     "ratio_fitted": "ratio" in free,
                     "hump": settings.hump,
                     "monochromatic": settings.monochromatic,
                     "background_degree": settings.background_degree,
                     "preferred_orientation": settings.preferred_orientation},
        "n_function_evaluations": problem.nfev, "seconds": seconds[0],
        "cpu_seconds": seconds[1],
        "formula": structure.composition.reduced_formula,
    }
    pos, _, height = fm.line_table(p, s)
    keep = (height > 0) & (pos >= x[0]) & (pos <= x[-1])
    return CalibrationResult(src, cif, values, x, y, fitted, background, pos[keep])
