"""Synthetic crystals for any space group: a plan from real statistics, atoms placed by pyxtal.

:func:`generate_crystal` makes crystal ``index`` of ``space_group`` under ``seed``: it
draws a :class:`~xrdsim.structures.synth_model.CrystalPlan` (Wyckoff orbits, elements,
cell volume; see :mod:`xrdsim.structures.synth_model`), builds a random lattice of that
volume and lets pyxtal (Fredericks et al., Comput. Phys. Commun. 261, 107810 (2021))
place the orbits with every interatomic distance dᵢⱼ ≥ f·(rᵢ + rⱼ), f =
:data:`MIN_DISTANCE_FACTOR`, rᵢ covalent radii. A candidate is kept only when spglib,
at ``symprec``, finds exactly the intended group and the distances hold; otherwise a
new plan is drawn, up to ``attempts`` times, after which the crystal is an error record.

Every random draw comes from one stream keyed on ``(seed, space_group, index)``
(``numpy.random.SeedSequence``), so any crystal regenerates alone, whatever the
worker count or the slice asked for. This is the recipe of ML4pXRDs (Schopmans,
Reiser & Friederich, Digital Discovery (2023)): synthetic crystals for every group.
"""

from __future__ import annotations

import functools
import math
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from xrdsim.errors import ConfigError, StructureError
from xrdsim.structures.symmetry import DEFAULT_ANGLE_TOLERANCE, DEFAULT_SYMPREC
from xrdsim.structures.synth_model import ImpossibleCrystal

#: Smallest allowed dᵢⱼ / (rᵢ + rⱼ) (covalent radii). MP-20's validation split has
#: 1 % of nearest-neighbour ratios below 0.76 and its minimum at 0.65
#: (``distance_ratio_quantiles`` in xrdsim/data/synth_statistics.json); 0.7 keeps the
#: short bonds real crystals have and refuses atoms closer than any of them.
MIN_DISTANCE_FACTOR = 0.7
#: Fresh plans tried before a crystal becomes an error record.
DEFAULT_ATTEMPTS = 20
#: Lattices (of the plan's volume) tried per plan, and coordinate sets per lattice.
LATTICE_ATTEMPTS = 4
COORD_ATTEMPTS = 5


