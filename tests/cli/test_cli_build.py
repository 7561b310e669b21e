"""``xrdsim build`` / ``xrdsim inspect``: kill-and-resume in a subprocess, inspect vs zarr."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import zarr
from click.testing import CliRunner
from xrdsim_cli.main import cli

from xrdsim.dataset.checksums import array_checksums

ARGS = ["--views-train", "2", "--views-test", "1", "--test-fraction", "0.2", "--seed", "11",
        "--shard-size", "8", "--chunk-size", "4", "--workers", "1", "--quiet"]
#: Seconds the subprocess build may take to finish its first shard (numba cache cold).
FIRST_SHARD_TIMEOUT = 120


@pytest.fixture(scope="module")
def peak_db(tmp_path_factory):
    """Same small real-structure peak database as tests/dataset/test_dataset.py."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dataset"))
    from test_dataset import make_small_peak_db

    return make_small_peak_db(tmp_path_factory.mktemp("peaks"))


def _complete_shards(path) -> int:
    meta = path / "train" / "zarr.json"
    if not meta.is_file():
        return 0
    try:
        return len(json.loads(meta.read_text())["attributes"]["complete_shards"])
    except (ValueError, KeyError):
        return 0


def test_killed_build_resumes_byte_identical(peak_db, tmp_path):
    ref = tmp_path / "ref.zarr"
    runner = CliRunner()
    result = runner.invoke(cli, ["build", str(peak_db), "-o", str(ref), "--manifest-dir",
                                 str(tmp_path / "m"), *ARGS])
    assert result.exit_code == 0, result.output

    path = tmp_path / "killed.zarr"
    cmd = [sys.executable, "-c", "from xrdsim_cli.main import cli; cli()", "build", str(peak_db),
           "-o", str(path), "--manifest-dir", str(tmp_path / "m2"), *ARGS]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + FIRST_SHARD_TIMEOUT
    while _complete_shards(path) < 1 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    status = zarr.open_group(str(path), mode="r").attrs["status"]
    assert status == "building", "the build finished before it could be killed"
    # a reader opening now gets a clear error, and inspect reports the incomplete state
    out = runner.invoke(cli, ["inspect", str(path), "--json"])
    assert out.exit_code == 0, out.output
    info = json.loads(out.output)
    assert info["status"] == "building"
    assert info["splits"]["train"]["complete_patterns"] < info["splits"]["train"]["n_patterns"]

    refused = runner.invoke(cli, ["build", str(peak_db), "-o", str(path), *ARGS])
    assert refused.exit_code == 3 and "--resume" in refused.output
    resumed = runner.invoke(cli, ["build", str(peak_db), "-o", str(path), "--manifest-dir",
                                  str(tmp_path / "m2"), "--resume", *ARGS])
    assert resumed.exit_code == 0, resumed.output
    got, want = zarr.open_group(str(path), mode="r"), zarr.open_group(str(ref), mode="r")
    assert got.attrs.asdict() == want.attrs.asdict()
    for name in ("train", "invariance", "equivariance", "held_out_invariance"):
        for key in ("patterns", "structure_index", "view", "space_group"):
            np.testing.assert_array_equal(got[name][key][:], want[name][key][:])
    assert array_checksums(path) == array_checksums(ref)
    m1 = json.loads((tmp_path / "m" / "ref.json").read_text())
    m2 = json.loads((tmp_path / "m2" / "killed.json").read_text())
    assert m1["store"]["checksums"] == m2["store"]["checksums"]


