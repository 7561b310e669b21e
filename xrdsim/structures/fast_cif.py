"""The fast structure path: CIF text → arrays with gemmi's compiled CIF parser.

pymatgen's ``CifParser`` costs ~2–3 ms per MP-20 structure, 20× the peak kernel. For
the CIFs that make up nearly every collection (one data block with a cell, explicit
symmetry operators and an atom-site loop) this module reads the same numbers with
``gemmi.cif`` (MPL-2.0, ~0.03 ms per file), expands the asymmetric unit with the
operators exactly as ``CifParser`` does (coordinates wrapped to [0, 1), a position
within ``SITE_TOLERANCE`` of one already generated is the same site, rows at one
position form one disordered site) and runs the checks of
:mod:`xrdsim.structures.reader`.

The fast path *refuses* rather than guesses: :func:`parse_cif_fast` returns ``None``
for anything outside the plain subset — several structure blocks, no explicit
operators, anisotropic or implausible displacement values, modulated cells, unusual
symbols, missing or non-numeric values, any failed check — and the caller falls back
to :func:`xrdsim.structures.reader.parse_cif`, which then gives the same record or
error record as always. ``tests/structures/test_fast_cif.py`` checks that both paths
agree on every shared CIF, on MP-20 rows and on every malformed file of
``tests/data/bad``.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import gemmi
import numpy as np
from pymatgen.core import Composition, Element, Species

from xrdsim.structures.cif_checks import expansion_cost, op_key
from xrdsim.structures.cif_values import cif_number
from xrdsim.structures.reader import (
    MAX_CELL_EDGE,
    MAX_SITES,
    MAX_VOLUME_PER_ATOM,
    MIN_CELL_EDGE,
    MIN_TRANSLATION,
    OCCUPANCY_TOLERANCE,
    OVERLAP_DISTANCE,
    StructureRecord,
    close_pairs,
    declared_space_group,
    shortest_translation,
)
from xrdsim.structures.sources import CifSource

#: Fractional distance under which two generated positions are one site: pymatgen's
#: ``CifParser`` ``site_tolerance`` default, so both paths find the same sites.
SITE_TOLERANCE = 1e-4
#: Largest U (Å²) the fast path reads as U; larger values may be B written under a U tag,
#: which the full reader diagnoses, so the fast path hands such files over.
MAX_PLAUSIBLE_U = 0.2

_EIGHT_PI2 = 8.0 * math.pi**2
_CELL_TAGS = ("_cell_length_a", "_cell_length_b", "_cell_length_c",
              "_cell_angle_alpha", "_cell_angle_beta", "_cell_angle_gamma")
#: In pymatgen's order of preference.
_OP_TAGS = ("_symmetry_equiv_pos_as_xyz", "_space_group_symop_operation_xyz")
#: Tags whose presence sends a file to the full reader: anisotropic displacements,
#: modulated (superspace) cells, Cartesian coordinates, geometry-only dummy sites,
#: magnetic CIFs and implicit hydrogens (pymatgen rewrites those blocks).
_REFUSED_PREFIXES = ("_atom_site_aniso", "_cell_modulation", "_space_group_ssg",
                     "_atom_site_cartn", "_atom_site_calc_flag", "_atom_site_fourier",
                     "_atom_site_moment", "_space_group_magn", "_space_group_symop_magn",
                     "_atom_site_attached_hydrogens", "_parent_space_group")
#: pymatgen's ``frac_tolerance``: a coordinate within this relative distance of 1/3 or 2/3
#: is read as exactly that ("0.3333" → 1/3), so symmetry images do not split.
FRAC_TOLERANCE = 1e-4
_SYMBOL = re.compile(r"^([A-Z][a-z]?)(?:(\d*)([+-]))?$")


@dataclass(frozen=True)
class _Lattice:
    matrix: np.ndarray


@dataclass(frozen=True)
class LightSite:
    """One site: what :func:`xrdsim.peaks.lines.compute_peaks` and spglib read of a site."""

    frac_coords: np.ndarray
    species: dict[Any, float]
    properties: dict[str, float]
    label: str


class LightStructure:
    """An array-backed crystal with the small part of pymatgen's ``Structure`` interface
    that labels and peaks use (``sites``, iteration, ``lattice.matrix``, ``composition``,
    ``volume``) — built without pymatgen's CIF parser or ``Structure``."""

    def __init__(self, matrix: np.ndarray, sites: list[LightSite]):
        self.lattice = _Lattice(matrix)
        self.sites = sites

    def __len__(self) -> int:
        return len(self.sites)

    def __iter__(self) -> Iterator[LightSite]:
        return iter(self.sites)

    def __getitem__(self, i: int) -> LightSite:
        return self.sites[i]

    @property
    def frac_coords(self) -> np.ndarray:
        return np.array([s.frac_coords for s in self.sites], dtype=np.float64)

    @property
    def volume(self) -> float:
        return float(abs(np.linalg.det(self.lattice.matrix)))

    @functools.cached_property
    def composition(self) -> Composition:
        totals: dict[Any, float] = {}
        for site in self.sites:
            for sp, occ in site.species.items():
                totals[sp] = totals.get(sp, 0.0) + occ
        return Composition(totals)



