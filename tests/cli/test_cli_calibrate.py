"""``xrdsim calibrate``: output, files written, exit codes and messages."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from xrdsim_cli.main import cli

from xrdsim.calibration import model as fm
from xrdsim.calibration.fit import CalibrationSettings, make_setup, source_lines
from xrdsim.calibration.inputs import read_known_phase
from xrdsim.simulation.config import load_config


@pytest.fixture(scope="module")
def scan(tmp_path_factory, test_data):
    """A NiO scan made by the forward model (30–90°, 0.02° steps, Poisson noise) as .xy."""
    cif = test_data / "cifs" / "NiO_225_sym.cif"
    x = np.arange(30.0, 90.0, 0.02)
    setup, _, _ = make_setup(read_known_phase(cif), x,
                             wavelengths=source_lines(1.54184, monochromatic=False)[0],
                             settings=CalibrationSettings(hump=False))
    p = fm.parameter_vector(zero_shift=0.05, U=0.004, V=-0.002, W=0.006, eta=0.5, ratio=0.5)
    curve = fm.peak_curve(p, setup, fm.window_pairs(p, setup))
    y = np.random.default_rng(0).poisson(1e4 * curve / curve.max() + 500.0)
    path = tmp_path_factory.mktemp("calibrate") / "nio.xy"
    np.savetxt(path, np.column_stack([x, y]), fmt="%.2f %d")
    return path, cif


def test_calibrate_prints_fit_and_writes_config_plot_json(scan, tmp_path):
    xy, cif = scan
    out, png, js = tmp_path / "inst.yaml", tmp_path / "fit.png", tmp_path / "fit.json"
    result = CliRunner().invoke(cli, ["calibrate", str(xy), "--cif", str(cif), "--wavelength",
                                      "CuKa", "-o", str(out), "--png", str(png), "--json",
                                      str(js), "--no-hump"])
    assert result.exit_code == 0, result.output
    assert "Rwp" in result.output and "zero shift δ" in result.output
    data = json.loads(js.read_text())
    assert data["parameters"]["zero_shift"] == pytest.approx(0.05, abs=0.01)
    cfg = load_config(out)
    assert cfg.name == "instrument-nio"
    assert png.stat().st_size > 10_000
    assert out.read_text().startswith("# written by xrdsim calibrate")


def test_calibrate_exit_codes_and_messages(scan, tmp_path):
    xy, cif = scan
    runner = CliRunner()
    out = str(tmp_path / "x.yaml")
    missing_option = runner.invoke(cli, ["calibrate", str(xy), "-o", out])
    assert missing_option.exit_code == 2 and "--cif" in missing_option.output
    missing_file = runner.invoke(cli, ["calibrate", str(tmp_path / "no.xy"), "--cif", str(cif),
                                       "-o", out])
    assert missing_file.exit_code == 2 and "no.xy" in missing_file.output
    no_wavelength = runner.invoke(cli, ["calibrate", str(xy), "--cif", str(cif), "-o", out])
    assert no_wavelength.exit_code == 3
    assert "nio.xy" in no_wavelength.output and "--wavelength" in no_wavelength.output
    bad_cif = tmp_path / "bad.cif"
    bad_cif.write_text("data_x\n_cell_length_a 3\n")
    unreadable = runner.invoke(cli, ["calibrate", str(xy), "--cif", str(bad_cif),
                                     "--wavelength", "CuKa", "-o", out])
    assert unreadable.exit_code == 3 and "bad.cif: cannot read the structure" in unreadable.output
    bad_band = runner.invoke(cli, ["calibrate", str(xy), "--cif", str(cif), "--wavelength",
                                   "CuKa", "-o", out, "--band", "1.5"])
    assert bad_band.exit_code == 2 and "--band" in bad_band.output