@pytest.mark.slow  # a subprocess build (a 2-process dask cluster): 90 s / 15 min at load 12
@pytest.mark.parametrize("workers", ["1", "2"])
def test_ctrl_c_prints_one_line_exits_130_and_resumes_byte_identical(peak_db, tmp_path,
                                                                     workers):
    """Issue 31 item 5: Ctrl-C as a terminal sends it — SIGINT to the whole process group,
    the dask workers included — during a build: one line, exit 130, no worker tracebacks;
    --resume then completes the store to the bytes of an uninterrupted build."""
    args = [*ARGS[:-3], "--workers", workers, "--quiet"]
    ref = tmp_path / "ref.zarr"
    runner = CliRunner()
    # the reference and the resumed build run in-process: the bytes never depend on workers
    assert runner.invoke(cli, ["build", str(peak_db), "-o", str(ref), "--manifest-dir",
                               str(tmp_path / "m"), *ARGS]).exit_code == 0
    path = tmp_path / "stopped.zarr"
    cmd = [sys.executable, "-c", "from xrdsim_cli.main import cli; cli()", "build", str(peak_db),
           "-o", str(path), "--manifest-dir", str(tmp_path / "m2"), *args]
    # its own process group, as a terminal's foreground job; SIGINT at its default even when
    # the suite runs from a background shell (which starts jobs with SIGINT ignored)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    # after the first shard: the workers run (a Ctrl-C while they start is ignored)
    deadline = time.monotonic() + 4 * FIRST_SHARD_TIMEOUT  # a cluster start on busy cores
    while _complete_shards(path) < 1 and proc.poll() is None:
        assert time.monotonic() < deadline, "the build wrote no shard"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=FIRST_SHARD_TIMEOUT)
    if proc.returncode == 0:
        pytest.skip("the build finished before the interrupt arrived (a very loaded machine)")
    assert proc.returncode == 130, err
    assert err.splitlines() == ["interrupted: the finished shards are kept; run the same "
                                "command with --resume to continue"]
    assert out == ""
    assert zarr.open_group(str(path), mode="r").attrs["status"] == "building"
    resumed = runner.invoke(cli, ["build", str(peak_db), "-o", str(path), "--manifest-dir",
                                  str(tmp_path / "m2"), "--resume", *ARGS])
    assert resumed.exit_code == 0, resumed.output
    assert array_checksums(path) == array_checksums(ref)
    assert zarr.open_group(str(path), mode="r").attrs.asdict() == \
        zarr.open_group(str(ref), mode="r").attrs.asdict()


def test_inspect_agrees_with_plain_zarr(peak_db, tmp_path):
    path = tmp_path / "not-yet-created" / "d.zarr"  # build creates the store's parent folder
    runner = CliRunner()
    assert runner.invoke(cli, ["build", str(peak_db), "-o", str(path), "--manifest-dir",
                               str(tmp_path), *ARGS]).exit_code == 0
    png = tmp_path / "example.png"
    out = runner.invoke(cli, ["inspect", str(path), "--json", "--png", str(png)])
    assert out.exit_code == 0, out.output
    info = json.loads(out.output)
    root = zarr.open(str(path), mode="r")
    names = ["triclinic", "monoclinic", "orthorhombic", "tetragonal", "trigonal", "hexagonal",
             "cubic"]
    for name, split in info["splits"].items():
        cs = root[name]["crystal_system"][:]
        assert split["n_patterns"] == split["complete_patterns"] == cs.shape[0]
        want = {names[i]: int(c) for i, c in enumerate(np.bincount(cs, minlength=7)) if c}
        assert split["crystal_system_counts"] == want
    assert info["n_structures"] == root["structures"]["structure_id"].shape[0]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = runner.invoke(cli, ["inspect", str(path)])
    assert text.exit_code == 0 and "equivariance" in text.output


def test_extra_split_adds_a_fifth_split(peak_db, tmp_path):
    path = tmp_path / "extra.zarr"
    runner = CliRunner()
    result = runner.invoke(cli, ["build", str(peak_db), "-o", str(path), "--manifest-dir",
                                 str(tmp_path / "m"), "--extra-split",
                                 "extrapolation=extrapolation", *ARGS])
    assert result.exit_code == 0, result.output
    # the manifest keeps the store's name (the split name must not replace it)
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["extra.json"]
    root = zarr.open_group(str(path), mode="r")
    splits = root.attrs["splits"]
    assert splits["extrapolation"]["config"] == "extrapolation"
    assert splits["extrapolation"]["n_structures"] == splits["invariance"]["n_structures"]
    assert root.attrs["configs"]["extrapolation"]["name"] == "extrapolation"
    patterns = root["extrapolation"]["patterns"][:]
    assert patterns.shape[0] == splits["extrapolation"]["n_patterns"] and patterns.max() > 0
    bad = runner.invoke(cli, ["build", str(peak_db), "-o", str(tmp_path / "b.zarr"),
                              "--extra-split", "train=extrapolation", *ARGS])
    assert bad.exit_code != 0 and "extra split name" in bad.output
