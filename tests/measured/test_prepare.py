"""Preparation of measured patterns onto the model grid, the Zarr output and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import zarr
from click.testing import CliRunner
from scipy.signal import find_peaks
from xrdsim_cli.main import cli

from xrdsim.errors import ConfigError, DatasetError, PatternReadError
from xrdsim.grid import N_BINS, bin_index, grid_centers
from xrdsim.measured.prepare import (
    STORE_FORMAT,
    PreparedPattern,
    load_prepared,
    prepare_files,
    prepare_pattern,
)
from xrdsim.measured.readers import MeasuredPattern, read_pattern
from xrdsim.wavelengths import WAVELENGTHS

MO = WAVELENGTHS["MoKa1"]
CU = 1.5418
#: d-spacings (Å) of the synthetic Mo Kα1 pattern: all inside the Cu grid (2θ < 120°).
D_SPACINGS = np.array([4.2, 3.1, 2.45, 2.02, 1.71, 1.45, 1.23, 1.05, 0.93])


def _pseudo_voigt(x, centre, fwhm, eta=0.4):
    g = np.exp(-4 * np.log(2) * ((x - centre) / fwhm) ** 2)
    return eta / (1 + 4 * ((x - centre) / fwhm) ** 2) + (1 - eta) * g


def _write_mo_pattern(path):
    """A pseudo-Voigt sum at Mo Kα1 with known d-spacings, written as a 2-column .xy."""
    x = np.round(np.arange(3.0, 50.0, 0.004), 4)
    centres = 2 * np.degrees(np.arcsin(MO / (2 * D_SPACINGS)))
    heights = np.linspace(1000, 300, D_SPACINGS.size)
    y = 50 + sum(h * _pseudo_voigt(x, c, 0.03) for c, h in zip(centres, heights, strict=True))
    np.savetxt(path, np.column_stack([x, y]), fmt="%.4f", header="synthetic, Mo Ka1")
    return 2 * np.degrees(np.arcsin(CU / (2 * D_SPACINGS)))  # where Cu puts them


def test_mo_pattern_round_trip_puts_peaks_where_cu_would(tmp_path):
    expected = _write_mo_pattern(tmp_path / "mo.xy")
    measured = read_pattern(tmp_path / "mo.xy", wavelength="MoKa1")
    prepared = prepare_pattern(measured, to_wavelength=CU, background="snip")
    found, _ = find_peaks(prepared.pattern, prominence=0.1)
    assert found.size == D_SPACINGS.size
    # within one bin of the bin that holds the Cu 2θ of each d-spacing
    np.testing.assert_array_less(np.abs(found - bin_index(expected)), 1.5)
    # measured range: Mo 3°..50° maps to Cu 6.52°..(past 120°): zeros below, none above
    low = 2 * np.degrees(np.arcsin(CU / MO * np.sin(np.radians(1.5))))
    first = int(np.argmax(prepared.measured))
    assert grid_centers()[first] >= low > grid_centers()[first - 1]
    assert np.all(prepared.pattern[:first] == 0) and prepared.measured[-1]
    assert prepared.pattern.max() == 1.0 and prepared.pattern.dtype == np.float32


def test_resampling_is_linear_interpolation_of_the_file(shared_data):
    """Same λ in and out: bin centre 10.005° is the mean of the 10.00° and 10.01° points."""
    m = read_pattern(shared_data / "patterns/autoxrd_examples/MnO.xy", wavelength=CU)
    p = prepare_pattern(m, to_wavelength=CU, background=None, normalise=False)
    assert p.pattern[1000] == pytest.approx((2001 + 2008) / 2)
    assert p.pattern[999] == 0 and not p.measured[999]
    assert p.pattern[9999] == pytest.approx((1545 + 1555) / 2)  # 99.995° between 99.99, 100.0
    centres = grid_centers()
    np.testing.assert_allclose(p.pattern[p.measured],
                               np.interp(centres[p.measured], m.two_theta, m.intensity),
                               rtol=1e-6)
    assert [s["step"] for s in p.metadata["steps"]] == ["wavelength", "resample"]


def test_each_step_is_recorded(test_data):
    m = read_pattern(test_data / "patterns/V2O5-2ZnO_400C_60min.xrdml")
    p = prepare_pattern(m, background="poly", degree=5, clip_negative=True)
    steps = {s["step"]: s for s in p.metadata["steps"]}
    assert list(steps) == ["wavelength", "resample", "background", "clip_negative", "normalise"]
    assert steps["wavelength"]["from"] == pytest.approx(1.541874)
    assert steps["background"] == {**steps["background"], "method": "poly", "degree": 5}
    assert p.pattern.min() >= 0 and p.pattern.max() == pytest.approx(1.0)
    q = PreparedPattern.from_dict(json.loads(json.dumps(p.to_dict())))
    np.testing.assert_array_equal(q.pattern, p.pattern)


def test_background_subtraction_lowers_the_floor(test_data):
    m = read_pattern(test_data / "patterns/V2O5-2ZnO_400C_60min.xrdml")
    raw = prepare_pattern(m, background=None)
    sub = prepare_pattern(m)
    inside = raw.measured
    assert np.median(sub.pattern[inside]) < 0.25 * np.median(raw.pattern[inside])
    # the background plus the pattern, scaled back, reproduce the resampled data
    scale = [s for s in sub.metadata["steps"] if s["step"] == "normalise"][0]["divided_by"]
    scale_raw = [s for s in raw.metadata["steps"] if s["step"] == "normalise"][0]["divided_by"]
    np.testing.assert_allclose((sub.pattern + sub.background)[inside] * scale,
                               raw.pattern[inside] * scale_raw, rtol=1e-4, atol=1e-2)


def test_off_grid_after_conversion_is_refused():
    x = np.linspace(60, 80, 200)  # at Mo Kα1 these d-spacings cannot diffract Cu Kα
    m = MeasuredPattern(x, np.ones_like(x), None, MO, "synthetic.xy", "xy")
    with pytest.raises(PatternReadError, match="leaves 0 of the grid's.*--wavelength"):
        prepare_pattern(m, to_wavelength=CU)


def test_bad_settings_are_refused_before_any_file(tmp_path):
    with pytest.raises(ConfigError, match="degree <= 20"):
        prepare_files([], tmp_path / "x.zarr", background="poly", degree=40)
    with pytest.raises(ConfigError, match="background must be one of"):
        prepare_files([], tmp_path / "x.zarr", background="ball")
    assert not (tmp_path / "x.zarr").exists()


def test_unknown_wavelength_is_refused():
    m = MeasuredPattern(np.array([10.0, 20.0]), np.ones(2), None, None, "a.xy", "xy")
    with pytest.raises(PatternReadError, match="wavelength is unknown"):
        prepare_pattern(m)


def test_prepare_files_records_errors_and_keeps_going(test_data, shared_data, tmp_path):
    bad = tmp_path / "empty.xy"
    bad.write_text("# nothing here\n")
    files = [test_data / "patterns/feooh.xrdml", bad,
             shared_data / "patterns/autoxrd_examples/TiO2.xy",
             test_data / "patterns/xrd_measurement_TaCr2O6.dat"]
    out = tmp_path / "prep.zarr"
    summary = prepare_files(files, out, wavelength=None, plot_dir=tmp_path / "plots")
    assert len(summary.sources) == 1  # the .xy and .dat state no λ, the empty file no data
    reasons = dict(summary.errors)
    assert "no numeric data" in reasons[str(bad)]
    assert "--wavelength" in reasons[str(files[2])]
    group = zarr.open_group(str(out), mode="r")
    assert group.attrs["format"] == STORE_FORMAT
    measured = group["measured"]
    assert measured["patterns"].shape == (1, N_BINS) and measured["patterns"].dtype == "float32"
    expected = prepare_pattern(read_pattern(files[0]))
    np.testing.assert_array_equal(measured["patterns"][0], expected.pattern)
    assert list(measured["sources"][:]) == [str(files[0])]
    assert measured["wavelengths"][0] == pytest.approx(1.541874)
    assert len(measured.attrs["errors"]) == 3 and measured.attrs["settings"]["background"] == "snip"
    assert len(list((tmp_path / "plots").glob("*.png"))) == 1
    patterns, sources, attrs = load_prepared(out)
    np.testing.assert_array_equal(patterns[0], expected.pattern)
    assert sources == [str(files[0])] and attrs["errors"] == measured.attrs["errors"]
    with pytest.raises(DatasetError, match="not a prepared-pattern store"):
        load_prepared(tmp_path / "nothing.zarr")
    with pytest.raises(DatasetError, match="overwrite"):
        prepare_files(files, out)


def test_cli_prepare_exit_codes(test_data, shared_data, tmp_path):
    runner = CliRunner()
    good = [str(test_data / "patterns/feooh.xrdml"),
            str(shared_data / "patterns/autoxrd_examples/TiO2.xy")]
    out = tmp_path / "a.zarr"
    result = runner.invoke(cli, ["prepare", *good, "-o", str(out), "--wavelength", "CuKa",
                                 "--background", "poly", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["n_prepared"] == 2 and summary["errors"] == []
    assert zarr.open_group(str(out), mode="r")["measured/patterns"].shape == (2, N_BINS)
    (tmp_path / "empty.xy").write_text("")
    result = runner.invoke(cli, ["prepare", *good, str(tmp_path / "empty.xy"),
                                 "-o", str(tmp_path / "b.zarr")])
    assert result.exit_code == 1
    assert "empty.xy" in result.stderr and "prepared 1 of 3" in result.stdout
    result = runner.invoke(cli, ["prepare", *good, str(tmp_path / "missing.xy"),
                                 "-o", str(tmp_path / "c.zarr")])
    assert result.exit_code == 2 and "missing.xy" in result.output
    assert not (tmp_path / "c.zarr").exists()


def _clean_config(wavelength: float):
    """The simulator's profile op only (fixed widths, no noise / doublet / cropping)."""
    from xrdsim.simulation.config import load_config

    return load_config({
        "name": "clean", "wavelength": wavelength,
        "ops": {"binning": {"mode": "sum"},
                "profile": {"U": 0.002, "V": -0.0005, "W": 0.003, "P": 0.0, "eta": 0.5,
                            "rho": 0.0, "latin_hypercube": False, "tail_cutoff": 0.005},
                "renormalize": {}},
    })


