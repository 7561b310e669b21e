"""Readers of measured patterns, pinned against the real files (values read off the files)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from xrdsim.errors import PatternReadError
from xrdsim.measured.readers import MeasuredPattern, read_pattern

# (path relative to tests/data or shared/data, wavelength given, format, n, first 2θ,
#  last 2θ, first I, last I, index of max, 2θ at max, max I, first σ or None, λ expected)
LOCAL = [
    ("patterns/xrd_measurement_TaCr2O6.dat", "CuKa1", "fullprof", 4251, 5.0, 90.0, 133.0,
     177.0, 1106, 27.12, 2995.0, None, 1.54056),
    ("patterns/V2O5-2ZnO_400C_60min.xrdml", None, "xrdml", 8301, 9.90343322, 100.09488522,
     2499.0, 435.0, 2452, 36.5479441, 10806.0, None, (1.5405980 + 0.5 * 1.5444260) / 1.5),
    ("patterns/feooh.xrdml", None, "xrdml", 7822, 5.00543322, 89.99186046, 425.0, 52.0, 2016,
     26.91217626, 4624.0, None, (1.5405980 + 0.5 * 1.5444260) / 1.5),
    ("patterns/Rw_1wtH2O_40sec.bg.chi", "CuKa", "chi", 1364, 5.9954332, 20.988433, 384.88303,
     133.56374, 6, 6.0614332, 386.42894, None, 1.54184),
]
SHARED = [
    ("patterns/autoxrd_examples/MnO.xy", "CuKa", "xy", 9001, 10.0, 100.0, 2001.0, 1555.0, 3059,
     40.59, 28818.0, None, 1.54184),
    ("patterns/autoxrd_examples/MnO2.xy", 1.5406, "xy", 9001, 10.0, 100.0, 2155.0, 1763.0, 1869,
     28.69, 50754.0, None, 1.5406),
    ("patterns/peakpo/feooh.ASC", "CuKa1", "asc", 7727, 5.00543322, 89.99143322, 425.0,
     51.7247783082506, 1991, 26.90643322, 4528.33939358204, 20.6155281280883, 1.54056),
    ("patterns/peakpo/feooh.chi", "CuKa1", "chi", 7727, 5.0054332, 89.991433, 425.0, 51.724778,
     1991, 26.906433, 4528.3394, None, 1.54056),
    ("patterns/dara_alab/CaNi(PO3)4_800_240_Ca(OH)2_(NH4)2HPO4_NiO.xy", "CuKa", "xy", 8301,
     9.90343322, 100.09488522, 3566.0, 2046.0, 1787, 29.3217615, 10402.0, None, 1.54184),
]


def _check(p: MeasuredPattern, case: tuple) -> None:
    _, _, fmt, n, x0, x1, y0, y1, imax, xmax, ymax, s0, wl = case
    assert p.format == fmt
    assert p.two_theta.shape == p.intensity.shape == (n,)
    assert p.two_theta.dtype == np.float64 and p.intensity.dtype == np.float64
    assert p.two_theta[0] == pytest.approx(x0, abs=1e-7)
    assert p.two_theta[-1] == pytest.approx(x1, abs=1e-7)
    assert (p.intensity[0], p.intensity[-1]) == pytest.approx((y0, y1), rel=1e-9)
    assert int(np.argmax(p.intensity)) == imax
    assert p.two_theta[imax] == pytest.approx(xmax, abs=1e-6)
    assert p.intensity[imax] == pytest.approx(ymax, rel=1e-9)
    assert (p.sigma is None) == (s0 is None)
    if s0 is not None:
        assert p.sigma[0] == pytest.approx(s0, rel=1e-12)
    assert p.wavelength == pytest.approx(wl, abs=1e-6)
    assert np.all(np.diff(p.two_theta) > 0)


@pytest.mark.parametrize("case", LOCAL, ids=[c[0].split("/")[-1] for c in LOCAL])
def test_reader_on_copied_real_files(test_data, case):
    _check(read_pattern(test_data / case[0], wavelength=case[1]), case)


@pytest.mark.parametrize("case", SHARED, ids=[c[0].split("/")[-1] for c in SHARED])
def test_reader_on_shared_real_files(shared_data, case):
    _check(read_pattern(shared_data / case[0], wavelength=case[1]), case)


def test_xrdml_metadata_and_counts_element(test_data):
    new = read_pattern(test_data / "patterns/V2O5-2ZnO_400C_60min.xrdml")  # schema 2.2, <counts>
    old = read_pattern(test_data / "patterns/feooh.xrdml")  # schema 1.7, <intensities>
    assert new.metadata["intensity_element"] == "counts"
    assert old.metadata["intensity_element"] == "intensities"
    for p in (new, old):
        assert p.metadata["kalpha1"] == 1.5405980 and p.metadata["kalpha2"] == 1.5444260
        assert p.metadata["ratio_kalpha2_kalpha1"] == 0.5
        assert p.metadata["wavelength_source"] == "file"
    assert new.metadata["counting_time_s"] == 13.770


def test_xrdml_list_positions(test_data, tmp_path):
    text = (test_data / "patterns/feooh.xrdml").read_text(encoding="utf-8-sig")
    ref = read_pattern(test_data / "patterns/feooh.xrdml")
    listed = " ".join(f"{v:.8f}" for v in ref.two_theta)
    start = text.index("<startPosition>5.00543322")
    end = text.index("</endPosition>", start) + len("</endPosition>")
    path = tmp_path / "listed.xrdml"
    path.write_text(text[:start] + f"<listPositions>{listed}</listPositions>" + text[end:])
    p = read_pattern(path)
    assert p.metadata["positions"] == "list"
    np.testing.assert_allclose(p.two_theta, ref.two_theta, atol=1e-8)
    np.testing.assert_array_equal(p.intensity, ref.intensity)


def test_pdcif_loop_with_su_and_weighted_wavelength(test_data):
    p = read_pattern(test_data / "patterns/handmade_pdcif_loop.cif")
    assert p.format == "cif" and p.two_theta.size == 51
    assert p.two_theta[0] == 20.0 and p.two_theta[-1] == 22.0
    assert p.intensity[25] == 1020.0  # 120 + 900 at 21.00°
    assert p.sigma[0] == 11.0 and p.sigma[25] == 32.0
    assert p.wavelength == pytest.approx((1.540598 + 0.5 * 1.544426) / 1.5, abs=1e-9)


def test_pdcif_range_tags(test_data):
    p = read_pattern(test_data / "patterns/handmade_pdcif_range.cif")
    assert p.metadata["x_tag"] == "_pd_meas_2theta_range_min/max/inc"
    np.testing.assert_allclose(p.two_theta, np.linspace(30.0, 31.0, 21), atol=1e-12)
    assert p.intensity[10] == 450.0 and p.sigma is None
    assert p.wavelength == 0.7093


def test_pdcif_proc_range_tags(test_data, tmp_path):
    text = (test_data / "patterns/handmade_pdcif_range.cif").read_text()
    path = tmp_path / "proc.cif"
    path.write_text(text.replace("_pd_meas_2theta_range_", "_pd_proc_2theta_range_"))
    p = read_pattern(path)
    assert p.metadata["x_tag"] == "_pd_proc_2theta_range_min/max/inc"
    assert p.two_theta[-1] == pytest.approx(31.0)


def test_wavelength_required_when_file_has_none(shared_data):
    with pytest.raises(PatternReadError, match="--wavelength CuKa1") as info:
        read_pattern(shared_data / "patterns/autoxrd_examples/MnO.xy")
    assert "MnO.xy" in str(info.value)


def test_item10_file_wavelength_wins_unless_forced(test_data):
    with pytest.warns(UserWarning, match="file states λ = 1.54187.*using the file's value"):
        p = read_pattern(test_data / "patterns/feooh.xrdml", wavelength="MoKa1")
    assert p.wavelength == pytest.approx(1.54187, abs=1e-5)
    assert p.metadata["wavelength_source"] == "file"
    with pytest.warns(UserWarning, match="file states λ = 1.54187.*using the given value"):
        p = read_pattern(test_data / "patterns/feooh.xrdml", wavelength="MoKa1",
                         force_wavelength=True)
    assert p.wavelength == 0.70930 and p.metadata["wavelength_source"] == "user"


def test_unknown_wavelength_name_is_a_read_error(test_data):
    with pytest.raises(PatternReadError, match="unknown wavelength 'CuKz'"):
        read_pattern(test_data / "patterns/Rw_1wtH2O_40sec.bg.chi", wavelength="CuKz")


def test_wavelength_from_xy_header(tmp_path):
    path = tmp_path / "a.xy"
    path.write_text("# sample A\n# wavelength = 0.7093 A\n10 1\n10.5 2\n11 3\n")
    p = read_pattern(path)
    assert p.wavelength == 0.7093 and p.metadata["header"][0] == "# sample A"


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [
        ("empty.xy", "", "no numeric data"),
        ("words.xy", "# header\nsome text only\nmore text\n", "no numeric data"),
        ("one.xy", "10 5\n", "at least 2"),
        ("zigzag.xy", "10 1\n11 2\n10.5 3\n12 4\n", "not monotonic: 11° is followed by 10.5°"),
        ("nan.xy", "10 1\n11 nan\n12 3\n", "1 point\\(s\\) are NaN or infinite"),
        ("ragged.xy", "10 1\n11 2 3\n12 3\n", "differing numbers of columns"),
        ("short.dat", "5 0.5 7\n1\n2\n3\n", "implies 5 intensities but 3 follow"),
        ("q.chi", "title\nQ (nm^-1)\nI\n3\n1 1\n2 2\n3 3\n", "only 2θ .chi"),
        ("trunc.chi", "t\n2-theta\n\n5\n1 1\n2 2\n3 3\n", "declares 5 points but 3"),
        ("broken.xrdml", "<xrdMeasurements><scan>", "not well-formed XML"),
        ("struct.cif", "data_x\n_cell_length_a 4.0\n", "no powder intensity loop"),
        ("garbage.xrdml", "<a><scan><dataPoints><counts>1 2 x</counts></dataPoints></scan></a>",
         "cannot parse the file as 'xrdml'"),
        ("a.spc", "10 1\n", "unknown file suffix '.spc'"),
    ],
)
def test_bad_input_is_refused_with_the_file_named(tmp_path, name, text, match):
    path = _write(tmp_path, name, text)
    with pytest.raises(PatternReadError, match=match) as info:
        read_pattern(path, wavelength="CuKa")
    assert info.value.source == str(path)


def test_nan_rows_are_refused(tmp_path):
    # 1e999 overflows to inf when parsed: refused like NaN.
    path = _write(tmp_path, "inf.xy", "10 1\n11 1e999\n12 3\n")
    with pytest.raises(PatternReadError, match="NaN or infinite"):
        read_pattern(path, wavelength="CuKa")


def test_descending_scan_is_reversed_with_warning(tmp_path):
    path = _write(tmp_path, "down.xye", "12 3 0.1\n11 2 0.2\n10 1 0.3\n")
    with pytest.warns(UserWarning, match="reversed"):
        p = read_pattern(path, wavelength="CuKa")
    np.testing.assert_array_equal(p.two_theta, [10, 11, 12])
    np.testing.assert_array_equal(p.intensity, [1, 2, 3])
    np.testing.assert_array_equal(p.sigma, [0.3, 0.2, 0.1])


def test_repeated_points_are_averaged_with_warning(tmp_path):
    path = _write(tmp_path, "dup.xye", "10 1 3\n11 2 3\n11 4 4\n12 5 1\n")
    with pytest.warns(UserWarning, match="1 repeated 2θ"):
        p = read_pattern(path, wavelength="CuKa")
    np.testing.assert_array_equal(p.two_theta, [10, 11, 12])
    np.testing.assert_array_equal(p.intensity, [1, 3, 5])
    assert p.sigma[1] == pytest.approx(2.5)  # sqrt(3² + 4²) / 2


def test_negative_intensities_warn_and_are_kept(shared_data):
    path = shared_data / "patterns/peakpo/Rw_1wtH2O_40sec.bgsub.chi"
    with pytest.warns(UserWarning, match="106 negative intensities"):
        p = read_pattern(path, wavelength="CuKa")
    assert int((p.intensity < 0).sum()) == 106
    assert p.intensity.min() == pytest.approx(-18.6268, abs=1e-4)


def test_xy_third_column_is_not_sigma_but_xye_is(shared_data, tmp_path):
    p = read_pattern(shared_data / "patterns/autoxrd_examples/MnO2.xy", wavelength="CuKa")
    assert p.sigma is None and p.metadata["n_columns"] == 3
    copy = tmp_path / "MnO2.xye"
    copy.write_bytes((shared_data / "patterns/autoxrd_examples/MnO2.xy").read_bytes())
    assert read_pattern(copy, wavelength="CuKa").sigma[0] == 2085.0


def test_dataclass_is_frozen_readonly_and_round_trips(test_data):
    p = read_pattern(test_data / "patterns/handmade_pdcif_loop.cif")
    with pytest.raises(ValueError):
        p.intensity[0] = 1.0
    q = MeasuredPattern.from_dict(p.to_dict())
    np.testing.assert_array_equal(q.intensity, p.intensity)
    assert q.wavelength == p.wavelength and q.metadata == p.metadata
    with pytest.raises(PatternReadError, match="strictly increasing"):
        MeasuredPattern(np.array([1.0, 1.0]), np.ones(2), None, 1.5, "x", "xy")


def test_no_warnings_on_clean_files(test_data):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_pattern(test_data / "patterns/xrd_measurement_TaCr2O6.dat", wavelength="CuKa1")


def test_text_lines_inside_data_are_skipped_with_warning(tmp_path):
    path = _write(tmp_path, "mid.xy", "10 1\n11 2\nEND OF BLOCK\n12 3\n")
    with pytest.warns(UserWarning, match="1 non-numeric line.*'END OF BLOCK'"):
        p = read_pattern(path, wavelength="CuKa")
    assert p.two_theta.size == 3


# ------------------------------------------------------------- multi-block powder CIF


def test_pdcif_multiblock_net_intensity_and_wavelength_from_another_block(test_data):
    p = read_pattern(test_data / "patterns/handmade_pdcif_multiblock.cif")
    m = p.metadata
    assert (m["block"], m["y_tag"], m["x_tag"]) == (
        "NaCl_profile", "_pd_proc_intensity_net", "_pd_proc_2theta_corrected")
    assert p.two_theta.size == 41 and p.intensity.max() == 800.0
    assert p.sigma[20] == pytest.approx(2.8)  # "800.0(28)": s.u. 28 in the last digit
    # Kα1/Kα2 from the publication block, ratio 0.497 as the file gives it
    assert m["wavelength_block"] == "global" and m["kalpha2_kalpha1_ratio"] == 0.497
    assert p.wavelength == pytest.approx((1.540593 + 0.497 * 1.544427) / 1.497, abs=1e-12)
    assert m["wavelength_rule"].startswith("weighted mean")


def test_pdcif_proc_wavelength_unweighted_pair_and_calc_only(test_data, tmp_path):
    text = (test_data / "patterns/handmade_pdcif_multiblock.cif").read_text()
    head, profile = text[:text.index("data_NaCl_profile")], text[text.index("data_NaCl_profile"):]
    no_wl = head[head.index("data_NaCl_phase"):]
    only_proc = tmp_path / "proc_wl.cif"
    only_proc.write_text(no_wl + profile.replace(
        "_pd_proc_number_of_points", "_pd_proc_wavelength 0.413906(2)\n_pd_proc_number_of_points"))
    p = read_pattern(only_proc)
    assert p.wavelength == 0.413906 and p.metadata["wavelength_tag"] == "_pd_proc_wavelength"
    unweighted = tmp_path / "unweighted.cif"
    unweighted.write_text(text.replace("  _diffrn_radiation_wavelength_wt\n", "")
                          .replace("1.540593  1.0", "1.540593").replace("1.544427  0.497",
                                                                         "1.544427"))
    with pytest.warns(UserWarning, match=r"no _diffrn_radiation_wavelength_wt; used the "
                      r"standard 2:1 Kα1:Kα2 weighting, λ = 1\.541871 Å"):
        q = read_pattern(unweighted)  # item 31.18: 2:1, not the unweighted mean 1.542510
    assert q.wavelength == pytest.approx((1.540593 + 0.5 * 1.544427) / 1.5, abs=1e-12)
    assert "standard 2:1 weights" in q.metadata["wavelength_rule"]
    assert "kalpha2_kalpha1_ratio" not in q.metadata
    calc = tmp_path / "calc.cif"
    calc.write_text(text.replace("  _pd_proc_intensity_net\n", "  _pd_proc_ls_weight\n"))
    assert read_pattern(calc).metadata["y_tag"] == "_pd_calc_intensity_net"