@dataclass(frozen=True)
class SynthSettings:
    """How synthetic crystals are generated (frozen, validated at construction).

    Attributes:
        seed: generator seed; crystal (space_group, index) depends on nothing else.
        max_atoms: most atoms in the conventional cell, ≥ 1.
        elements: allowed element symbols (drawn by their MP-20 frequency), or None
            for every element MP-20 contains.
        composition: fixed atoms per conventional cell, e.g. ``{"Na": 4, "Cl": 4}``,
            instead of drawn orbits and elements (pyxtal picks the Wyckoff positions);
            None to draw.
        orbits: ``(lo, hi)``, occupied Wyckoff orbits drawn uniformly in lo … hi (capped
            by what the group holds within max_atoms) instead of MP-20's histogram;
            1 ≤ lo ≤ hi ≤ max_atoms. None: MP-20's histogram.
        profile: a named element profile (``"minerals"``,
            :mod:`xrdsim.structures.synth_profiles`) instead of MP-20's element
            statistics; needs ``orbits`` with lo ≥ 2. None: MP-20's statistics.
        symprec: spglib tolerance (Å) at which the intended group must be found.
        min_distance_factor: f in dᵢⱼ ≥ f·(rᵢ + rⱼ).
        attempts: plans tried per crystal.
    """

    seed: int = 0
    max_atoms: int = 100
    elements: tuple[str, ...] | None = None
    composition: tuple[tuple[str, int], ...] | None = None
    orbits: tuple[int, int] | None = None
    profile: str | None = None
    symprec: float = DEFAULT_SYMPREC
    min_distance_factor: float = MIN_DISTANCE_FACTOR
    attempts: int = DEFAULT_ATTEMPTS

    def __post_init__(self) -> None:
        if not (isinstance(self.seed, int) and 0 <= self.seed < 2**63):
            raise ConfigError(f"seed must be a whole number in [0, 2^63), got {self.seed!r}")
        if not (isinstance(self.symprec, (int, float)) and math.isfinite(self.symprec)):
            raise ConfigError(f"symprec must be a finite distance in Å, got {self.symprec!r}")
        if int(self.max_atoms) < 1:
            raise ConfigError(f"max_atoms must be >= 1, got {self.max_atoms}")
        if not self.symprec > 0:
            raise ConfigError(f"symprec must be a positive distance in Å, got {self.symprec}")
        if not 0 < self.min_distance_factor <= 2:
            raise ConfigError(f"min_distance_factor must lie in (0, 2], got "
                              f"{self.min_distance_factor}")
        if int(self.attempts) < 1:
            raise ConfigError(f"attempts must be >= 1, got {self.attempts}")
        if self.composition is not None and self.elements is not None:
            raise ConfigError("give elements or composition, not both: a composition "
                              "fixes the elements")
        if self.composition is not None:
            if not self.composition or any(int(n) < 1 for _, n in self.composition):
                raise ConfigError(f"composition needs positive atom counts, got "
                                  f"{self.composition}")
        if self.elements is not None:
            from xrdsim.structures.synth_model import element_weights

            element_weights(tuple(self.elements))  # refuses unknown symbols now
        self._check_orbits_and_profile()

    def _check_orbits_and_profile(self) -> None:
        if self.orbits is not None:
            lo, hi = self.orbits
            if not (isinstance(lo, int) and isinstance(hi, int) and 1 <= lo <= hi
                    <= int(self.max_atoms)):
                raise ConfigError(f"orbits must be whole numbers lo-hi with 1 <= lo <= hi <= "
                                  f"max_atoms ({self.max_atoms}), got {self.orbits}; e.g. "
                                  "'8-30'")
            if self.composition is not None:
                raise ConfigError("give orbits or composition, not both: a composition fixes "
                                  "the atoms and pyxtal picks their orbits")
        if self.profile is None:
            return
        from xrdsim.structures.synth_profiles import load_profile

        load_profile(self.profile)  # refuses unknown names now
        if self.elements is not None or self.composition is not None:
            raise ConfigError(f"give profile or elements/composition, not both: profile "
                              f"{self.profile!r} chooses the elements")
        if self.orbits is None or self.orbits[0] < 2:
            raise ConfigError(f"profile {self.profile!r} needs orbits with lo >= 2 (an anion "
                              f"and a cation orbit at least), got {self.orbits}; e.g. "
                              "orbits 8-30 (CLI: --orbits 8-30)")

    def to_dict(self) -> dict:
        out = asdict(self)
        out["elements"] = None if self.elements is None else list(self.elements)
        out["composition"] = None if self.composition is None else dict(self.composition)
        out["orbits"] = None if self.orbits is None else list(self.orbits)
        return out

    @classmethod
    def from_dict(cls, data: Mapping) -> SynthSettings:
        data = dict(data)
        if data.get("elements") is not None:
            data["elements"] = tuple(data["elements"])
        if data.get("composition") is not None:
            data["composition"] = tuple(dict(data["composition"]).items())
        if data.get("orbits") is not None:
            data["orbits"] = tuple(data["orbits"])
        return cls(**data)


@dataclass(frozen=True)
class SynthCrystal:
    """One generated crystal.

    Attributes:
        structure_id: ``"synth-<seed>-<group>-<index>"``.
        space_group: the intended (and spglib-confirmed) group.
        index: the crystal's index within its group.
        formula: reduced formula. num_atoms: atoms in the conventional cell.
        wyckoff: species and Wyckoff positions, e.g. ``"Na:4a Cl:4b"``.
        packing_factor: Σ (4/3)·π·r³ / V. attempts: plans tried (1 = first).
        cif: the structure as P1 CIF text (all atoms, like MP-20's CIFs).
    """

    structure_id: str
    space_group: int
    index: int
    formula: str
    num_atoms: int
    wyckoff: str
    packing_factor: float
    attempts: int
    cif: str


def crystal_id(seed: int, space_group: int, index: int) -> str:
    """The stable id of crystal ``index`` of ``space_group`` under ``seed``."""
    return f"synth-{seed}-{space_group}-{index}"


#: What :func:`crystal_id` writes (and `xrdsim mix` keeps as ``material_id``).
CRYSTAL_ID = re.compile(r"synth-\d+-\d+-\d+")


def is_synthetic_id(structure_id: str) -> bool:
    """True for an id :func:`crystal_id` made (a crystal of `xrdsim synth`)."""
    return CRYSTAL_ID.fullmatch(str(structure_id)) is not None


