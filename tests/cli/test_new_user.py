"""Regression tests of the defects a new user met (issue 15), one test per item."""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import zarr
from click.testing import CliRunner
from xrdsim_cli.main import cli

from xrdsim.errors import ConfigError
from xrdsim.peaks.database import PeakDatabase
from xrdsim.structures.crystal_systems import CRYSTAL_SYSTEMS
from xrdsim.structures.extinction_table import extinction_table

TEST_DATA = Path(__file__).resolve().parents[1] / "data"


def _run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_item13_same_named_cifs_in_two_folders_are_both_kept(tmp_path, test_data):
    nio = test_data / "cifs" / "NiO_225_sym.cif"
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        shutil.copy(nio, tmp_path / folder / nio.name)
    out = tmp_path / "p.h5"
    result = _run("peaks", tmp_path / "a", tmp_path / "b", "-o", out, "--workers", "1")
    assert result.exit_code == 0, result.output
    with PeakDatabase(out) as db:
        assert db.ids.tolist() == ["a/NiO_225_sym", "b/NiO_225_sym"]


def test_item13_a_true_duplicate_is_reported_with_its_path(tmp_path, test_data):
    folder = tmp_path / "Li7La3Zr2O12_230"
    folder.mkdir()
    cif = folder / "Li7La3Zr2O12_230.cif"
    shutil.copy(test_data / "cifs" / cif.name, cif)
    out = tmp_path / "p.h5"
    result = _run("peaks", cif, cif, "-o", out, "--workers", "1")
    assert result.exit_code == 1, result.output
    assert f"first seen in {cif})" in result.output  # the summary keeps the digits of paths
    with PeakDatabase(out) as db:
        assert db.ids.tolist() == ["Li7La3Zr2O12_230"]
        assert [s for s, _ in db.errors] == [str(cif)]


def test_item14_a_missing_input_is_a_usage_error_everywhere(tmp_path):
    missing = tmp_path / "nope.cif"
    for args in (("peaks", missing, "-o", tmp_path / "p.h5"),
                 ("build", missing, "-o", tmp_path / "d.zarr", "--manifest-dir", tmp_path),
                 ("prepare", tmp_path / "nope.xy", "-o", tmp_path / "m.zarr")):
        result = _run(*args)
        assert result.exit_code == 2, (args, result.output)
        assert "nope." in result.output
    assert not any(tmp_path.iterdir())  # nothing written


def _hand_model(tmp_path):
    """A HAND model trained on the peaks of the four CIFs in tests/data (seconds)."""
    from xrdsim_training.hand import train_hand

    from xrdsim.peaks.job import write_peak_database

    db = tmp_path / "hand_peaks.h5"
    write_peak_database([TEST_DATA / "cifs"], db, workers=1, progress=False)
    train_hand(db, tmp_path / "hand", n_estimators=5, test_fraction=0.0)
    return tmp_path / "hand"


