"""Checks that a CIF was read as written: nothing pymatgen guessed, dropped or repaired.

pymatgen reads damaged CIFs leniently and says so only in warnings: an unknown element
``Uuo`` becomes U, a site with occupancy −1 or NaN disappears ("Missing elements"),
a coordinate ``.`` becomes 0, a mistyped symmetry operator is skipped and the structure
loses its symmetry. :func:`check_block` (before the structure is built) and
:func:`check_as_written` (after) raise ``ValueError`` (an error record in a batch) for
each such case;
:func:`symmetry_lost` compares the declared space group with the one detected later.
"""

from __future__ import annotations

import functools
import re
from typing import Any

#: pymatgen warnings that mean the structure differs from the atom list (case-insensitive).
#: ("Incorrect stoichiometry" and "Missing elements ... from CIF-reported composition" compare
#: with _chemical_formula_sum, often stale or counting H atoms the file does not place.)
_DAMAGE_WARNINGS = re.compile(r"cannot determine chemical composition|can't parse element|"
                              r"no structure parsed", re.IGNORECASE)
_MISSING = re.compile(r"Missing elements ([A-Za-z ,]+) from PMG structure composition")
_SYMOP_KEYS = ("_symmetry_equiv_pos_as_xyz", "_space_group_symop_operation_xyz")
#: One component of a symmetry operator: signed terms in x, y, z and fractions.
_SYMOP_PART = re.compile(r"^[+-]?(\d+(\.\d+)?(/\d+)?\*?)?[xyz]?([+-](\d+(\.\d+)?(/\d+)?\*?)?"
                         r"[xyz]?)*$", re.IGNORECASE)
_UNKNOWN = ("?", ".")


def _values(block: dict, key: str) -> list[str]:
    value = block.get(key)
    if value is None:
        return []
    return [str(v).strip() for v in (value if isinstance(value, list) else [value])]


def _element_of(symbol: str) -> str:
    """'Fe3+' -> 'Fe', 'O2-' -> 'O', 'Na1' -> 'Na' (type symbols carry charges, labels digits)."""
    match = re.match(r"[A-Za-z]+", symbol)
    return match.group(0) if match else symbol


#: Budget of cell volume (Å³) × expanded sites, checked before pymatgen expands a CIF.
#: Reflections to 120° at Cu Kα number ≈ 1.5·V, so this caps the structure-factor work
#: near 1.5·10⁹ terms; the largest test structure (Li7La3Zr2O12) has 5.9·10⁵, a 260 Å
#: cell of 19,200 sites 3.4·10¹¹ (its expansion alone took 192 s).
MAX_VOLUME_SITES = 1e9
#: Most distinct symmetry operators of a CIF: a space group in its conventional setting has
#: at most 192 (the F-centred cubic groups); more is a crafted or broken operator list.
MAX_OPERATORS = 192


def _cell_volume(block: dict[str, Any]) -> float:
    """V = abc·√(1 − cos²α − cos²β − cos²γ + 2 cosα cosβ cosγ) from the (checked) cell."""
    import math

    a, b, c, al, be, ga = (_plain_number(re.sub(r"\(\d*\)$", "", _values(block, k)[0]))
                           for k in ("_cell_length_a", "_cell_length_b", "_cell_length_c",
                                     "_cell_angle_alpha", "_cell_angle_beta",
                                     "_cell_angle_gamma"))
    ca, cb, cg = (math.cos(math.radians(x)) for x in (al, be, ga))
    return a * b * c * math.sqrt(max(1 - ca * ca - cb * cb - cg * cg + 2 * ca * cb * cg, 0.0))


def _expansion_counts(block: dict[str, Any], declared: int | None) -> tuple[int, int]:
    """(distinct symmetry operators, listed sites) of a block: the operators are the file's
    symmetry-operator loop, or the order of the declared space group when the file lists
    none (pymatgen then generates them)."""
    rows = max(len(_values(block, "_atom_site_fract_x")), len(_values(block, "_atom_site_label")))
    ops = max((len({op_key(op) for op in _values(block, key)}) for key in _SYMOP_KEYS),
              default=0)
    if ops == 0 and declared:
        ops = group_order(declared)
    return max(ops, 1), rows


