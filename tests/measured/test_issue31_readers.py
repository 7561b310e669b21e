"""Reader defects of issue 31 (items 18, 19), one test or more per item."""

from __future__ import annotations

import pytest

from xrdsim.errors import PatternReadError
from xrdsim.measured.readers import read_pattern
from xrdsim.wavelengths import WAVELENGTHS, kalpha_mean

GSAS_LIKE = """data_profile
_diffrn_radiation_wavelength 1.540593
loop_
  _pd_proc_2theta_corrected
  _pd_calc_intensity_total
  10.00 .
  10.02 .
  10.04 105.5
  10.06 130.25
  10.08 180.0
  10.10 .
"""


def test_item31_18_kalpha_pair_without_ratio_is_weighted_2_to_1():
    wl, rule = kalpha_mean(WAVELENGTHS["CuKa1"], WAVELENGTHS["CuKa2"], None)
    assert wl == pytest.approx(1.5418, abs=5e-5)  # not the plain mean 1.542475
    assert wl == pytest.approx(WAVELENGTHS["CuKa"], abs=1e-5) and "2:1" in rule
    wl, rule = kalpha_mean(1.5406, 1.54439, 0.497)
    assert wl == pytest.approx((1.5406 + 0.497 * 1.54439) / 1.497) and "0.497" in rule


def test_item31_18_xrdml_without_a_ratio_says_which_rule(test_data, tmp_path):
    text = (test_data / "patterns" / "feooh.xrdml").read_text()
    start = text.index("<ratioKAlpha2KAlpha1")
    end = text.index("</ratioKAlpha2KAlpha1>") + len("</ratioKAlpha2KAlpha1>")
    path = tmp_path / "noratio.xrdml"
    path.write_text(text[:start] + text[end:])
    p = read_pattern(path)
    k1, k2 = p.metadata["kalpha1"], p.metadata["kalpha2"]
    assert p.wavelength == pytest.approx((k1 + 0.5 * k2) / 1.5, abs=1e-12)
    assert "standard 2:1 weights" in p.metadata["wavelength_rule"]


def test_item31_19_dots_in_a_gsas_calc_column_are_missing_points(tmp_path):
    path = tmp_path / "gsas.cif"
    path.write_text(GSAS_LIKE)
    with pytest.warns(UserWarning, match=r"3 point\(s\) with '\.' or '\?' in "
                      "_pd_calc_intensity_total"):
        p = read_pattern(path)
    assert p.two_theta.tolist() == [10.04, 10.06, 10.08]
    assert p.intensity.tolist() == [105.5, 130.25, 180.0]
    assert p.metadata["missing_points"] == 3


def test_item31_19_an_unreadable_value_names_its_column_and_row(tmp_path):
    path = tmp_path / "bad.cif"
    path.write_text(GSAS_LIKE.replace("130.25", "13O.25"))
    with pytest.raises(PatternReadError, match=r"_pd_calc_intensity_total row 4 is '13O\.25'"):
        read_pattern(path)
    path.write_text(GSAS_LIKE.replace("10.06", "1O.06"))
    with pytest.raises(PatternReadError, match=r"_pd_proc_2theta_corrected row 4"):
        read_pattern(path)
