"""Symmetry labels of a structure by spglib: space group, crystal system, extinction group, …

spglib works on an ordered cell of atom *types*. Disordered sites are handed over
with one type per distinct site composition (species and occupancies rounded to
:data:`OCCUPANCY_DECIMALS`), so two sites are symmetry-equivalent only when their
whole composition agrees. Site properties (``b_iso``, magnetic moments) are ignored.

The defaults ``symprec=0.1`` Å and ``angle_tolerance=5``° (pymatgen's) reproduce the
``spacegroup_number_symprec0.1`` labels of MP-20 (measured agreement in
docs/structures.md).
"""

from __future__ import annotations

import functools
import re
from dataclasses import asdict, dataclass

import numpy as np
import spglib
from pymatgen.core import Structure

from xrdsim.errors import SymmetryError
from xrdsim.structures.crystal_systems import crystal_system_index
from xrdsim.structures.extinction_table import extinction_table

#: Decimals of occupancies that make two disordered sites "the same type" for spglib.
OCCUPANCY_DECIMALS = 4
#: Default symmetry tolerance (Å), that of MP-20's labels.
DEFAULT_SYMPREC = 0.1
#: Default angle tolerance (degrees): pymatgen's ``SpacegroupAnalyzer`` default, with
#: which Materials Project labels were made. spglib's own default (−1: derived from
#: symprec) misses 16 of MP-20's 9,046 test labels, 5° misses 3 (docs/structures.md).
DEFAULT_ANGLE_TOLERANCE = 5.0

#: Point group (spglib / Hermann–Mauguin) → Laue class.
LAUE_CLASS: dict[str, str] = {
    "1": "-1", "-1": "-1",
    "2": "2/m", "m": "2/m", "2/m": "2/m",
    "222": "mmm", "mm2": "mmm", "mmm": "mmm",
    "4": "4/m", "-4": "4/m", "4/m": "4/m",
    "422": "4/mmm", "4mm": "4/mmm", "-42m": "4/mmm", "4/mmm": "4/mmm",
    "3": "-3", "-3": "-3",
    "32": "-3m", "3m": "-3m", "-3m": "-3m",
    "6": "6/m", "-6": "6/m", "6/m": "6/m",
    "622": "6/mmm", "6mm": "6/mmm", "-6m2": "6/mmm", "6/mmm": "6/mmm",
    "23": "m-3", "m-3": "m-3",
    "432": "m-3m", "-43m": "m-3m", "m-3m": "m-3m",
}
_SYSTEM_LETTER = ("a", "m", "o", "t", "h", "h", "c")


@dataclass(frozen=True)
class StructureLabels:
    """Symmetry labels of one structure.

    Attributes:
        space_group: International Tables number, 1–230.
        space_group_symbol: short Hermann–Mauguin symbol (spglib), e.g. ``"P2_1/c"``.
        crystal_system: 0–6 in :data:`xrdsim.structures.crystal_systems.CRYSTAL_SYSTEMS` order.
        extinction_group: 0-based index into
            :func:`xrdsim.structures.extinction_table.extinction_table`.
        extinction_symbol: that group's symbol, e.g. ``"P 1 21/c 1"``.
        laue_class: e.g. ``"2/m"``, ``"m-3m"``.
        bravais_lattice: one of aP mP mC oP oS oI oF tP tI hR hP cP cI cF.
        formula: reduced formula (pymatgen), e.g. ``"Fe2O3"``.
        lattice: (a, b, c in Å, α, β, γ in degrees) of spglib's standardised
            conventional cell (hexagonal axes for rhombohedral groups).
        num_sites: number of sites in the structure as given.
        miller_to_standard: the 3 × 3 matrix T (row-major, 9 entries) taking Miller
            indices in the cell as given to that standardised cell, h_std = T·h
            (``spglib``'s transformation matrix P: T = P⁻ᵀ; integral unless the cell as
            given is a supercell).
    """

    space_group: int
    space_group_symbol: str
    crystal_system: int
    extinction_group: int
    extinction_symbol: str
    laue_class: str
    bravais_lattice: str
    formula: str
    lattice: tuple[float, float, float, float, float, float]
    num_sites: int
    miller_to_standard: tuple[float, ...]

    def to_dict(self) -> dict:
        """Plain-Python dict (lattice as a list)."""
        out = asdict(self)
        out["lattice"] = list(self.lattice)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> StructureLabels:
        """Inverse of :meth:`to_dict`."""
        return cls(**{**data, "lattice": tuple(float(x) for x in data["lattice"]),
                      "miller_to_standard": tuple(float(x) for x in data["miller_to_standard"])})

    def standard_miller(self, hkl: np.ndarray) -> np.ndarray:
        """(n, 3) int32 Miller indices in the standardised cell of those in the cell as given.

        Raises:
            SymmetryError: a line whose indices are not integers there (a reflection of a
                supercell that the crystal's own lattice does not have).
        """
        t = np.asarray(self.miller_to_standard, dtype=np.float64).reshape(3, 3)
        h = np.asarray(hkl, dtype=np.float64).reshape(-1, 3) @ t.T
        hi = np.rint(h)
        if h.size and np.abs(h - hi).max() > 1e-6:
            i = int(np.abs(h - hi).max(axis=1).argmax())
            raise SymmetryError(self.formula, f"line {hkl[i].tolist()} has non-integer indices "
                                f"{h[i].round(3).tolist()} in the standardised cell: the cell "
                                "as given is a supercell of it at this symprec (pseudo-"
                                "symmetric), so lines contradict the label; a smaller symprec "
                                "labels the structure as it is")
        return hi.astype(np.int32)


