"""X-ray atomic scattering factors: f0(s) per atom or ion, f′ and f″ per element and λ.

Two f0 tables, chosen by name (:data:`FORM_FACTOR_TABLES`):

- ``"waasmaier-kirfel"`` (default): Waasmaier & Kirfel, Acta Cryst. A51, 416 (1995),
  ``f0(s) = c + Σ_{i=1..5} aᵢ·exp(−bᵢ·s²)`` for neutral atoms H … Cf and 200 common ions
  (``Fe2+``, ``O2-``, …), read from ``data/form_factors.json.gz``, which
  :mod:`xrdsim.peaks.form_factor_table` regenerates from xraydb.
- ``"pymatgen"``: the table pymatgen's ``XRDCalculator`` uses
  (``data/atomic_scattering_params.json``, elements only), Mott–Bethe form
  ``f0(s) = Z − 41.78214·s²·Σ_{i=1..4} aᵢ·exp(−bᵢ·s²)``; kept so that results can be
  compared with pymatgen line for line.

Anomalous dispersion (Chantler, J. Phys. Chem. Ref. Data 29, 597 (2000)): the atomic
scattering factor is ``f = f0(s) + f′(E) + i·f″(E)`` at the photon energy
``E = hc/λ``; f′ is interpolated on Chantler's grid with a cubic spline through the 7
nearest grid points, f″ log–log linearly, exactly as xraydb does. Chantler covers H … U;
heavier elements get f′ = f″ = 0 (``docs/peaks.md``).
"""

from __future__ import annotations

import gzip
import json
import math
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

from xrdsim.errors import ConfigError

#: Names accepted by ``compute_peaks(form_factors=...)``.
FORM_FACTOR_TABLES = ("waasmaier-kirfel", "pymatgen")
#: The default f0 table.
DEFAULT_FORM_FACTORS = "waasmaier-kirfel"
#: Gaussian terms per atom kind in the form-factor arrays.
N_GAUSSIANS = 5

#: 8·π²·a₀ in Å (a₀ = 0.529177 Å, Bohr radius): the Mott–Bethe prefactor that turns the
#: tabulated 4-Gaussian electron form factor Σ a·exp(−b s²) into the X-ray one,
#: f(s) = Z − 41.78214·s²·Σ a·exp(−b s²) (pymatgen's constant, kept digit for digit).
FORM_FACTOR_PREFACTOR = 41.78214
#: The scattering model of ``compute_peaks``' defaults, recorded in peak databases.
SCATTERING_MODEL = {"form_factors": DEFAULT_FORM_FACTORS, "anomalous": True, "ionic": True}
#: h·c in eV·Å (CODATA 2018: 1239.841984 eV·nm), so E = HC_EV_ANGSTROM / λ.
HC_EV_ANGSTROM = 12398.419843320026
#: Chantler grid points each side of E that the interpolation uses (xraydb's choice).
_WINDOW = 3


@lru_cache(maxsize=1)
def _wk_table() -> dict[str, Any]:
    raw = resources.files("xrdsim.data").joinpath("form_factors.json.gz").read_bytes()
    return json.loads(gzip.decompress(raw))


@lru_cache(maxsize=1)
def _pymatgen_table() -> dict[str, list[list[float]]]:
    text = resources.files("xrdsim.data").joinpath("atomic_scattering_params.json").read_text()
    return json.loads(text)


def ion_key(symbol: str, charge: float | None) -> str:
    """Waasmaier–Kirfel key of an ion: ``("Fe", 2) -> "Fe2+"``, ``("O", -2) -> "O2-"``.

    A zero, missing or non-integer charge gives the neutral symbol.
    """
    if not charge or charge != int(charge):
        return symbol
    q = int(charge)
    return f"{symbol}{abs(q)}{'+' if q > 0 else '-'}"


def scattering_key(symbol: str, charge: float | None, *, table: str, ionic: bool) -> str:
    """The f0 table key of one species: its ion if ``ionic`` and tabulated, else the element.

    Raises:
        KeyError: the element itself is not in the table.
    """
    if table == "pymatgen":
        if symbol not in _pymatgen_table():
            raise KeyError(symbol)
        return symbol
    f0 = _wk_table()["f0"]
    if ionic:
        key = ion_key(symbol, charge)
        if key in f0:
            return key
    if symbol not in f0:
        raise KeyError(symbol)
    return symbol


