"""benchmarks/experiments/rruff_diagnosis.py: its statistics on patterns of known shape."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import benchmark_script

from xrdsim.grid import grid_centers

diagnosis = benchmark_script("experiments/rruff_diagnosis.py")
#: Half-prominence widths are read between grid points by linear interpolation: within one
#: 0.01° bin of the true FWHM.
WIDTH_TOL_DEG = 0.01


def _gaussian(center: float, fwhm: float, height: float = 1.0) -> np.ndarray:
    x = grid_centers()
    return height * np.exp(-4 * np.log(2) * (x - center) ** 2 / fwhm**2)


def test_statistics_of_known_peaks_on_a_background():
    # two Gaussian lines (FWHM 0.10° at 14°, 0.20° at 50°) on a flat background of 0.3
    grid = 0.3 + _gaussian(14.0, 0.10) + _gaussian(50.0, 0.20, height=0.5)
    y, bg = diagnosis.subtracted(grid[None])
    stats = diagnosis.statistics(y[0], bg[0])
    assert stats["n_peaks"] == 2
    assert stats["fwhm_deg_lo"] == pytest.approx(0.10, abs=WIDTH_TOL_DEG)
    assert stats["fwhm_deg_mid"] == pytest.approx(0.20, abs=WIDTH_TOL_DEG)
    assert np.isnan(stats["fwhm_deg_hi"])
    assert stats["strongest_deg"] == pytest.approx(14.0, abs=0.01)
    # SNIP finds the flat 0.3 (of a 1.3 maximum) under the lines
    assert stats["background"] == pytest.approx(0.3 / 1.3, rel=0.05)
    # areas ∝ height·FWHM: 0.10 below 20°, 0.5·0.20 = 0.10 above → half
    assert stats["low_angle_share"] == pytest.approx(0.5, abs=0.03)
    assert stats["top_peak_share"] == pytest.approx(1 / 1.5, abs=0.02)
    assert stats["noise"] < 1e-3


def test_summaries_are_percentiles():
    rows = [{"a": float(v)} for v in range(101)]
    assert diagnosis.summarise(rows) == {"a": {"p10": 10.0, "p50": 50.0, "p90": 90.0}}
