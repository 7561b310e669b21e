"""Every op of the catalogue has a kernel slot, a NumPy reference and a torch twin, and the
op table of docs/simulation.md is the catalogue's own.

For each op of ``xrdsim.simulation.ops.OPS`` (one case per op below, a missing case
fails): the numba kernel's patterns change when the op is switched on (the kernel reads
its slot), equal the plain NumPy reference (``reference_profile.py``) and equal the torch
twin (``xrdsim_training.torch_sim``). ``mixture`` acts on the peak database
(``phases.simulate_database``), so its reference is the closed-form Rietveld scale of
``test_physics.py`` and its twin ``torch_sim.DevicePeaks``.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import numpy as np
import pytest

import xrdsim
from xrdsim.simulation.config import SimulationConfig
from xrdsim.simulation.layout import OP_ORDER
from xrdsim.simulation.op_table import documented_table, markdown_table
from xrdsim.simulation.phases import simulate_database
from xrdsim.simulation.sampling import sample_parameters
from xrdsim.simulation.simulator import render

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_physics import test_mixture_intensities_follow_weight_fractions  # noqa: E402
from test_profile import PROFILE, _assert_matches_reference  # noqa: E402

DOC = Path(__file__).resolve().parents[2] / "docs" / "simulation.md"
#: torch vs numba, relative to each pattern's maximum (as
#: tests/training/torch_sim/test_torch_sim.py).
TORCH_TOL = 1e-5
SEED = 3
#: One config per op: the op on (with the profile, so every op acts on real peaks).
CASES = {
    "mixture": {"mixture": {"phases": 2, "fraction": {"uniform": [0.1, 0.3]}}},
    "lattice_strain": {"lattice_strain": {"amplitude": {"uniform": [0.005, 0.03]}}},
    "zero_shift": {"zero_shift": {"delta": {"uniform": [-0.3, 0.3]}}},
    "displacement": {"displacement": {"shift": {"uniform": [-0.5, 0.5]}}},
    "position_noise": {"position_noise": {"amplitude": {"uniform": [0.01, 0.05]}}},
    "peak_crop": {"peak_crop": {"low": {"uniform": [20, 40]}, "high": {"uniform": [60, 80]}}},
    "intensity_noise": {"intensity_noise": {"amplitude": {"uniform": [0.1, 0.5]}}},
    "preferred_orientation": {"preferred_orientation": {"r": {"uniform": [0.3, 0.6]}}},
    "doublet": {"doublet": {"ratio": {"uniform": [0.3, 0.6]}}},
    "tube_lines": {"tube_lines": {"kbeta": {"uniform": [0.1, 0.2]}, "tungsten": 0.05}},
    "binning": {"binning": {"mode": "mean"}, "profile": {**PROFILE, "positions": "binned"}},
    "impurity": {"impurity": {"count": {"randint": [2, 5]}, "intensity": {"uniform": [0.1, 0.5]}}},
    "profile": {"profile": {**PROFILE, "eta": {"uniform": [0.2, 0.8]}}},
    "sample_broadening": {"sample_broadening": {"size": {"uniform": [5, 20]},
                                                "strain": {"uniform": [0, 0.005]}}},
    "transparency": {"transparency": {"mu": {"loguniform": [5.0, 50.0]}}},
    "background": {"background": {f"c{i}": {"uniform": [0.05, 0.2]} for i in range(4)}},
    "amorphous": {"amorphous": {"count": {"randint": [1, 3]}, "height": {"uniform": [0.05, 0.5]},
                                "center": {"uniform": [10, 40]}, "fwhm": {"loguniform": [2, 20]},
                                "eta": {"uniform": [0, 1]}}},
    "air_scatter": {"air_scatter": {"amplitude": {"uniform": [0.1, 5]},
                                    "decay": {"uniform": [1, 10]}}},
    "poisson_noise": {"poisson_noise": {"counts": {"loguniform": [30.0, 3000.0]}}},
    "counting_noise": {"counting_noise": {"counts": {"uniform": [20.0, 500.0]}}},
    "background_noise": {"background_noise": {"amplitude": {"uniform": [0.01, 0.05]},
                                              "dilation": {"uniform": [0, 10]}}},
    "scan_range": {"scan_range": {"start": {"uniform": [5, 10]}, "end": {"uniform": [40, 45]}}},
    "renormalize": {"renormalize": {}, "background": {"c0": 0.3, "c1": 0.1, "c2": 0.1, "c3": 0.1}},
    "final_crop": {"final_crop": {"low": {"uniform": [5, 24]}, "high": {"uniform": [40, 45]}}},
}  # fmt: skip


def _config(ops: dict, without: str | None = None) -> SimulationConfig:
    ops = {"profile": PROFILE, **copy.deepcopy(ops)}
    if without == "binning":  # always on: its other mode
        ops["profile"] = {**ops["profile"], "positions": "exact"}
    ops.pop(without, None)
    return SimulationConfig.from_dict({"wavelength": 1.5418, "ops": ops})


def _cubic_peaks():
    """Two patterns of a cubic (a = 4.2 Å) crystal's low-index lines, hkl and cells; two
    lines of pattern 0 share a bin (so sum and mean binning differ)."""
    hkl = np.array([[1, 0, 0], [1, 1, 0], [1, 1, 1], [2, 0, 0], [2, 1, 0], [2, 1, 1], [2, 2, 0],
                    [3, 1, 0]])  # fmt: skip
    d = 4.2 / np.sqrt((hkl**2).sum(axis=1))
    tt = 2.0 * np.degrees(np.arcsin(1.5418 / (2.0 * d)))
    inten = np.array([100.0, 60.0, 40.0, 80.0, 20.0, 30.0, 50.0, 10.0])
    tt = np.concatenate([tt, tt[:5] + 0.002])
    return (tt, np.concatenate([inten, inten[:5] * 0.7]), np.array([0, 8, 13]),
            np.concatenate([hkl, hkl[:5]]), np.tile([[4.2, 4.2, 4.2, 90.0, 90.0, 90.0]], (2, 1)))


def test_every_catalogue_op_has_a_case():
    assert set(CASES) == set(OP_ORDER), "add a case for every op of xrdsim.simulation.ops.OPS"


@pytest.mark.parametrize("name", [n for n in OP_ORDER if n != "mixture"])
def test_op_has_a_kernel_slot_a_reference_and_a_torch_twin(name):
    torch_sim = pytest.importorskip("xrdsim_training.torch_sim")
    tt, inten, offsets, hkl, cells = _cubic_peaks()
    kw = dict(seed=SEED, structure_keys=np.array([11, 12]), views=np.array([0, 1]), hkl=hkl,
              cells=cells)  # fmt: skip
    cfg, off = _config(CASES[name]), _config(CASES[name], without=name)
    # the numba kernel equals the NumPy reference ...
    res = _assert_matches_reference(cfg, tt, inten, offsets, seed=SEED, skeys=kw["structure_keys"],
                                    views=kw["views"], hkl=hkl, cells=cells)  # fmt: skip
    # ... and reads the op's slot: without the op the patterns differ
    params = sample_parameters(off, seed=SEED, structure_keys=kw["structure_keys"],
                               views=kw["views"])  # fmt: skip
    assert not np.array_equal(res.patterns, render(tt, inten, offsets, off, params, **kw).patterns)
    # the torch twin gives the numba patterns
    want = xrdsim.simulate_batch(tt, inten, offsets, cfg, **kw).patterns
    got = torch_sim.simulate_batch(tt, inten, offsets, cfg, **kw).patterns.numpy()
    scale = np.abs(want).max(axis=1, keepdims=True)
    assert (np.abs(got - want) <= TORCH_TOL * scale).all()


def test_mixture_has_a_kernel_slot_a_reference_and_a_torch_twin(tmp_path, test_data):
    torch_sim = pytest.importorskip("xrdsim_training.torch_sim")
    test_mixture_intensities_follow_weight_fractions(0.3)  # the closed-form reference
    cifs = sorted((test_data / "cifs").glob("*.cif"))[:3]
    xrdsim.write_peak_database(cifs, tmp_path / "three.h5", progress=False)
    rows = np.array([0, 1, 2, 0])
    kw = dict(seed=SEED, structure_keys=rows + 5, views=np.array([0, 0, 0, 1]))
    with xrdsim.PeakDatabase(tmp_path / "three.h5") as db:
        want = simulate_database(db, rows, _config(CASES["mixture"]), **kw)
        alone = simulate_database(db, rows, _config(CASES["mixture"], without="mixture"), **kw)
        assert not np.array_equal(want.patterns, alone.patterns)
        got = torch_sim.simulate_database(torch_sim.DevicePeaks(db), rows,
                                          _config(CASES["mixture"]), **kw)  # fmt: skip
    scale = np.abs(want.patterns).max(axis=1, keepdims=True)
    assert (np.abs(got.patterns.numpy() - want.patterns) <= TORCH_TOL * scale).all()


def test_doc_op_table_is_generated_from_the_catalogue():
    assert documented_table(DOC.read_text(encoding="utf-8")) == markdown_table(), (
        "docs/simulation.md's op table differs from the catalogue: run "
        "`python -m xrdsim.simulation.op_table docs/simulation.md`"
    )


def test_torch_twin_modules_mirror_the_numba_modules():
    """torch_sim/<x>.py mirrors xrdsim/simulation/<x>_kernel.py or <x>.py."""
    simulation = Path(xrdsim.__file__).resolve().parent / "simulation"
    twin = Path(__file__).resolve().parents[2] / "training" / "torch_sim"
    unmatched = [f.name for f in sorted(twin.glob("*.py")) if f.stem != "__init__"
                 and not (simulation / f"{f.stem}_kernel.py").is_file()
                 and not (simulation / f.name).is_file()]  # fmt: skip
    assert not unmatched, f"torch_sim modules without a numba counterpart: {unmatched}"
