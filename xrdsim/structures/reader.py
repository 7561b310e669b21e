"""Reading crystal structures: CIF files, folders of CIFs, CSV(.gz) files of CIF text.

Two stages, so a batch can be spread over workers cheaply:

1. :func:`iter_cif_sources` walks the inputs in a deterministic order and yields one
   :class:`CifSource` (origin, id, CIF text) per structure — or a
   :class:`~xrdsim.errors.StructureError` for an input that cannot be read at all.
   It never raises for bad input.
2. :func:`parse_cif` turns one source into a :class:`StructureRecord` with
   pymatgen's ``CifParser`` and checks that the structure is physically usable; it
   raises one ``StructureError(source, reason)`` otherwise.

:func:`read_structures` chains both and yields records and errors in input order.

Isotropic displacement: when the CIF gives ``_atom_site_B_iso_or_equiv`` (B, Å²) or
``_atom_site_U_iso_or_equiv`` (U, Å²) every site gets the site property ``"b_iso"``
in Å², with B = 8π²·U; the Debye–Waller factor is exp(−B·sin²θ/λ²). Anisotropic
displacement (``_atom_site_aniso_U_ij`` / ``B_ij`` / ``beta_ij``) becomes the site property
``"u_aniso"`` (Cartesian U, Å²) on the symmetry-expanded sites; U/B plausibility rules and
the conversions are in :mod:`xrdsim.structures.displacement`. Modulated (superspace) CIFs
are refused (:mod:`xrdsim.structures.superspace`).
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from os import PathLike

import numpy as np
from pymatgen.core import Structure
from pymatgen.io.cif import CifFile, CifParser

from xrdsim.errors import StructureError
from xrdsim.structures.cif_checks import check_as_written, check_block
from xrdsim.structures.cif_values import cif_number
from xrdsim.structures.displacement import anisotropic_u, isotropic_b
from xrdsim.structures.oxidation import charges_from_type_symbols
from xrdsim.structures.sources import CIF_SUFFIXES as CIF_SUFFIXES
from xrdsim.structures.sources import CSV_SUFFIXES as CSV_SUFFIXES
from xrdsim.structures.sources import DEFAULT_ID_COLUMN as DEFAULT_ID_COLUMN
from xrdsim.structures.sources import CifSource, iter_cif_sources, split_data_blocks
from xrdsim.structures.superspace import check_not_modulated
from xrdsim.structures.symmetry import space_group_from_symbol

#: Sites closer than this (Å) count as "at the same position" for the overlap check.
#: Real bonds are ≥ ~0.7 Å (H–H 0.74 Å); 0.5 Å only catches duplicated or mistyped atoms.
OVERLAP_DISTANCE = 0.5
#: Occupancies of sites at one position may sum to 1 + this (rounding of refined values).
OCCUPANCY_TOLERANCE = 0.05
#: Largest plausible cell edge (Å): protein crystals reach ~1000 Å, but inorganic
#: structures for powder simulation stay far below; 500 Å catches unit slips (nm / pm).
MAX_CELL_EDGE = 500.0
#: Shortest plausible lattice translation (Å): every atom sits this close to its own
#: periodic image. The shortest bond is H–H at 0.74 Å and real translations start near
#: 2 Å (Be 2.29 Å), so a translation below 1 Å is a unit slip or a broken cell.
MIN_TRANSLATION = 1.0
#: Smallest plausible cell edge (Å): an edge is a lattice translation.
MIN_CELL_EDGE = MIN_TRANSLATION
#: Most close pairs per site :func:`close_pairs` lists before it gives up (a cell
#: of stacked atoms); real structures have a few (partly occupied sites).
MAX_CLOSE_PER_SITE = 64
_SHIFTS = np.array([[i, j, k] for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)],
                   dtype=np.float64)
#: Largest plausible volume per atom (Å³): dense solids have ~5–50 Å³, open frameworks
#: and molecular crystals < 200 Å³; > 1000 Å³ signals a wrong cell or missing atoms.
MAX_VOLUME_PER_ATOM = 1000.0
#: Largest plausible number of sites in the expanded cell (a runaway symmetry expansion
#: of a mistyped CIF would otherwise exhaust memory in later stages).
MAX_SITES = 20000

_CELL_KEYS = ("_cell_length_a", "_cell_length_b", "_cell_length_c",
              "_cell_angle_alpha", "_cell_angle_beta", "_cell_angle_gamma")
_SG_NUMBER_KEYS = ("_space_group_it_number", "_symmetry_int_tables_number")
_SG_SYMBOL_KEYS = ("_space_group_name_h-m_alt", "_symmetry_space_group_name_h-m",
                   "_space_group_name_h-m")


@dataclass(frozen=True)
class StructureRecord:
    """A parsed, checked structure.

    Attributes:
        source: as :attr:`CifSource.source`.
        structure_id: as :attr:`CifSource.structure_id`.
        structure: the pymatgen structure (conventional cell as written, symmetry
            expanded); site property ``"b_iso"`` (Å²) when the CIF gives B or U.
        declared_space_group: the space-group number the CIF declares
            (``_space_group_IT_number``, ``_symmetry_Int_Tables_number`` or a
            Hermann–Mauguin symbol), or None.
    """

    source: str
    structure_id: str
    structure: Structure
    declared_space_group: int | None


# --------------------------------------------------------------------------- parsing


def _check_cell(block: dict) -> None:
    """Raise ValueError with a precise reason when the cell is missing or unusable."""
    missing = [k for k in _CELL_KEYS if k not in block]
    if missing:
        raise ValueError(f"missing cell: {', '.join(missing)} not given")
    values = {}
    for key in _CELL_KEYS:
        values[key] = cif_number(block[key])
        if values[key] is None:
            raise ValueError(f"cell parameter {key} = {block[key]!r} is not a number")
    a, b, c, al, be, ga = values.values()
    if min(a, b, c) <= 0:
        raise ValueError(f"zero or negative volume: cell edges a, b, c = {a}, {b}, {c} Å "
                         "(each must be > 0)")
    if not all(0 < x < 180 for x in (al, be, ga)):
        raise ValueError(f"cell angles must lie strictly between 0 and 180°, got "
                         f"α, β, γ = {al}, {be}, {ga}")
    ca, cb, cg = (math.cos(math.radians(x)) for x in (al, be, ga))
    radicand = 1 - ca * ca - cb * cb - cg * cg + 2 * ca * cb * cg
    if radicand <= 1e-8:
        raise ValueError(f"zero or negative volume: angles α, β, γ = {al}, {be}, {ga}° do "
                         "not form a cell (volume² ≤ 0)")
    if max(a, b, c) > MAX_CELL_EDGE:
        raise ValueError(f"absurd cell: edge {max(a, b, c)} Å exceeds {MAX_CELL_EDGE} Å "
                         "(wrong unit? CIF cell edges are in Å)")
    if min(a, b, c) < MIN_CELL_EDGE:
        raise ValueError(f"absurd cell: edge {min(a, b, c)} Å is below {MIN_CELL_EDGE} Å "
                         "(wrong unit? CIF cell edges are in Å)")


def declared_space_group(block: dict) -> int | None:
    """Space-group number a CIF block declares (IT number, else H-M symbol), or None."""
    for key in _SG_NUMBER_KEYS:
        number = cif_number(block.get(key))
        if number is not None and number == int(number) and 1 <= number <= 230:
            return int(number)
    for key in _SG_SYMBOL_KEYS:
        if isinstance(block.get(key), str) and block[key].strip() not in ("?", "."):
            number = space_group_from_symbol(block[key])
            if number is not None:
                return number
    return None


def _warning_text(caught) -> str:
    messages = []
    for w in caught:
        text = " ".join(str(w.message).split())
        if text not in messages:
            messages.append(text)
    return "; ".join(messages)[:500]


def parse_cif(source: CifSource, *, u_as_b: bool = False) -> StructureRecord:
    """Parse and check one CIF text.

    Args:
        source: the CIF text and its origin (from :func:`iter_cif_sources`).
        u_as_b: read ``_atom_site_U_iso_or_equiv`` / ``_atom_site_aniso_U_ij`` as B (for
            files that put B values under the U tags; a warning names such columns).

    Returns:
        The record; the structure is the cell as written, symmetry-expanded
        (``primitive=False``), with site property ``"b_iso"`` (Å²) on every site when
        the CIF gives B or U (sites whose label has no value get 0.0), and ``"u_aniso"``
        (Cartesian U, Å², None on isotropic sites) when it gives an aniso loop.

    Raises:
        StructureError: (source, reason) for text that is not a CIF or is truncated,
            a missing / non-numeric cell, zero or negative volume, an absurd cell,
            no atom sites, unknown element symbols, atoms on top of each other, or
            too many sites, a modulated (superspace) structure, or a displacement
            parameter outside 0..20 Å². The reason names the offending values.
    """
    try:
        return _parse(source, u_as_b=u_as_b)
    except StructureError:
        raise
    except ValueError as exc:
        raise StructureError(source.source, str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - whatever the text, the batch must go on
        raise StructureError(source.source, f"unexpected {type(exc).__name__} while "
                             f"reading the CIF: {exc}") from None


def _parse(source: CifSource, *, u_as_b: bool = False) -> StructureRecord:
    text = source.text
    if not text.strip():
        raise ValueError("empty CIF text")
    if not split_data_blocks(text):
        raise ValueError("not a CIF: no 'data_' block header (empty, truncated or not a CIF)")
    if sum(line.startswith(";") for line in text.splitlines()) % 2:
        raise ValueError("truncated CIF: a ';' text field is never closed")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            parser = CifParser.from_str(text, occupancy_tolerance=1.0 + OCCUPANCY_TOLERANCE)
        except Exception as exc:  # pymatgen raises assorted types on broken loops
            raise ValueError(
                "truncated or malformed CIF: the values of a loop_ do not fill its columns "
                f"(pymatgen: {type(exc).__name__}: {exc})") from None
        blocks = [{k.lower(): v for k, v in b.items()} for b in parser.as_dict().values()]
        block = next((b for b in blocks if "_atom_site_fract_x" in b
                      or "_atom_site_cartn_x" in b), None)
        if block is None:
            raise ValueError("no atom sites: no _atom_site_fract_x/y/z loop "
                             "(truncated before the atom list?)")
        _check_cell(block)
        check_not_modulated(block)
        check_block(block, occupancy_tolerance=OCCUPANCY_TOLERANCE, max_sites=MAX_SITES,
                    declared=declared_space_group(block))
        try:
            structures = parser.parse_structures(primitive=False, on_error="raise")
        except Exception as exc:
            raise ValueError(_pymatgen_reason(str(exc), _warning_text(caught))) from None
    if not structures:
        raise ValueError(f"pymatgen found no structure ({_warning_text(caught) or 'no reason'})")
    structure = structures[0]
    check_as_written(block, structure, _warning_text(caught))
    _check_species(structure)
    _check_structure(structure)
    charges_from_type_symbols(structure, block)
    _add_displacements(structure, parser, blocks.index(block), block, source, u_as_b)
    return StructureRecord(source.source, source.structure_id, structure,
                           declared_space_group(block))


def _add_displacements(structure: Structure, parser: CifParser, index: int, block: dict,
                       source: CifSource, u_as_b: bool) -> None:
    """Site properties ``"b_iso"`` and ``"u_aniso"`` from the block's displacement tags."""
    b_iso = isotropic_b(block, source.source, u_as_b=u_as_b)
    if b_iso is not None:
        structure.add_site_property("b_iso", [float(b_iso.get(s.label, 0.0)) for s in structure])
    if "_atom_site_aniso_label" in block:
        cif_block = list(CifFile.from_str(source.text).data.values())[index]
        u_aniso = anisotropic_u(block, parser.get_symops(cif_block), structure, source.source,
                                u_as_b=u_as_b)
        if u_aniso is not None:
            structure.add_site_property("u_aniso", u_aniso)


