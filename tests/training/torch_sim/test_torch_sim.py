"""The assembled torch simulator equals the numba simulator, end to end.

Every preset on a real peak database (two MP-20 structures per crystal system, mixtures
and preferred orientation included): torch ``simulate_database`` from the database held
on the device against numba :func:`xrdsim.simulation.phases.simulate_database`; torch
``simulate_batch`` against :func:`xrdsim.simulate_batch` on bare peak lists, edge cases
included; a pattern does not depend on its batch.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from test_torch_sim_lines import PRESETS  # noqa: E402
from torch_sim_db import peak_db  # noqa: E402, F401
from xrdsim_training.torch_sim import DevicePeaks, simulate_batch, simulate_database  # noqa: E402

import xrdsim  # noqa: E402
from xrdsim import PeakDatabase  # noqa: E402
from xrdsim.simulation import phases  # noqa: E402
from xrdsim.simulation.simulator import structure_key  # noqa: E402

#: Allowed difference, as a fraction of each pattern's maximum (the issue's bound).
TOL = 1e-5
SEED = 77


def assert_close(torch_patterns: torch.Tensor, numba_patterns: np.ndarray) -> None:
    got = torch_patterns.cpu().numpy()
    assert got.shape == numba_patterns.shape and got.dtype == np.float32
    scale = np.maximum(np.abs(numba_patterns).max(axis=1, keepdims=True), 1e-30)
    worst = float((np.abs(got - numba_patterns) / scale).max(initial=0.0))
    assert worst <= TOL, worst


def _keys(db: PeakDatabase, rows: np.ndarray) -> np.ndarray:
    ids = db.labels["structure_id"]
    return np.array([structure_key(str(ids[r])) for r in rows], dtype=np.int64)


@pytest.mark.parametrize("preset", PRESETS)
def test_database_patterns_equal_numba_for_every_preset(peak_db, preset):  # noqa: F811
    db = PeakDatabase(peak_db)
    rows = np.concatenate([np.arange(len(db))] * 2)
    views = np.repeat([0, 1], len(db))
    keys = _keys(db, rows)
    want = phases.simulate_database(db, rows, preset, seed=SEED, structure_keys=keys,
                                    views=views)  # fmt: skip
    got = simulate_database(DevicePeaks(db), rows, preset, seed=SEED, structure_keys=keys,
                            views=views)  # fmt: skip
    assert_close(got.patterns, want.patterns)
    assert want.patterns.max() > 0
    assert sorted(got.params) == sorted(want.params)
    for name, value in want.params.items():
        np.testing.assert_array_equal(got.params[name], value, err_msg=name)


def test_a_pattern_does_not_depend_on_its_batch(peak_db):  # noqa: F811
    db = PeakDatabase(peak_db)
    peaks = DevicePeaks(db)
    rows = np.arange(len(db))
    keys = _keys(db, rows)
    batch = simulate_database(peaks, rows, "train", seed=SEED, structure_keys=keys,
                              views=np.full(rows.size, 3))  # fmt: skip
    for r in (0, rows.size // 2, rows.size - 1):
        alone = simulate_database(peaks, rows[r:r + 1], "train", seed=SEED,
                                  structure_keys=keys[r:r + 1], views=np.array([3]))
        assert torch.equal(alone.patterns[0], batch.patterns[r])


@pytest.mark.parametrize("preset", ["das2025", "train"])
def test_bare_peak_lists_and_edge_cases_equal_numba(peak_db, preset):  # noqa: F811
    db = PeakDatabase(peak_db)
    batch = db.ragged(np.arange(3))
    tt, inten, offsets = batch.two_theta, batch.intensity, batch.offsets
    # pattern 0: no peaks; 1: one peak; 2: peaks at both grid edges; 3–5: real lists
    tt = np.concatenate([[37.2], [0.004, 60.0, 119.996], tt])
    inten = np.concatenate([[5.0], [1.0, 2.0, 3.0], inten])
    offsets = np.concatenate([[0, 0, 1, 4], offsets[1:] + 4])
    n = offsets.size - 1
    kw = dict(seed=SEED, structure_keys=np.arange(n) + 11, views=np.zeros(n, np.int64))
    want = xrdsim.simulate_batch(tt, inten, offsets, preset, **kw)
    got = simulate_batch(tt, inten, offsets, preset, **kw)
    assert_close(got.patterns, want.patterns)
    for name, value in want.params.items():
        np.testing.assert_array_equal(got.params[name], value, err_msg=name)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_equals_numba(peak_db):  # noqa: F811
    db = PeakDatabase(peak_db)
    rows = np.arange(len(db))
    keys = _keys(db, rows)
    views = np.zeros(rows.size, np.int64)
    want = phases.simulate_database(db, rows, "train", seed=SEED, structure_keys=keys,
                                    views=views)  # fmt: skip
    got = simulate_database(DevicePeaks(db, device="cuda"), rows, "train", seed=SEED,
                            structure_keys=keys, views=views)  # fmt: skip
    assert got.patterns.device.type == "cuda"
    assert_close(got.patterns, want.patterns)
