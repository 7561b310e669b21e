"""Errors raised through the Python API name the arguments of the function that was called
(issue 31, item 12); the CLI flag may follow in parentheses."""

from __future__ import annotations

import re

import pytest

from xrdsim.errors import CalibrationError, DatasetError, PatternReadError
from xrdsim.measured.readers import MeasuredPattern


def _names_argument(message: str, argument: str) -> None:
    assert argument in message, message
    for flag in re.findall(r"(?<![\w-])--[a-z][a-z-]+", message):  # every flag is the CLI's
        assert "CLI" in message or f"/ {flag}" in message, (flag, message)


def test_item31_12_build_dataset_on_an_existing_store(tmp_path):
    from xrdsim.dataset.build import build_dataset

    out = tmp_path / "d.zarr"
    out.mkdir()
    with pytest.raises(DatasetError) as caught:
        build_dataset([], out, workers=1)
    _names_argument(str(caught.value), "resume=True")
    _names_argument(str(caught.value), "overwrite=True")


def test_item31_12_prepare_and_calibrate_name_their_arguments(tmp_path):
    from xrdsim.calibration.fit import calibrate
    from xrdsim.measured.prepare import prepare_files, prepare_pattern

    out = tmp_path / "m.zarr"
    out.mkdir()
    with pytest.raises(DatasetError) as caught:
        prepare_files([], out)
    _names_argument(str(caught.value), "overwrite=True")
    pattern = MeasuredPattern([10.0, 10.01, 10.02], [1.0, 2.0, 1.0], None, None, "p.xy", "xy")
    with pytest.raises(PatternReadError) as caught:
        prepare_pattern(pattern)
    _names_argument(str(caught.value), "wavelength=")
    with pytest.raises(CalibrationError) as caught:
        calibrate(pattern, None)
    _names_argument(str(caught.value), "wavelength=")
    far = MeasuredPattern([100.0, 100.01, 100.02], [1.0, 2.0, 1.0], None, 0.2, "p.xy", "xy")
    with pytest.raises(PatternReadError) as caught:
        prepare_pattern(far, to_wavelength=2.5)
    _names_argument(str(caught.value), "to_wavelength")
