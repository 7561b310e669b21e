"""torch_sim's render stage equals the numba render kernel, given the same lines.

Lines come from the numba ``make_lines`` (per pattern) for real MP-20 peak lists; the
reference is ``render_kernel.render_batch`` on the same inputs. Kernels with randomness
(Poisson inversion / PTRS) and the profile tables are also compared one to one.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch_sim_cases import (  # noqa: E402
    PackedLines,
    kernel_case,
    mp20_peaks,
    numba_lines,
    numba_render,
    torch_render,
)
from xrdsim_training.torch_sim import noise, profile  # noqa: E402
from xrdsim_training.torch_sim import rng as T  # noqa: E402

from xrdsim.simulation import noise_kernel as NK  # noqa: E402
from xrdsim.simulation import profile_kernel as PK  # noqa: E402
from xrdsim.simulation import rng as R  # noqa: E402
from xrdsim.simulation.kernel_inputs import shape_tables  # noqa: E402

#: Agreement asked by the issue: |torch − numba| ≤ 1e-5 × the pattern's maximum.
REL_TOL = 1e-5
PRESETS = ("das2025", "train", "invariance", "extrapolation", "series")
#: Ops that act on lines only (the render stage never sees them off or on).
_NO_RENDER = {"mixture", "zero_shift", "displacement", "position_noise", "peak_crop",
              "intensity_noise", "preferred_orientation", "doublet", "tube_lines"}


def assert_close(got: np.ndarray, want: np.ndarray) -> None:
    assert got.shape == want.shape and got.dtype == np.float32
    scale = np.abs(want).max(axis=1, keepdims=True)
    err = np.abs(got.astype(np.float64) - want) / np.where(scale > 0, scale, 1.0)
    worst = np.unravel_index(np.argmax(err), err.shape)
    assert err.max() <= REL_TOL, f"pattern {worst[0]} bin {worst[1]}: relative error {err.max()}"


@pytest.fixture(scope="module")
def peaks(shared_data):
    return {w: mp20_peaks(str(shared_data / "structures" / "mp20_test.csv.gz"), w)
            for w in (1.5418, 1.5406)}


@pytest.mark.parametrize("preset", PRESETS)
def test_presets_equal_numba_on_mp20(preset, peaks):
    from xrdsim.simulation.config import load_config

    case = kernel_case(preset, peaks[load_config(preset).wavelength])
    lines = numba_lines(case)
    assert lines.valid.sum() > 1000  # real peak lists: hundreds of lines per pattern
    want = numba_render(case)
    assert_close(torch_render(case, lines), want)


def test_every_render_op_is_exercised():
    from xrdsim.simulation.config import load_config

    used = {op.name for p in PRESETS for op in load_config(p).ops if op.enabled}
    render_ops = {op.name for op in load_config("train").ops} - _NO_RENDER
    assert render_ops - used == set()


def _custom(ops: dict) -> dict:
    return {"name": "custom", "wavelength": 1.5418, "ops": ops}


@pytest.mark.parametrize("ops", [
    # no profile: the sticks (with binned impurities) are the pattern
    {"binning": {"mode": "sum"}, "impurity": {"count": {"choice": [3]}, "intensity":
     {"uniform": [0.05, 0.2]}, "two_theta_range": [0.0, 120.0]}, "renormalize": {}},
    # binned positions with sample broadening, transparency and Poisson at low counts
    {"binning": {"mode": "mean"},
     "profile": {"U": {"uniform": [0.0, 0.01]}, "V": {"uniform": [-0.0001, 0.0]},
                 "W": {"uniform": [0.001, 0.01]}, "P": {"uniform": [0.0, 0.001]},
                 "eta": {"uniform": [0.0, 1.0]}, "rho": {"uniform": [-0.5, 0.5]},
                 "latin_hypercube": False, "positions": "binned", "tail_cutoff": 0.0001},
     "sample_broadening": {"size": {"uniform": [5.0, 50.0]}, "strain": {"uniform": [0, 0.002]}},
     "transparency": {"mu": {"uniform": [10.0, 100.0]}},
     "poisson_noise": {"counts": {"uniform": [20.0, 60.0]}},
     "final_crop": {"low": {"uniform": [0.0, 20.0]}, "high": {"uniform": [100.0, 120.0]}}},
])
def test_custom_configs_equal_numba(ops, peaks):
    case = kernel_case(_custom(ops), peaks[1.5418][:4], views=(0, 1, 2))
    assert_close(torch_render(case, numba_lines(case)), numba_render(case))


def _edge_case(two_theta, preset):
    tt = np.asarray(two_theta, dtype=np.float64)
    peak = (tt, np.linspace(100.0, 10.0, tt.size), np.tile([[1, 0, 0]], (tt.size, 1)),
            np.array([4.0, 4.0, 4.0, 90.0, 90.0, 90.0]))
    return kernel_case(preset, [peak], views=(0, 1, 2, 3))


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("two_theta", [
    [], [35.0], [0.001, 0.004, 119.995, 119.999999], [60.0, 121.0, 150.0, 179.0],
], ids=["no-peaks", "one-peak", "grid-edges", "beyond-120"])
def test_edge_cases_equal_numba(preset, two_theta):
    case = _edge_case(two_theta, preset)
    assert_close(torch_render(case, numba_lines(case)), numba_render(case))


def test_batch_size_and_chunking_do_not_change_a_pattern(peaks):
    case = kernel_case("train", peaks[1.5418])
    lines = numba_lines(case)
    full = torch_render(case, lines)
    chunked = torch_render(case, lines, edge_chunk=5000)
    assert np.array_equal(chunked, full)
    for rows in ([3], [0, 5, 11], list(range(9, 16))):
        one = case._replace(params=case.params[rows], keys=case.keys[rows],
                            offsets=np.zeros(len(rows) + 1, dtype=np.int64))
        sub = PackedLines(lines.x[rows], lines.y[rows], lines.valid[rows])
        assert np.array_equal(torch_render(one, sub), full[rows])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("preset", ["das2025", "train"])
def test_cuda_equals_numba(preset, peaks):
    case = kernel_case(preset, peaks[1.5418])
    lines = numba_lines(case)
    on_gpu = PackedLines(*(v.cuda() for v in (lines.x, lines.y, lines.valid)))
    assert_close(torch_render(case, on_gpu), numba_render(case))


@pytest.mark.parametrize("preset", ["das2025", "train"])
def test_padding_is_ignored_whatever_it_holds(preset, peaks):
    case = kernel_case(preset, peaks[1.5418][:3])
    lines = numba_lines(case)
    pad = torch.full((lines.x.shape[0], 5), float("nan"), dtype=torch.float64)
    messy = PackedLines(torch.cat([lines.x, pad], 1), torch.cat([lines.y, pad.abs() + 7.0], 1),
                        torch.cat([lines.valid, torch.zeros(pad.shape, dtype=torch.bool)], 1))
    assert np.array_equal(torch_render(case, messy), torch_render(case, lines))
    with pytest.raises(ValueError, match="one \\(B, L\\) shape"):
        torch_render(case, PackedLines(lines.x, lines.y[:, :-1], lines.valid))


@pytest.mark.slow  # torch.compile of the profile block: ~1.5 min on 2 busy cores
def test_compiled_profile_equals_numba(peaks):
    case = kernel_case("train", peaks[1.5418][:4])
    lines = numba_lines(case)
    assert_close(torch_render(case, lines, compile_profile=True), numba_render(case))


def test_empty_lines_tensor():
    from xrdsim.simulation.config import SimulationConfig, load_config

    # train without lattice strain: a 150° line's Kβ (~121°) then stays off the grid
    data = load_config("train").to_dict()
    del data["ops"]["lattice_strain"]
    case = _edge_case([150.0], SimulationConfig.from_dict(data))
    lines = numba_lines(case)
    assert lines.x.shape == (4, 0)
    assert_close(torch_render(case, lines), numba_render(case))
    none = case._replace(params=case.params[:0], keys=case.keys[:0], offsets=np.zeros(1, int))
    empty = PackedLines(lines.x[:0], lines.y[:0], lines.valid[:0])
    assert torch_render(none, empty).shape == (0, 12000)


@pytest.mark.parametrize("eta", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("cutoff", [1e-4, 0.005, 0.1])
def test_half_window_and_cubic_table_equal_numba(eta, cutoff):
    k = PK.half_window(eta, cutoff)
    kt = profile.half_window(torch.tensor([eta], dtype=torch.float64), cutoff)
    assert kt.item() == k
    nk = int(np.ceil(k / PK.TABLE_DU)) + 1
    tables = shape_tables()
    want = PK.cubic_table(tables, eta, -0.4, nk).reshape(-1, 4)
    got = profile.cubic_tables(torch.tensor(tables), torch.tensor([eta], dtype=torch.float64),
                               torch.tensor([-0.4], dtype=torch.float64), torch.tensor([nk])).T
    # the profile reads intervals ⌊nk − k/du⌋ … ⌊nk + k/du⌋ only; at cutoff 1e-4 and η = 1
    # (nk = TABLE_NODES) numba fills the two outermost, unread ones from one node past the table
    used = slice(int(nk - k / PK.TABLE_DU), int(nk + k / PK.TABLE_DU) + 1)
    assert np.array_equal(got.numpy()[used], want[used])
    if nk < PK.TABLE_NODES:
        assert np.array_equal(got.numpy(), want)


def test_poisson_draws_equal_numba():
    lam = np.concatenate([np.geomspace(1e-3, 9.999, 400), np.geomspace(10.0, 49.999, 400),
                          np.geomspace(50.0, 3e6, 2000), [10.0, 9.9999999, 50.0, 49.9999999]])
    skey = R.stream_key(np.uint64(0x1234ABCD), R.STREAM_POISSON)
    j = np.arange(lam.size) * 7 + 3
    want = np.array([NK.poisson(v, skey, int(i)) for v, i in zip(lam, j, strict=True)])
    keys = T.as_key(np.full(lam.size, skey, dtype=np.uint64))
    got = np.empty_like(lam)
    lt, jt = torch.from_numpy(lam), torch.from_numpy(j)
    for draw, lo, hi in ((noise._inversion, 0.0, NK.POISSON_INVERSION_MAX),
                         (noise._ptrs, NK.POISSON_INVERSION_MAX, NK.POISSON_NORMAL_MIN),
                         (noise._normal_counts, NK.POISSON_NORMAL_MIN, np.inf)):
        pick = (lam >= lo) & (lam < hi)
        got[pick] = draw(lt[pick], keys[pick], jt[pick]).numpy()
    assert np.array_equal(got, want)
    assert want.max() > 2e6  # the large-λ branch reached its range


def test_normal_quantile_equals_numba():
    u = np.concatenate([np.linspace(0.0, 1.0, 4001)[:-1], [2.0**-53, 1 - 2.0**-53, 0.075, 0.925]])
    want = np.array([NK.normal_quantile(x) for x in u])
    got = noise.normal_quantile(torch.from_numpy(u)).numpy()
    # the tails take a logarithm: torch's and numba's may differ by an ulp
    np.testing.assert_allclose(got, want, rtol=1e-15, atol=0.0)
    central = np.abs(u - 0.5) <= 0.425  # arithmetic only: identical
    np.testing.assert_array_equal(got[central], want[central])


@pytest.mark.parametrize("kind, lo, hi, vals", [
    (R.KIND_FIXED, 0.25, 0.25, []),
    (R.KIND_UNIFORM, 0.01, 0.05, []),
    (R.KIND_PLUSMINUS, 0.1, 0.3, []),
    (R.KIND_CHOICE, 0.0, 0.0, [1.0, 3.0, 7.5]),
    (R.KIND_RANDINT, 2.0, 6.0, []),
    (R.KIND_LOGUNIFORM, np.log(3.0), np.log(30.0), []),
    (R.KIND_BANDS, 0.0, 0.0, [0.0, 0.1, 0.3, 0.35, 0.9, 1.0]),
    (R.KIND_LOGBANDS, 0.0, 0.0, list(np.log([1.0, 2.0, 5.0, 9.0]))),
])
def test_item_draws_equal_numba_transform(kind, lo, hi, vals):
    from xrdsim_training.torch_sim.render import _Items

    vals = np.array([-1.0, *vals])  # offset 1: another slot's values come first
    n = vals.size - 1
    u = np.concatenate([np.linspace(0.0, 1.0, 1001, endpoint=False), [1.0 - 2.0**-53]])
    want = np.array([R.transform(kind, lo, hi, vals, 1, n, x) for x in u])
    items = _Items([kind], [lo], [hi], [1], [n], vals)
    got = items.draw(0, torch.from_numpy(u)).numpy()
    if kind in (R.KIND_LOGUNIFORM, R.KIND_LOGBANDS):  # torch's exp and numba's may differ by 1 ulp
        np.testing.assert_allclose(got, want, rtol=2.5e-16, atol=0.0)
    else:
        assert np.array_equal(got, want)
