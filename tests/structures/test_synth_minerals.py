"""Mineral-shaped synthetic crystals: `--orbits LO-HI` and `--profile minerals` (issue 27).

Orbit counts stay in the asked range, the profile's elements and anion classes follow
its source table (Marfunin 1994, Tables 8 and 9), bad settings are refused at once, and
the settings that existed before give the same plans as before."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from click.testing import CliRunner
from xrdsim_cli.main import cli

from xrdsim.errors import ConfigError, StructureError
from xrdsim.structures.reader import parse_cif
from xrdsim.structures.sources import CifSource
from xrdsim.structures.symmetry import structure_labels
from xrdsim.structures.synth import SynthSettings, crystal_rng, generate_crystal, parse_orbits
from xrdsim.structures.synth_model import draw_plan, max_orbits
from xrdsim.structures.synth_profiles import draw_species, load_profile, profile_names
from xrdsim.structures.synth_statistics import wyckoff_dof

MINERALS = SynthSettings(seed=4, max_atoms=200, orbits=(8, 30), profile="minerals")
#: The same shape with fewer orbits: pyxtal places it in seconds.
SMALL = SynthSettings(seed=4, max_atoms=200, orbits=(8, 10), profile="minerals")


def _orbit_count(wyckoff_text: str) -> int:
    return len(wyckoff_text.split())


def test_default_plans_are_unchanged():
    # Plans drawn by the generator before --orbits / --profile existed (same seed keys).
    plan = draw_plan(62, crystal_rng(0, 62, 0), max_atoms=100)
    assert plan.wyckoff_text == ("Pr:4c Pr:4c Pr:4c Pr:8d Pr:4c Gd:4c Gd:4c Gd:4c Mn:4c Mn:4c "
                                 "Mn:4c")
    assert plan.volume == pytest.approx(2082.2624619503463, rel=1e-12)
    plan = draw_plan(225, crystal_rng(0, 225, 3), max_atoms=100)
    assert plan.wyckoff_text == "As:4a As:24e Pd:24e La:4b La:8c"
    plan = draw_plan(14, crystal_rng(0, 14, 1), max_atoms=100, elements=("O", "Si", "Al", "Mg"))
    assert plan.wyckoff_text == "O:4e Si:4e"
    assert plan.volume == pytest.approx(62.84273387637272, rel=1e-12)


def test_max_orbits_matches_the_wyckoff_multiplicities():
    # ITA multiplicities: Fd-3m 8a 8b 16c 16d 32e (x,x,x) …: 8+8+16+16+4·32 = 176 <= 200.
    assert max_orbits(227, 200) == 8
    # Ia-3d 16a 16b 24c 24d 32e …: 16+16+24+24+3·32 = 176; one more 32e passes 200.
    assert max_orbits(230, 200) == 7
    assert max_orbits(1, 200) == 200  # P1: every orbit is one atom
    assert max_orbits(2, 9) == 8  # P-1: 1a…1h hold one atom each; a 2i orbit would make 10
    assert max_orbits(225, 3) == 0  # Fm-3m's smallest orbit holds 4


@pytest.mark.parametrize("group", [2, 14, 15, 62, 166, 194, 225, 227])
def test_orbit_counts_stay_in_the_asked_range(group):
    lo, hi = 8, 12
    top = min(hi, max_orbits(group, 200))
    counts = []
    for index in range(25):
        plan = draw_plan(group, crystal_rng(1, group, index), max_atoms=200, orbits=(lo, hi),
                         profile="minerals")
        letters = [s[-1] for sites in plan.sites for s in sites]
        fixed = [x for x in letters if wyckoff_dof(group)[x][1] == 0]
        assert len(fixed) == len(set(fixed))  # positions without freedom hold one orbit
        assert sum(plan.num_ions) <= 200
        counts.append(len(letters))
    assert lo <= min(counts) and max(counts) <= top
    assert len(set(counts)) > 1 or top == lo  # drawn, not fixed (Fd-3m holds exactly 8)


def test_a_group_that_cannot_hold_the_orbits_is_an_error_record():
    with pytest.raises(StructureError, match="holds at most 7 occupied Wyckoff orbits"):
        generate_crystal(230, 0, MINERALS)


def test_profile_elements_follow_the_source_table():
    profile = load_profile("minerals")
    assert profile_names() == ("minerals",)
    # Marfunin (1994) Table 8 (species per element) and Table 9 (species per class).
    assert profile.n_species == 3413
    assert (profile.element_species["O"], profile.element_species["H"],
            profile.element_species["Si"]) == (2709, 1921, 906)
    assert {c.anion: c.species for c in profile.anion_classes} == {"O": 2586, "S": 563,
                                                                   "Cl": 82, "F": 42}
    rng = np.random.default_rng(0)
    klass, h_with_oxygen, n_oxygen = Counter(), 0, 0
    anion_orbits = 0
    for _ in range(3000):
        species, owner = draw_species(profile, 12, rng)
        assert set(species) <= set(profile.element_species)
        assert sorted(set(owner)) == list(range(len(species)))  # every element on an orbit
        klass[species[0]] += 1
        if species[0] == "S":  # sulfides: no oxygen, halogen or oxyanion former
            assert not {"O", "F", "Cl", "H", "B", "C", "Si", "P"} & set(species)
        if species[0] == "O":
            n_oxygen += 1
            h_with_oxygen += "H" in species
            anion_orbits += sum(1 for o in owner if species[o] in ("O", "F", "Cl"))
    # class shares within 4 binomial sd of Table 9 (O 2586 / 3273 = 0.790)
    assert klass["O"] / 3000 == pytest.approx(2586 / 3273, abs=4 * (0.79 * 0.21 / 3000) ** 0.5)
    assert klass["S"] / 3000 == pytest.approx(563 / 3273, abs=0.03)
    # H is drawn with its Table 8 share 1921 / 3413 = 0.563 (< 2 % redraws for no cation)
    assert h_with_oxygen / n_oxygen == pytest.approx(1921 / 3413, abs=0.05)
    share = anion_orbits / (12 * n_oxygen)  # u ~ U(0.5, 0.75): mean 0.625
    assert 0.58 < share < 0.67


def test_minerals_crystals_are_deterministic_and_mineral_shaped():
    crystal = generate_crystal(14, 0, SMALL)
    assert generate_crystal(14, 0, SMALL).cif == crystal.cif
    assert 8 <= _orbit_count(crystal.wyckoff) <= 10
    assert crystal.num_atoms <= 200
    profile = load_profile("minerals")
    elements = {w.split(":")[0] for w in crystal.wyckoff.split()}
    assert elements <= set(profile.element_species)
    record = parse_cif(CifSource("synth", crystal.structure_id, crystal.cif))
    assert structure_labels(record.structure, symprec=0.1).space_group == 14
    other = SynthSettings(seed=5, max_atoms=200, orbits=(8, 10), profile="minerals")
    assert generate_crystal(14, 0, other).cif != crystal.cif


def test_orbits_and_profile_settings_are_validated():
    assert parse_orbits("8-30") == (8, 30)
    assert parse_orbits("12") == (12, 12)
    for text, match in (("x", "cannot read orbits"), ("30-8", "lo <= hi"), ("0-4", "lo <= hi"),
                        ("8-", "cannot read orbits")):
        with pytest.raises(ConfigError, match=match):
            parse_orbits(text)
    with pytest.raises(ConfigError, match="max_atoms"):
        SynthSettings(orbits=(8, 300), max_atoms=200)
    with pytest.raises(ConfigError, match="orbits or composition"):
        SynthSettings(orbits=(2, 4), composition=(("Na", 4), ("Cl", 4)))
    with pytest.raises(ConfigError, match="unknown profile 'rocks'; known profiles: minerals"):
        SynthSettings(orbits=(8, 30), profile="rocks")
    with pytest.raises(ConfigError, match="needs orbits with lo >= 2"):
        SynthSettings(profile="minerals")
    with pytest.raises(ConfigError, match="needs orbits with lo >= 2"):
        SynthSettings(profile="minerals", orbits=(1, 4))
    with pytest.raises(ConfigError, match="profile or elements"):
        SynthSettings(profile="minerals", orbits=(8, 30), elements=("O", "Si"))
    assert SynthSettings.from_dict(MINERALS.to_dict()) == MINERALS
    assert SynthSettings().to_dict()["orbits"] is None


@pytest.mark.parametrize(("args", "match"), [
    (["--orbits", "many"], "cannot read orbits 'many'"),
    (["--orbits", "8-300", "--max-atoms", "200"], "max_atoms \\(200\\)"),
    (["--profile", "rocks", "--orbits", "8-30"], "unknown profile 'rocks'"),
    (["--profile", "minerals"], "needs orbits with lo >= 2"),
    (["--profile", "minerals", "--orbits", "8-30", "--elements", "O,Si"], "not both"),
])
def test_cli_refuses_bad_orbits_and_profiles(tmp_path, args, match):
    import re

    out = tmp_path / "m.csv.gz"
    result = CliRunner().invoke(cli, ["synth", "-o", str(out), "--per-space-group", "1", *args])
    assert result.exit_code == 3, result.output
    assert re.search(match, result.output), result.output
    assert not out.exists()