def crystal_rng(seed: int, space_group: int, index: int) -> np.random.Generator:
    """The random stream of one crystal, keyed on (seed, space group, index)."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(space_group),
                                                         int(index)]))


def generate_crystal(space_group: int, index: int, settings: SynthSettings) -> SynthCrystal:
    """Generate crystal ``index`` of ``space_group`` (deterministic in settings.seed).

    Raises:
        StructureError: (``"synth:<seed>/<group>/<index>"``, reason) when the group
            cannot hold the composition or ``max_atoms``, or no attempt passed the
            symmetry and distance checks.
    """
    source = f"synth:{settings.seed}/{space_group}/{index}"
    if not 1 <= int(space_group) <= 230:
        raise StructureError(source, f"space group must be 1-230, got {space_group}")
    os.environ.setdefault("SPGLIB_WARNING", "OFF")
    rng = crystal_rng(settings.seed, space_group, index)
    last = "no attempt made"
    for attempt in range(1, int(settings.attempts) + 1):
        try:
            plan = _plan(space_group, rng, settings)
        except ImpossibleCrystal as exc:  # the group cannot hold what was asked
            raise StructureError(source, str(exc)) from None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                structure = _place(plan, rng, settings)
        except Exception as exc:  # noqa: BLE001 - pyxtal raises assorted types; next plan
            last = (f"pyxtal could not place the atoms ({type(exc).__name__}: "
                    f"{' '.join(str(exc).split())[:200]})")
            continue
        problem = check_crystal(structure, space_group, settings)
        if problem:
            last = problem
            continue
        return SynthCrystal(
            structure_id=crystal_id(settings.seed, space_group, index),
            space_group=int(space_group), index=int(index),
            formula=structure.composition.reduced_formula, num_atoms=len(structure),
            wyckoff=plan.wyckoff_text, packing_factor=round(plan.packing_factor, 4),
            attempts=attempt, cif=cif_text(structure))
    raise StructureError(source, f"no valid crystal in {settings.attempts} attempts "
                                 f"(last: {last})")


def _plan(space_group: int, rng: np.random.Generator, settings: SynthSettings):
    from xrdsim.structures.synth_model import draw_plan, fixed_plan

    if settings.composition is None:
        return draw_plan(space_group, rng, max_atoms=int(settings.max_atoms),
                         elements=settings.elements, orbits=settings.orbits,
                         profile=settings.profile)
    return fixed_plan(space_group, rng, dict(settings.composition),
                      max_atoms=int(settings.max_atoms))


def _place(plan, rng: np.random.Generator, settings: SynthSettings):
    """pyxtal crystal of ``plan`` in a random lattice of the plan's volume (pymatgen).

    pyxtal's own loop tries 40 lattices × 10 coordinate sets per call, minutes for a
    crowded plan; :class:`_BoundedCrystal` tries :data:`LATTICE_ATTEMPTS` ×
    :data:`COORD_ATTEMPTS` and the caller draws a fresh plan instead.
    """
    from pyxtal import pyxtal
    from pyxtal.lattice import Lattice
    from pyxtal.symmetry import Group
    from pyxtal.tolerance import Tol_matrix

    group = Group(plan.space_group)
    lattice = Lattice(group.lattice_type, plan.volume, unique_axis="c", random_state=rng)
    # Tol_matrix("atomic") gives 0.5·factor·(rᵢ + rⱼ)
    tm = Tol_matrix(prototype="atomic", factor=2.0 * settings.min_distance_factor)
    placed = _bounded_crystal_class()(
        dim=3, group=plan.space_group, species=list(plan.species),
        numIons=list(plan.num_ions), lattice=lattice,
        sites=[list(s) for s in plan.sites] if plan.sites else None, tm=tm, random_state=rng)
    if not placed.valid:
        raise RuntimeError(f"no placement in {LATTICE_ATTEMPTS} lattices × {COORD_ATTEMPTS} "
                           "coordinate sets")
    crystal = pyxtal()  # the wrapper pyxtal.from_random fills, for its to_pymatgen
    crystal.valid, crystal.dim, crystal.lattice = True, 3, placed.lattice
    crystal.numIons, crystal.species = placed.numIons, placed.species
    crystal.atom_sites, crystal.group, crystal.PBC = placed.atom_sites, placed.group, placed.PBC
    return crystal.to_pymatgen()


@functools.cache
def _bounded_crystal_class():
    from pyxtal.crystal import random_crystal

    class _BoundedCrystal(random_crystal):
        """pyxtal's random_crystal with a short, fixed placement budget."""

        def set_crystal(self) -> None:
            self.numattempts = 0
            for _ in range(LATTICE_ATTEMPTS):
                self.set_volume()
                self.set_lattice(self.lattice0)
                for _ in range(COORD_ATTEMPTS):
                    output = self._set_coords()
                    if output:
                        self.atom_sites = output
                        return
                self.lattice.reset_matrix()

    return _BoundedCrystal