def test_item02_pattern_commands_take_folders_and_globs(tmp_path):
    scans = tmp_path / "scans"
    scans.mkdir()
    for name in ("feooh.xrdml", "V2O5-2ZnO_400C_60min.xrdml"):
        shutil.copy(TEST_DATA / "patterns" / name, scans / name)
    model = _hand_model(tmp_path)
    for inputs in ((scans,), (f"{scans}/*.xrdml",)):
        result = _run("hand", "predict", model, *inputs, "--json")
        assert result.exit_code == 0, result.output
        assert [Path(r["source"]).name for r in json.loads(result.stdout)] == sorted(
            p.name for p in scans.iterdir())
        out = tmp_path / f"p{len(list(tmp_path.iterdir()))}.zarr"
        result = _run("prepare", *inputs, "-o", out, "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["n_prepared"] == 2


def test_item08_hand_predict_validates_top_k(tmp_path):
    from xrdsim_training.hand import predict_hand

    model = _hand_model(tmp_path)
    scan = TEST_DATA / "patterns" / "feooh.xrdml"
    for k in ("0", "-1"):
        result = _run("hand", "predict", model, scan, "--top-k", k)
        assert result.exit_code == 2 and "--top-k" in result.output
    with pytest.raises(ConfigError, match="top_k must be an integer ≥ 1"):
        predict_hand(model, [scan], top_k=0)


def test_item18_hand_predict_prints_names(tmp_path):
    model = _hand_model(tmp_path)
    result = _run("hand", "predict", model, TEST_DATA / "patterns" / "feooh.xrdml",
                  "--top-k", "2")
    assert result.exit_code == 0, result.output
    lines = dict(line.strip().split(":", 1) for line in result.stdout.splitlines()[1:])
    system = lines["crystal system"].split("(")[0].strip()
    assert system in CRYSTAL_SYSTEMS
    eg = lines["extinction group"].split("(")[0].strip()
    assert eg in extinction_table().symbols
    number, symbol = lines["space group"].split("(")[0].split()
    assert 1 <= int(number) <= 230 and symbol[0] in "PABCFIR"


def test_item09_prepare_without_wavelength_leaves_no_store(tmp_path, shared_data):
    scan = shared_data / "patterns" / "autoxrd_examples" / "MnO.xy"  # states no λ
    out = tmp_path / "prepared.zarr"
    result = _run("prepare", scan, "-o", out)
    assert result.exit_code == 1 and "states no wavelength" in result.output
    assert not out.exists()
    result = _run("prepare", scan, "-o", out, "--wavelength", "Cu")
    assert result.exit_code == 3 and "unknown wavelength 'Cu'" in result.output
    assert not out.exists()
    result = _run("prepare", scan, "-o", out, "--wavelength", "CuKa")  # the corrected rerun
    assert result.exit_code == 0, result.output
    assert out.exists()


def test_item10_prepare_keeps_the_files_wavelength_unless_forced(tmp_path):
    scan = TEST_DATA / "patterns" / "feooh.xrdml"  # states λ = 1.54187 Å
    assert "--force-wavelength" in _run("prepare", "--help").output
    for extra, expected in (((), 1.54187), (("--force-wavelength",), 0.70930)):
        out = tmp_path / f"{len(extra)}.zarr"
        result = _run("prepare", scan, "-o", out, "--wavelength", "MoKa1", *extra)
        assert result.exit_code == 0, result.output
        assert "file states λ = 1.54187" in result.output
        stored = zarr.open_group(str(out), mode="r")["measured/wavelengths"][:]
        assert stored[0] == pytest.approx(expected, abs=1e-5)


def test_item03_one_wavelength_rule_for_simulate_build_and_train(tmp_path):
    from xrdsim_training.data.on_the_fly import OnTheFlyDataset

    from xrdsim.errors import PeakInputError

    nio = TEST_DATA / "cifs" / "NiO_225_sym.cif"
    dbs = {}
    for name in ("CuKa", "MoKa1"):  # CuKa = 1.54184 Å, the configs' default is 1.5418 Å
        dbs[name] = tmp_path / f"{name}.h5"
        assert _run("peaks", nio, "-o", dbs[name], "--wavelength", name, "-q").exit_code == 0
    build = ("build", "-o", tmp_path / "d.zarr", "--test-fraction", "0", "--views-train", "1",
             "--manifest-dir", tmp_path / "m", "--quiet", "--overwrite")
    simulate = ("simulate", "--id", "NiO_225_sym", "--config", "train", "-o", tmp_path / "s.npy")
    train = ("train", "--method", "supervised-aug", "--epochs", "1", "--width", "4",
             "--depth", "1", "-o", tmp_path / "run", "-q")
    assert _run(build[0], dbs["CuKa"], *build[1:]).exit_code == 0
    assert _run(*simulate, "--peaks", dbs["CuKa"]).exit_code == 0
    OnTheFlyDataset(dbs["CuKa"], sim_config="train", batch_size=2)
    messages = set()
    for result in (_run(build[0], dbs["MoKa1"], *build[1:]),
                   _run(*simulate, "--peaks", dbs["MoKa1"]),
                   _run(*train, "--peaks", dbs["MoKa1"])):
        assert result.exit_code == 3, result.output
        messages.add(result.output.replace(str(dbs["MoKa1"]), "DB").strip())
    assert len(messages) == 1, messages
    assert "computed at λ = 0.7093 Å but the config renders peaks at 1.5418 Å" in messages.pop()
    with pytest.raises(PeakInputError, match="computed at λ = 0.7093 Å"):
        OnTheFlyDataset(dbs["MoKa1"], sim_config="train", batch_size=2)


def _three_structures(tmp_path) -> Path:
    folder = tmp_path / "few"
    folder.mkdir()
    for name in ("NiO_225_sym.cif", "Li7La3Zr2O12_230.cif", "LiOH-H2O_12.cif"):
        shutil.copy(TEST_DATA / "cifs" / name, folder / name)
    return folder


def test_item07_few_structures_warn_at_build_and_evaluate_exits_3(tmp_path):
    store = tmp_path / "few.zarr"
    result = _run("build", _three_structures(tmp_path), "-o", store, "--views-train", "4",
                  "--manifest-dir", tmp_path / "m", "--quiet", "--workers", "1")
    assert result.exit_code == 0, result.output
    assert "warning: the held-out splits equivariance, held_out_invariance are empty" in (
        result.stderr)
    run = tmp_path / "run"
    result = _run("train", "--method", "supervised", "--data", store, "-o", run, "--epochs",
                  "1", "--batch-size", "4", "--width", "4", "--depth", "1", "--embed-dim", "8",
                  "-q", "--device", "cpu")
    assert result.exit_code == 0, result.output
    result = _run("evaluate", run, "--data", store, "--split", "equivariance")
    assert result.exit_code == 3
    assert result.output.count("\n") == 1 and "holds no patterns" in result.output


def test_item18_simulate_and_prepare_write_xy(tmp_path):
    from xrdsim.measured.readers import read_pattern

    out = tmp_path / "nio.xy"
    result = _run("simulate", "--cif", TEST_DATA / "cifs" / "NiO_225_sym.cif", "--config",
                  "train", "-o", out)
    assert result.exit_code == 0, result.output
    pattern = read_pattern(out, wavelength=1.5418)
    assert pattern.two_theta.size == 12000 and pattern.intensity.max() == pytest.approx(1.0)
    result = _run("simulate", "--cif", TEST_DATA / "cifs" / "NiO_225_sym.cif", "--config",
                  "train", "--views", "2", "-o", out)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.glob("nio_*.xy")) == [
        "nio_train_view_0.xy", "nio_train_view_1.xy"]
    xy = tmp_path / "xy"
    result = _run("prepare", TEST_DATA / "patterns" / "feooh.xrdml", "-o", tmp_path / "p.zarr",
                  "--xy", xy)
    assert result.exit_code == 0, result.output
    (written,) = xy.iterdir()
    with pytest.warns(UserWarning, match="negative intensities"):  # background-subtracted
        prepared = read_pattern(written, wavelength=1.5418)
    group = zarr.open_group(str(tmp_path / "p.zarr"), mode="r")["measured"]
    lo, hi = group["measured_bins"][0]
    assert prepared.intensity == pytest.approx(group["patterns"][0][lo:hi + 1], abs=1e-6)


