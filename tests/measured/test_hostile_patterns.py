"""Hostile measured files: one error record each, never an aborted batch (21, 30, 31)."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

from xrdsim.errors import PatternReadError
from xrdsim.measured.prepare import prepare_files, prepare_pattern
from xrdsim.measured.readers import MAX_PATTERN_BYTES, read_pattern

BAD = {
    "fullprof_end_inf.dat": r"differing numbers of columns",
    "fullprof_step_subnormal.dat": r"differing numbers of columns",
    "xrdml_ratio_negative.xrdml": r"Kα2/Kα1 ratio -1 lies outside \[0, 1\]",
    "xrdml_kalpha1_zero.xrdml": r"kAlpha1 = 0 Å lies outside",
    "xrdml_entities.xrdml": r"declares a DTD or entities",
    "xrdml_external_entity.xrdml": r"declares a DTD or entities",
    "decimal_commas.xy": r"decimal commas",
}


@pytest.mark.parametrize(("name", "match"), sorted(BAD.items()))
def test_each_hostile_file_is_one_clear_error(hostile_data, name, match):
    with pytest.raises(PatternReadError, match=match):
        read_pattern(hostile_data / "patterns" / name)


def test_flat_scan_is_refused_not_normalised(hostile_data):
    pattern = read_pattern(hostile_data / "patterns" / "flat.xy")
    for background in ("snip", None):
        with pytest.raises(PatternReadError, match="flat"):
            prepare_pattern(pattern, background=background)
    # a flat scan plus a rounding-size bump: nothing rises above the background either
    bumped = pattern.__class__(pattern.two_theta, pattern.intensity + 1e-10 *
                               (np.arange(pattern.two_theta.size) == 200), None,
                               pattern.wavelength, pattern.source, pattern.format)
    with pytest.raises(PatternReadError, match="no point rises above|flat"):
        prepare_pattern(bumped)


def test_wavelength_problem_is_fixed_by_the_user(hostile_data):
    path = hostile_data / "patterns" / "xrdml_kalpha1_zero.xrdml"
    assert read_pattern(path, wavelength="CuKa1").wavelength == pytest.approx(1.54056)


def test_end_before_start_is_flagged(hostile_data):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pattern = read_pattern(hostile_data / "patterns" / "xrdml_end_before_start.xrdml")
    assert pattern.metadata["axis_reversed"] is True
    assert any("endPosition" in str(w.message) for w in caught)
    good = read_pattern(hostile_data / "patterns" / "xrdml_good.xrdml")
    assert "axis_reversed" not in good.metadata
    np.testing.assert_array_equal(pattern.intensity, good.intensity[::-1])


def test_devices_fifos_and_huge_files_are_refused_unread(tmp_path):
    fifo = tmp_path / "pipe.xy"
    os.mkfifo(fifo)
    with pytest.raises(PatternReadError, match="not a regular file"):
        read_pattern(fifo, wavelength=1.54)  # would block forever if opened
    with pytest.raises(PatternReadError, match="not a regular file"):
        read_pattern("/dev/zero", fmt="xy", wavelength=1.54)
    big = tmp_path / "big.xy"
    with big.open("wb") as handle:
        handle.truncate(MAX_PATTERN_BYTES + 1)  # sparse: no disk used
    with pytest.raises(PatternReadError, match="more than the"):
        read_pattern(big, wavelength=1.54)


def test_batch_writes_every_good_file_and_records_every_bad_one(hostile_data, tmp_path):
    folder = hostile_data / "patterns"
    paths = sorted(folder.iterdir())
    summary = prepare_files(paths, tmp_path / "m.zarr", wavelength=None)
    good = {os.path.basename(s) for s in summary.sources}
    # counts of 1e300 and negative counts are valid patterns here (scaled to max 1, negatives
    # kept or clipped by option); `calibrate` refuses them (tests/calibration)
    assert good == {"good.xy", "xrdml_good.xrdml", "xrdml_end_before_start.xrdml",
                    "counts_1e300.xy", "negative_counts.xy"}
    failed = {os.path.basename(s) for s, _ in summary.errors}
    assert failed == set(BAD) | {"flat.xy"}


def test_pattern_folders_record_fifos_devices_and_bad_links(hostile_data, tmp_path):
    """Issue 30: a folder's FIFOs, device links and dangling or looping links with a
    pattern suffix are error records of the batch, not skipped without a word."""
    folder = tmp_path / "scans"
    folder.mkdir()
    (folder / "a.xy").write_bytes((hostile_data / "patterns" / "good.xy").read_bytes())
    os.mkfifo(folder / "pipe.xy")
    os.symlink("/dev/zero", folder / "zero.xy")
    os.symlink(folder / "gone.xy", folder / "dangling.xy")
    os.symlink(folder / "loop.xy", folder / "loop.xy")
    summary = prepare_files([folder], tmp_path / "p.zarr", wavelength="CuKa1")
    assert [os.path.basename(s) for s in summary.sources] == ["a.xy"]
    reasons = {os.path.basename(src): why for src, why in summary.errors}
    assert sorted(reasons) == ["dangling.xy", "loop.xy", "pipe.xy", "zero.xy"]
    assert "not a regular file" in reasons["pipe.xy"] and "not a regular file" in reasons[
        "zero.xy"]
    assert "cannot read" in reasons["dangling.xy"] and "cannot read" in reasons["loop.xy"]


def test_prepare_overwrite_replaces_only_its_own_store(hostile_data, tmp_path):
    """Issue 30: `prepare mydata -o mydata --overwrite` deleted the inputs; it replaced a
    dataset store, and a store being written, without looking."""
    import json

    from xrdsim.errors import DatasetError

    folder = tmp_path / "mydata"
    folder.mkdir()
    good = (hostile_data / "patterns" / "good.xy").read_bytes()
    (folder / "a.xy").write_bytes(good)
    with pytest.raises(DatasetError, match="never replaces an input"):
        prepare_files([folder], folder, wavelength="CuKa1", overwrite=True)
    assert (folder / "a.xy").read_bytes() == good
    other = tmp_path / "dataset.zarr"
    other.mkdir()
    (other / "zarr.json").write_text(json.dumps(
        {"zarr_format": 3, "node_type": "group", "attributes": {"format": "xrdsim-dataset/1"}}))
    with pytest.raises(DatasetError, match="not written by `xrdsim prepare`"):
        prepare_files([folder], other, wavelength="CuKa1", overwrite=True)
    assert (other / "zarr.json").is_file()
    mine = tmp_path / "p.zarr"
    prepare_files([folder], mine, wavelength="CuKa1")
    first = (mine / "zarr.json").read_bytes()
    prepare_files([folder / "a.xy", folder / "a.xy"], mine, wavelength="CuKa1", overwrite=True)
    assert (mine / "zarr.json").is_file() and (mine / "zarr.json").read_bytes() == first
    import subprocess
    import sys

    hold = ("import sys, time\nfrom xrdsim.store_lock import store_lock\n"
            "with store_lock(sys.argv[1]):\n    print('held', flush=True)\n    time.sleep(120)")
    proc = subprocess.Popen([sys.executable, "-c", hold, str(mine)], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(DatasetError, match="locked by a running writer"):
            prepare_files([folder], mine, wavelength="CuKa1", overwrite=True)
    finally:
        proc.kill()
        proc.wait()
    assert (mine / "zarr.json").is_file()
    assert not list(tmp_path.glob(".p.zarr.creating-*"))
