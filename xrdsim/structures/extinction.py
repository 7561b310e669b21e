"""Extinction groups: space groups with identical systematic absences.

A reflection h = (h, k, l) is systematically absent in a space group iff some
symmetry operation (R, t) of the group (standard setting, centring translations
included) leaves it invariant, h·R = h, while exp(2πi h·t) ≠ 1: then
F(h) = exp(2πi h·t)·F(h·R) = exp(2πi h·t)·F(h) forces F(h) = 0.

:func:`derive_extinction_table` applies this rule to every space group 1–230 in
spglib's default setting (the smallest Hall number of each type, the setting
spglib's standardisation puts structures in) over the box |h|, |k|, |l| ≤
:data:`HKL_BOX`, and groups space groups of one crystal system whose absence sets
are identical. The result is shipped as ``xrdsim/data/extinction_groups.json``;
:func:`extinction_table` loads it.

Each group also gets minimal reflection conditions in the International Tables'
form (``"h0l: l=2n"``; conditions of a zone hold on its rows too) and an
ITA-style extinction symbol (centring, then per symmetry direction a screw axis
and/or glide letter, ``-`` for none), both derived from the absence set itself —
see :func:`describe_group` and docs/structures.md.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import numpy as np
import spglib

from xrdsim.structures.crystal_systems import CRYSTAL_SYSTEMS, crystal_system_index

#: Half-width of the hkl box searched for absences. Every translation component in
#: the standard settings is a multiple of 1/2, 1/3, 1/4 or 1/6, so each phase
#: factor exp(2πi h·t) is periodic in h, k, l with period lcm(2, 3, 4, 6) = 12, and
#: the invariant sets {h : h·R = h} are lattices spanned by vectors with entries in
#: {−1, 0, 1, 2}. A box of ±12 holds at least one full period along every such
#: lattice direction, so two groups that differ anywhere differ inside the box
#: (checked: ±24 gives the same partition, see docs/structures.md).
HKL_BOX = 12

#: A phase h·t counts as an integer when within this distance of one (translations
#: are exact fractions stored as float64, so errors are ~1e-15).
PHASE_TOL = 1e-6


def default_hall_numbers() -> dict[int, int]:
    """Space-group number → spglib's default (smallest) Hall number of that type."""
    first: dict[int, int] = {}
    for hall in range(1, 531):
        first.setdefault(int(spglib.get_spacegroup_type(hall, _throw=True).number), hall)
    return first


def hkl_box(box: int = HKL_BOX) -> np.ndarray:
    """All (h, k, l) with |h|, |k|, |l| ≤ ``box`` as an int64 array of shape (N, 3)."""
    r = np.arange(-box, box + 1)
    return np.stack(np.meshgrid(r, r, r, indexing="ij"), axis=-1).reshape(-1, 3)


def absent_mask(
    hkl: np.ndarray, rotations: np.ndarray, translations: np.ndarray
) -> np.ndarray:
    """Systematic absences of reflections ``hkl`` (N, 3) for operations (R, t).

    Args:
        hkl: (N, 3) integer Miller indices.
        rotations: (n, 3, 3) integer rotation matrices acting on fractional coordinates.
        translations: (n, 3) float fractional translations.

    Returns:
        (N,) bool: True where some op has h·R = h and h·t ∉ ℤ.
    """
    out = np.zeros(len(hkl), dtype=bool)
    invariant_of: dict[bytes, np.ndarray] = {}  # ops sharing a rotation (centring)
    for rot, trans in zip(rotations, translations, strict=True):
        key = rot.tobytes()
        if key not in invariant_of:
            invariant_of[key] = np.flatnonzero(np.all(hkl @ rot == hkl, axis=1))  # h·R = h
        idx = invariant_of[key]
        phase = hkl[idx] @ trans  # h·t
        out[idx] |= np.abs(phase - np.round(phase)) > PHASE_TOL
    return out


def space_group_operations(hall_number: int) -> tuple[np.ndarray, np.ndarray]:
    """(rotations (n, 3, 3) int, translations (n, 3) float) of a Hall setting."""
    with warnings.catch_warnings():  # spglib 2.x deprecation notice on every call
        warnings.simplefilter("ignore", DeprecationWarning)
        ops = spglib.get_symmetry_from_database(hall_number)
    return np.asarray(ops["rotations"], dtype=np.int64), np.asarray(ops["translations"])


