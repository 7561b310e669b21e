"""Atomic displacement parameters of a CIF block: isotropic B / U, anisotropic Uij / Bij / βij.

:func:`isotropic_b` reads ``_atom_site_B_iso_or_equiv`` (B, Å²) or
``_atom_site_U_iso_or_equiv`` (U, Å², B = 8π²·U) per site label and applies the
plausibility rule: a U column whose values look like B (more than half of the sites above
:data:`U_LOOKS_LIKE_B`) gives a warning naming the file and column (``u_as_b=True`` reads
it as B — per column of each file: a column of plausible U values stays U, with a
warning); a B above :data:`MAX_B` is refused (``ValueError``, an error record upstream).

:func:`anisotropic_u` reads the ``_atom_site_aniso_*`` loop (``U_ij``, ``B_ij`` = 8π²·U_ij
or the dimensionless ``beta_ij``), turns each label's tensor into β (fractional,
``T(h) = exp(−hᵀβh)``, ``β = 2π²·N·U·N`` with N = diag(a*, b*, c*)), carries it to every
symmetry-equivalent site (``β' = R·β·Rᵀ`` for the operation ``x' = R·x + t`` that maps the
label's position onto the site) and returns Cartesian U tensors (Å²,
``U_cart = Aᵀ·β'·A / 2π²``, A = lattice rows), the form ``xrdsim.peaks.lines`` reads from the
site property ``"u_aniso"``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from xrdsim.structures.cif_values import cif_number

#: U (Å²) above which a value looks like a B: U = 0.2 Å² is an rms displacement of 0.45 Å,
#: liquid-like; refined inorganic structures have U ≈ 0.003–0.05 Å² (B ≈ 0.2–4 Å²).
U_LOOKS_LIKE_B = 0.2
#: Largest plausible B (Å²), i.e. U = 0.25 Å²: beyond it the site barely scatters at
#: s = 0.5 Å⁻¹ (exp(−B s²) < 0.007) — a unit mix-up or a failed refinement.
MAX_B = 20.0

_EIGHT_PI2 = 8.0 * math.pi**2
_TWO_PI2 = 2.0 * math.pi**2
_ANISO_KINDS = (("u", 1.0), ("b", 1.0 / _EIGHT_PI2), ("beta", None))
_ANISO_INDEX = ("11", "22", "33", "12", "13", "23")
#: Distance (fractional, per axis) within which a symmetry image is the site.
_SITE_MATCH = 1e-3


def isotropic_b(block: dict, source: str, *, u_as_b: bool = False) -> dict[str, float] | None:
    """Label → B (Å²) of a CIF block (lower-case keys), or None when it gives neither B nor U.

    Args:
        block: the CIF block as a dict with lower-case tags.
        source: the file (for the warning and error text).
        u_as_b: read ``_atom_site_U_iso_or_equiv`` as B (for files that put B there).

    Raises:
        ValueError: a B above :data:`MAX_B` (after the U → B conversion).
    """
    labels = block.get("_atom_site_label")
    for key, factor in (("_atom_site_b_iso_or_equiv", 1.0),
                        ("_atom_site_u_iso_or_equiv", _EIGHT_PI2)):
        values = block.get(key)
        if not (isinstance(labels, list) and isinstance(values, list)
                and len(values) == len(labels)):
            continue
        numbers = {}
        for label, value in zip(labels, values, strict=True):
            number = cif_number(value)
            if number is not None:
                numbers.setdefault(str(label), number)
        if not numbers:
            continue
        if factor != 1.0:
            factor = _u_factor(list(numbers.values()), source, key, u_as_b)
        out = {label: v * factor for label, v in numbers.items()}
        _check_b(out, source, key)
        return out
    return None


def _u_factor(values: list[float], source: str, column: str, u_as_b: bool) -> float:
    """8π² for a U column, 1 for one read as B.

    The choice is made per column of each file: ``u_as_b`` reads a column as B only where
    its values look like B (more than half above :data:`U_LOOKS_LIKE_B`); a column of
    plausible U values stays U even with ``u_as_b``, with a warning (read as B they would
    give B < 0.2 Å², no thermal damping at all). A B-like column without ``u_as_b`` warns.
    """
    large = sum(v > U_LOOKS_LIKE_B for v in values)
    median = float(np.median(values))
    looks_like_b = large > len(values) / 2
    if u_as_b and looks_like_b:
        return 1.0
    if u_as_b:
        warnings.warn(
            f"{source}: u_as_b=True not applied to column {column}: its values look like U "
            f"(median {median:.3g} Å^2, {large} of {len(values)} above {U_LOOKS_LIKE_B}); "
            f"read as U (B = 8π²U, median {_EIGHT_PI2 * median:.3g} Å^2)",
            UserWarning, stacklevel=3)
    elif looks_like_b:
        warnings.warn(
            f"{source}: column {column} has {large} of {len(values)} values above "
            f"{U_LOOKS_LIKE_B} Å^2 (median {median:.3g}); they look like B, "
            f"not U (B = 8π²U would be {_EIGHT_PI2 * median:.3g} Å^2). "
            "Pass u_as_b=True to read them as B",
            UserWarning,
            stacklevel=3,
        )
    return _EIGHT_PI2


def _check_b(b_by_label: dict[str, float], source: str, column: str) -> None:
    bad = {label: b for label, b in b_by_label.items() if b > MAX_B or b < 0}
    if bad:
        label, b = max(bad.items(), key=lambda kv: abs(kv[1]))
        hint = (" (U values that are really B? pass u_as_b=True)"
                if column.startswith("_atom_site_u") or column.startswith("_atom_site_aniso_u")
                else "")
        raise ValueError(
            f"absurd displacement in {column}: site {label!r} has B = {b:.3g} Å^2 "
            f"({len(bad)} site(s) outside 0..{MAX_B} Å^2){hint}"
        )


def _beta_by_label(block: dict, lattice, source: str, u_as_b: bool) -> dict[str, np.ndarray]:
    """Label → β (3, 3) from the ``_atom_site_aniso_*`` loop; {} when absent."""
    labels = block.get("_atom_site_aniso_label")
    if not isinstance(labels, list):
        return {}
    recip = np.array(lattice.reciprocal_lattice_crystallographic.abc)
    n = np.outer(recip, recip)  # a*_i a*_j
    for kind, scale in _ANISO_KINDS:
        columns = [block.get(f"_atom_site_aniso_{kind}_{ij}") for ij in _ANISO_INDEX]
        if not all(isinstance(c, list) and len(c) == len(labels) for c in columns):
            continue
        rows = {}
        for i, label in enumerate(labels):
            values = [cif_number(c[i]) for c in columns]
            if any(v is None for v in values):
                continue
            m = np.array([[values[0], values[3], values[4]],
                          [values[3], values[1], values[5]],
                          [values[4], values[5], values[2]]])
            rows[str(label)] = m
        if not rows:
            continue
        if kind == "beta":
            return rows
        column = f"_atom_site_aniso_{kind}_11"
        factor = scale
        if kind == "u":
            u_eq = [float(np.trace(m)) / 3 for m in rows.values()]
            factor = 1.0 / _EIGHT_PI2 if _u_factor(u_eq, source, column, u_as_b) == 1.0 else 1.0
        _check_b({lb: _EIGHT_PI2 * factor * float(np.trace(m)) / 3 for lb, m in rows.items()},
                 source, column)
        return {label: _TWO_PI2 * factor * n * m for label, m in rows.items()}
    return {}


def anisotropic_u(block: dict, symops, structure, source: str, *,
                  u_as_b: bool = False) -> list[np.ndarray | None] | None:
    """Cartesian U (3, 3) in Å² per site of ``structure`` (None for isotropic sites).

    Args:
        block: the CIF block (lower-case tags) the structure was built from.
        symops: its symmetry operations (pymatgen ``SymmOp``, fractional).
        structure: the symmetry-expanded structure; site labels are the CIF labels.
        source: the file, for messages.
        u_as_b: read ``_atom_site_aniso_U_ij`` as B_ij.

    Returns:
        A list aligned with the sites, or None when the block has no usable aniso loop.

    Raises:
        ValueError: an absurd displacement (B_eq above :data:`MAX_B` or negative).
    """
    betas = _beta_by_label(block, structure.lattice, source, u_as_b)
    if not betas:
        return None
    labels = [str(x) for x in block.get("_atom_site_label", [])]
    coords = {}
    for i, label in enumerate(labels):
        xyz = [cif_number(block.get(f"_atom_site_fract_{c}", [None] * len(labels))[i])
               for c in "xyz"]
        if None not in xyz:
            coords.setdefault(label, np.array(xyz))
    rot = np.array([op.rotation_matrix for op in symops])  # (M, 3, 3)
    trans = np.array([op.translation_vector for op in symops])  # (M, 3)
    lattice = structure.lattice.matrix
    out: list[np.ndarray | None] = []
    for site in structure:
        label = getattr(site, "label", None)
        beta, x0 = betas.get(label), coords.get(label)
        if beta is None or x0 is None:
            out.append(None)
            continue
        images = rot @ x0 + trans  # (M, 3)
        diff = images - site.frac_coords
        diff -= np.round(diff)
        hit = np.flatnonzero(np.abs(diff).max(axis=1) < _SITE_MATCH)
        if hit.size == 0:
            out.append(None)
            continue
        r = rot[hit[0]]
        # u' = R·u for x' = R·x + t, β = 2π²⟨u uᵀ⟩  ⇒  β' = R·β·Rᵀ
        beta_site = r @ beta @ r.T
        out.append(lattice.T @ beta_site @ lattice / _TWO_PI2)
    return out if any(u is not None for u in out) else None
