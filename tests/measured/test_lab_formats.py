"""Lab instrument formats (issue 31, item 16): Bruker DIFFRAC .raw (all four layouts) and
.uxd, against real files where one is shipped and against the documented layout elsewhere;
every file of an input folder is either read or reported."""

from __future__ import annotations

import json
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from xrdsim_cli.main import cli

from xrdsim.errors import PatternReadError
from xrdsim.measured.readers import read_pattern

sys.path.insert(0, str(Path(__file__).resolve().parent))
import documented_layouts  # noqa: E402

LAYOUT_FILES = sorted(documented_layouts.FILES)


@pytest.fixture(scope="module")
def xylib(shared_data):
    return shared_data / "patterns" / "xylib_samples"


def test_item31_16_bt86_raw_equals_its_uxd_export_point_for_point(xylib):
    raw, uxd = read_pattern(xylib / "BT86.raw"), read_pattern(xylib / "BT86_.UXD")
    assert (raw.format, uxd.format) == ("bruker_raw", "uxd")
    assert raw.two_theta.size == uxd.two_theta.size == 2374
    np.testing.assert_array_equal(raw.intensity, uxd.intensity)
    np.testing.assert_allclose(raw.two_theta, uxd.two_theta, atol=0.005)  # UXD: 2-3 decimals
    assert raw.wavelength == uxd.wavelength == pytest.approx((1.5406 + 0.5 * 1.54439) / 1.5)
    for m in (raw.metadata, uxd.metadata):
        assert (m["kalpha1"], m["kalpha2"], m["ratio_kalpha2_kalpha1"]) == (1.5406, 1.54439, 0.5)
        assert m["counting_time_s"] == 0.5 and m["step"] == pytest.approx(0.015592, abs=1e-6)
    assert raw.metadata["raw_version"] == "RAW1.01" and raw.metadata["kalpha_average"] == 1.54184
    assert raw.intensity[:4].tolist() == [187, 183, 178, 174] and raw.two_theta[0] == 3.0


@pytest.mark.parametrize(("name", "first", "counting_time"), [
    ("Cu3Au-1.raw", [48, 24, 38, 23], 0.5), ("Cu3Au-2.raw", [73, 58, 59, 50], 0.8)])
def test_item31_16_real_raw101_files_pinned(xylib, name, first, counting_time):
    p = read_pattern(xylib / name)
    assert p.two_theta.size == 3901 and (p.two_theta[0], p.two_theta[-1]) == (22.0, 100.0)
    assert p.intensity[:4].tolist() == first
    assert p.metadata["counting_time_s"] == counting_time and p.metadata["step"] == 0.02


def test_item31_16_several_ranges_give_the_first_with_a_warning(xylib):
    with pytest.warns(UserWarning, match=r"3 ranges in the file; only the first \(10–20°\)"):
        p = read_pattern(xylib / "format1.raw")
    assert p.two_theta.size == 101 and p.metadata["n_ranges"] == 3
    assert p.intensity[:3].tolist() == [10, 1, 3]


def test_item31_16_documented_layout_files_are_what_the_writer_makes():
    for name, make in documented_layouts.FILES.items():
        assert (documented_layouts.FOLDER / name).read_bytes() == make(), name


@pytest.mark.parametrize("name", LAYOUT_FILES)
def test_item31_16_documented_layouts_read_the_same_scan(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = read_pattern(documented_layouts.FOLDER / name)
    np.testing.assert_array_equal(p.intensity, documented_layouts.counts())
    np.testing.assert_allclose(p.two_theta, 20.0 + 0.02 * np.arange(41), atol=1e-6)
    assert p.metadata["counting_time_s"] == 0.5
    assert p.wavelength == pytest.approx((1.5406 + 0.5 * 1.54439) / 1.5, abs=1e-9)
    rule = p.metadata["wavelength_rule"]
    assert ("standard 2:1" in rule) == (name == "layout_v1.raw")  # v1 stores no ratio


@pytest.mark.parametrize(("keep", "match"), [
    (256 + 48 + 20, r"counts: 41 values of 4 bytes at byte 304 run past the end"),
    (100, r"needs \d+ bytes but the file ends at 100; is it truncated"),
])
def test_item31_16_truncated_raw_is_refused_with_the_field(tmp_path, keep, match):
    path = tmp_path / "cut.raw"
    path.write_bytes((documented_layouts.FOLDER / "layout_v2.raw").read_bytes()[:keep])
    with pytest.raises(PatternReadError, match=match):
        read_pattern(path)


def test_item31_16_hostile_raw_headers(tmp_path, xylib):
    data = bytearray((xylib / "BT86.raw").read_bytes())
    data[12:16] = (10**6).to_bytes(4, "little")  # a million ranges
    path = tmp_path / "many.raw"
    path.write_bytes(bytes(data))
    with pytest.raises(PatternReadError, match="declares 1000000 ranges"):
        read_pattern(path)
    data = bytearray((xylib / "BT86.raw").read_bytes())
    data[716:720] = (2**31).to_bytes(4, "little")  # steps far beyond the file
    path.write_bytes(bytes(data))
    with pytest.raises(PatternReadError, match="run past the end of the file"):
        read_pattern(path)
    path.write_bytes(b"V3RD" + bytes(300))
    with pytest.raises(PatternReadError, match="not a Bruker RAW magic"):
        read_pattern(path)


def test_item31_16_prepare_reads_or_reports_every_file_of_a_folder(tmp_path, xylib):
    folder = tmp_path / "scans"
    shutil.copytree(xylib, folder)
    (folder / "notes.docx").write_bytes(b"PK\x03\x04 not a pattern")
    out = tmp_path / "p.zarr"
    result = CliRunner().invoke(cli, ["prepare", str(folder), "-o", str(out), "--json"])
    assert result.exit_code == 1, result.output
    summary = json.loads(result.stdout)
    names = {s.split("/")[-1] for s in summary["sources"]}
    failed = {s.split("/")[-1]: reason for s, reason in summary["errors"]}
    assert {"BT86.raw", "BT86_.UXD", "Cu3Au-1.raw", "Cu3Au-2.raw", "format1.raw",
            "empyrean.xrdml"} <= names
    assert set(failed) == {"notes.docx"} and "unknown file suffix '.docx'" in failed["notes.docx"]
    assert len(names) + len(failed) == len(list(folder.iterdir()))  # nothing skipped unseen
