"""torch_sim's line stage gives the numba ``make_lines`` lines, pattern by pattern.

The reference is the engine's own numba kernel (``lines_kernel.make_lines``, called per
pattern from Python) on the very arrays ``run_simulation`` hands to ``render_batch``
(:func:`xrdsim.simulation.kernel_inputs.kernel_arguments`), on real MP-20 peak lists of every
crystal system, for every preset and every line op alone, and on edge cases.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch_sim_db import peak_db  # noqa: E402, F401
from xrdsim_training.torch_sim.kernel_inputs import to_device  # noqa: E402
from xrdsim_training.torch_sim.lines import Lines, make_lines  # noqa: E402

from xrdsim import PeakDatabase  # noqa: E402
from xrdsim.simulation import crystal_kernel as CK  # noqa: E402
from xrdsim.simulation import lines_kernel as K  # noqa: E402
from xrdsim.simulation.config import SimulationConfig, load_config  # noqa: E402
from xrdsim.simulation.kernel_inputs import kernel_arguments  # noqa: E402
from xrdsim.simulation.sampling import draw_matrix  # noqa: E402

PRESETS = ("das2025", "train", "invariance", "extrapolation", "series")
#: Positions agree to float64 rounding: torch's cos may differ from libm's by an ulp,
#: which the displacement (≤ 0.2°·cos) turns into ~1e-16°; 1e-9° leaves room.
X_TOL = 1e-9
#: Intensities: the March–Dollase mean sums its ≤ 48 terms in another order (rel. 1e-15).
Y_RTOL = 1e-12
LINE_OPS = {
    "zero_shift": {"zero_shift": {"delta": {"uniform": [-0.3, 0.3]}}},
    "position_noise": {"position_noise": {"amplitude": {"uniform": [0.0, 0.05]}}},
    "peak_crop": {"peak_crop": {"low": {"uniform": [0, 40]}, "high": {"uniform": [60, 120]}}},
    "intensity_noise": {"intensity_noise": {"amplitude": {"uniform": [0.0, 0.5]}}},
    "doublet": {"doublet": {"ratio": {"uniform": [0.3, 0.6]}, "anode": "Mo"}, "wavelength": "MoKa"},
    "displacement": {"displacement": {"shift": {"uniform": [-0.5, 0.5]}, "radius": 200.0}},
    "tube_lines": {"tube_lines": {"kbeta": {"uniform": [0.01, 0.2]}, "tungsten": 0.05},
                   "doublet": {"ratio": 0.5}},
    "preferred_orientation": {"preferred_orientation": {"r": {"uniform": [0.3, 2.0]}}},
    "lattice_strain": {"lattice_strain": {"amplitude": {"uniform": [0.0, 0.08]}},
                       "doublet": {"ratio": 0.5}},
    "all_line_ops": {
        "lattice_strain": {"amplitude": {"uniform": [0.0, 0.08]}},
        "zero_shift": {"delta": {"uniform": [-0.3, 0.3]}},
        "displacement": {"shift": {"uniform": [-0.5, 0.5]}},
        "position_noise": {"amplitude": {"uniform": [0.0, 0.05]}},
        "peak_crop": {"low": {"uniform": [0, 40]}, "high": {"uniform": [60, 120]}},
        "intensity_noise": {"amplitude": {"uniform": [0.0, 0.5]}},
        "preferred_orientation": {"r": {"uniform": [0.3, 2.0]}},
        "doublet": {"ratio": {"uniform": [0.3, 0.6]}},
        "tube_lines": {"kbeta": {"uniform": [0.01, 0.2]}, "tungsten": {"uniform": [0.0, 0.05]}},
    },
}  # fmt: skip


def _config(ops: dict) -> SimulationConfig:
    ops = copy.deepcopy(ops)
    return SimulationConfig.from_dict({"wavelength": ops.pop("wavelength", 1.5418), "ops": ops})


def _arguments(cfg, tt, inten, offsets, *, seed=5, hkl=None, cells=None, views=None):
    n_pat = len(offsets) - 1
    return kernel_arguments(
        tt, inten, offsets, cfg, lambda c, enc, keys: draw_matrix(c, enc, seed, keys), seed=seed,
        structure_keys=np.arange(n_pat) * 7919 + 3,
        views=np.zeros(n_pat, np.int64) if views is None else views, hkl=hkl, cells=cells,
    )  # fmt: skip


def _db_arguments(cfg, path, *, seed=5):
    """Kernel arguments of every structure of the database, two views each."""
    with PeakDatabase(path) as db:
        rows = np.repeat(np.arange(len(db)), 2)
        batch = db.ragged(rows, hkl=True)
        return _arguments(cfg, batch.two_theta, batch.intensity, batch.offsets, seed=seed,
                          hkl=batch.hkl, cells=db.cells(rows), views=np.tile([0, 1], len(db)))


def torch_lines(args) -> Lines:
    """torch ``make_lines`` on the arrays of a :class:`KernelArguments`."""
    return make_lines(to_device(args, device="cpu"))


def numba_lines(args, b: int) -> tuple[np.ndarray, np.ndarray]:
    """numba ``make_lines`` of pattern b (the reference)."""
    lo, hi = int(args.offsets[b]), int(args.offsets[b + 1])
    lx = np.empty(K.LINES_PER_PEAK * (hi - lo))
    ly = np.empty_like(lx)
    nl = K.make_lines(args, lo, hi, args.params[b], args.keys[b], lx, ly)
    return lx[:nl], ly[:nl]


def assert_same_lines(args, lines: Lines) -> int:
    """Lines of every pattern equal numba's as a multiset; returns the number of lines."""
    n_pat = len(args.offsets) - 1
    assert lines.x.shape == lines.y.shape == lines.valid.shape
    assert lines.x.shape[0] == n_pat and lines.x.dtype == lines.y.dtype == torch.float64
    assert (lines.y[~lines.valid] == 0.0).all() and torch.isfinite(lines.x).all()
    total = 0
    widest = 0
    for b in range(n_pat):
        want_x, want_y = numba_lines(args, b)
        valid = lines.valid[b].numpy()
        got_x, got_y = lines.x[b].numpy()[valid], lines.y[b].numpy()[valid]
        assert got_x.size == want_x.size, f"pattern {b}: {got_x.size} lines, numba {want_x.size}"
        o, p = np.argsort(want_x, kind="stable"), np.argsort(got_x, kind="stable")
        np.testing.assert_allclose(got_x[p], want_x[o], rtol=0, atol=X_TOL)
        np.testing.assert_allclose(got_y[p], want_y[o], rtol=Y_RTOL, atol=0)
        total += want_x.size
        widest = max(widest, want_x.size)
    assert lines.x.shape[1] == widest  # L = most lines of any pattern
    return total


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_gives_numba_lines_on_real_peaks(preset, peak_db):  # noqa: F811
    args = _db_arguments(load_config(preset), peak_db)
    assert assert_same_lines(args, torch_lines(args)) > 1000


