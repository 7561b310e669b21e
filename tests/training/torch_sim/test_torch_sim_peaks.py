"""torch_sim's device peak database gathers what ``phases.simulate_database`` renders.

The reference is the engine itself: ``kernel_arguments`` is wrapped to record
what :func:`xrdsim.simulation.phases.simulate_database` passes on (ragged peaks with the
mixture partners, hkl, cells, phase, and every prepared kernel array), and
:meth:`DevicePeaks.kernel_inputs` must give the same arrays for the same rows and seed.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from test_torch_sim_lines import PRESETS, assert_same_lines  # noqa: E402
from torch_sim_db import peak_db  # noqa: E402, F401
from xrdsim_training.torch_sim.kernel_inputs import to_device  # noqa: E402
from xrdsim_training.torch_sim.lines import make_lines  # noqa: E402
from xrdsim_training.torch_sim.phases import DevicePeaks  # noqa: E402

from xrdsim import PeakDatabase  # noqa: E402
from xrdsim.simulation import phases, simulator  # noqa: E402
from xrdsim.simulation.config import load_config  # noqa: E402
from xrdsim.simulation.kernel_inputs import kernel_arguments  # noqa: E402
from xrdsim.simulation.layout import op, param  # noqa: E402
from xrdsim.simulation.sampling import draw_matrix  # noqa: E402

#: 2θ rows converted to another wavelength: torch's sin/asin against NumPy's (≤ 2 ulp).
CONVERTED_TOL = 1e-11
SEED = 2024


class _Recorded(Exception):
    pass


def engine_arguments(monkeypatch, db, rows, config, *, seed, skeys, views):
    """(inputs given to kernel_arguments, its KernelArguments) inside simulate_database."""
    seen = {}
    real = simulator.kernel_arguments

    def record(*args, **kwargs):
        seen["call"] = (args, kwargs)
        seen["result"] = real(*args, **kwargs)
        raise _Recorded

    monkeypatch.setattr(simulator, "kernel_arguments", record)
    with pytest.raises(_Recorded):
        phases.simulate_database(db, rows, config, seed=seed, structure_keys=skeys, views=views)
    monkeypatch.setattr(simulator, "kernel_arguments", real)
    return seen["call"], seen["result"]


def _batch(n_struct):
    rows = np.array([0, 3, 3, 7, n_struct - 1, 1, 12, 5, 9, 2] * 3)
    return rows, rows * 1009 + 17, np.repeat([0, 1, 2], 10)


@pytest.mark.parametrize("preset", PRESETS)
def test_device_gather_equals_simulate_database(preset, peak_db, monkeypatch):  # noqa: F811
    cfg = load_config(preset)
    with PeakDatabase(peak_db) as db:
        rows, skeys, views = _batch(len(db))
        (args, kwargs), want = engine_arguments(monkeypatch, db, rows, cfg, seed=SEED,
                                                skeys=skeys, views=views)  # fmt: skip
        dev = DevicePeaks(db, device="cpu")
    got = dev.kernel_inputs(rows, cfg, seed=SEED, structure_keys=skeys, views=views)
    # the ragged peaks themselves (what simulate_database hands to run_simulation)
    two_theta, intensity, offsets = args[:3]
    assert np.array_equal(got.offsets.numpy(), offsets)
    assert np.array_equal(got.inten.numpy(), intensity)  # mixture scale w/(Z·M·V) included
    mixed = cfg.enabled("mixture")
    assert kwargs.get("mixed", False) == mixed
    if mixed:  # some patterns really hold partner phases
        assert (want.params[:, param("mixture.phases")] > 0).any()
        own = np.diff(dev.offsets.numpy())[rows].sum()
        assert offsets[-1] > own  # the partners' peaks are in
    if cfg.enabled("preferred_orientation") or cfg.enabled("lattice_strain"):
        assert np.array_equal(got.hkl.numpy(), kwargs["hkl"])
        assert np.array_equal(got.phase.numpy(), want.phase)
    # every prepared kernel array
    assert got.on == tuple(bool(v) for v in want.on)
    assert np.array_equal(got.keys.numpy().view(np.uint64), want.keys)
    np.testing.assert_array_equal(got.params.numpy(), want.params)
    if not want.on[op("doublet")]:  # the single line sits where the database put it
        assert np.array_equal(got.tt[0].numpy(), two_theta)
    np.testing.assert_allclose(got.tt.numpy(), want.tt, rtol=0, atol=CONVERTED_TOL)
    for name in ("hkl", "phase", "gs", "mask", "ops", "dirs", "consts", "item_kind", "item_lo",
                 "item_hi", "item_off", "item_n", "vals", "tables", "trig", "normal_q"):
        assert np.array_equal(getattr(got, name).numpy(), getattr(want, name)), name
    # and the line stage on the device inputs gives numba's lines on the engine's
    assert assert_same_lines(want, make_lines(got)) > 1000


def test_mixture_partners_and_weights_by_hand(peak_db):  # noqa: F811
    """Two extra phases at fraction 0.1: phases own, p0, p1 with weights 0.8, 0.1, 0.1,
    partners ⌊u·S⌋ of the mixture stream, the own row skipped."""
    from xrdsim.simulation import rng as R

    with PeakDatabase(peak_db) as db:
        dev = DevicePeaks(db, device="cpu")
        n = len(db)
        rows = np.array([4, 9])
        keys = R.pattern_keys(np.uint64(3), rows, np.zeros(2, np.int64))
        got = dev.gather(torch.from_numpy(rows), keys=torch.from_numpy(keys.view(np.int64)),
                         n_extra=torch.tensor([2, 0]), fraction=torch.tensor([0.1, 0.1],
                                                                             dtype=torch.float64))
        u = R.stream_uniforms(keys, R.STREAM_MIXTURE, 2)
        partners = [int(x) for x in np.minimum((u[0] * n).astype(int), n - 1)]
        partners = [(p + 1) % n if p == 4 else p for p in partners]
        assert got.rows.tolist() == [4, *partners, 9]
        raw = [db.ragged([r], raw=True).intensity for r in got.rows.tolist()]
        zmv = phases.cell_zmv(db, got.rows.numpy())
        want = np.concatenate([raw[0] * (0.8 / zmv[0]), raw[1] * (0.1 / zmv[1]),
                               raw[2] * (0.1 / zmv[2]), raw[3] * (1.0 / zmv[3])])
        np.testing.assert_allclose(got.intensity.numpy(), want, rtol=1e-15)
        sizes = [r.size for r in raw]
        assert got.offsets.tolist() == [0, sum(sizes[:3]), sum(sizes)]
        assert got.phase.tolist() == sum(([k] * s for k, s in enumerate(sizes)), [])


def test_inputs_equal_kernel_arguments(peak_db):  # noqa: F811
    """to_device holds, as tensors, the arrays simulate_batch renders from."""
    cfg = load_config("train")
    with PeakDatabase(peak_db) as db:
        rows = np.arange(len(db))
        b = db.ragged(rows, hkl=True)
        cells = db.cells(rows)
    kw = dict(seed=1, structure_keys=rows + 5, views=np.ones_like(rows), hkl=b.hkl, cells=cells)
    want = kernel_arguments(
        b.two_theta, b.intensity, b.offsets, cfg,
        lambda c, enc, keys: draw_matrix(c, enc, 1, keys), **kw)  # fmt: skip
    got = to_device(want, device="cpu")
    assert got.on == tuple(bool(v) for v in want.on) and got.n_patterns == len(rows)
    assert np.array_equal(got.keys.numpy().view(np.uint64), want.keys)
    for name in ("tt", "inten", "offsets", "params", "consts", "hkl", "phase", "gs", "mask",
                 "ops", "dirs", "item_kind", "item_lo", "item_hi", "item_off", "item_n", "vals",
                 "tables", "trig", "normal_q"):  # fmt: skip
        assert np.array_equal(getattr(got, name).numpy(), getattr(want, name), equal_nan=True)


def test_rows_outside_the_database_are_refused(peak_db):  # noqa: F811
    from xrdsim.errors import DatabaseError

    with PeakDatabase(peak_db) as db:
        dev = DevicePeaks(db, device="cpu")
    with pytest.raises(DatabaseError, match=r"rows must lie in \[0, 14\)"):
        dev.gather(torch.tensor([0, 14]))
    with pytest.raises(DatabaseError, match="got min -1"):
        dev.kernel_inputs(np.array([-1]), "das2025", seed=0, structure_keys=np.array([1]),
                          views=np.array([0]))


def test_device_lines_do_not_depend_on_the_batch(peak_db):  # noqa: F811
    """Mixture partners, scales and lines of a pattern are the same alone and in a batch."""
    with PeakDatabase(peak_db) as db:
        dev = DevicePeaks(db, device="cpu")
    rows, skeys, views = _batch(len(dev))
    whole = make_lines(dev.kernel_inputs(rows, "train", seed=SEED, structure_keys=skeys,
                                         views=views))  # fmt: skip
    for b in (0, 7, 29):
        one = dev.kernel_inputs(rows[b : b + 1], "train", seed=SEED,
                                structure_keys=skeys[b : b + 1], views=views[b : b + 1])
        alone = make_lines(one)
        n = int(alone.valid.sum())
        assert int(whole.valid[b].sum()) == n
        assert torch.equal(alone.x[0, :n], whole.x[b, :n])
        assert torch.equal(alone.y[0, :n], whole.y[b, :n])


def test_one_structure_database_mixes_nothing(tmp_path, test_data):
    """With a single structure there is no partner: mixture.phases is recorded as 0 and the
    peaks keep the 0–100 scale, as in simulate_database."""
    from xrdsim import write_peak_database

    cif = sorted((test_data / "cifs").rglob("*.cif"))[0]
    write_peak_database([cif], tmp_path / "one.h5", progress=False)
    with PeakDatabase(tmp_path / "one.h5") as db:
        dev = DevicePeaks(db, device="cpu")
        ki = dev.kernel_inputs(np.zeros(3, np.int64), "invariance", seed=1,
                               structure_keys=np.array([4, 5, 6]), views=np.zeros(3, np.int64))
        assert dev.zmv is None and len(dev) == 1
        assert (ki.params[:, param("mixture.phases")] == 0).all()
        assert np.array_equal(ki.inten.numpy(), np.tile(db.peaks(0).intensity, 3))
