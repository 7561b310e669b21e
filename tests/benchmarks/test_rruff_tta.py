"""benchmarks/experiments/rruff_tta.py: the seed-aware comparison of recipes."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import benchmark_script

tta = benchmark_script("experiments/rruff_tta.py")


def test_identical_recipes_differ_by_exactly_nothing():
    correct = (np.arange(50) % 3 == 0)[None].repeat(2, 0)
    assert tta.recipe_difference(correct, correct, rounds=200) == [0.0, 0.0, 0.0]


def test_a_recipe_right_everywhere_against_one_wrong_everywhere():
    right, wrong = np.ones((2, 40), bool), np.zeros((3, 40), bool)
    assert tta.recipe_difference(right, wrong, rounds=200) == [-100.0, -100.0, -100.0]


def test_seed_spread_widens_the_interval_beyond_the_files():
    # 200 files; recipe A (one seed) right on the first 100. Recipe B's two seeds are right
    # on the first 120 and the first 80: the same mean (50 %), but a redrawn pair of seeds
    # scores 60, 50 or 40 % (probabilities 1/4, 1/2, 1/4), so the interval reaches ±10
    # points, where resampling files alone (the seeds' mean per file) gives ≈ ±3.
    n = 200
    a = (np.arange(n) < 100)[None]
    b = np.stack([np.arange(n) < 120, np.arange(n) < 80])
    diff, low, high = tta.recipe_difference(a, b, rounds=2000)
    assert diff == 0.0
    assert low <= -8.0 and high >= 8.0
    per_file = b.mean(0) - a[0]
    rng = np.random.default_rng(0)
    files_only = per_file[rng.integers(0, n, (2000, n))].mean(1)
    assert np.percentile(files_only, 97.5) - np.percentile(files_only, 2.5) < 0.08


def test_the_difference_is_the_mean_over_seeds_and_files():
    rng = np.random.default_rng(3)
    a, b = rng.random((2, 30)) < 0.4, rng.random((3, 30)) < 0.6
    diff, low, high = tta.recipe_difference(a, b, rounds=500)
    assert diff == pytest.approx(round(100 * (b.mean() - a.mean()), 1))
    assert low <= diff <= high


def test_arrays_over_different_files_are_refused():
    with pytest.raises(ValueError, match="same files"):
        tta.recipe_difference(np.ones((2, 10)), np.ones((2, 11)))


@pytest.mark.parametrize("values", [["noequals"], ["=a,b"], ["x="], ["x=a", "x=b"]])
def test_malformed_or_repeated_recipes_are_refused(values):
    with pytest.raises(SystemExit, match="--recipe"):
        tta.parse_recipes(values)


def test_recipes_keep_their_order_and_runs():
    assert tta.parse_recipes(["full=r/b1,r/b2", "w16=r/e2"]) == {
        "full": ["r/b1", "r/b2"], "w16": ["r/e2"]}
