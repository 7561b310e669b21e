"""Kinematic X-ray powder line lists (Bragg peaks) of crystal structures.

:func:`compute_peaks` turns a pymatgen ``Structure`` into a :class:`PeakList`: every
reciprocal-lattice point inside the 2θ range, its structure factor with tabulated atomic
form factors (Waasmaier–Kirfel f0 of atoms and ions, Chantler f′ and f″), occupancies and
isotropic or anisotropic Debye–Waller factors, the Lorentz–polarisation
factor, and equal-2θ reflections merged into lines with a multiplicity. The physics runs
in the numba kernels of :mod:`xrdsim.peaks.bragg_kernel`; this module validates input and
has :mod:`xrdsim.peaks.scatterers` convert the structure to arrays once. Formulas and
the comparison with pymatgen's ``XRDCalculator`` are in ``docs/peaks.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from xrdsim.errors import ConfigError
from xrdsim.peaks.bragg_kernel import powder_lines
from xrdsim.peaks.form_factors import DEFAULT_FORM_FACTORS, FORM_FACTOR_TABLES, check_wavelength
from xrdsim.peaks.scatterers import KERNEL_ARRAYS, structure_arrays
from xrdsim.wavelengths import DEFAULT_WAVELENGTH, resolve_wavelength

#: Reflections in the same 2θ bin of this width (key ``round(2θ / TWO_THETA_TOL)``) are one
#: line. pymatgen's ``TWO_THETA_TOL`` and rule, so lines agree one to one with
#: ``XRDCalculator``: far below any instrument resolution (the model grid is 0.01°), far
#: above the ~1e-12° scatter of symmetry-equivalent reflections in a symmetric cell.
#: Pseudo-symmetric cells (MP-20: a and b equal to 7 digits) split equivalents by up to
#: ~1e-4°, and those may land in neighbouring bins; docs/peaks.md has the numbers.
TWO_THETA_TOL = 1e-5

#: Widest merge bin :func:`compute_peaks` accepts (degrees): a tenth of the model's 0.01°
#: grid step would still keep resolvable lines apart; wider bins would merge them.
MAX_MERGE_TOLERANCE = 1e-3

#: Lines at or below this intensity on the 0–100 scale are dropped. pymatgen's
#: ``SCALED_INTENSITY_TOL``: systematic absences do not cancel exactly in floating point
#: (and only to ~1e-6 for relaxed P1 cells with coordinates rounded in the CIF), so without
#: a floor they would appear as spurious lines of ~1e-10…1e-5 relative intensity.
SCALED_INTENSITY_TOL = 1e-3

#: The 2θ range of :func:`compute_peaks` by default (degrees), the das2025 grid.
DEFAULT_TWO_THETA_RANGE = (0.0, 120.0)

#: (field, dtype, ndim) of the arrays of a PeakList.
_PEAKLIST_FIELDS = (
    ("two_theta", np.float64, 1),
    ("intensity", np.float64, 1),
    ("intensity_raw", np.float64, 1),
    ("d", np.float64, 1),
    ("hkl", np.int32, 2),
    ("multiplicity", np.int32, 1),
)


@dataclass(frozen=True)
class PeakList:
    """The powder line list of one structure, ascending in 2θ.

    Attributes:
        two_theta: (n,) float64, degrees 2θ, ascending.
        intensity: (n,) float64, scaled so the strongest line is 100 (empty list: empty).
        intensity_raw: (n,) float64, unscaled ``Σ 2·|F|²·LP`` in electrons² (pymatgen's
            ``scaled=False`` values).
        d: (n,) float64, d-spacing in Å (``λ / (2 sin θ)``).
        hkl: (n, 3) int32, a representative Miller index triple per line: of the merged
            reflections, the one with the fewest negative indices, then the
            lexicographically largest (cubic {100} -> 100, hexagonal {110} -> 110).
        multiplicity: (n,) int32, number of reflections merged into the line (G and −G
            both counted).
        wavelength: λ in Å the list was computed for.
    """

    two_theta: np.ndarray
    intensity: np.ndarray
    intensity_raw: np.ndarray
    d: np.ndarray
    hkl: np.ndarray
    multiplicity: np.ndarray
    wavelength: float

    def __post_init__(self) -> None:
        n = None
        for name, dtype, ndim in _PEAKLIST_FIELDS:
            given = getattr(self, name)
            arr = given
            if not (type(arr) is np.ndarray and arr.dtype == dtype and arr.flags.c_contiguous):
                arr = np.ascontiguousarray(arr, dtype=dtype)
            if arr.ndim != ndim or (ndim == 2 and arr.shape[1] != 3):
                raise ConfigError(
                    f"PeakList.{name} must have shape {'(n, 3)' if ndim == 2 else '(n,)'}, "
                    f"got {arr.shape}"
                )
            if n is None:
                n = arr.shape[0]
            elif arr.shape[0] != n:
                raise ConfigError(
                    f"PeakList arrays must all have n={n} rows, {name} has {arr.shape[0]}"
                )
            if arr.flags.writeable:
                if arr is given:
                    arr = arr.copy()  # never freeze the caller's array
                arr.flags.writeable = False
            object.__setattr__(self, name, arr)
        wl = float(self.wavelength)
        if not (wl > 0.0 and math.isfinite(wl)):
            raise ConfigError(f"PeakList.wavelength must be a positive number of Å, got {wl!r}")
        object.__setattr__(self, "wavelength", wl)
        tt = self.two_theta
        if n and n > 1 and (tt[1:] < tt[:-1]).any():
            raise ConfigError("PeakList.two_theta must be ascending; sort the lines first")

    def __len__(self) -> int:
        return int(self.two_theta.shape[0])

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python form (lists and floats), e.g. for JSON."""
        return {
            "two_theta": self.two_theta.tolist(),
            "intensity": self.intensity.tolist(),
            "intensity_raw": self.intensity_raw.tolist(),
            "d": self.d.tolist(),
            "hkl": self.hkl.tolist(),
            "multiplicity": self.multiplicity.tolist(),
            "wavelength": self.wavelength,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PeakList:
        """Inverse of :meth:`to_dict` (validates shapes and dtypes)."""
        hkl = np.asarray(data["hkl"], dtype=np.int32).reshape(-1, 3)
        return cls(
            two_theta=np.asarray(data["two_theta"], dtype=np.float64),
            intensity=np.asarray(data["intensity"], dtype=np.float64),
            intensity_raw=np.asarray(data["intensity_raw"], dtype=np.float64),
            d=np.asarray(data["d"], dtype=np.float64),
            hkl=hkl,
            multiplicity=np.asarray(data["multiplicity"], dtype=np.int32),
            wavelength=float(data["wavelength"]),
        )


def _check_range(two_theta_range: Any) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in two_theta_range)
    except (TypeError, ValueError):
        raise ConfigError(
            f"two_theta_range must be two numbers (min, max) in degrees, got {two_theta_range!r}"
        ) from None
    if not (0.0 <= lo < hi <= 180.0):
        raise ConfigError(
            f"two_theta_range must satisfy 0 <= min < max <= 180 degrees, got ({lo}, {hi}); "
            "give the limits in ascending order"
        )
    return lo, hi