def op_key(op: str) -> str:
    """A symmetry operator written without quotes, spaces or case ('X, Y+1/2,z' → 'x,y+1/2,z')."""
    return op.strip("'\"").replace(" ", "").lower()


def expansion_cost(*, operators: int, rows: int, volume: float, max_sites: int) -> None:
    """Raise ``ValueError`` for an expansion too large to attempt, from the file's numbers
    alone, before any array is built: more distinct operators than a space group has
    (:data:`MAX_OPERATORS`), operators × listed sites (the most sites expansion can give;
    special positions give fewer) above ``max_sites``, or cell volume × that bound above
    :data:`MAX_VOLUME_SITES`. Both CIF readers call it first.
    """
    if operators > MAX_OPERATORS:
        raise ValueError(f"absurd symmetry: {operators} distinct symmetry operators (a space "
                         f"group has at most {MAX_OPERATORS}); refused before expanding")
    estimate = operators * rows
    if estimate > max_sites:
        raise ValueError(f"absurd cell: up to {estimate} sites after symmetry expansion "
                         f"(operators × listed sites > {max_sites}); refused before expanding")
    if volume * estimate > MAX_VOLUME_SITES:
        raise ValueError(f"too costly: cell volume {volume:.3g} Å³ × up to {estimate} sites = "
                         f"{volume * estimate:.3g} > {MAX_VOLUME_SITES:g} (expansion and "
                         "structure factors grow with both); refused before expanding")


#: Type symbols that stand for a group of atoms, refused by name (issue 31): the file
#: places one "atom" where O and one or two H sit, and the H positions are nowhere in it.
#: Refused rather than read as O: the O sublattice alone lacks 1–2 of the group's 9–10
#: electrons (11–20 % of its forward scattering), so the pattern would be silently wrong
#: for the very compounds (hydrates, hydroxides, zeolite water) whose H matters.
#: Only type symbols are checked: a label such as ``OH1`` names an O site of a hydroxyl
#: whose H is listed as a site of its own.
PSEUDO_ELEMENTS = {"Oh": "hydroxyl OH", "Ow": "water oxygen (OW)", "Wat": "water H2O",
                   # NH4 / NH3 read as "Nh" (nihonium, never in a measured crystal): 13 AFLOW
                   # prototypes of `xrdsim sources` write ammonium / ammonia as one atom
                   "Nh": "ammonium NH4 or ammonia NH3"}


