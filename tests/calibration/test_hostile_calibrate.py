"""Calibration inputs that once crashed the fit or overflowed it (issue 30, item 7)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from xrdsim_cli.main import cli


@pytest.mark.parametrize(("name", "shown"), [("negative_counts.xy", "-100"),
                                             ("counts_1e300.xy", "1e+303")])
def test_calibrate_refuses_counts_that_are_no_counts(hostile_data, tmp_path, name, shown):
    """All-negative counts raised ZeroDivisionError in the noise estimate; ×1e300 gave a
    fitted scale of −4.5e299. Both are one error line now, before any fit."""
    result = CliRunner().invoke(cli, [
        "calibrate", str(hostile_data / "patterns" / name), "--cif",
        str(hostile_data / "cifs" / "good_nacl.cif"), "--wavelength", "CuKa1",
        "-o", str(tmp_path / "i.yaml")])
    assert result.exit_code == 3, result.output
    assert f"positive maximum of at most 1e+12, got a maximum of {shown}" in result.output
    assert not (tmp_path / "i.yaml").exists()