def check_crystal(structure, space_group: int, settings: SynthSettings) -> str | None:
    """Why ``structure`` fails the generator's checks, or None when it passes.

    Checks that spglib at ``settings.symprec`` finds ``space_group`` and that every
    distance satisfies dᵢⱼ ≥ f·(rᵢ + rⱼ) (1e-6 Å slack for rounding).
    """
    import spglib

    from xrdsim.structures.symmetry import spglib_cell
    from xrdsim.structures.synth_statistics import covalent_radius

    try:
        found = int(spglib.get_symmetry_dataset(
            spglib_cell(structure), symprec=settings.symprec,
            angle_tolerance=DEFAULT_ANGLE_TOLERANCE, _throw=True).number)
    except Exception:  # noqa: BLE001 - spglib's error: no symmetry found
        found = None
    if found != space_group:
        return f"spglib finds space group {found} at symprec {settings.symprec}, not {space_group}"
    radii = np.array([covalent_radius(s.specie.symbol) for s in structure])
    reach = 2.0 * settings.min_distance_factor * float(radii.max())
    centers, points, _, dist = structure.get_neighbor_list(reach)
    need = settings.min_distance_factor * (radii[centers] + radii[points])
    bad = dist < need - 1e-6
    if bad.any():
        k = int(np.argmax(need - dist))
        return (f"atoms {centers[k]} and {points[k]} are {dist[k]:.3f} Å apart, below "
                f"{need[k]:.3f} Å")
    return None


def cif_text(structure) -> str:
    """P1 CIF text of a pymatgen structure (8 significant figures)."""
    from pymatgen.io.cif import CifWriter

    return str(CifWriter(structure))


def parse_composition(text: str) -> tuple[tuple[str, int], ...]:
    """``"Na4Cl4"`` → ``(("Na", 4), ("Cl", 4))`` (atoms per conventional cell)."""
    from pymatgen.core import Composition

    try:
        comp = Composition(text)
    except Exception as exc:  # noqa: BLE001 - pymatgen raises assorted types
        raise ConfigError(f"cannot read composition {text!r}: {exc}; write e.g. 'Na4Cl4'") from None
    out = []
    for el, n in comp.items():
        if getattr(el, "Z", 0) < 1 or "Dummy" in type(el).__name__:
            raise ConfigError(f"composition {text!r}: {el} is not an element; write e.g. "
                              "'Na4Cl4'")
        if abs(n - round(n)) > 1e-9 or round(n) < 1:
            raise ConfigError(f"composition {text!r} needs whole atom counts per cell, got "
                              f"{el}{n}")
        out.append((str(el), int(round(n))))
    return tuple(out)


def parse_orbits(text: str) -> tuple[int, int]:
    """``"8-30"`` → ``(8, 30)``; ``"12"`` → ``(12, 12)`` (occupied Wyckoff orbits)."""
    match = re.fullmatch(r"(\d+)(?:-(\d+))?", str(text).replace(" ", ""))
    if match is None:
        raise ConfigError(f"cannot read orbits {text!r}: write a range such as '8-30' or one "
                          "number such as '12'")
    out = (int(match[1]), int(match[2] or match[1]))
    if not 1 <= out[0] <= out[1]:
        raise ConfigError(f"orbits {text!r} must be a range lo-hi with 1 <= lo <= hi, e.g. "
                          "'8-30'")
    return out


def parse_space_groups(text: str | Sequence[int]) -> tuple[int, ...]:
    """``"1-230"``, ``"14,62,225"``, ``"1-10,225"`` → sorted unique group numbers."""
    if not isinstance(text, str):
        groups = {int(g) for g in text}
    else:
        groups = set()
        for part in text.replace(" ", "").split(","):
            try:
                lo, _, hi = part.partition("-")
                lo, hi = int(lo), int(hi or lo)
            except ValueError:
                raise ConfigError(f"cannot read space groups {text!r}: write e.g. '1-230' or "
                                  "'14,62,225'") from None
            if not 1 <= lo <= hi <= 230:  # checked before the range is built
                raise ConfigError(f"space groups must lie in 1-230, got {text!r}")
            groups.update(range(lo, hi + 1))
    bad = sorted(g for g in groups if not 1 <= g <= 230)
    if bad or not groups:
        raise ConfigError(f"space groups must lie in 1-230, got {text!r}")
    return tuple(sorted(groups))
