"""March–Dollase factors and symmetry helpers against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from xrdsim.calibration.preferred_orientation import (
    cos2_angles,
    distinct_directions,
    march_dollase,
    point_rotations,
    reflection_families,
    tied_axes,
)
from xrdsim.structures.reader import read_structures


def _structure(path):
    return next(iter(read_structures([str(path)]))).structure


@pytest.fixture(scope="module")
def nio(test_data):
    return _structure(test_data / "cifs" / "NiO_225_sym.cif")


@pytest.fixture(scope="module")
def rutile(shared_data):
    return _structure(shared_data / "cifs" / "autoxrd_examples" / "TiO2_136.cif")


def test_cubic_families_have_the_textbook_multiplicities(nio):
    rotations = point_rotations(nio)
    members, line = reflection_families(np.array([[1, 0, 0], [1, 1, 0], [1, 1, 1], [2, 1, 0]]),
                                        rotations)
    assert np.bincount(line).tolist() == [6, 12, 8, 24]
    assert distinct_directions(rotations) == [(0, 0, 1), (1, 1, 0), (1, 1, 1)]
    assert tied_axes(rotations) == (0, 0, 0)


def test_tetragonal_ties_a_and_b_only(rutile):
    rotations = point_rotations(rutile)
    assert tied_axes(rotations) == (0, 0, 2)
    assert distinct_directions(rotations) == [(0, 0, 1), (1, 0, 0), (1, 1, 0), (1, 0, 1),
                                              (1, 1, 1)]


def test_march_dollase_factor_by_hand(rutile):
    # (001) family = {001, 00-1}: α = 0, W = r^-3; (100) family: α = 90°, W = r^(3/2)
    rotations = point_rotations(rutile)
    members, line = reflection_families(np.array([[0, 0, 1], [1, 0, 0]]), rotations)
    cos2 = cos2_angles(members, (0, 0, 1), np.asarray(rutile.lattice.matrix))
    factors = march_dollase(cos2, line, 2, 0.7)
    assert factors == pytest.approx([0.7**-3, 0.7**1.5], rel=1e-12)
    assert march_dollase(cos2, line, 2, 1.0) == pytest.approx([1.0, 1.0])


def test_march_dollase_keeps_the_powder_average():
    # Dollase's normalisation: the mean of W over a uniform sphere of directions is 1
    c = np.linspace(0.0, 1.0, 200001)  # cos α uniform on [0, 1] = uniform sphere
    for r in (0.5, 0.8, 1.3, 2.0):
        w = march_dollase(c * c, np.zeros(c.size, dtype=np.int64), 1, r)
        assert w[0] == pytest.approx(1.0, abs=1e-4)