def _ideal(value: float) -> float:
    """``value`` snapped to 1/3 or 2/3 as pymatgen's ``CifParser`` does."""
    for ideal in (1 / 3, 2 / 3):
        if abs(value / ideal - 1.0) <= FRAC_TOLERANCE:
            return float(str(ideal))
    return value


def _lattice_matrix(a, b, c, alpha, beta, gamma) -> np.ndarray:
    """Row-vector lattice of the cell parameters (pymatgen's ``from_parameters`` axes)."""
    al, be, ga = (math.radians(x) for x in (alpha, beta, gamma))
    val = (math.cos(al) * math.cos(be) - math.cos(ga)) / (math.sin(al) * math.sin(be))
    gamma_star = math.acos(max(-1.0, min(1.0, val)))
    return np.array([
        [a * math.sin(be), 0.0, a * math.cos(be)],
        [-b * math.sin(al) * math.cos(gamma_star), b * math.sin(al) * math.sin(gamma_star),
         b * math.cos(al)],
        [0.0, 0.0, float(c)],
    ])


@functools.lru_cache(maxsize=4096)
def _operator(xyz: str) -> tuple[tuple, tuple]:
    op = gemmi.Op(xyz)
    den = float(gemmi.Op.DEN)
    rot = tuple(tuple(v / den for v in row) for row in op.rot)
    return rot, tuple(v / den for v in op.tran)


@functools.lru_cache(maxsize=512)
def _species(symbol: str, oxidation: float | None) -> Any:
    return Element(symbol) if oxidation is None else Species(symbol, oxidation)


def _structure_block(doc: gemmi.cif.Document) -> gemmi.cif.Block | None:
    blocks = [b for b in doc if len(b.find_values("_atom_site_fract_x"))]
    return blocks[0] if len(blocks) == 1 else None


def _column(block: gemmi.cif.Block, tag: str) -> list[str] | None:
    col = block.find_values(tag)
    if not col:
        return None
    return [gemmi.cif.as_string(v) for v in col]


def _oxidation_states(block: gemmi.cif.Block) -> dict[str, float] | None:
    symbols = _column(block, "_atom_type_symbol")
    numbers = _column(block, "_atom_type_oxidation_number")
    if symbols is None or numbers is None:
        return {}
    out = {}
    for s, n in zip(symbols, numbers, strict=False):
        value = cif_number(n)
        if value is None:
            return None
        out[s] = value
    return out