@pytest.mark.parametrize("case", sorted(LINE_OPS))
def test_each_line_op_gives_numba_lines_on_real_peaks(case, peak_db):  # noqa: F811
    args = _db_arguments(_config(LINE_OPS[case]), peak_db, seed=11)
    if "preferred_orientation" in LINE_OPS[case] or case == "all_line_ops":
        assert args.on[K.ON_PO]
    if "lattice_strain" in LINE_OPS[case]:
        assert args.on[K.ON_STRAIN] and args.params[:, K.P_LSTRAIN].max() > 0.01
    assert assert_same_lines(args, torch_lines(args)) > 1000


def test_preferred_orientation_changes_intensities(peak_db):  # noqa: F811
    """Not a no-op: textured intensities differ from the untextured ones by up to ×2."""
    on = _db_arguments(_config(LINE_OPS["preferred_orientation"]), peak_db)
    off = _db_arguments(_config({"zero_shift": {"delta": 0.0}}), peak_db)
    y_on, y_off = torch_lines(on).y, torch_lines(off).y
    ratio = (y_on[y_off > 0] / y_off[y_off > 0]).numpy()
    assert ratio.min() < 0.9 and ratio.max() > 1.1


@pytest.mark.parametrize("case", ["all_line_ops", "tube_lines", "peak_crop"])
def test_edge_cases_no_peaks_one_peak_grid_edges(case):
    """Empty pattern, one-peak patterns and peaks on the grid edges (0°, 119.99…°, 120°)."""
    tt = np.array([30.0, 0.0, 0.004, 119.999, 120.0, 60.0, 119.9999999, 1e-9])
    inten = np.array([100.0, 50.0, 20.0, 80.0, 10.0, 0.0, 5.0, 100.0])
    offsets = np.array([0, 0, 1, 5, 5, 6, 8])  # patterns: none, one, four, none, one, two
    hkl = np.tile([[1, 0, 0]], (tt.size, 1))
    cells = np.tile([[3.0, 3.0, 5.0, 90.0, 90.0, 120.0]], (offsets.size - 1, 1))
    cfg = _config({**LINE_OPS[case], "zero_shift": {"delta": {"uniform": [-0.01, 0.01]}}})
    args = _arguments(cfg, tt, inten, offsets, hkl=hkl, cells=cells)
    lines = torch_lines(args)
    assert_same_lines(args, lines)
    assert not lines.valid[0].any() and not lines.valid[3].any()