def _pymatgen_reason(message: str, warned: str) -> str:
    message = " ".join(message.split())
    match = re.search(r"Occupancy ([\d.]+) exceeded tolerance", message)
    if match:
        return (f"atoms on top of each other: sites at one position have total occupancy "
                f"{match.group(1)} (> 1 + {OCCUPANCY_TOLERANCE}); remove duplicated atoms")
    return f"pymatgen could not build the structure: {message}" + (
        f" (warnings: {warned})" if warned else "")


def _check_species(structure: Structure) -> None:
    for site in structure:
        for sp in site.species:
            if not hasattr(sp, "Z") or getattr(sp, "Z", 0) == 0 or "Dummy" in type(sp).__name__:
                symbol = getattr(sp, "symbol", str(sp))
                raise ValueError(f"unknown element symbol {symbol!r} at site {site.label!r}")


def shortest_translation(matrix: np.ndarray) -> float:
    """Length (Å) of the shortest of the 26 lattice translations to the neighbouring cells."""
    lengths = np.linalg.norm(_SHIFTS @ np.asarray(matrix, dtype=np.float64), axis=1)
    return float(lengths[np.any(_SHIFTS != 0, axis=1)].min())


def close_pairs(frac: np.ndarray, matrix: np.ndarray,
                cutoff: float) -> list[tuple[int, int, float]] | None:
    """Site pairs ``(i, j, distance)``, i < j, closer than ``cutoff`` Å (periodic images in
    the 27 cells around included), or None when there are more than
    :data:`MAX_CLOSE_PER_SITE` per site. A k-d tree of the images: memory grows with the
    sites, not with their square.
    """
    from scipy.spatial import cKDTree

    frac = np.asarray(frac, dtype=np.float64)
    frac = frac - np.floor(frac)
    n = len(frac)
    cart = frac @ matrix                                                  # (N, 3)
    images = ((frac[None, :, :] + _SHIFTS[:, None, :]) @ matrix).reshape(-1, 3)  # (27 N, 3)
    tree = cKDTree(images)
    if tree.query_ball_point(cart, cutoff, return_length=True).sum() > MAX_CLOSE_PER_SITE * n:
        return None
    out = []
    for i, found in enumerate(tree.query_ball_point(cart, cutoff)):
        for index in found:
            j = index % n
            distance = float(np.linalg.norm(images[index] - cart[i]))
            if j > i and distance < cutoff:
                out.append((i, j, distance))
    return out


