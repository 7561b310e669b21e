"""Phase-transition series: EOS, fractions and labels, determinism, the store, the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import optimize

from xrdsim.errors import ConfigError, DatasetError
from xrdsim.series.config import SeriesConfig
from xrdsim.series.eos import bm3_pressure, bm3_volume_ratio, thermal_volume_ratio
from xrdsim.series.phases import distorted
from xrdsim.series.simulate import labels_from_fractions, second_phase_fraction, simulate_series
from xrdsim.series.store import read_series, series_names, write_series
from xrdsim.structures.reader import read_structures

NIO = Path(__file__).resolve().parents[1] / "data" / "cifs" / "NiO_225_sym.cif"
SMALL = SeriesConfig(n_steps=30, transition_width=(0.1, 0.2), transition_at=(0.4, 0.6))


@pytest.fixture(scope="module")
def nio():
    return next(iter(read_structures(str(NIO)))).structure


@pytest.fixture(scope="module")
def series(nio):
    return simulate_series(nio, name="nio-test", config=SMALL, seed=7, structure_id="NiO")


def test_bm3_matches_an_independent_root_finder():
    # Birch–Murnaghan written out by hand, solved by brentq (independent of the bisection)
    def p_of_v(v, k0=180.0, kp=4.5):
        eta = (1.0 / v) ** (2.0 / 3.0)
        return 1.5 * k0 * (eta**3.5 - eta**2.5) * (1 + 0.75 * (kp - 4) * (eta - 1))

    for p in (0.0, 5.0, 25.0, 60.0):
        ref = optimize.brentq(lambda v, p=p: p_of_v(v) - p, 0.6, 1.0, xtol=1e-14)
        assert bm3_volume_ratio(np.array([p]), k0=180.0, k0_prime=4.5)[0] == pytest.approx(ref)
    # second-order BM (K0' = 4) at V/V0 = 0.9: (3·100/2)·(0.9^(−7/3) − 0.9^(−5/3))
    assert bm3_pressure(0.9, k0=100.0, k0_prime=4.0) == pytest.approx(
        150.0 * (0.9 ** (-7 / 3) - 0.9 ** (-5 / 3))
    )
    with pytest.raises(ConfigError, match="40 % compression"):
        bm3_volume_ratio(np.array([1000.0]), k0=100.0, k0_prime=4.0)


def test_thermal_expansion_is_linear_in_the_cell_edge():
    x = thermal_volume_ratio(np.array([300.0, 1300.0]), alpha=1e-5)
    assert x[0] == 1.0 and x[1] ** (1 / 3) == pytest.approx(1.01)


def test_lattice_follows_the_drawn_equation_of_state(series, nio):
    k0, kp = series.attrs["physics"][0]["k0"], series.attrs["physics"][0]["k0_prime"]
    a = series.lattice[:, 0, 0].astype(np.float64)
    volume_ratio = (a / nio.lattice.a) ** 3  # cubic phase 1
    np.testing.assert_allclose(
        bm3_pressure(volume_ratio, k0=k0, k0_prime=kp), series.variable, atol=2e-3
    )
    assert (np.diff(a) < 0).all()


def test_fractions_sum_to_one_and_labels_match_them(series):
    f = series.fractions
    np.testing.assert_allclose(f.sum(axis=1), 1.0, atol=1e-6)
    assert ((f >= 0) & (f <= 1)).all()
    assert (series.labels[f[:, 1] == 0] == 0).all()
    assert (series.labels[f[:, 1] == 1] == 2).all()
    assert (series.labels[(f[:, 1] > 0) & (f[:, 1] < 1)] == 1).all()
    assert set(series.labels.tolist()) == {0, 1, 2}
    assert (np.diff(series.labels) >= 0).all()  # before → during → after, in order
    lo, hi = series.attrs["transition"]["interval"]
    assert series.variable[series.labels == 1].min() == lo


def test_ramp_and_labels_on_a_hand_case():
    f = second_phase_fraction(np.linspace(0, 1, 11), centre=0.5, width=0.4)
    np.testing.assert_allclose(f, [0, 0, 0, 0.0, 0.25, 0.5, 0.75, 1, 1, 1, 1], atol=1e-12)
    assert labels_from_fractions(f).tolist() == [0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2]


def test_same_seed_same_bytes_other_seed_other_series(nio, series):
    again = simulate_series(nio, name="nio-test", config=SMALL, seed=7, structure_id="NiO")
    assert again.patterns.tobytes() == series.patterns.tobytes()
    other = simulate_series(nio, name="nio-test", config=SMALL, seed=8, structure_id="NiO")
    assert other.patterns.tobytes() != series.patterns.tobytes()
    assert series.patterns.shape == (30, 12000) and series.patterns.dtype == np.float32


def test_distortion_lowers_the_symmetry(nio):
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    # Fm-3m (225) → I4/mmm, Fmmm, Immm: maximal-route subgroups of the cubic parent
    for kind, group in (("tetragonal", 139), ("orthorhombic", 69), ("shear", 71)):
        d = distorted(nio, kind=kind, strain=0.02, volume_change=-0.02)
        assert SpacegroupAnalyzer(d, symprec=1e-3).get_space_group_number() == group
        assert d.volume == pytest.approx(nio.volume * 0.98)


def test_a_polymorph_of_another_formula_is_refused(nio):
    from pymatgen.core import Lattice, Structure

    other = Structure(Lattice.cubic(4.0), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    with pytest.raises(ConfigError, match="not a polymorph"):
        simulate_series(
            nio,
            name="x",
            config=SMALL,
            seed=0,
            structure_id="NiO",
            polymorph=other,
            polymorph_id="NaCl",
        )


def test_config_refuses_too_narrow_a_transition():
    with pytest.raises(ConfigError, match="transition_width"):
        SeriesConfig(n_steps=20, transition_width=(0.01, 0.1))
    assert SeriesConfig.from_dict(SMALL.to_dict()) == SMALL
    with pytest.raises(ConfigError, match="did you mean 'n_steps'"):
        SeriesConfig.from_dict({"n_step": 5})


def test_store_round_trip(tmp_path, series):
    path = tmp_path / "s.zarr"
    write_series(path, [series])
    back = read_series(path, "nio-test")
    assert series_names(path) == ["nio-test"]
    for name in ("patterns", "variable", "labels", "fractions", "lattice"):
        np.testing.assert_array_equal(getattr(back, name), getattr(series, name))
    assert back.attrs["transition"] == series.attrs["transition"]
    with pytest.raises(DatasetError, match="exists"):
        write_series(path, [series])
    with pytest.raises(DatasetError, match="no series"):
        read_series(path, "nope")


def test_cli_series_writes_a_store(tmp_path, nio):
    """``xrdsim series simulate``; the old spelling without the sub-command writes the same
    store after one deprecation line on stderr."""
    from xrdsim_cli.main import cli

    cif = tmp_path / "NiO.cif"
    nio.to(filename=str(cif))
    options = ["--steps", "60", "--variable", "temperature", "--start", "300", "--stop", "1300"]
    stores = []
    for args in (["series", "simulate"], ["series"]):
        out = tmp_path / f"{len(args)}.zarr"
        res = CliRunner().invoke(cli, [*args, str(cif), "-o", str(out), *options])
        assert res.exit_code == 0, res.output
        (name,) = series_names(out)
        stores.append(read_series(out, name))
        deprecated = res.stderr.strip().splitlines()
        if args == ["series"]:
            assert deprecated == ["warning: `xrdsim series STRUCTURES ...` is deprecated and "
                                  "goes in the next release; use `xrdsim series simulate "
                                  "STRUCTURES ...`"]
        else:
            assert deprecated == []
    s, old = stores
    assert s.attrs["unit"] == "K" and s.variable[0] == 300.0 and s.patterns.shape[0] == 60
    np.testing.assert_array_equal(old.patterns, s.patterns)


def test_measured_files_become_an_unlabelled_series_in_value_order(tmp_path):
    from xrdsim.series.measured import measured_series, variables_from_csv, variables_from_names

    src = Path(__file__).resolve().parents[1] / "data" / "patterns" / "Rw_1wtH2O_40sec.bg.chi"
    files = []
    for p in (12.5, 3.0, 7.0):  # the same pattern, three names, out of order
        f = tmp_path / f"scan_{p}GPa.chi"
        f.write_bytes(src.read_bytes())
        files.append(f)
    values = variables_from_names(files, r"_([0-9.]+)GPa")
    assert sorted(values.values()) == [3.0, 7.0, 12.5]
    table = tmp_path / "values.csv"
    table.write_text("file,pressure\n" + "".join(f"{f.name},{values[f]}\n" for f in files))
    assert variables_from_csv(files, table) == values
    s = measured_series(files, values, name="m", variable="pressure", wavelength=0.3344)
    assert s.variable.tolist() == [3.0, 7.0, 12.5] and (s.labels == -1).all()
    assert s.patterns.shape == (3, 12000) and np.isnan(s.fractions).all()
    write_series(tmp_path / "m.zarr", [s])
    assert read_series(tmp_path / "m.zarr", "m").attrs["sources"][0].endswith("scan_3.0GPa.chi")
    with pytest.raises(ConfigError, match="no match"):
        variables_from_names(files, r"_([0-9.]+)K")


def test_series_inputs_that_once_crashed_are_one_error(tmp_path, hostile_data):
    """Issue 30: `series --config` read YAML with plain safe_load (an alias bomb); `-o` an
    existing file and a binary --values CSV gave tracebacks."""
    from xrdsim_cli.main import cli

    cif = str(hostile_data / "cifs" / "good_nacl.cif")
    bomb = str(hostile_data / "configs" / "sim_alias_bomb.yaml")
    res = CliRunner().invoke(cli, ["series", "simulate", cif, "-o", str(tmp_path / "s.zarr"),
                                   "--config",
                                   bomb])
    assert res.exit_code == 3 and "YAML aliases" in res.output, res.output
    taken = tmp_path / "notes.txt"
    taken.write_text("mine")
    res = CliRunner().invoke(cli, ["series", "simulate", cif, "-o", str(taken), "--steps", "10"])
    assert res.exit_code == 3 and "not a series store" in res.output, res.output
    assert taken.read_text() == "mine"
    binary = tmp_path / "values.csv"
    binary.write_bytes(bytes(range(256)) * 4)
    scan = str(hostile_data / "patterns" / "good.xy")
    res = CliRunner().invoke(cli, ["series", "prepare", scan, "-o", str(tmp_path / "m.zarr"),
                                   "--name", "m", "--variable", "pressure", "--values",
                                   str(binary),
                                   "--wavelength", "CuKa1"])
    assert res.exit_code == 3 and "not a readable UTF-8 CSV" in res.output, res.output
