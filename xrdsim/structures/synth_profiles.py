"""Named element profiles for synthetic crystals: which elements sit on which orbits.

A profile replaces MP-20's element statistics (``xrdsim synth --profile NAME``). The one
shipped, ``minerals``, is an anion-dominated chemistry taken from a count of mineral
species (``xrdsim/data/synth_profiles.json``; A. S. Marfunin (ed.), *Advanced
Mineralogy* Vol. 1 (Springer, 1994), ch. 1.3, Tables 8 and 9, compiled from Fleischer's
*Glossary of Mineral Species*; 3413 species). For a crystal of k occupied orbits
(:func:`draw_species`):

1. the anion class (O: oxides, silicates, carbonates, sulfates, phosphates, …; S:
   sulfides, sulfosalts, arsenides; Cl; F) with probability ∝ its species in Table 9;
   each of the class's other anions joins with probability Sₑ / N (Sₑ species that
   contain element e in Table 8, N = 3413);
2. every cation element of Table 8 (≥ 100 species; the class's anions and, for
   sulfides, O, F, Cl and the oxyanion formers H, B, C, Si, P left out) independently with
   probability Sₑ / N, drawn again until at least one is present (3.4 cations per
   crystal on average);
3. a share u ~ U(0.5, 0.75) of the k orbits are anion sites (round(u·k), at least one
   per anion kept, at least one cation orbit left); each extra anion holds one orbit,
   the main anion the rest; each cation holds one orbit and the remaining cation
   orbits go to cations drawn uniformly; which orbits are anion sites is a random
   permutation. Anions or cations that do not fit the orbits are dropped (extra anions
   last-first, cations by a uniform draw).

The volume follows from a packing factor drawn as for MP-20 crystals, but from the
quantiles of MP-20's oxygen-bearing structures (the profile's ``packing_quantiles``,
measured by :func:`xrdsim.structures.synth_statistics.packing_quantiles`): oxides pack
looser than MP-20's intermetallics.

Charge balance and bonding are not modelled, as in the MP-20 statistics model: the
profile shapes composition and scattering power, pyxtal and spglib make the crystal.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources

import numpy as np

from xrdsim.errors import ConfigError


@dataclass(frozen=True)
class AnionClass:
    """One anion class of a profile: its species count and what may join it."""

    anion: str
    species: int
    other_anions: tuple[str, ...]
    cations_excluded: tuple[str, ...]


@dataclass(frozen=True)
class ElementProfile:
    """A named element profile (see the module docstring for how it is drawn)."""

    name: str
    source: str
    n_species: int
    element_species: dict[str, int]
    anion_classes: tuple[AnionClass, ...]
    anion_orbit_share: tuple[float, float]
    packing_quantiles: tuple[float, ...]

    def cations(self, anion_class: AnionClass) -> tuple[str, ...]:
        """Cation elements of a class, in the table's order."""
        skip = {anion_class.anion, *anion_class.other_anions, *anion_class.cations_excluded}
        return tuple(e for e in self.element_species if e not in skip)


@functools.cache
def _profiles() -> dict:
    text = resources.files("xrdsim.data").joinpath("synth_profiles.json").read_text("utf-8")
    return json.loads(text)


def profile_names() -> tuple[str, ...]:
    """Names of the shipped profiles."""
    return tuple(_profiles())


@functools.cache
def load_profile(name: str) -> ElementProfile:
    """The shipped profile ``name``.

    Raises:
        ConfigError: for an unknown name (listing the known ones).
    """
    table = _profiles()
    if name not in table:
        raise ConfigError(f"unknown profile {name!r}; known profiles: "
                          f"{', '.join(sorted(table))}")
    data = table[name]
    classes = tuple(AnionClass(anion=a, species=int(c["species"]),
                               other_anions=tuple(c["other_anions"]),
                               cations_excluded=tuple(c["cations_excluded"]))
                    for a, c in data["anion_classes"].items())
    lo, hi = (float(x) for x in data["anion_orbit_share"])
    return ElementProfile(name=name, source=data["source"], n_species=int(data["n_species"]),
                          element_species={e: int(n) for e, n in
                                           data["element_species"].items()},
                          anion_classes=classes, anion_orbit_share=(lo, hi),
                          packing_quantiles=tuple(float(x) for x in
                                                  data["packing_quantiles"]))


def draw_species(profile: ElementProfile, n_orbits: int,
                 rng: np.random.Generator) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Elements of one crystal and, per orbit, the index of the element it holds.

    Args:
        profile: the element profile.
        n_orbits: occupied orbits k (≥ 2: one anion and one cation orbit at least).
        rng: the crystal's random stream.

    Returns:
        ``(species, owner)``: distinct symbols, anions first (main anion at 0), and
        for each of the k orbits the index into ``species``; every element owns ≥ 1 orbit.
    """
    if n_orbits < 2:
        raise ConfigError(f"profile {profile.name!r} needs at least 2 orbits (an anion and a "
                          f"cation), got {n_orbits}")
    share = np.array([c.species for c in profile.anion_classes], dtype=float)
    klass = profile.anion_classes[int(rng.choice(len(share), p=share / share.sum()))]
    anions = [klass.anion] + [a for a in klass.other_anions
                              if rng.random() < profile.element_species[a] / profile.n_species]
    pool = profile.cations(klass)
    p = np.array([profile.element_species[e] for e in pool], dtype=float) / profile.n_species
    present = rng.random(len(pool)) < p
    while not present.any():  # at least one cation; P(none) ≈ 2 % for the minerals table
        present = rng.random(len(pool)) < p
    cations = [e for e, keep in zip(pool, present, strict=True) if keep]
    lo, hi = profile.anion_orbit_share
    n_anion = int(np.clip(round(rng.uniform(lo, hi) * n_orbits), 1, n_orbits - 1))
    anions = anions[:n_anion]
    n_cation = n_orbits - n_anion
    if len(cations) > n_cation:
        keep = np.sort(rng.choice(len(cations), size=n_cation, replace=False))
        cations = [cations[i] for i in keep]
    a, c = len(anions), len(cations)
    anion_owner = list(range(a)) + [0] * (n_anion - a)
    cation_owner = list(range(a, a + c)) + [a + int(i) for i in rng.integers(0, c, n_cation - c)]
    slots = rng.permutation(n_orbits)  # slots[:n_anion] are the anion orbits
    owner = [0] * n_orbits
    for slot, o in zip(slots, anion_owner + cation_owner, strict=True):
        owner[int(slot)] = o
    return tuple(anions + cations), tuple(owner)
