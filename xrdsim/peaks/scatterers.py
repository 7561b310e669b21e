"""Structure → scattering arrays: the one pass over the sites that feeds the Bragg kernel.

:func:`structure_arrays` turns a pymatgen ``Structure`` into the float / int arrays of
:func:`xrdsim.peaks.bragg_kernel.bragg_reflections`: one scattering entry per (site,
species), grouped by form factor and isotropic B; per kind the f0 coefficients
(:mod:`xrdsim.peaks.form_factors`, ion or atom), c + f′ and f″ at the wavelength; per
entry the anisotropic β from the site property ``"u_aniso"``.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np

from xrdsim.errors import StructureError
from xrdsim.peaks.form_factors import (
    DEFAULT_FORM_FACTORS,
    anomalous_terms,
    f0_coefficients,
    scattering_key,
)
from xrdsim.wavelengths import DEFAULT_WAVELENGTH

#: Site property holding the isotropic Debye–Waller B in Å² (set by xrdsim.structures.reader).
B_ISO_PROPERTY = "b_iso"
#: Site property holding the anisotropic displacement tensor U as a Cartesian (3, 3) matrix
#: in Å² (set by xrdsim.structures.reader from ``_atom_site_aniso_*``); it replaces B.
U_ANISO_PROPERTY = "u_aniso"


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
    a.flags.writeable = b.flags.writeable = False  # shared by every caller of the cache
    fp, fpp = anomalous_terms(symbol, wavelength) if anomalous else (0.0, 0.0)
    return key, c + fp, a, b, fpp


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