def check_block(block: dict[str, Any], *, occupancy_tolerance: float, max_sites: int,
                declared: int | None) -> None:
    """Before the structure is built: raise ``ValueError`` for values pymatgen would guess,
    and for an expansion that could exceed ``max_sites`` (:func:`expansion_cost`).

    Args:
        block: the CIF block (lower-case keys) pymatgen parsed.
        occupancy_tolerance: occupancies may reach 1 + this.
        max_sites: most sites of the expanded cell. declared: the declared space group.
    """
    from pymatgen.core import Element

    operators, rows = _expansion_counts(block, declared)
    expansion_cost(operators=operators, rows=rows, volume=_cell_volume(block),
                   max_sites=max_sites)

    typed = _values(block, "_atom_site_type_symbol")
    symbols = typed or [_element_of(label) for label in _values(block, "_atom_site_label")]
    for symbol in symbols:
        element = _element_of(symbol)
        if element.capitalize() in ("D", "T") or not symbol or symbol in _UNKNOWN:
            continue
        if typed and element.capitalize() in PSEUDO_ELEMENTS:
            raise ValueError(
                f"pseudo-element {symbol!r} ({PSEUDO_ELEMENTS[element.capitalize()]} written "
                "as one atom): its H positions are not in the file, and reading it as the O or N "
                "alone would drop their electrons; write the O / N (and H) sites to use this "
                "structure")
        if not Element.is_valid_symbol(element.capitalize()):
            raise ValueError(f"unknown element symbol {symbol!r} in the atom list (pymatgen "
                             "would read it as another element)")
    for value in _values(block, "_atom_site_occupancy"):
        if value in _UNKNOWN:
            continue
        number = _plain_number(value)
        if number is None or not 0.0 < number <= 1.0 + occupancy_tolerance:
            raise ValueError(f"occupancy {value!r} is not a number in (0, 1]; pymatgen would "
                             "drop the site")
    for axis in "xyz":
        for value in _values(block, f"_atom_site_fract_{axis}"):
            if _plain_number(value) is None:
                raise ValueError(f"fractional coordinate {axis} = {value!r} is not a number "
                                 "(pymatgen would misread it, '.' as 0)")
    for key in _SYMOP_KEYS:
        for op in _values(block, key):
            parts = op.strip("'\"").replace(" ", "").split(",")
            if len(parts) != 3 or not all(p and _SYMOP_PART.match(p) for p in parts):
                raise ValueError(f"malformed symmetry operator {op!r} ({key}); write three "
                                 "comma-separated components such as 'x, y+1/2, -z'")


def check_as_written(block: dict[str, Any], structure: Any, warned: str) -> None:
    """After the structure is built: raise ``ValueError`` when pymatgen warned that it
    differs from the file, or when a site of the atom list is missing from it.

    Args:
        block: the CIF block (lower-case keys). structure: what pymatgen built from it.
        warned: pymatgen's warnings while parsing, joined.
    """
    if warned and _DAMAGE_WARNINGS.search(warned):
        raise ValueError(f"the structure differs from the file: {warned[:300]}")
    listed = {_element_of(s).capitalize() for s in _values(block, "_atom_site_type_symbol")}
    for match in _MISSING.finditer(warned or ""):
        lost = sorted(set(re.findall(r"[A-Z][a-z]?", match.group(1))) & listed)
        if lost:  # in the atom list, absent from the structure: pymatgen dropped the sites
            raise ValueError(f"element(s) {lost} of the atom list are missing from the "
                             f"structure pymatgen built ({match.group(0)})")
    built = {el.symbol for el in structure.composition.element_composition}
    dropped = sorted(listed - built - {"D", "T"})
    if dropped:  # sites sharing a position merge into one; an element never vanishes
        raise ValueError(f"element(s) {dropped} of the atom list are missing from the "
                         "structure pymatgen built; check their occupancy and coordinates")


def _plain_number(text: str) -> float | None:
    """CIF number with an optional esd '(n)': a float, or None for anything else."""
    import math

    match = re.fullmatch(r"([+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)(\(\d+\))?", text)
    if not match:
        return None
    value = float(match.group(1))
    return value if math.isfinite(value) else None


def symmetry_lost(declared: int | None, detected: int) -> str:
    """Why a structure has less symmetry than its CIF declares, or ``""``.

    A detected group of lower order than the declared one means symmetry operators were
    not applied as declared (malformed or missing); a higher one is common (a P1 file of
    a cubic crystal) and both numbers are kept in the peak database.
    """
    if not declared or declared == detected:
        return ""
    if group_order(detected) < group_order(declared):
        return (f"the CIF declares space group {declared} but the expanded structure has "
                f"only the symmetry of {detected}: its symmetry operators or atom list do not "
                "match the declared group; fix the file")
    return ""


@functools.cache
def group_order(number: int) -> int:
    """Operations of a space group in its conventional cell (centring included), from
    spglib's table for the group's standard setting (pymatgen's ``SpaceGroup.order``,
    without building its ~0.1 s object every structure)."""
    from xrdsim.structures.extinction import default_hall_numbers, space_group_operations

    rotations, _ = space_group_operations(default_hall_numbers()[int(number)])
    return len(rotations)