def parse_cif_fast(source: CifSource) -> StructureRecord | None:
    """The record of a plain CIF read with gemmi, or ``None`` to use the full reader.

    Returns a :class:`~xrdsim.structures.reader.StructureRecord` whose ``structure`` is a
    :class:`LightStructure` equal, site for site, to what
    :func:`xrdsim.structures.reader.parse_cif` builds (same positions, species,
    occupancies and ``"b_iso"``), or ``None`` when the text is outside the subset this
    path reads (see the module docstring). Never raises for bad input.
    """
    try:
        return _parse(source)
    except Exception:  # noqa: BLE001 - anything unexpected: the full reader decides
        return None


def _parse(source: CifSource) -> StructureRecord | None:
    text = source.text
    if "\r" in text and "\n" not in text:
        return None
    doc = gemmi.cif.read_string(text)
    block = _structure_block(doc)
    if block is None:
        return None
    for item in block:
        tags = [item.pair[0]] if item.pair is not None else (
            list(item.loop.tags) if item.loop is not None else [])
        if any(t.lower().startswith(_REFUSED_PREFIXES) for t in tags):
            return None
    cell = [cif_number(block.find_value(t)) for t in _CELL_TAGS]
    if any(v is None for v in cell):
        return None
    a, b, c, alpha, beta, gamma = cell
    if not (MIN_CELL_EDGE <= min(a, b, c) and max(a, b, c) <= MAX_CELL_EDGE
            and all(0.0 < x < 180.0 for x in (alpha, beta, gamma))):
        return None
    ops_text = next((col for col in (_column(block, t) for t in _OP_TAGS) if col), None)
    if not ops_text:
        return None
    fx, fy, fz = (_column(block, f"_atom_site_fract_{k}") for k in "xyz")
    labels = _column(block, "_atom_site_label")
    types = _column(block, "_atom_site_type_symbol") or labels
    if fx is None or fy is None or fz is None or types is None:
        return None
    n = len(fx)
    if not (len(fy) == len(fz) == len(types) == n) or n == 0:
        return None
    matrix = _lattice_matrix(a, b, c, alpha, beta, gamma)
    try:  # the cost bounds, from the numbers alone, before any array is built
        expansion_cost(operators=len({op_key(op) for op in ops_text}), rows=n,
                       volume=abs(float(np.linalg.det(matrix))), max_sites=MAX_SITES)
    except ValueError:
        return None  # the full reader refuses it with the reason, also before expanding
    ops = [_operator(s) for s in ops_text]
    rots = np.array([o[0] for o in ops])
    trans = np.array([o[1] for o in ops])
    labels = labels if labels is not None and len(labels) == n else types
    occ_col = _column(block, "_atom_site_occupancy")
    b_col, b_factor = _column(block, "_atom_site_b_iso_or_equiv"), 1.0
    if b_col is None:
        b_col, b_factor = _column(block, "_atom_site_u_iso_or_equiv"), _EIGHT_PI2
    oxidation = _oxidation_states(block)
    if oxidation is None or (oxidation and block.find_value("_chemical_formula_sum") is None):
        return None  # pymatgen cannot check the composition of charged symbols without it

    rows = []
    for i in range(n):
        xyz = [cif_number(v) for v in (fx[i], fy[i], fz[i])]
        occ = 1.0 if occ_col is None else cif_number(occ_col[i])
        if any(v is None for v in xyz) or occ is None or not 0.0 < occ <= 1.0:
            return None
        xyz = [_ideal(v) for v in xyz]
        match = _SYMBOL.match(types[i])
        if match is None:
            return None
        symbol = match.group(1)
        if Element.is_valid_symbol(symbol) is False:
            return None
        charge = None
        if types[i] in oxidation:
            charge = oxidation[types[i]]
        elif match.group(3) is not None or oxidation:
            return None  # a charge without an _atom_type row, or a partly typed file
        b_iso = None
        if b_col is not None:
            value = cif_number(b_col[i])
            if value is None:
                return None
            if b_factor != 1.0 and value > MAX_PLAUSIBLE_U:
                return None
            b_iso = value * b_factor
            if not 0.0 <= b_iso <= 20.0:
                return None
        rows.append((np.array(xyz), _species(symbol, charge), occ, b_iso, labels[i]))
    if b_col is not None and len(set(labels)) != n:
        return None  # B is looked up by label; repeated labels are the full reader's case
    sites = _expand(rows, rots, trans)
    if sites is None:
        return None
    structure = LightStructure(matrix, sites)
    if not (_checks_pass(structure) and _stoichiometry_agrees(block, structure)):
        return None
    return StructureRecord(source.source, source.structure_id, structure,
                           declared_space_group(_as_dict(block)))


