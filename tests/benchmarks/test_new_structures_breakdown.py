"""benchmarks/experiments/new_structures_breakdown.py: grouping and accuracies against hand
counts."""

from __future__ import annotations

import numpy as np
from conftest import benchmark_script


def _bench():
    return benchmark_script("experiments/new_structures_breakdown.py")


def test_family_is_the_avogadro_prefix_or_aflow():
    bench = _bench()
    assert bench.family("zeolites__MFI.cif") == "zeolites"
    assert bench.family("extra/avogadro/oxides__Fe2O3.cif") == "oxides"
    assert bench.family("A10B2C_hP39_171_5c_c_a.cif") == "aflow"


def test_breakdown_counts_patterns_per_family_and_site_bin():
    bench = _bench()
    families = np.array(["aflow", "zeolites", "aflow"])
    sites = np.array([2, 72, 30])
    # five patterns: structure 0 twice (right, wrong), 1 twice (wrong, wrong), 2 once (right)
    answers = {"structure_index": np.array([0, 0, 1, 1, 2]),
               "crystal_system": np.array([True, False, False, False, True]),
               "extinction_group": np.array([True, True, False, False, False]),
               "space_group": np.array([False, False, False, False, False])}
    out = bench.breakdown(answers, families, sites)
    assert out["family aflow"] == {"n": 3, "crystal_system": 66.7, "extinction_group": 66.7,
                                   "space_group": 0.0}
    assert out["family zeolites"]["n"] == 2 and out["family zeolites"]["crystal_system"] == 0
    assert out["sites 1-4"] == {"n": 2, "crystal_system": 50.0, "extinction_group": 100.0,
                                "space_group": 0.0}
    assert out["sites 21-48"]["n"] == 1 and out["sites 49+"]["n"] == 2
    assert "sites 5-8" not in out  # empty bins are left out
    assert out["all"]["n"] == 5 and out["all"]["crystal_system"] == 40.0