def test_item11_stores_open_in_xarray_with_a_two_theta_coordinate(tmp_path):
    xr = pytest.importorskip("xarray")
    from xrdsim.grid import grid_centers

    prepared = tmp_path / "prepared.zarr"
    assert _run("prepare", TEST_DATA / "patterns" / "feooh.xrdml", "-o", prepared).exit_code == 0
    store = tmp_path / "few.zarr"
    result = _run("build", _three_structures(tmp_path), "-o", store, "--views-train", "2",
                  "--test-fraction", "0", "--manifest-dir", tmp_path / "m", "--quiet")
    assert result.exit_code == 0, result.output
    for path, group, n in ((prepared, "measured", 1), (store, "train", 6)):
        ds = xr.open_zarr(path, group=group, consolidated=False)
        assert ds["patterns"].dims == ("pattern", "two_theta")
        assert ds["patterns"].shape == (n, 12000)
        assert np.array_equal(ds["two_theta"].values, grid_centers())
        assert ds["two_theta"].attrs["units"] == "degree"
        peak = float(ds["patterns"].isel(pattern=0).idxmax("two_theta"))
        assert 0 < peak < 120
    assert _run("inspect", store).exit_code == 0  # the coordinate is no shard array


def test_item17_make_installs_the_cpu_build_of_torch(tmp_path):
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    repo = TEST_DATA.parents[1]
    plan = subprocess.run(["make", "-n", "install", f"VENV={tmp_path / 'venv'}"], cwd=repo,
                          capture_output=True, text=True, check=True).stdout
    torch_lines = [line for line in plan.splitlines() if "torch==" in line]
    assert len(torch_lines) == 2, plan  # the configured indexes, then the CPU index
    if platform.system() == "Linux":  # PyPI's plain Linux wheel is the CUDA build
        assert all('"torch==2.13.0+cpu"' in line for line in torch_lines)
    assert '--extra-index-url "https://download.pytorch.org/whl/cpu"' in torch_lines[1]
    readme = (repo / "README.md").read_text()
    assert "TORCH_PIN=torch==2.13.0" in readme and "download.pytorch.org/whl/cpu" in readme


def test_item09_a_bad_wavelength_name_is_refused_up_front_by_hand_predict(tmp_path):
    model = _hand_model(tmp_path)
    result = _run("hand", "predict", model, TEST_DATA / "patterns" / "feooh.xrdml",
                  "--wavelength", "Cu")
    assert result.exit_code == 3 and "unknown wavelength 'Cu'" in result.output
