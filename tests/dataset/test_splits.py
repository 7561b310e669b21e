"""Structure-level splits: grouping, determinism, stratification, the four cells."""

from __future__ import annotations

import csv
import gzip
import io

import numpy as np
import pytest

from xrdsim.dataset.splits import (
    HELD_OUT,
    TRAIN,
    SplitSpec,
    assign_splits,
    assignment_sha256,
    split_cells,
    split_rows,
    split_seed,
    split_structures,
)
from xrdsim.errors import ConfigError
from xrdsim.structures.crystal_systems import crystal_system_index


def _default_table():
    """Formulas and space groups of the bundled 504 MP-20 structures (real data)."""
    from importlib import resources

    raw = resources.files("xrdsim.data").joinpath("default_structures.csv.gz").read_bytes()
    rows = list(csv.DictReader(io.StringIO(gzip.decompress(raw).decode())))
    return ([r["material_id"] for r in rows], [r["formula"] for r in rows],
            np.array([int(r["spacegroup_number_symprec0.1"]) for r in rows]))


def test_groups_never_straddle_and_fraction_per_crystal_system():
    ids, formulas, sgs = _default_table()
    # duplicate some (formula, sg) groups so grouping actually matters
    formulas = formulas + formulas[:60]
    sgs = np.concatenate([sgs, sgs[:60]])
    a = assign_splits(formulas, sgs, test_fraction=0.1, seed=3)
    groups: dict = {}
    for f, sg, code in zip(formulas, sgs, a, strict=True):
        groups.setdefault((f, int(sg)), set()).add(int(code))
    assert all(len(codes) == 1 for codes in groups.values())
    systems = crystal_system_index(sgs)
    for system in range(7):
        sel = systems == system
        n_held = int(np.sum(a[sel] == HELD_OUT))
        quota = round(0.1 * int(sel.sum()))
        largest = max(len([1 for f2, s2 in zip(formulas, sgs, strict=True) if (f2, s2) == k])
                      for k in groups)
        assert quota <= n_held <= quota + largest - 1


def test_assignment_is_deterministic_and_order_independent():
    ids, formulas, sgs = _default_table()
    a = assign_splits(formulas, sgs, test_fraction=0.1, seed=7)
    perm = np.random.default_rng(0).permutation(len(ids))
    b = assign_splits([formulas[i] for i in perm], sgs[perm], test_fraction=0.1, seed=7)
    np.testing.assert_array_equal(a[perm], b)
    assert assignment_sha256(ids, a) == assignment_sha256([ids[i] for i in perm], b)
    c = assign_splits(formulas, sgs, test_fraction=0.1, seed=8)
    assert not np.array_equal(a, c)
    assert assignment_sha256(ids, a) != assignment_sha256(ids, c)


def test_zero_fraction_and_bad_fraction():
    a = assign_splits(["NaCl", "KCl"], [225, 225], test_fraction=0.0, seed=0)
    assert a.tolist() == [TRAIN, TRAIN]
    with pytest.raises(ConfigError, match="test_fraction"):
        assign_splits(["NaCl"], [225], test_fraction=1.0, seed=0)
    with pytest.raises(ConfigError, match="length"):
        assign_splits(["NaCl"], [225, 1], test_fraction=0.1, seed=0)


def test_cells_and_rows():
    cells = {c.name: c for c in split_cells(views_train=6, views_test=2)}
    assert (cells["train"].config, cells["train"].structures, cells["train"].views) == (
        "train", "train", 6)
    assert (cells["invariance"].config, cells["invariance"].structures) == ("invariance", "train")
    assert (cells["equivariance"].config, cells["equivariance"].structures) == (
        "train", "held_out")
    assert (cells["held_out_invariance"].config,
            cells["held_out_invariance"].structures) == ("invariance", "held_out")
    assert SplitSpec.from_dict("train", cells["train"].to_dict()) == cells["train"]
    with pytest.raises(ConfigError, match="views"):
        SplitSpec("train", "train", "train", 0)

    assignment = np.array([0, 1, 0, 0, 1, 0], dtype=np.int8)
    tr = split_structures(assignment, cells["train"], seed=1)
    inv = split_structures(assignment, cells["invariance"], seed=1)
    eq = split_structures(assignment, cells["equivariance"], seed=1)
    # invariance draws exactly the train structures, equivariance exactly the held-out ones
    assert sorted(tr.tolist()) == sorted(inv.tolist()) == [0, 2, 3, 5]
    assert sorted(eq.tolist()) == [1, 4]
    s, v = split_rows(tr, 3)
    assert s.dtype == np.int32 and v.dtype == np.int16
    assert s.tolist() == np.repeat(tr, 3).tolist() and v.tolist() == [0, 1, 2] * 4
    assert split_seed(1, "train") != split_seed(1, "invariance")
    assert split_seed(1, "train") == split_seed(1, "train") < 2**63


def test_train_only_structures_stay_in_train_and_count_towards_no_quota():
    ids, formulas, sgs = _default_table()
    base = assign_splits(formulas, sgs, test_fraction=0.2, seed=5)
    # all False = no train-only structure: the assignment of before
    np.testing.assert_array_equal(
        assign_splits(formulas, sgs, test_fraction=0.2, seed=5,
                      train_only=np.zeros(len(sgs), bool)), base)
    # 150 synthetic crystals appended, one of them a twin (formula, SG) of a real structure
    twin = int(np.flatnonzero(base == HELD_OUT)[0])
    f2 = formulas + [formulas[twin]] + [f"Synth{i}" for i in range(149)]
    s2 = np.concatenate([sgs, [sgs[twin]], np.resize(sgs, 149)])
    fixed = np.r_[np.zeros(len(sgs), bool), np.ones(150, bool)]
    a = assign_splits(f2, s2, test_fraction=0.2, seed=5, train_only=fixed)
    assert np.all(a[fixed] == TRAIN)
    assert a[twin] == TRAIN  # its group holds a synthetic crystal: kept whole in train
    systems = crystal_system_index(s2)
    for system in range(7):
        real = (systems == system) & ~fixed
        held = int(np.sum(a[real] == HELD_OUT))
        assert held >= round(0.2 * int(real.sum())) or system == int(systems[twin])
    # the quota counts real structures only: about 20 % of the 504, not of 654
    assert 0.18 * len(sgs) <= np.sum(a == HELD_OUT) <= 0.23 * len(sgs)
    with pytest.raises(ConfigError, match="train_only"):
        assign_splits(formulas, sgs, test_fraction=0.2, seed=5, train_only=[True])
