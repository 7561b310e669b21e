"""The composition model of synthetic crystals: which Wyckoff orbits, which elements, how dense.

:func:`draw_plan` turns a random stream into a :class:`CrystalPlan` for one space group,
from the real-structure statistics of :mod:`xrdsim.structures.synth_statistics`:

1. the number of occupied orbits k ~ MP-20's histogram of orbits per structure;
2. each orbit's Wyckoff letter ~ p(letter | group) = (nₗ + κ·πₗ) / (N + κ), with nₗ the
   MP-20 orbits on letter l of this group, N their sum, κ = :data:`PRIOR_WEIGHT` pseudo
   orbits and πₗ the prior: MP-20's share of orbits on positions with l's number of free
   coordinates (0–3), split evenly over this group's letters with that many; a letter
   without free coordinates holds one orbit at most, and letters that would push the cell
   past ``max_atoms`` are skipped;
3. the number of distinct elements ~ MP-20's histogram (at most k), the elements ~ their
   MP-20 frequency (structures containing them) within the allowed pool, each element
   on at least one orbit;
4. the packing factor φ ~ MP-20's empirical distribution between its 1st and 99th
   percentile, and the cell volume V = Σᵢ (4/3)·π·rᵢ³ / φ (rᵢ covalent radii).

Mineral-shaped crystals change steps 1, 3 and 4 (``orbits``, ``profile``): k uniform in
a range, capped by the most orbits the group holds within ``max_atoms``
(:func:`max_orbits`), each letter chosen among those that leave room for the orbits
still to come; the elements from a named profile
(:mod:`xrdsim.structures.synth_profiles`) and φ from the profile's packing quantiles.
Without them every draw, and so every crystal, is the same as before they existed.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from xrdsim.errors import ConfigError
from xrdsim.structures.synth_statistics import (
    atomic_volume,
    covalent_radius,
    load_statistics,
    wyckoff_dof,
)

#: Pseudo-orbits of the free-coordinate prior added to each group's Wyckoff counts:
#: groups with hundreds of MP-20 orbits follow their data, groups with none the prior.
PRIOR_WEIGHT = 5.0
#: Weight of an allowed element MP-20 never shows, relative to one structure.
UNSEEN_ELEMENT_WEIGHT = 1.0
#: Percentiles of MP-20's packing-factor distribution kept (the tails are molecular
#: hydrides and noble-gas cells whose covalent-radius volume means little).
PACKING_PERCENTILES = (1, 99)


class ImpossibleCrystal(ValueError):
    """The space group cannot hold what was asked (no retry can help)."""


@dataclass(frozen=True)
class CrystalPlan:
    """What to build for one synthetic crystal.

    Attributes:
        space_group: 1–230.
        species: distinct element symbols, in order of first orbit.
        sites: per species, the Wyckoff positions it occupies (``"4a"``, pyxtal's labels).
        num_ions: per species, atoms in the conventional cell.
        packing_factor: φ = Σ (4/3)·π·r³ / V.
        volume: conventional cell volume in Å³.
    """

    space_group: int
    species: tuple[str, ...]
    sites: tuple[tuple[str, ...], ...]
    num_ions: tuple[int, ...]
    packing_factor: float
    volume: float

    @property
    def wyckoff_text(self) -> str:
        """``"Na:4a Cl:4b"`` — species and their positions, for tables (a fixed
        composition, whose positions pyxtal picks, gives ``"Na:4 Cl:4"``)."""
        if not self.sites:
            return " ".join(f"{s}:{n}" for s, n in zip(self.species, self.num_ions, strict=True))
        return " ".join(f"{s}:{w}" for s, ws in zip(self.species, self.sites, strict=True)
                        for w in ws)


def min_multiplicity(space_group: int) -> int:
    """Smallest Wyckoff multiplicity (conventional cell) of a space group."""
    return min(m for m, _ in wyckoff_dof(space_group).values())


@functools.cache
def _letter_probabilities(space_group: int) -> tuple[tuple[str, ...], np.ndarray]:
    stats = load_statistics()
    dofs = wyckoff_dof(space_group)
    counts = stats["wyckoff"].get(str(space_group), {})
    dof_total = sum(stats["dof_orbits"].values())
    per_dof = Counter(d for _, d in dofs.values())
    letters = tuple(sorted(dofs))
    prior = np.array([stats["dof_orbits"].get(str(dofs[x][1]), 0) / dof_total
                      / per_dof[dofs[x][1]] for x in letters])
    prior = prior / prior.sum()
    n = np.array([counts.get(x, 0) for x in letters], dtype=float)
    p = (n + PRIOR_WEIGHT * prior) / (n.sum() + PRIOR_WEIGHT)
    return letters, p / p.sum()


def _histogram(name: str) -> tuple[np.ndarray, np.ndarray]:
    table = load_statistics()[name]
    keys = np.array([int(k) for k in table])
    weights = np.array(list(table.values()), dtype=float)
    return keys, weights / weights.sum()


@functools.cache
def element_weights(elements: tuple[str, ...] | None) -> tuple[tuple[str, ...], np.ndarray]:
    """(symbols, probabilities) of the element pool: MP-20 frequencies, or ``elements``."""
    from pymatgen.core import Element

    seen = load_statistics()["element_structures"]
    if elements is None:
        symbols = tuple(seen)
    else:
        bad = [e for e in elements if not Element.is_valid_symbol(e)]
        if bad:
            raise ConfigError(f"unknown element symbol(s) {bad} in elements; give symbols "
                              "such as 'Na', 'Cl'")
        symbols = tuple(dict.fromkeys(elements))
        no_radius = [e for e in symbols if covalent_radius_or_none(e) is None]
        if no_radius:
            raise ConfigError(f"element(s) {no_radius} have no covalent radius in pyxtal's "
                              "table (needed for volumes and distances); leave them out")
    if not symbols:
        raise ConfigError("elements is empty; give at least one element symbol")
    w = np.array([seen.get(s, UNSEEN_ELEMENT_WEIGHT) for s in symbols], dtype=float)
    return symbols, w / w.sum()


def covalent_radius_or_none(symbol: str) -> float | None:
    """The covalent radius (Å), or None where pyxtal's table has none (Bk and heavier)."""
    try:
        return covalent_radius(symbol)
    except TypeError:  # float(None)
        return None


def _packing(rng: np.random.Generator, quantiles: Sequence[float] | None = None) -> float:
    """φ between the kept percentiles of ``quantiles`` (101 values; default MP-20's)."""
    q = np.asarray(load_statistics()["packing_quantiles"] if quantiles is None else quantiles,
                   dtype=float)
    lo, hi = PACKING_PERCENTILES
    u = rng.uniform(lo, hi)  # inverse CDF by linear interpolation of the percentiles
    return float(np.interp(u, np.arange(q.size), q))


def draw_plan(
    space_group: int,
    rng: np.random.Generator,
    *,
    max_atoms: int,
    elements: Sequence[str] | None = None,
    orbits: tuple[int, int] | None = None,
    profile: str | None = None,
) -> CrystalPlan:
    """Draw one crystal plan (orbits, elements, volume) for ``space_group``.

    Args:
        orbits: ``(lo, hi)``: the number of occupied orbits uniform in lo … min(hi, the
            most the group holds within ``max_atoms``) instead of MP-20's histogram.
        profile: a named element profile (:mod:`xrdsim.structures.synth_profiles`)
            instead of MP-20's element statistics; needs ``orbits``.

    Raises:
        ImpossibleCrystal: when even the smallest Wyckoff multiplicity exceeds ``max_atoms``,
            or the group cannot hold ``orbits[0]`` orbits within it (the caller turns it
            into an error record).
    """
    dofs = wyckoff_dof(space_group)
    smallest = min_multiplicity(space_group)
    if smallest > max_atoms:
        raise ImpossibleCrystal(f"space group {space_group} needs at least {smallest} atoms per "
                         f"conventional cell (its smallest Wyckoff multiplicity) but "
                         f"max_atoms is {max_atoms}; raise max_atoms")
    if orbits is None:
        keys, weights = _histogram("n_orbits")
        chosen = _letters_up_to(space_group, int(rng.choice(keys, p=weights)), rng, max_atoms)
    else:
        chosen = _letters_exactly(space_group, orbits, rng, max_atoms)
    packing = None
    if profile is None:
        species, owner = _mp20_species(len(chosen), rng, elements)
    else:
        from xrdsim.structures.synth_profiles import draw_species, load_profile

        species, owner = draw_species(load_profile(profile), len(chosen), rng)
        packing = load_profile(profile).packing_quantiles
    n_el = len(species)
    sites = tuple(tuple(f"{dofs[x][0]}{x}" for x, o in zip(chosen, owner, strict=True) if o == s)
                  for s in range(n_el))
    num_ions = tuple(sum(dofs[x][0] for x, o in zip(chosen, owner, strict=True) if o == s)
                     for s in range(n_el))
    phi = _packing(rng, packing)
    volume = sum(n * atomic_volume(s) for s, n in zip(species, num_ions, strict=True)) / phi
    return CrystalPlan(space_group, tuple(species), sites, num_ions, phi, float(volume))


def _letters_up_to(space_group: int, k: int, rng: np.random.Generator,
                   max_atoms: int) -> list[str]:
    """Up to k Wyckoff letters by MP-20's letter probabilities; stops when none fits."""
    dofs = wyckoff_dof(space_group)
    letters, p = _letter_probabilities(space_group)
    chosen: list[str] = []
    atoms = 0
    while len(chosen) < k:
        ok = np.array([dofs[x][0] + atoms <= max_atoms and not (dofs[x][1] == 0 and x in chosen)
                       for x in letters])
        if not ok.any():
            break
        q = np.where(ok, p, 0.0)
        letter = letters[int(rng.choice(len(letters), p=q / q.sum()))]
        chosen.append(letter)
        atoms += dofs[letter][0]
    return chosen


def _fewest_atoms(n: int, space_group: int, used: set[str]) -> float:
    """Fewest atoms n more orbits add: the n smallest of the unused positions without free
    coordinates (one orbit each) and of the smallest free position (any number of orbits)."""
    if n <= 0:
        return 0
    dofs = wyckoff_dof(space_group)
    pool = sorted(m for x, (m, d) in dofs.items() if d == 0 and x not in used)
    free = [m for m, d in dofs.values() if d > 0]
    pool = sorted(pool + [min(free)] * n) if free else pool
    return sum(pool[:n]) if len(pool) >= n else math.inf


def max_orbits(space_group: int, max_atoms: int) -> int:
    """The most occupied orbits ``space_group`` holds within ``max_atoms`` atoms per
    conventional cell (0 when not even its smallest orbit fits)."""
    n = 0
    while _fewest_atoms(n + 1, space_group, set()) <= max_atoms:
        n += 1
    return n


def _letters_exactly(space_group: int, orbits: tuple[int, int], rng: np.random.Generator,
                     max_atoms: int) -> list[str]:
    """k Wyckoff letters, k uniform in lo … min(hi, :func:`max_orbits`), by MP-20's letter
    probabilities among the letters that leave room for the orbits still to come."""
    lo, hi = int(orbits[0]), int(orbits[1])
    most = max_orbits(space_group, max_atoms)
    if most < lo:
        raise ImpossibleCrystal(f"space group {space_group} holds at most {most} occupied "
                                f"Wyckoff orbits within max_atoms = {max_atoms}, fewer than "
                                f"orbits {lo}-{hi} asks; lower the orbits or raise max_atoms")
    k = int(rng.integers(lo, min(hi, most) + 1))
    dofs = wyckoff_dof(space_group)
    letters, p = _letter_probabilities(space_group)
    chosen: list[str] = []
    atoms = 0
    for n in range(k):
        ok = np.array([not (dofs[x][1] == 0 and x in chosen)
                       and atoms + dofs[x][0] + _fewest_atoms(k - n - 1, space_group,
                                                             {*chosen, x}) <= max_atoms
                       for x in letters])
        q = np.where(ok, p, 0.0)  # ok.any(): the cheapest letter always leaves room
        letter = letters[int(rng.choice(len(letters), p=q / q.sum()))]
        chosen.append(letter)
        atoms += dofs[letter][0]
    return chosen


def _mp20_species(n_orbits: int, rng: np.random.Generator,
                  elements: Sequence[str] | None) -> tuple[list[str], list[int]]:
    """Elements by MP-20's statistics (number from its histogram, symbols by frequency,
    ``elements`` restricting the pool) and the owner of each orbit; each owns ≥ 1."""
    pool, pool_p = element_weights(None if elements is None else tuple(elements))
    keys, weights = _histogram("n_elements")
    n_el = min(int(rng.choice(keys, p=weights)), n_orbits, len(pool))
    species = [str(s) for s in rng.choice(pool, size=n_el, replace=False, p=pool_p)]
    owner = list(range(n_el)) + [int(i) for i in rng.integers(0, n_el, n_orbits - n_el)]
    owner = [owner[i] for i in rng.permutation(len(owner))]
    return species, owner


def fixed_plan(
    space_group: int,
    rng: np.random.Generator,
    composition: dict[str, int],
    *,
    max_atoms: int,
) -> CrystalPlan:
    """A plan with given atoms per conventional cell; pyxtal picks the Wyckoff positions.

    Raises:
        ImpossibleCrystal: when the composition exceeds ``max_atoms`` or no combination of the
            group's Wyckoff multiplicities adds up to it (e.g. one Na in Fm-3m, whose
            smallest orbit holds 4 atoms).
    """
    from pyxtal.symmetry import Group

    species, counts = tuple(composition), tuple(int(n) for n in composition.values())
    text = "".join(f"{s}{n}" for s, n in zip(species, counts, strict=True))
    if sum(counts) > max_atoms:
        raise ImpossibleCrystal(f"composition {text} has {sum(counts)} atoms, more than max_atoms "
                         f"= {max_atoms}")
    compatible, _ = Group(space_group).check_compatible(list(counts))
    if not compatible:
        raise ImpossibleCrystal(f"composition {text} cannot be built in space group {space_group}: "
                         "no combination of its Wyckoff multiplicities "
                         f"{sorted({m for m, _ in wyckoff_dof(space_group).values()})} gives "
                         "these atom counts")
    phi = _packing(rng)
    volume = sum(n * atomic_volume(s) for s, n in zip(species, counts, strict=True)) / phi
    return CrystalPlan(space_group, species, (), counts, phi, float(volume))
