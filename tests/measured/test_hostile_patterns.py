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
    assert good == {"good.xy", "xrdml_good.xrdml", "xrdml_end_before_start.xrdml"}
    failed = {os.path.basename(s) for s, _ in summary.errors}
    assert failed == set(BAD) | {"flat.xy"}
