"""Extinction groups: derived from symmetry operations, pinned against textbook conditions."""

from __future__ import annotations

import numpy as np
import pytest
import spglib

from xrdsim.structures.crystal_systems import crystal_system_index
from xrdsim.structures.extinction import (
    absent_mask,
    default_hall_numbers,
    derive_extinction_table,
    space_group_operations,
)
from xrdsim.structures.extinction_table import extinction_table, load_table_json


def _absent(sg: int, hkls) -> list[bool]:
    ops = space_group_operations(default_hall_numbers()[sg])
    return absent_mask(np.array(hkls, dtype=np.int64), *ops).tolist()


def test_shipped_table_equals_a_fresh_derivation():
    assert load_table_json() == derive_extinction_table()


def test_table_is_a_partition_within_crystal_systems():
    table = extinction_table()
    assert table.n_classes == 112 == len(set(table.symbols))
    seen = [sg for i in range(table.n_classes) for sg in table.space_groups(i)]
    assert sorted(seen) == list(range(1, 231))
    for i in range(table.n_classes):
        sgs = table.space_groups(i)
        assert {crystal_system_index(sg) for sg in sgs} == {table.crystal_system(i)}
        assert all(table.of_space_group(sg) == i for sg in sgs)
    order = [(table.crystal_system(i), table.space_groups(i)[0]) for i in range(table.n_classes)]
    assert order == sorted(order)


def test_default_hall_numbers_are_spglib_standard_settings():
    halls = default_hall_numbers()
    assert halls[14] == 81 and halls[227] == 525 and halls[166] == 458
    for sg, hall in halls.items():  # the first Hall number of each type
        assert spglib.get_spacegroup_type(hall, _throw=True).number == sg
        assert spglib.get_spacegroup_type(hall - 1, _throw=True).number != sg if hall > 1 else True


def test_p21c_conditions():
    # ITA, P 1 21/c 1: h0l: l = 2n; 0k0: k = 2n; nothing else.
    assert _absent(14, [(1, 0, 1), (2, 0, 3), (0, 1, 0), (0, 3, 0)]) == [True] * 4
    assert _absent(14, [(1, 0, 2), (0, 2, 0), (1, 1, 1), (0, 1, 1), (1, 1, 0)]) == [False] * 5
    table = extinction_table()
    i = table.of_space_group(14)
    assert table.space_groups(i) == (14,) and table.symbols[i] == "P 1 21/c 1"
    assert table.conditions(i) == ("h0l: l=2n", "0k0: k=2n")


def test_fm3m_is_f_centring_only():
    assert _absent(225, [(1, 0, 0), (1, 1, 0), (2, 1, 0)]) == [True] * 3
    assert _absent(225, [(1, 1, 1), (2, 0, 0), (2, 2, 0), (3, 1, 1)]) == [False] * 4
    i = extinction_table().of_space_group(225)
    assert extinction_table().space_groups(i) == (196, 202, 209, 216, 225)


def test_fd3m_d_glide():
    # ITA Fd-3m: F, 0kl: k+l = 4n, hhl: h+l = 2n, h00: h = 4n. 222 is allowed by the
    # space group (its absence in diamond is a special-position condition).
    assert _absent(227, [(2, 0, 0), (0, 2, 4), (6, 0, 0)]) == [True] * 3
    assert _absent(227, [(4, 0, 0), (0, 2, 2), (2, 2, 2), (1, 1, 1), (3, 1, 1)]) == [False] * 5
    table = extinction_table()
    assert table.symbols[table.of_space_group(227)] == "F d 3 -"
    assert table.of_space_group(227) == table.of_space_group(203)  # Fd-3 shares them


def test_shared_groups():
    table = extinction_table()
    same = [(1, 2), (3, 6), (6, 10), (76, 78), (169, 170), (212, 213), (19, 19), (62, 62)]
    for a, b in same:
        assert table.of_space_group(a) == table.of_space_group(b), (a, b)
    different = [(225, 227), (14, 13), (4, 3), (143, 168), (146, 143), (195, 75)]
    for a, b in different:
        assert table.of_space_group(a) != table.of_space_group(b), (a, b)


def test_out_of_range_refused():
    with pytest.raises(ValueError, match="1–230"):
        extinction_table().of_space_group(231)
    with pytest.raises(ValueError, match="extinction-group index"):
        extinction_table().space_groups(112)


@pytest.mark.parametrize("sg", [14, 15, 33, 62, 88, 141, 161, 167, 186, 194, 205, 227, 230])
def test_structure_factor_vanishes_on_absences(sg: int):
    """Independent check: |F| of a general-position orbit is ~0 exactly on the absences."""
    rot, trans = space_group_operations(default_hall_numbers()[sg])
    x0 = np.array([0.1234, 0.2718, 0.3141])
    orbit = (rot @ x0 + trans) % 1.0  # all symmetry images of one general atom
    r = np.arange(-6, 7)
    hkl = np.stack(np.meshgrid(r, r, r, indexing="ij"), -1).reshape(-1, 3)
    amplitude = np.abs(np.exp(2j * np.pi * hkl @ orbit.T).sum(axis=1)) / len(orbit)
    absent = absent_mask(hkl, rot, trans)
    assert np.all(amplitude[absent] < 1e-9)
    # a general position has no accidental zeros on these small orbits except at
    # isolated points: absent reflections must be exactly the vanishing ones there.
    vanishing = amplitude < 1e-9
    assert np.mean(vanishing[~absent]) < 0.02