def test_empty_batch_and_all_empty_patterns():
    cfg = _config(LINE_OPS["all_line_ops"])
    for offsets in (np.array([0]), np.array([0, 0, 0])):
        args = _arguments(cfg, np.empty(0), np.empty(0), offsets, hkl=np.empty((0, 3), np.int64),
                          cells=np.tile([[3.0, 4.0, 5.0, 90.0, 90.0, 90.0]], (offsets.size - 1, 1)))
        lines = torch_lines(args)
        assert lines.x.shape == (offsets.size - 1, 0)


def test_pattern_lines_do_not_depend_on_the_batch(peak_db):  # noqa: F811
    """Pattern b's lines are bit-identical alone and inside the whole batch."""
    cfg = _config(LINE_OPS["all_line_ops"])
    with PeakDatabase(peak_db) as db:
        rows = np.arange(len(db))
        batch = db.ragged(rows, hkl=True)
        cells = db.cells(rows)
    whole = torch_lines(_arguments(cfg, batch.two_theta, batch.intensity, batch.offsets,
                                   hkl=batch.hkl, cells=cells))  # fmt: skip
    for b in (0, 5, len(rows) - 1):
        alone = torch_lines(_single(cfg, batch, cells, b))
        n = int(alone.valid.sum())
        assert int(whole.valid[b].sum()) == n
        assert torch.equal(alone.x[0, :n], whole.x[b, :n])
        assert torch.equal(alone.y[0, :n], whole.y[b, :n])


def _single(cfg, batch, cells, b):
    """Kernel arguments of pattern b alone, with the key it has in the batch (7919·b + 3)."""
    sl = slice(batch.offsets[b], batch.offsets[b + 1])
    return kernel_arguments(
        batch.two_theta[sl], batch.intensity[sl], np.array([0, sl.stop - sl.start]), cfg,
        lambda c, enc, keys: draw_matrix(c, enc, 5, keys), seed=5,
        structure_keys=np.array([b * 7919 + 3]), views=np.zeros(1, np.int64), hkl=batch.hkl[sl],
        cells=cells[b : b + 1],
    )  # fmt: skip


@pytest.mark.parametrize("r", [0.4, 1.0, 1.7])
def test_march_dollase_closed_form_on_a_cubic_100_line(r):
    """{100} of a cubic crystal textured along [001]: of the six equivalents, ±(001) lie
    along p (cos²α = 1, term r⁻³) and four lie across it (cos²α = 0, term r^{3/2}), so
    W = (2r⁻³ + 4r^{3/2})/6 — and numba's kernel agrees."""
    from xrdsim_training.torch_sim.crystal import march_dollase

    from xrdsim.simulation.holohedry import candidate_operations, orientation_inputs

    gs, mask = orientation_inputs(np.array([[4.2, 4.2, 4.2, 90.0, 90.0, 90.0]]), 1)
    ops = candidate_operations().reshape(-1, 9).astype(np.float64)
    assert mask.sum() == 48  # m-3m
    hkl, p = np.array([[1, 0, 0], [0, 0, 2]]), np.array([0.0, 0.0, 1.0])
    got = march_dollase(hkl=torch.from_numpy(hkl), phase=torch.zeros(2, dtype=torch.int64),
                        gs=torch.from_numpy(gs), mask=torch.from_numpy(mask),
                        ops=torch.from_numpy(ops),
                        direction=torch.from_numpy(p).expand(2, 3),
                        r=torch.full((2,), r, dtype=torch.float64)).numpy()  # fmt: skip
    want = (2.0 * r**-3 + 4.0 * r**1.5) / 6.0
    np.testing.assert_allclose(got, [want, want], rtol=1e-14)
    assert CK.march_dollase(hkl[0], gs[0], mask[0], ops, p, r) == pytest.approx(want, rel=1e-14)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_lines_equal_numba(peak_db):  # noqa: F811
    args = _db_arguments(load_config("train"), peak_db)
    lines = make_lines(to_device(args, device="cuda"))
    assert lines.x.is_cuda
    assert assert_same_lines(args, Lines(lines.x.cpu(), lines.y.cpu(), lines.valid.cpu())) > 1000