def _check_structure(structure: Structure) -> None:
    n = len(structure)
    if n == 0:
        raise ValueError("no atoms in the cell")
    if n > MAX_SITES:
        raise ValueError(f"absurd cell: {n} sites after symmetry expansion (> {MAX_SITES})")
    volume = structure.volume
    if not volume > 0:
        raise ValueError(f"zero or negative volume: {volume} Å³")
    per_atom = volume / structure.composition.num_atoms
    if per_atom > MAX_VOLUME_PER_ATOM:
        raise ValueError(f"absurd cell: {per_atom:.0f} Å³ per atom (> {MAX_VOLUME_PER_ATOM} "
                         "Å³; atoms missing or cell in wrong units?)")
    translation = shortest_translation(structure.lattice.matrix)
    if translation < MIN_TRANSLATION:
        raise ValueError(f"absurd cell: a lattice translation of {translation:.3f} Å (< "
                         f"{MIN_TRANSLATION} Å) puts every atom that close to its own image; "
                         "check the cell edges and angles (Å, degrees)")
    centers, points, _, distances = structure.get_neighbor_list(OVERLAP_DISTANCE)
    occupancy = np.array([site.species.num_atoms for site in structure])
    for i, j, d in zip(centers, points, distances, strict=True):
        total = occupancy[i] + occupancy[j]
        if i < j and total > 1.0 + OCCUPANCY_TOLERANCE:
            raise ValueError(
                f"atoms on top of each other: sites {structure[i].label!r} and "
                f"{structure[j].label!r} are {d:.3f} Å apart (< {OVERLAP_DISTANCE} Å) with "
                f"total occupancy {total:.3f} (> 1 + {OCCUPANCY_TOLERANCE}); remove the "
                "duplicate or fix the coordinates")


def read_structures(
    inputs: str | PathLike | Iterable[str | PathLike],
    *,
    cif_column: str | None = None,
    id_column: str | None = None,
    u_as_b: bool = False,
) -> Iterator[StructureRecord | StructureError]:
    """Read every structure of ``inputs``; bad ones become error records, never exceptions.

    Args:
        inputs: as :func:`iter_cif_sources`.
        cif_column: as :func:`iter_cif_sources`.
        id_column: as :func:`iter_cif_sources`.
        u_as_b: as :func:`parse_cif`.

    Yields:
        :class:`StructureRecord` or :class:`StructureError`, in input order.
    """
    for item in iter_cif_sources(inputs, cif_column=cif_column, id_column=id_column):
        if isinstance(item, StructureError):
            yield item
            continue
        try:
            yield parse_cif(item, u_as_b=u_as_b)
        except StructureError as exc:
            yield exc