def spglib_cell(structure: Structure) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lattice (3, 3) Å, fractional coords (n, 3), types (n,) int32) for spglib.

    Types number the distinct site compositions in order of first appearance.
    """
    kinds: dict[tuple, int] = {}
    types = np.empty(len(structure), dtype=np.int32)
    for i, site in enumerate(structure):
        key = tuple(sorted((str(sp), round(float(occ), OCCUPANCY_DECIMALS))
                           for sp, occ in site.species.items()))
        types[i] = kinds.setdefault(key, len(kinds) + 1)
    return (np.array(structure.lattice.matrix, dtype=np.float64),
            np.array(structure.frac_coords, dtype=np.float64), types)


def bravais_lattice(space_group: int, symbol: str) -> str:
    """Bravais-lattice symbol of a space group from its number and H-M symbol."""
    system = crystal_system_index(space_group)
    centring = symbol[0]
    if centring == "R":
        return "hR"
    if system == 1 and centring in "ABCI":  # monoclinic: all centrings are mC
        centring = "C"
    if system == 2 and centring in "ABC":  # orthorhombic: one-face centring is oS
        centring = "S"
    return _SYSTEM_LETTER[system] + centring


def structure_labels(
    structure: Structure,
    *,
    symprec: float = DEFAULT_SYMPREC,
    angle_tolerance: float = DEFAULT_ANGLE_TOLERANCE,
) -> StructureLabels:
    """Symmetry labels of ``structure`` by spglib at ``symprec``.

    Args:
        structure: a pymatgen structure (ordered or disordered).
        symprec: distance tolerance in Å (spglib's ``symprec``), > 0.
        angle_tolerance: lattice-angle tolerance in degrees (spglib's
            ``angle_tolerance``; −1 lets spglib derive it from ``symprec``).

    Raises:
        SymmetryError: (formula, reason) when ``symprec`` is not positive or spglib
            finds no symmetry (e.g. atoms closer than ``symprec``).
    """
    formula = structure.composition.reduced_formula
    if not symprec > 0:
        raise SymmetryError(formula, f"symprec must be > 0 Å, got {symprec!r}")
    try:  # _throw: spglib raises SpglibError instead of warning and returning None
        data = spglib.get_symmetry_dataset(spglib_cell(structure), symprec=symprec,
                                           angle_tolerance=angle_tolerance, _throw=True)
    except Exception as exc:
        raise SymmetryError(formula, f"spglib found no symmetry at symprec={symprec} Å: "
                            f"{exc} (atoms closer than symprec? try a smaller symprec)") from None
    number = int(data.number)
    table = extinction_table()
    group = table.of_space_group(number)
    params = _lattice_parameters(np.asarray(data.std_lattice))
    # spglib: (a_s b_s c_s) = (a b c)·P⁻¹ and x_s = P·x + p; the phase h·x = h_s·x_s
    # gives h = Pᵀ·h_s, so h_s = P⁻ᵀ·h
    # (rounded: P is integral or a simple fraction; the inverse's last-bit noise would make
    # equal structures differ)
    to_standard = np.round(np.linalg.inv(np.asarray(data.transformation_matrix,
                                                    dtype=np.float64)).T, 9) + 0.0
    return StructureLabels(
        space_group=number,
        space_group_symbol=str(data.international),
        crystal_system=crystal_system_index(number),
        extinction_group=group,
        extinction_symbol=table.symbols[group],
        laue_class=LAUE_CLASS[str(data.pointgroup)],
        bravais_lattice=bravais_lattice(number, str(data.international)),
        formula=formula,
        lattice=params,
        num_sites=len(structure),
        miller_to_standard=tuple(float(x) for x in to_standard.reshape(-1)),
    )


def _lattice_parameters(matrix: np.ndarray) -> tuple[float, float, float, float, float, float]:
    """(a, b, c, α, β, γ) of a (3, 3) row-vector lattice matrix, Å and degrees."""
    lengths = np.linalg.norm(matrix, axis=1)
    angles = []
    for i, j in ((1, 2), (0, 2), (0, 1)):
        cos = np.dot(matrix[i], matrix[j]) / (lengths[i] * lengths[j])
        angles.append(float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))))
    return (float(lengths[0]), float(lengths[1]), float(lengths[2]), *angles)


def space_group_from_symbol(symbol: str) -> int | None:
    """Space-group number of a Hermann–Mauguin symbol in any setting spglib knows, or None.

    Spaces, underscores, case and an origin / axes suffix (``":2"``, ``":H"``) are
    ignored: ``"P 21/c"``, ``"P 1 21/n 1"``, ``"P b n m"``, ``"R -3 m :H"`` all resolve.
    """
    return _symbol_numbers().get(_symbol_key(symbol))


@functools.cache
def _symbol_numbers() -> dict[str, int]:
    out: dict[str, int] = {}
    for hall in range(1, 531):
        t = spglib.get_spacegroup_type(hall, _throw=True)
        for symbol in (t.international, t.international_short, t.international_full):
            out.setdefault(_symbol_key(symbol), int(t.number))
    return out


def _symbol_key(symbol: str) -> str:
    return re.sub(r"[\s_]", "", str(symbol).split(":")[0]).lower()