def f0_coefficients(key: str, z: float, *, table: str) -> tuple[float, np.ndarray, np.ndarray]:
    """(c, a (5,), b (5,)) of one table key; for ``"pymatgen"`` c = Z and a 5th term of zeros.

    With ``table="waasmaier-kirfel"``: ``f0(s) = c + Σ aᵢ exp(−bᵢ s²)``; with
    ``"pymatgen"``: ``f0(s) = c − 41.78214·s²·Σ aᵢ exp(−bᵢ s²)``.
    """
    a = np.zeros(N_GAUSSIANS)
    b = np.zeros(N_GAUSSIANS)
    if table == "pymatgen":
        coeffs = np.asarray(_pymatgen_table()[key], dtype=np.float64)
        a[:4] = coeffs[:, 0]
        b[:4] = coeffs[:, 1]
        return float(z), a, b
    row = _wk_table()["f0"][key]
    a[:] = row[0:5]
    b[:] = row[5:10]
    return float(row[10]), a, b


def f0(key: str, s: np.ndarray | float, *, table: str = DEFAULT_FORM_FACTORS) -> np.ndarray:
    """f0(s) in electrons of one table key at s = sinθ/λ (Å⁻¹); NumPy, for tests and docs."""
    from pymatgen.core.periodic_table import Element

    symbol = key.rstrip("+-0123456789")
    c, a, b = f0_coefficients(key, Element(symbol).Z, table=table)
    s2 = np.asarray(s, dtype=np.float64) ** 2
    gauss = (a * np.exp(-np.multiply.outer(s2, b))).sum(axis=-1)
    if table == "pymatgen":
        return c - FORM_FACTOR_PREFACTOR * s2 * gauss
    return c + gauss


def energy_range_ev() -> tuple[float, float]:
    """Photon energies (eV) the shipped f′/f″ table covers."""
    lo, hi = _wk_table()["source"]["energy_range_ev"]
    return float(lo), float(hi)


def check_wavelength(wavelength: float) -> float:
    """Photon energy (eV) of λ (Å), checked against the f′/f″ table.

    Raises:
        ConfigError: λ outside the table (:func:`energy_range_ev`); the message gives the
            range and the way out (``anomalous=False``).
    """
    energy = HC_EV_ANGSTROM / float(wavelength)
    lo, hi = energy_range_ev()
    if not (lo <= energy <= hi):
        raise ConfigError(
            f"wavelength {wavelength} Å ({energy:.0f} eV) is outside the anomalous-dispersion "
            f"table ({HC_EV_ANGSTROM / hi:.3f}–{HC_EV_ANGSTROM / lo:.3f} Å); pass "
            "anomalous=False to compute without f′ and f″"
        )
    return energy


def anomalous_terms(symbol: str, wavelength: float) -> tuple[float, float]:
    """(f′, f″) in electrons of an element at λ (Å), Chantler (2000); (0, 0) beyond uranium.

    Raises:
        ConfigError: λ outside the table (:func:`check_wavelength`).
    """
    return _anomalous_at(symbol, check_wavelength(wavelength))


@lru_cache(maxsize=4096)
def _anomalous_at(symbol: str, energy: float) -> tuple[float, float]:
    from scipy.interpolate import UnivariateSpline

    entry = _wk_table()["anomalous"].get(symbol)
    if entry is None:
        return 0.0, 0.0
    grid = np.asarray(entry["energy_ev"])
    i = int(np.searchsorted(grid, energy, side="right")) - 1  # last grid point ≤ E
    lo, hi = max(0, i - _WINDOW), min(grid.size, i + _WINDOW + 1)
    e = grid[lo:hi]
    f1 = np.asarray(entry["f1"][lo:hi])
    f2 = np.maximum(np.asarray(entry["f2"][lo:hi]), 1e-99)
    # f′: interpolating cubic spline; f″: linear in log E, log f″ (xraydb's _from_chantler)
    fp = float(UnivariateSpline(e, f1, s=0)(energy))
    fpp = float(math.exp(np.interp(math.log(energy), np.log(e), np.log(f2))))
    return fp, fpp