def _wrap(coords: np.ndarray) -> np.ndarray:
    return coords - np.floor(coords)


def _near(found: np.ndarray, coord: np.ndarray) -> np.ndarray:
    """Mask of the rows of ``found`` within SITE_TOLERANCE of ``coord`` (periodic)."""
    d = found - coord
    d -= np.round(d)
    return np.all(np.abs(d) < SITE_TOLERANCE, axis=-1)


#: Elements of the largest temporary array the expansion builds at once (2²⁰ float64 =
#: 8 MiB): pairwise comparisons run in blocks of rows, so memory stays flat whatever the
#: site count (a 2,197-site cell once built 8.5 GB of (sites × sites × 27 × 3) arrays).
BLOCK_ELEMENTS = 1 << 20


def _blocks(rows: int, per_row: int) -> Iterator[slice]:
    """Slices of ``range(rows)`` whose blocks hold at most :data:`BLOCK_ELEMENTS` values."""
    step = max(1, BLOCK_ELEMENTS // max(per_row, 1))
    for start in range(0, rows, step):
        yield slice(start, min(start + step, rows))


def _expand(rows, rots: np.ndarray, trans: np.ndarray) -> list[LightSite] | None:
    """Symmetry-expand the rows as ``CifParser`` does, or None where the paths could differ.

    Rows whose coordinate is a symmetry image of an earlier row's are one disordered site
    (pymatgen's ``get_matching_coord``); every other row is expanded to its orbit. Images
    of different asymmetric sites that coincide are handled differently by pymatgen
    depending on their compositions, so the fast path hands such files over. Comparisons
    run in blocks (:data:`BLOCK_ELEMENTS`), so memory does not grow with sites².
    """
    coords = np.array([r[0] for r in rows], dtype=np.float64)                  # (R, 3)
    images = _wrap(np.einsum("oij,rj->roi", rots, coords) + trans)              # (R, O, 3)
    n_rows, n_ops = images.shape[:2]
    key_of = np.empty(n_rows, dtype=np.int64)
    is_key = np.zeros(n_rows, dtype=bool)
    for block in _blocks(n_rows, n_ops * n_rows * 3):
        # hits[k, j]: some image of row k lies on row j's coordinate (periodically)
        hits = _near(images[block, :, None, :], coords[None, None, :, :]).any(axis=1)
        for k, row in zip(range(block.start, block.stop), hits, strict=True):
            earlier = np.flatnonzero(row[:k] & is_key[:k])
            key_of[k] = earlier[0] if earlier.size else k
            is_key[k] = not earlier.size
    keys = np.flatnonzero(is_key)
    members: dict[int, list[int]] = {}
    for i, k in enumerate(key_of.tolist()):
        members.setdefault(k, []).append(i)
    species_of: list[dict[Any, float]] = []
    props_of: list[dict[str, float]] = []
    for k in keys.tolist():
        species: dict[Any, float] = {}
        for i in members[k]:
            species[rows[i][1]] = species.get(rows[i][1], 0.0) + rows[i][2]
        b_values = {rows[i][3] for i in members[k]}
        elements = {getattr(sp, "symbol", str(sp)) for sp in species}
        if len(b_values) > 1 or elements == {"O", "H"} or sum(species.values()) > 1.0:
            return None  # two B values on a site, pymatgen's water and rescaling rules
        b_iso = b_values.pop()
        species_of.append(species)
        props_of.append({} if b_iso is None else {"b_iso": b_iso})
    orbit_images = images[keys]                                                 # (K, O, 3)
    first = np.empty(orbit_images.shape[:2], dtype=bool)
    for block in _blocks(len(keys), n_ops * n_ops * 3):
        same = _near(orbit_images[block, :, None, :], orbit_images[block, None, :, :])
        first[block] = ~np.triu(same, 1).any(axis=1)  # an image equal to an earlier: a copy
    positions = orbit_images[first]                                             # (N, 3)
    if len(positions) > MAX_SITES or _any_coincide(positions):
        return None
    owner = np.nonzero(first)[0]
    labels = [rows[members[k][-1]][4] for k in keys.tolist()]
    sites = [LightSite(pos, dict(species_of[o]), props_of[o], labels[o])
             for pos, o in zip(positions, owner.tolist(), strict=True)]
    return sites


def _any_coincide(positions: np.ndarray) -> bool:
    """Whether two positions lie within SITE_TOLERANCE of each other (periodically)."""
    n = len(positions)
    for block in _blocks(n, n * 3):
        clash = _near(positions[block, None, :], positions[None, :, :])
        clash[np.arange(block.stop - block.start), np.arange(block.start, block.stop)] = False
        if clash.any():
            return True
    return False


def _checks_pass(structure: LightStructure) -> bool:
    """The reader's plausibility checks; False wherever the full reader would refuse."""
    n = len(structure)
    occupancy = np.array([sum(s.species.values()) for s in structure.sites])
    if n == 0 or (occupancy > 1.0 + OCCUPANCY_TOLERANCE).any():
        return False
    volume = structure.volume
    if not volume > 0 or volume / occupancy.sum() > MAX_VOLUME_PER_ATOM:
        return False
    matrix = structure.lattice.matrix
    if shortest_translation(matrix) < MIN_TRANSLATION:
        return False
    pairs = close_pairs(structure.frac_coords, matrix, OVERLAP_DISTANCE)
    if pairs is None:
        return False
    return not any(occupancy[i] + occupancy[j] > 1.0 + OCCUPANCY_TOLERANCE for i, j, _ in pairs)


def _stoichiometry_agrees(block: gemmi.cif.Block, structure: LightStructure) -> bool:
    """False when ``_chemical_formula_sum`` disagrees with the sites (pymatgen warns then)."""
    text = block.find_value("_chemical_formula_sum")
    if text is None:
        return True
    declared = _formula_counts(gemmi.cif.as_string(text))
    found: dict[str, float] = {}
    for site in structure.sites:
        for sp, occ in site.species.items():
            symbol = getattr(sp, "symbol", str(sp))
            found[symbol] = found.get(symbol, 0.0) + occ
    if declared is None or set(declared) != set(found):
        return False
    ratios = [found[e] / declared[e] for e in declared]
    return max(ratios) - min(ratios) < 0.01


_FORMULA_TERM = re.compile(r"([A-Z][a-z]?)(\d*\.?\d*)")


def _formula_counts(text: str) -> dict[str, float] | None:
    """Element → count of a ``_chemical_formula_sum`` such as ``'Ga4 Te4'``, else None."""
    out: dict[str, float] = {}
    for token in text.split():
        match = _FORMULA_TERM.fullmatch(token)
        if match is None:
            return None
        out[match.group(1)] = out.get(match.group(1), 0.0) + float(match.group(2) or 1.0)
    return out or None


def _as_dict(block: gemmi.cif.Block) -> dict[str, Any]:
    """The pairs of a block as the lower-case tag → value mapping the reader's helpers use."""
    out: dict[str, Any] = {}
    for item in block:
        if item.pair is not None:
            out[item.pair[0].lower()] = gemmi.cif.as_string(item.pair[1])
    return out
