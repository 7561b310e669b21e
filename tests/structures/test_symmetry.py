"""Symmetry labels: agreement with MP-20's spglib labels and with pymatgen's analyser."""

from __future__ import annotations

import csv
import gzip
import itertools
from pathlib import Path

import numpy as np
import pytest
import spglib
from pymatgen.core import Lattice, Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from xrdsim.errors import SymmetryError
from xrdsim.structures.crystal_systems import CRYSTAL_SYSTEMS
from xrdsim.structures.extinction import default_hall_numbers
from xrdsim.structures.extinction_table import extinction_table
from xrdsim.structures.reader import iter_cif_sources, parse_cif, read_structures
from xrdsim.structures.symmetry import (
    LAUE_CLASS,
    StructureLabels,
    bravais_lattice,
    space_group_from_symbol,
    spglib_cell,
    structure_labels,
)

#: Every n-th row of mp20_test.csv.gz is checked (9,046 rows → 302 structures).
MP20_STRIDE = 30


@pytest.fixture(scope="module")
def mp20_sample(shared_data: Path):
    path = shared_data / "structures" / "mp20_test.csv.gz"
    csv.field_size_limit(2**31 - 1)
    with gzip.open(path, "rt", newline="") as fh:
        truth = {r["material_id"]: r for r in csv.DictReader(fh)}
    sources = itertools.islice(iter_cif_sources(path), 0, None, MP20_STRIDE)
    return [(parse_cif(s), truth[s.structure_id]) for s in sources]


def test_reproduces_mp20_labels_at_symprec_0_1(mp20_sample):
    assert len(mp20_sample) >= 300
    agree = [structure_labels(rec.structure).space_group
             == int(row["spacegroup_number_symprec0.1"]) for rec, row in mp20_sample]
    print(f"MP-20 symprec 0.1 agreement: {sum(agree)}/{len(agree)}")
    assert np.mean(agree) >= 0.99


def test_symprec_0_01_column(mp20_sample):
    agree = [structure_labels(rec.structure, symprec=0.01).space_group
             == int(row["spacegroup_number_symprec0.01"]) for rec, row in mp20_sample[:100]]
    assert np.mean(agree) >= 0.99


def test_labels_agree_with_pymatgen_analyser(mp20_sample):
    table = extinction_table()
    for rec, row in mp20_sample[:60]:
        labels = structure_labels(rec.structure)
        sga = SpacegroupAnalyzer(rec.structure, symprec=0.1)
        assert labels.space_group == sga.get_space_group_number()
        assert CRYSTAL_SYSTEMS[labels.crystal_system] == sga.get_crystal_system()
        assert labels.formula == row["formula"]
        assert labels.num_sites == int(row["num_atoms"])
        assert labels.space_group in table.space_groups(labels.extinction_group)
        assert labels.extinction_symbol == table.symbols[labels.extinction_group]
        # Bravais lattice: system letter from pymatgen's lattice type
        lattice_type = sga.get_lattice_type()
        letter = {"triclinic": "a", "rhombohedral": "h"}.get(lattice_type, lattice_type[0])
        assert labels.bravais_lattice[0] == letter
        conv = sga.get_conventional_standard_structure().lattice
        if labels.bravais_lattice != "hR" and labels.crystal_system > 1:
            assert sorted(labels.lattice[:3]) == pytest.approx(sorted(conv.abc), rel=1e-3)


def test_textbook_labels(test_data: Path):
    rec = next(read_structures(test_data / "cifs" / "NiO_225_sym.cif"))
    labels = structure_labels(rec.structure)
    assert (labels.space_group, labels.space_group_symbol) == (225, "Fm-3m")
    assert (labels.crystal_system, labels.laue_class, labels.bravais_lattice) == (6, "m-3m", "cF")
    assert labels.extinction_symbol == "F - 3 -" and labels.formula == "NiO"
    assert labels.lattice == pytest.approx((4.178, 4.178, 4.178, 90, 90, 90))
    assert labels.num_sites == 8

    wurtzite = Structure.from_spacegroup(
        "P6_3mc", Lattice.hexagonal(3.25, 5.21), ["Zn", "O"],
        [[1 / 3, 2 / 3, 0], [1 / 3, 2 / 3, 0.382]],
    )
    labels = structure_labels(wurtzite)
    assert (labels.space_group, labels.laue_class, labels.bravais_lattice) == (186, "6/mmm", "hP")
    assert labels.extinction_symbol == "P 6 - c"

    corundum = Structure.from_spacegroup(
        "R-3c", Lattice.hexagonal(4.76, 12.99), ["Al", "O"], [[0, 0, 0.352], [0.306, 0, 0.25]]
    )
    labels = structure_labels(corundum.get_primitive_structure())
    assert (labels.space_group, labels.bravais_lattice, labels.laue_class) == (167, "hR", "-3m")
    assert labels.lattice[:3] == pytest.approx((4.76, 4.76, 12.99), rel=1e-6)  # hexagonal axes


def test_disordered_sites_get_one_type_per_composition(test_data: Path):
    rec = next(read_structures(test_data / "cifs" / "Li7La3Zr2O12_230.cif"))
    assert not rec.structure.is_ordered
    labels = structure_labels(rec.structure)
    assert (labels.space_group, labels.bravais_lattice) == (230, "cI")
    _, _, types = spglib_cell(rec.structure)
    n_kinds = len({tuple(sorted(s.species.items())) for s in rec.structure})
    assert len(set(types.tolist())) == n_kinds


def test_atom_order_does_not_matter(mp20_sample):
    rec, _ = mp20_sample[7]
    order = np.random.default_rng(0).permutation(len(rec.structure))
    shuffled = Structure.from_sites([rec.structure[i] for i in order])
    assert structure_labels(shuffled) == structure_labels(rec.structure)


def test_round_trip_and_errors(mp20_sample):
    labels = structure_labels(mp20_sample[0][0].structure)
    assert StructureLabels.from_dict(labels.to_dict()) == labels
    with pytest.raises(SymmetryError, match="symprec must be > 0"):
        structure_labels(mp20_sample[0][0].structure, symprec=0)


@pytest.mark.parametrize(
    ("symbol", "number"),
    [("P 21/c", 14), ("P 1 21/n 1", 14), ("P b n m", 62), ("R -3 m :H", 166), ("Fm-3m", 225),
     ("C 2/m", 12), ("I a -3 d", 230), ("P 63/m m c", 194), ("P 1", 1), ("Q 42", None)],
)
def test_space_group_from_symbol(symbol: str, number: int | None):
    assert space_group_from_symbol(symbol) == number


def test_bravais_lattice_and_laue_class_of_every_space_group():
    # textbook counts of space-group types per Bravais lattice
    expected = {"aP": 2, "mP": 8, "mC": 5, "oP": 30, "oS": 15, "oI": 9, "oF": 5, "tP": 49,
                "tI": 19, "hR": 7, "hP": 45, "cP": 15, "cI": 10, "cF": 11}
    counts: dict[str, int] = {}
    laue = set()
    for sg, hall in default_hall_numbers().items():
        t = spglib.get_spacegroup_type(hall, _throw=True)
        counts[bravais_lattice(sg, t.international_short)] = counts.get(
            bravais_lattice(sg, t.international_short), 0) + 1
        laue.add(LAUE_CLASS[t.pointgroup_international])
    assert counts == expected
    assert len(laue) == 11