def _check_options(form_factors: str, wavelength: float, anomalous: bool) -> None:
    if form_factors not in FORM_FACTOR_TABLES:
        raise ConfigError(
            f"form_factors must be one of {', '.join(FORM_FACTOR_TABLES)}, got "
            f"{form_factors!r}; 'pymatgen' reproduces pymatgen's XRDCalculator"
        )
    if anomalous:
        check_wavelength(wavelength)


def compute_peaks(
    structure: Any,
    *,
    wavelength: float | str = DEFAULT_WAVELENGTH,
    two_theta_range: tuple[float, float] = DEFAULT_TWO_THETA_RANGE,
    debye_waller: bool = True,
    merge_tolerance: float = TWO_THETA_TOL,
    form_factors: str = DEFAULT_FORM_FACTORS,
    anomalous: bool = True,
    ionic: bool = True,
) -> PeakList:
    """Kinematic X-ray powder lines of a structure.

    ``I = Σ_lines (|F(G)|² + |F(−G)|²)·(1 + cos²2θ)/(sin²θ·cosθ)`` over the reciprocal-lattice
    points with 2θ in range, ``F = Σ_j o_j·(f0_j(s) + f′_j + i f″_j)·T_j·exp(2πi G·r_j)``
    (s = sinθ/λ; T_j = exp(−B_j s²), or exp(−hᵀβ_j h) for an anisotropic site), reflections
    in the same 2θ bin (``merge_tolerance``) merged, lines at or below
    :data:`SCALED_INTENSITY_TOL` (0–100 scale) dropped. With ``form_factors="pymatgen"`` and
    ``anomalous=False`` it matches pymatgen's ``XRDCalculator(wavelength).get_pattern(structure,
    two_theta_range=...)`` (see ``docs/peaks.md`` for the conventions and what differs).

    Args:
        structure: a pymatgen ``Structure`` (ordered or disordered; each species on a site
            scatters with its occupancy). Site property ``"b_iso"`` (Å²) gives the isotropic
            Debye–Waller B of that site, ``"u_aniso"`` (Cartesian 3×3, Å²) its anisotropic U
            (used instead of B); absent means B = 0.
        wavelength: λ in Å, or a preset name such as ``"CuKa"`` / ``"MoKa1"``
            (:func:`xrdsim.wavelengths.resolve_wavelength`). Default 1.5418 Å.
        two_theta_range: (min, max) degrees 2θ, ``0 <= min < max <= 180``, both inclusive.
        debye_waller: apply each site's displacement factor from ``"b_iso"`` / ``"u_aniso"``.
        merge_tolerance: 2θ bin width in degrees for merging reflections into lines,
            ``0 < w <= MAX_MERGE_TOLERANCE``; default pymatgen's 1e-5°. A wider bin (e.g.
            1e-3°) merges the pseudo-equivalent reflections of slightly distorted cells
            (see ``docs/peaks.md``).
        form_factors: f0 table, ``"waasmaier-kirfel"`` (default; atoms and ions) or
            ``"pymatgen"`` (pymatgen's element table, for line-by-line comparison).
        anomalous: add Chantler's f′(λ) and f″(λ) of each element (default); ``False``
            matches pymatgen.
        ionic: species with an oxidation state scatter with their ion's f0 where the
            Waasmaier–Kirfel table has it (no effect with ``form_factors="pymatgen"``).

    Returns:
        :class:`PeakList` ascending in 2θ (empty when no reflection falls in range).

    Raises:
        ConfigError: unknown wavelength name, λ <= 0, a bad 2θ range, an unknown
            form-factor table, or (with ``anomalous``) λ outside the f′/f″ table.
        StructureError: an empty or degenerate structure, an element without form-factor
            coefficients, a negative B or a bad U tensor.
    """
    lam = resolve_wavelength(wavelength)
    lo, hi = _check_range(two_theta_range)
    tol = float(merge_tolerance)
    if not (0.0 < tol <= MAX_MERGE_TOLERANCE):
        raise ConfigError(
            f"merge_tolerance must be in (0, {MAX_MERGE_TOLERANCE}] degrees 2θ, got "
            f"{merge_tolerance!r}; the default {TWO_THETA_TOL} matches pymatgen"
        )
    _check_options(form_factors, lam, anomalous)
    arrays = structure_arrays(structure, debye_waller=debye_waller, wavelength=lam,
                              form_factors=form_factors, anomalous=anomalous, ionic=ionic)
    two_theta, intensity, raw, d, hkl, multiplicity = powder_lines(
        arrays["lattice"],
        2.0 * math.sin(math.radians(lo / 2.0)) / lam,  # |G| = 2 sinθ / λ
        2.0 * math.sin(math.radians(hi / 2.0)) / lam,
        lam,
        *(arrays[key] for key in KERNEL_ARRAYS),
        tol,
        SCALED_INTENSITY_TOL,
    )
    for arr in (two_theta, intensity, raw, d, hkl, multiplicity):
        arr.flags.writeable = False  # fresh arrays: PeakList keeps them without a copy
    return PeakList(
        two_theta=two_theta,
        intensity=intensity,
        intensity_raw=raw,
        d=d,
        hkl=hkl,
        multiplicity=multiplicity,
        wavelength=lam,
    )
