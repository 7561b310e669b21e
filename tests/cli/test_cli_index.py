"""``xrdsim index``: a simulated NaCl scan written as .xy is indexed to NaCl's cell; a bad file
fails alone; the figure is written; bad options are refused."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from pymatgen.core import Lattice, Structure
from xrdsim_cli.main import cli

import xrdsim
from xrdsim.simulation.config import SimulationConfig

NACL_A = 5.6402


@pytest.fixture(scope="module")
def nacl_xy(tmp_path_factory):
    """NaCl (Fm-3m, a = 5.6402 Å) simulated with Cu Kα1 + Kα2, written as 2θ, intensity."""
    structure = Structure.from_spacegroup("Fm-3m", Lattice.cubic(NACL_A), ["Na", "Cl"],
                                          [[0, 0, 0], [0.5, 0.5, 0.5]])
    peaks = xrdsim.compute_peaks(structure, wavelength=1.5418, two_theta_range=(0, 120))
    cfg = SimulationConfig.from_dict({"wavelength": 1.5418, "ops": {
        "profile": {"U": 0.004, "V": -0.002, "W": 0.002, "P": 0.0, "eta": 0.5, "rho": 0.0},
        "doublet": {"anode": "Cu", "ratio": 0.5}}})
    y, _ = xrdsim.simulate(peaks, cfg, seed=0)
    x = xrdsim.grid_centers()
    keep = (x >= 10.0) & (x <= 110.0)
    path = tmp_path_factory.mktemp("index") / "NaCl.xy"
    np.savetxt(path, np.column_stack([x[keep], 1000.0 * y[keep] / y.max() + 20.0]), fmt="%.4f")
    return path


def _run(*args):
    return CliRunner().invoke(cli, ["index", *map(str, args)], catch_exceptions=False)


def test_index_prints_the_cell_and_its_hkl(nacl_xy):
    result = _run(nacl_xy, "--wavelength", "CuKa", "--top", "2")
    assert result.exit_code == 0, result.output
    assert "1. cubic cF  a=5.640" in result.output
    assert "hkl: " in result.output and ":111 " in result.output


def test_index_json_and_png(nacl_xy, tmp_path):
    out = tmp_path / "result.json"
    result = _run(nacl_xy, "--wavelength", "CuKa", "--systems", "cubic,tetragonal", "--json",
                  out, "--png", tmp_path / "fig.png")
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["n_failed"] == 0
    best = data["files"][0]["solutions"][0]
    assert best["bravais_lattice"] == "cF"
    assert best["cell"][0] == pytest.approx(NACL_A, rel=2e-4)
    assert data["files"][0]["settings"]["systems"] == ["cubic", "tetragonal"]
    assert (tmp_path / "fig.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_bad_file_fails_alone(nacl_xy, tmp_path):
    bad = tmp_path / "broken.xy"
    bad.write_text("this is not a pattern\n")
    result = _run(nacl_xy, bad, "--wavelength", "CuKa", "--systems", "cubic", "--json", "-")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["n_failed"] == 1
    assert [f.get("error") is None for f in data["files"]] == [True, False]
    assert "broken.xy" in result.stderr


def test_unknown_system_is_refused_with_the_names(nacl_xy):
    result = CliRunner().invoke(cli, ["index", str(nacl_xy), "--wavelength", "CuKa",
                                      "--systems", "cubic,hexagnal"])
    assert result.exit_code == 3
    assert "hexagnal" in result.output and "hexagonal" in result.output


def test_a_file_without_wavelength_says_how_to_give_it(nacl_xy):
    result = _run(nacl_xy, "--systems", "cubic")
    assert result.exit_code == 1
    assert "--wavelength" in result.stderr