# --- reflection classes, conditions and symbols ---------------------------------------
# A reflection class is a sublattice of hkl: name, basis rows (d, 3), parameter names.
_C = {
    "hkl": ((1, 0, 0), (0, 1, 0), (0, 0, 1)),
    "0kl": ((0, 1, 0), (0, 0, 1)),
    "h0l": ((1, 0, 0), (0, 0, 1)),
    "hk0": ((1, 0, 0), (0, 1, 0)),
    "hhl": ((1, 1, 0), (0, 0, 1)),
    "h-h0l": ((1, -1, 0), (0, 0, 1)),
    "hh(-2h)l": ((1, 1, 0), (0, 0, 1)),
    "hki0": ((1, 0, 0), (0, 1, 0)),
    "h00": ((1, 0, 0),),
    "0k0": ((0, 1, 0),),
    "00l": ((0, 0, 1),),
    "000l": ((0, 0, 1),),
    "hh0": ((1, 1, 0),),
}
_PARAMS = {"hkl": "hkl", "0kl": "kl", "h0l": "hl", "hk0": "hk", "hhl": "hl", "h-h0l": "hl",
           "hh(-2h)l": "hl", "hki0": "hk", "h00": "h", "0k0": "k", "00l": "l", "000l": "l",
           "hh0": "h"}
_HEX = ("hkl", "hki0", "h-h0l", "hh(-2h)l", "000l")
#: Classes examined per crystal system (higher dimension first), as in ITA Vol. A.
CLASSES: dict[int, tuple[str, ...]] = {
    0: ("hkl",),
    1: ("hkl", "h0l", "0k0"),
    2: ("hkl", "0kl", "h0l", "hk0", "h00", "0k0", "00l"),
    3: ("hkl", "hk0", "0kl", "hhl", "00l", "h00", "hh0"),
    4: _HEX,
    5: _HEX,
    6: ("hkl", "hk0", "hhl", "h00", "hh0"),
}
#: Symmetry directions of the symbol: (zone class, row class, axis order, blank)
#: or a fixed text. The blank character stands where a direction has no condition; for
#: the principal axis of tetragonal / trigonal / hexagonal groups it is the axis order
#: (also prefixed to a lone glide: "4/n"), and cubic symbols carry the 3 of [111], so
#: every symbol names its crystal system and all symbols are distinct.
DIRECTIONS: dict[int, tuple[Any, ...]] = {
    0: ("-",),
    1: ("1", ("h0l", "0k0", 2, "-"), "1"),
    2: (("0kl", "h00", 2, "-"), ("h0l", "0k0", 2, "-"), ("hk0", "00l", 2, "-")),
    3: (("hk0", "00l", 4, "4"), ("0kl", "h00", 2, "-"), ("hhl", "hh0", 2, "-")),
    4: (("hki0", "000l", 3, "3"), ("h-h0l", None, 2, "-"), ("hh(-2h)l", None, 2, "-")),
    5: (("hki0", "000l", 6, "6"), ("h-h0l", None, 2, "-"), ("hh(-2h)l", None, 2, "-")),
    6: (("hk0", "h00", 4, "-"), "3", ("hhl", "hh0", 2, "-")),
}
#: Holohedry (lattice point group) of each crystal system, as the space group whose
#: rotations are used to tell generic points of a class from special ones.
_HOLOHEDRY_SG = {0: 2, 1: 10, 2: 47, 3: 123, 4: 191, 5: 191, 6: 221}
#: Glide translations (fractions of a, b, c) by letter.
_GLIDES = {
    "a": ((0.5, 0, 0),), "b": ((0, 0.5, 0),), "c": ((0, 0, 0.5),),
    "n": ((0.5, 0.5, 0), (0, 0.5, 0.5), (0.5, 0, 0.5), (0.5, 0.5, 0.5)),
    "d": ((0.25, 0.25, 0), (0, 0.25, 0.25), (0.25, 0, 0.25), (0.25, 0.25, 0.25)),
}
#: Letter tried first for each zone when several glides give the same absences (in
#: I/F-centred lattices, e.g. b and c in 0kl): the ITA choice for the common case.
_LETTER_ORDER = {
    "0kl": "bcnd", "h0l": "cand", "hk0": "abnd", "hhl": "cnd", "h-h0l": "cnd",
    "hh(-2h)l": "cnd", "hki0": "abnd",
}
_PERIOD = 12  # all conditions are congruences modulo a divisor of 12 (see HKL_BOX)


