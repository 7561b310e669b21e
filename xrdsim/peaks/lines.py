"""Kinematic X-ray powder line lists (Bragg peaks) of crystal structures.

:func:`compute_peaks` turns a pymatgen ``Structure`` into a :class:`PeakList`: every
reciprocal-lattice point inside the 2θ range, its structure factor with tabulated atomic
form factors (Waasmaier–Kirfel f0 of atoms and ions, Chantler f′ and f″), occupancies and
isotropic or anisotropic Debye–Waller factors, the Lorentz–polarisation
factor, and equal-2θ reflections merged into lines with a multiplicity. The physics runs
in the numba kernels of :mod:`xrdsim.peaks.bragg_kernel`; this module validates input and
converts the structure to arrays once. Formulas and the comparison with pymatgen's
``XRDCalculator`` are in ``docs/peaks.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from xrdsim.errors import ConfigError, StructureError
from xrdsim.peaks.bragg_kernel import powder_lines
from xrdsim.peaks.form_factors import (
    DEFAULT_FORM_FACTORS,
    FORM_FACTOR_TABLES,
    anomalous_terms,
    check_wavelength,
    f0_coefficients,
    scattering_key,
)
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

#: Site property holding the isotropic Debye–Waller B in Å² (set by xrdsim.structures.reader).
B_ISO_PROPERTY = "b_iso"
#: Site property holding the anisotropic displacement tensor U as a Cartesian (3, 3) matrix
#: in Å² (set by xrdsim.structures.reader from ``_atom_site_aniso_*``); it replaces B.
U_ANISO_PROPERTY = "u_aniso"


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


def _label(structure: Any) -> str:
    """Name of a structure for error messages (built only on the error path)."""
    try:
        return f"structure {structure.composition.reduced_formula}"
    except Exception:  # an empty or broken structure has no formula
        return "structure"


def _det3(m: list[list[float]]) -> float:
    return (
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    )


def _site_b(structure: Any, i: int, site: Any) -> float:
    """Isotropic B (Å²) of a site from its ``"b_iso"`` property; 0 when absent."""
    value = site.properties.get(B_ISO_PROPERTY) if site.properties else None
    if value is None:
        return 0.0
    b_iso = float(value)
    if not (b_iso >= 0.0 and math.isfinite(b_iso)):
        raise StructureError(
            _label(structure),
            f"site {i} has {B_ISO_PROPERTY}={value!r} Å^2; B must be finite and >= 0 "
            "(or pass debye_waller=False)",
        )
    return b_iso


def _aniso_beta(structure: Any, tensors: dict[int, Any], to_frac: np.ndarray) -> np.ndarray:
    """β (n, 6) of the sites with a ``"u_aniso"`` tensor (dict site index -> U), in key order.

    ``β = 2π²·A⁻ᵀ·U·A⁻¹`` (A: lattice rows, U Cartesian in Å²), so that the Debye–Waller
    factor of reflection h is ``exp(−hᵀβh)``; for U = U_iso·1 this is ``exp(−8π²U_iso·s²)``.
    """
    sites = list(tensors)
    try:
        u = np.array([tensors[i] for i in sites], dtype=np.float64)
    except (TypeError, ValueError):
        u = np.empty(0)
    if u.shape != (len(sites), 3, 3) or not np.isfinite(u).all() \
            or np.abs(u - u.transpose(0, 2, 1)).max() > 1e-9:
        raise StructureError(
            _label(structure),
            f"a {U_ANISO_PROPERTY} site property is not a finite symmetric 3x3 Cartesian U in "
            "Å^2 (or pass debye_waller=False)",
        )
    low = np.linalg.eigvalsh(u).min(axis=1)
    if low.min() < -1e-6:
        i = sites[int(np.argmin(low))]
        raise StructureError(
            _label(structure),
            f"site {i} has a {U_ANISO_PROPERTY} tensor that is not positive semi-definite "
            f"(smallest eigenvalue {low.min():.5f} Å^2); check the _atom_site_aniso_U values",
        )
    beta = 2.0 * math.pi**2 * np.einsum("ai,nab,bj->nij", to_frac, u, to_frac)
    return beta[:, [0, 1, 2, 0, 0, 1], [0, 1, 2, 1, 2, 2]]


@lru_cache(maxsize=4096)
def _kind_row(key: str, symbol: str, z: float, table: str, wavelength: float,
              anomalous: bool) -> tuple[str, float, np.ndarray, np.ndarray, float]:
    """(key, c + f′, a (5,), b (5,), f″) of one scattering kind (cached: one lookup per kind)."""
    c, a, b = f0_coefficients(key, z, table=table)
    fp, fpp = anomalous_terms(symbol, wavelength) if anomalous else (0.0, 0.0)
    return key, c + fp, a, b, fpp


def _check_options(form_factors: str, wavelength: float, anomalous: bool) -> None:
    if form_factors not in FORM_FACTOR_TABLES:
        raise ConfigError(
            f"form_factors must be one of {', '.join(FORM_FACTOR_TABLES)}, got "
            f"{form_factors!r}; 'pymatgen' reproduces pymatgen's XRDCalculator"
        )
    if anomalous:
        check_wavelength(wavelength)


def structure_arrays(
    structure: Any,
    *,
    debye_waller: bool = True,
    wavelength: float = DEFAULT_WAVELENGTH,
    form_factors: str = DEFAULT_FORM_FACTORS,
    anomalous: bool = True,
    ionic: bool = True,
) -> dict[str, Any]:
    """Convert a pymatgen ``Structure`` to the kernel's arrays (one pass over the sites).

    Every (site, species) pair with non-zero occupancy becomes one scattering entry. Entries
    share a group when they share form factor and B, so the form factor and Debye–Waller
    factor are evaluated once per group and reflection. A species with an oxidation state
    (pymatgen ``Species``) scatters as its ion when ``ionic`` and the Waasmaier–Kirfel table
    has it, else as the neutral atom.

    Returns:
        dict with ``lattice`` (3, 3) Å (rows a, b, c), ``frac`` (N, 3), ``occupancy`` (N,),
        ``entry_group`` (N,) int64, ``group_kind`` (G,) int64, ``group_b`` (G,) Å²,
        ``entry_beta`` (N, 6), ``kind_c`` (K,) (c + f′), ``kind_a`` / ``kind_b`` (K, 5),
        ``kind_fpp`` (K,) f″, ``mott_bethe`` bool, ``kind_keys`` (K,) list of table keys;
        float64 unless stated, C-contiguous.

    Raises:
        StructureError: empty structure, zero volume, non-finite coordinates, an element
            without form-factor coefficients, a negative / non-finite B or a bad U tensor.
    """
    sites = structure.sites
    if not sites:
        raise StructureError(
            _label(structure), "the structure has no sites; give at least one atom"
        )
    lattice = np.array(structure.lattice.matrix, dtype=np.float64)
    volume = _det3(lattice.tolist())
    if not (abs(volume) > 1e-6 and math.isfinite(volume)):
        raise StructureError(
            _label(structure),
            f"the cell volume is {volume!r} Å^3; give 3 independent lattice vectors",
        )
    kinds: dict[str, int] = {}
    kind_rows = []
    groups: dict[tuple[int, float], int] = {}
    coords = []
    occupancy = []
    entry_group = []
    entry_site = []
    tensors: dict[int, Any] = {}
    species_kind: dict[Any, int] = {}
    for i, site in enumerate(sites):
        b_iso = 0.0
        if debye_waller:
            u = site.properties.get(U_ANISO_PROPERTY) if site.properties else None
            if u is not None:
                tensors[i] = u
            else:
                b_iso = _site_b(structure, i, site)
        fc = site.frac_coords
        for species, occ in site.species.items():
            if not occ:
                continue
            kind = species_kind.get(species)
            if kind is None:
                symbol = species.symbol
                # only pymatgen Species carry oxi_state (Element.__getattr__ is slow)
                charge = species.oxi_state if hasattr(type(species), "oxi_state") else None
                try:
                    key = scattering_key(symbol, charge, table=form_factors, ionic=ionic)
                except KeyError:
                    raise StructureError(
                        _label(structure),
                        f"no X-ray form-factor coefficients for species {symbol!r} at site "
                        f"{i}; known: elements H to Cf",
                    ) from None
                kind = kinds.get(key)
                if kind is None:
                    kind = kinds[key] = len(kind_rows)
                    kind_rows.append(_kind_row(key, symbol, species.Z, form_factors,
                                               float(wavelength), anomalous))
                species_kind[species] = kind
            group = groups.get((kind, b_iso))
            if group is None:
                group = groups[(kind, b_iso)] = len(groups)
            coords.append(fc)
            occupancy.append(occ)
            entry_group.append(group)
            entry_site.append(i)
    if not coords:
        raise StructureError(_label(structure), "every site has zero occupancy; nothing scatters")
    frac = np.array(coords, dtype=np.float64)
    if not np.isfinite(frac).all():
        raise StructureError(_label(structure), "non-finite fractional coordinates")
    entry_beta = np.zeros((len(coords), 6))
    if tensors:
        row = np.full(len(sites), -1)
        row[list(tensors)] = np.arange(len(tensors))
        site_of_entry = row[entry_site]
        aniso = site_of_entry >= 0
        to_frac = np.linalg.inv(lattice)  # Cartesian row r = x·A  ->  x = r·A⁻¹
        entry_beta[aniso] = _aniso_beta(structure, tensors, to_frac)[site_of_entry[aniso]]
    return {
        "lattice": lattice,
        "frac": frac,
        "occupancy": np.array(occupancy, dtype=np.float64),
        "entry_group": np.array(entry_group, dtype=np.int64),
        "group_kind": np.array([key[0] for key in groups], dtype=np.int64),
        "group_b": np.array([key[1] for key in groups], dtype=np.float64),
        "entry_beta": entry_beta,
        "kind_c": np.array([r[1] for r in kind_rows], dtype=np.float64),
        "kind_a": np.array([r[2] for r in kind_rows], dtype=np.float64),
        "kind_b": np.array([r[3] for r in kind_rows], dtype=np.float64),
        "kind_fpp": np.array([r[4] for r in kind_rows], dtype=np.float64),
        "mott_bethe": form_factors == "pymatgen",
        "kind_keys": [r[0] for r in kind_rows],
    }


#: structure_arrays keys passed to the kernel, in its argument order after λ.
KERNEL_ARRAYS = ("frac", "occupancy", "entry_group", "group_kind", "group_b", "entry_beta",
                 "kind_c", "kind_a", "kind_b", "kind_fpp", "mott_bethe")


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
