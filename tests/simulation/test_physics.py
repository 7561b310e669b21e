"""Physics of the real-sample ops: each effect against its textbook formula."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from xrdsim.grid import grid_centers
from xrdsim.peaks.database import PeakBatch
from xrdsim.simulation.config import SimulationConfig
from xrdsim.simulation.phases import simulate_database
from xrdsim.simulation.simulator import render, simulate_batch

NARROW = {"U": 0.0, "V": 0.0, "W": 0.0004, "P": 0.0, "eta": 0.0, "rho": 0.0}


def _cfg(ops: dict, wavelength: float = 1.5418) -> SimulationConfig:
    return SimulationConfig.from_dict({"wavelength": wavelength, "ops": ops})


def _two_theta(hkl: np.ndarray, a: float, c: float, wavelength: float = 1.5418) -> np.ndarray:
    d = 1.0 / np.sqrt((hkl[:, 0] ** 2 + hkl[:, 1] ** 2) / a**2 + hkl[:, 2] ** 2 / c**2)
    return 2.0 * np.degrees(np.arcsin(wavelength / (2.0 * d)))


def _centroid(y: np.ndarray, lo: float, hi: float) -> float:
    x = grid_centers()
    m = (x >= lo) & (x <= hi)
    return float((x[m] * y[m]).sum() / y[m].sum())


@pytest.mark.parametrize("r", [0.5, 0.8, 1.7])
def test_plate_texture_strengthens_00l_by_march_dollase(r):
    """Tetragonal, (001) plates: W(00l) = r⁻³ (α = 0), W(hk0) = r^(3/2) (α = 90°)."""
    hkl = np.array([[0, 0, 2], [2, 0, 0], [1, 1, 0]])
    tt = _two_theta(hkl, 4.0, 6.0)
    cells = np.array([[4.0, 4.0, 6.0, 90.0, 90.0, 90.0]])
    ops = {"preferred_orientation": {"r": r, "directions": [[0, 0, 1]]}}
    y = simulate_batch(tt, np.full(3, 10.0), np.array([0, 3]), _cfg(ops), seed=0,
                       structure_keys=0, views=0, hkl=hkl, cells=cells).patterns[0]
    peaks = y[np.flatnonzero(y)]
    order = np.argsort(tt)
    ratio = peaks[np.argsort(order)]
    assert ratio[0] / ratio[1] == pytest.approx(r**-4.5, rel=1e-5)
    assert ratio[1] == pytest.approx(ratio[2], rel=1e-6)


def test_cubic_line_averages_over_its_six_equivalents():
    """Cubic {100} with [001] texture: two members at α = 0, four at 90°."""
    r = 0.6
    tt = np.array([30.0, 60.0])
    hkl = np.array([[1, 0, 0], [1, 1, 1]])
    cells = np.array([[4.0, 4.0, 4.0, 90.0, 90.0, 90.0]])
    ops = {"preferred_orientation": {"r": r, "directions": [[0, 0, 1]]}}
    y = simulate_batch(tt, np.array([10.0, 10.0]), np.array([0, 2]), _cfg(ops), seed=0,
                       structure_keys=0, views=0, hkl=hkl, cells=cells).patterns[0]
    w100 = (2 * r**-3 + 4 * r**1.5) / 6
    c2 = 1.0 / 3.0  # every <111> member makes cos²α = 1/3 with [001]
    w111 = (r * r * c2 + (1 - c2) / r) ** -1.5
    nz = y[np.flatnonzero(y)]
    assert nz[0] / nz[1] == pytest.approx(w100 / w111, rel=1e-5)


@pytest.mark.parametrize("shift", [-0.3, 0.2])
def test_displacement_shift_follows_cos_theta(shift):
    radius = 200.0
    tt = np.array([30.0, 100.0])
    ops = {"displacement": {"shift": shift, "radius": radius}, "profile": NARROW}
    y = simulate_batch(tt, np.array([10.0, 10.0]), np.array([0, 2]), _cfg(ops), seed=0,
                       structure_keys=0, views=0).patterns[0].astype(np.float64)
    ref = simulate_batch(tt, np.array([10.0, 10.0]), np.array([0, 2]), _cfg({"profile": NARROW}),
                         seed=0, structure_keys=0, views=0).patterns[0].astype(np.float64)
    for t in tt:
        moved = _centroid(y, t - 1, t + 1) - _centroid(ref, t - 1, t + 1)
        expected = -np.degrees(2 * shift * np.cos(np.radians(t / 2)) / radius)
        assert moved == pytest.approx(expected, abs=2e-4)


def test_transparency_moves_centroid_by_its_depth_and_tails_to_low_angle():
    mu, radius = 20.0, 240.0  # 1/cm, mm
    tt = np.array([90.0])
    ops = {"transparency": {"mu": mu, "radius": radius}, "profile": NARROW}
    y = simulate_batch(tt, np.array([10.0]), np.array([0, 1]), _cfg(ops), seed=0,
                       structure_keys=0, views=0).patterns[0].astype(np.float64)
    delta = np.degrees(np.sin(np.radians(90.0)) / (2 * mu * radius / 10))
    assert _centroid(y, 85, 95) - 90.0 == pytest.approx(-delta, rel=1e-3)
    x = grid_centers()
    left = y[(x > 90 - 3 * delta) & (x < 90 - 0.1)].sum()
    right = y[(x > 90 + 0.1) & (x < 90 + 3 * delta)].sum()
    assert left > 20 * right


def test_scan_range_zero_outside_and_renormalised_inside():
    tt, inten = np.array([20.0, 50.0, 100.0]), np.array([100.0, 30.0, 10.0])
    ops = {"profile": NARROW, "scan_range": {"start": 25.0, "end": 90.0}, "renormalize": {}}
    y = simulate_batch(tt, inten, np.array([0, 3]), _cfg(ops), seed=0, structure_keys=0,
                       views=0).patterns[0]
    x = grid_centers()
    assert not y[(x < 25) | (x > 90)].any()
    assert y.max() == 1.0 and abs(x[np.argmax(y)] - 50.0) < 0.02


class _TwoPhaseDatabase:
    """Two structures of one line each, with the fields simulate_database reads."""

    path = Path("two-phase")

    def __init__(self):
        self.tt = [np.array([30.0]), np.array([60.0])]
        self.raw = [np.array([400.0]), np.array([900.0])]
        self.labels = {"formula": np.array(["NaCl", "MgO"], dtype=object),
                       "num_sites": np.array([8, 8]), "a": np.array([5.64, 4.21]),
                       "b": np.array([5.64, 4.21]), "c": np.array([5.64, 4.21]),
                       "alpha": np.full(2, 90.0), "beta": np.full(2, 90.0),
                       "gamma": np.full(2, 90.0)}  # fmt: skip

    size = 2

    def __len__(self) -> int:
        return self.size

    def ragged(self, indices, *, hkl=False, raw=False) -> PeakBatch:
        idx = np.asarray(indices)
        inten = self.raw if raw else [r / r.max() * 100 for r in self.raw]
        return PeakBatch(idx, np.concatenate([self.tt[i] for i in idx]),
                         np.concatenate([inten[i] for i in idx]),
                         np.arange(idx.size + 1), np.ones((idx.size, 3), np.int32) if hkl else None)

    def cells(self, indices) -> np.ndarray:
        return np.array([[self.labels[k][i] for k in ("a", "b", "c", "alpha", "beta", "gamma")]
                         for i in np.asarray(indices)])  # fmt: skip


@pytest.mark.parametrize("fraction", [0.1, 0.3])
def test_mixture_intensities_follow_weight_fractions(fraction):
    """Rietveld: I_p ∝ w_p·I_raw,p/(ZMV)_p, ZM = cell mass, V = a³."""
    db = _TwoPhaseDatabase()
    ops = {"mixture": {"phases": 1, "fraction": fraction}, "profile": NARROW}
    res = simulate_database(db, np.array([0]), _cfg(ops), seed=0, structure_keys=[7], views=[0])
    y = res.patterns[0].astype(np.float64)
    x = grid_centers()
    i_a, i_b = y[np.abs(x - 30) < 1].sum(), y[np.abs(x - 60) < 1].sum()
    mass = {"NaCl": 22.98977 + 35.453, "MgO": 24.305 + 15.9994}  # u per formula unit
    zmv_a = 4 * mass["NaCl"] * 5.64**3
    zmv_b = 4 * mass["MgO"] * 4.21**3
    expected = (fraction * 900.0 / zmv_b) / ((1 - fraction) * 400.0 / zmv_a)
    assert i_b / i_a == pytest.approx(expected, rel=2e-3)
    assert res.params["mixture.phases"][0] == 1


def test_bare_peak_lists_record_no_mixture_and_no_texture():
    ops = {"mixture": {"phases": 2, "fraction": 0.2}, "preferred_orientation": {"r": 0.5}}
    res = render(np.array([40.0]), np.array([1.0]), np.array([0, 1]), _cfg(ops),
                 {"mixture.phases": 2, "mixture.fraction": 0.2, "preferred_orientation.r": 0.5},
                 seed=0, structure_keys=0, views=0)
    assert res.params["mixture.phases"][0] == 0 and res.params["preferred_orientation.r"][0] == 1


def test_mixture_patterns_do_not_depend_on_the_batch():
    db = _TwoPhaseDatabase()
    db.tt = [np.array([20.0 + 10 * k]) for k in range(5)]
    db.raw = [np.array([100.0 * (k + 1)]) for k in range(5)]
    db.labels = {k: np.concatenate([v] * 3)[:5] for k, v in db.labels.items()}
    db.size = 5
    ops = {"mixture": {"phases": {"choice": [0, 1, 2]}, "fraction": {"uniform": [0.05, 0.3]}},
           "profile": NARROW, "poisson_noise": {"counts": 1000.0}}
    idx, keys = np.arange(5), np.arange(5) + 100
    whole = simulate_database(db, idx, _cfg(ops), seed=4, structure_keys=keys, views=idx)
    assert set(whole.params["mixture.phases"].tolist()) > {0}
    for lo, hi in ((0, 2), (2, 5), (3, 4)):
        part = simulate_database(db, idx[lo:hi], _cfg(ops), seed=4, structure_keys=keys[lo:hi],
                                 views=idx[lo:hi])
        np.testing.assert_array_equal(part.patterns, whole.patterns[lo:hi])