def test_simulated_mo_pattern_lands_where_the_simulator_puts_cu_peaks(shared_data, tmp_path):
    """simulate at Mo Kα1, written as .xy, read back and prepared onto the Cu
    grid, has its peaks in the bins where simulate puts the Cu peaks of the same structure."""
    from xrdsim.peaks.lines import compute_peaks
    from xrdsim.simulation.simulator import simulate
    from xrdsim.structures.reader import read_structures

    cif = shared_data / "cifs/autoxrd_examples/Mn2O3_206.cif"
    structure = next(iter(read_structures([cif]))).structure
    mo, _ = simulate(compute_peaks(structure, wavelength=MO), _clean_config(MO), seed=0)
    cu, _ = simulate(compute_peaks(structure, wavelength=CU), _clean_config(CU), seed=0)
    x = grid_centers()
    keep = (x > 4) & (x < 52)  # a Mo scan 4–52° covers Cu 8.7–~120°
    np.savetxt(tmp_path / "mo.xy", np.column_stack([x[keep], mo[keep]]), fmt="%.6f")
    prepared = prepare_pattern(read_pattern(tmp_path / "mo.xy", wavelength="MoKa1"),
                               to_wavelength=CU, background=None)
    # heights differ (a Mo peak is stretched ~2× in Cu 2θ), positions must not
    want, _ = find_peaks(cu, prominence=0.05)
    want = want[prepared.measured[want]]
    got, _ = find_peaks(prepared.pattern, prominence=0.01)
    assert want.size >= 8
    assert np.max(np.min(np.abs(got[None, :] - want[:, None]), axis=1)) <= 1