@functools.cache
def _class_basis(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(basis (d, 3), its pseudo-inverse, normals (3 − d, 3) with h ∈ class ⇔ h·normals = 0)."""
    basis = np.array(_C[name], dtype=np.int64)
    normals = np.linalg.svd(basis.astype(float))[2][len(basis):]
    return basis, np.linalg.pinv(basis.astype(float)), normals


def _in_class(hkl: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(params (N, d) int64, member (N,) bool) of points ``hkl`` in class ``name``.

    Class bases are primitive, so every integer point of their span is a member.
    """
    basis, inverse, normals = _class_basis(name)
    member = np.all(np.abs(hkl @ normals.T) < 1e-9, axis=1)
    u = np.zeros((len(hkl), len(basis)), dtype=np.int64)
    u[member] = np.rint(hkl[member] @ inverse).astype(np.int64)
    return u, member


@functools.cache
def _candidates(d: int) -> list[tuple[np.ndarray, int]]:
    """Congruences a·u ≡ 0 (mod m), coefficients in −2…2, simplest first.

    Of a and −a the one with more positive coefficients is kept (ties: first nonzero
    positive), so conditions read "h+k=2n", "-h+k+l=3n" as in ITA.
    """
    grid = np.stack(np.meshgrid(*[np.arange(-2, 3)] * d, indexing="ij"), -1).reshape(-1, d)
    every = [(a, m) for a in grid if a.any() for m in (2, 3, 4, 6)]
    every.sort(key=lambda c: (c[1], int(np.abs(c[0]).sum()), int((c[0] < 0).sum()),
                              tuple(-c[0])))
    seen, out = set(), []
    for a, m in every:  # keep the simplest of congruences equal modulo m (h-k ≡ h+k mod 2)
        key = (m, frozenset({tuple(a % m), tuple(-a % m)}))
        if key not in seen:
            seen.add(key)
            out.append((a, m))
    return out


def _format(a: np.ndarray, m: int, params: str) -> str:
    text = "".join(f"{'+' if c > 0 else '-'}{abs(c) if abs(c) > 1 else ''}{p}"
                   for c, p in zip(a, params, strict=True) if c)
    return f"{text.lstrip('+')}={m}n"


def _predicted(hkl: np.ndarray, conds: dict[str, list], rotations: np.ndarray) -> np.ndarray:
    """Absences implied by ``conds`` on ``hkl`` and its images under ``rotations``."""
    out = np.zeros(len(hkl), dtype=bool)
    for a, m in conds.get("hkl", ()):  # centring: the present set is invariant under R
        out |= hkl @ a % m != 0
    for rot in rotations:
        img = hkl @ rot
        for name, cl in conds.items():
            if name == "hkl":
                continue
            u, member = _in_class(img, name)
            for a, m in cl:
                out |= member & (u @ a % m != 0)
    return out


@functools.cache
def _generic_points(crystal_system: int, n_points: int) -> dict[str, tuple]:
    """Per class of ``crystal_system``: (params, generic mask) on :func:`hkl_box`.

    A point is generic in its class when its stabiliser in the holohedry is that of
    the whole class (so it lies on no more special row or zone).
    """
    hkl = hkl_box(round((n_points ** (1 / 3) - 1) / 2))
    hall = default_hall_numbers()[_HOLOHEDRY_SG[crystal_system]]
    holo = np.unique(space_group_operations(hall)[0], axis=0)
    stab = sum(np.all(hkl @ r == hkl, axis=1).astype(int) for r in holo)
    out = {}
    for name in CLASSES[crystal_system]:
        u, member = _in_class(hkl, name)
        basis = _class_basis(name)[0]
        class_stab = sum(bool(np.all(basis @ r == basis)) for r in holo)
        out[name] = (u, member & (stab == class_stab) & np.any(hkl != 0, axis=1))
    return out


def describe_group(
    *, crystal_system: int, centering: str, hkl: np.ndarray, absent: np.ndarray,
    rotations: np.ndarray, first_space_group: int,
) -> tuple[str, list[str]]:
    """Minimal reflection conditions and an ITA-style symbol reproducing ``absent``.

    Classes are visited from general to special; on the generic points of each
    (those whose stabiliser in the holohedry is that of the whole class) the
    simplest congruences a·u ≡ 0 (mod m) are added greedily until the conditions
    found so far (applied to every symmetry image) predict exactly the absences.

    Raises:
        RuntimeError: if the conditions cannot reproduce the absence set.
    """
    rotations = np.unique(rotations, axis=0)
    conds: dict[str, list] = {}
    info: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for name, (u, gen) in _generic_points(crystal_system, len(hkl)).items():
        implied = gen.copy()
        implied[gen] = ~_predicted(hkl[gen], conds, rotations)
        present_res = u[gen & ~absent] % _PERIOD
        present_res = present_res[np.unique(present_res @ _PERIOD ** np.arange(u.shape[1]),
                                            return_index=True)[1]]
        found: list = []
        cands = [c for c in _candidates(u.shape[1])
                 if not np.any(present_res @ c[0] % c[1])]  # never removes a present hkl
        need = implied & absent
        while need.any():
            gains = [int(np.count_nonzero(need & (u @ a % m != 0))) for a, m in cands]
            best = int(np.argmax(gains))
            if gains[best] == 0:
                raise RuntimeError(f"no congruence explains the absences in class {name}")
            found.append(cands[best])
            need &= u @ cands[best][0] % cands[best][1] == 0
        if found:
            conds[name] = found
        info[name] = (gen, implied, u)
    if np.any(_predicted(hkl, conds, rotations) != absent):
        raise RuntimeError(f"conditions {conds} do not reproduce the absences")
    text = [f"{n}: {_format(a, m, _PARAMS[n])}" for n in conds for a, m in conds[n]]
    parts = [centering]
    for i, direction in enumerate(DIRECTIONS[crystal_system]):
        if isinstance(direction, str):
            parts.append(direction)
        elif not (centering == "R" and i == 2):
            if crystal_system == 6 and i == 0 and first_space_group <= 206:
                direction = (*direction[:2], 2, "-")  # classes 23 / m-3: 2-fold axes
            parts.append(_direction_symbol(direction, conds, info, hkl, absent, centering))
    return " ".join(parts), text


def _direction_symbol(direction, conds, info, hkl, absent, centering) -> str:
    zone, row, order, blank = direction
    glide = screw = ""
    if zone in conds:
        gen, implied, _ = info[zone]
        letters = [g for g in _LETTER_ORDER[zone] if any(np.array_equal(
            implied & (np.abs(hkl @ np.array(t) % 1) < PHASE_TOL), gen & ~absent)
            for t in _GLIDES[g])]
        if centering in "ABC" and len(set(letters) & {"a", "b", "c"}) > 1:
            glide = "e"  # double glide: two glides in one plane (C/A-centred only)
        elif letters:
            glide = letters[0]
        else:
            glide = "(" + ",".join(_format(a, m, _PARAMS[zone]) for a, m in conds[zone]) + ")"
    if row is not None and row in conds:
        gen, _, u = info[row]
        period = int(u[gen & ~absent & (u[:, 0] > 0), 0].min())
        screw = f"{order}{order // period}" if order % period == 0 else (
            "(" + ",".join(_format(a, m, _PARAMS[row]) for a, m in conds[row]) + ")")
    if glide and (screw or blank != "-"):
        return f"{screw or blank}/{glide}"
    return glide or screw or blank


def absence_partition(box: int = HKL_BOX) -> list[tuple[list[int], np.ndarray]]:
    """Space groups grouped by (crystal system, absence set over the ±``box`` hkl box).

    Returns:
        ``[(space_groups ascending, absent mask over hkl_box(box))]`` ordered by crystal
        system, then lowest space-group number.
    """
    hkl = hkl_box(box)
    halls = default_hall_numbers()
    groups: dict[tuple[int, bytes], list[int]] = {}
    masks: dict[tuple[int, bytes], np.ndarray] = {}
    for sg in range(1, 231):
        mask = absent_mask(hkl, *space_group_operations(halls[sg]))
        key = (crystal_system_index(sg), np.packbits(mask).tobytes())
        groups.setdefault(key, []).append(sg)
        masks[key] = mask
    ordered = sorted(groups.items(), key=lambda kv: (kv[0][0], kv[1][0]))
    return [(sgs, masks[key]) for key, sgs in ordered]


def derive_extinction_table(box: int = HKL_BOX) -> dict[str, Any]:
    """Derive the extinction-group table from the symmetry operations (a few seconds).

    Args:
        box: half-width of the hkl box searched (see :data:`HKL_BOX`).

    Returns:
        The JSON-ready table: ``{"hkl_box", "method", "n_classes", "groups": [...]}``;
        each group has ``index``, ``symbol``, ``crystal_system`` (0–6),
        ``crystal_system_name``, ``space_groups`` (ascending) and ``conditions``
        (minimal reflection conditions, e.g. ``"h0l: l=2n"``). Groups are ordered by
        crystal system, then by their lowest space-group number.
    """
    hkl = hkl_box(box)
    halls = default_hall_numbers()
    ordered = absence_partition(box)
    out = []
    for index, (sgs, mask) in enumerate(ordered):
        first = sgs[0]
        ops = space_group_operations(halls[first])
        symbol, conditions = describe_group(
            crystal_system=crystal_system_index(first),
            centering=spglib.get_spacegroup_type(halls[first], _throw=True).international_short[0],
            hkl=hkl,
            absent=mask,
            rotations=ops[0],
            first_space_group=first,
        )
        out.append(
            {
                "index": index,
                "symbol": symbol,
                "crystal_system": crystal_system_index(first),
                "crystal_system_name": CRYSTAL_SYSTEMS[crystal_system_index(first)],
                "space_groups": sgs,
                "conditions": conditions,
            }
        )
    return {
        "method": (
            "hkl absent iff an op (R, t) of the default spglib Hall setting has h.R = h "
            "and h.t not integer; space groups of one crystal system with identical "
            "absence sets form one group"
        ),
        "hkl_box": box,
        "n_classes": len(out),
        "groups": out,
    }


