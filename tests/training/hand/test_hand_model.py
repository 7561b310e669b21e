"""HAND baseline: features, peak finder, training from a peak database, prediction, evaluation."""

from __future__ import annotations

import json
from itertools import product

import numpy as np
import pytest
from xrdsim_training.hand import (
    CU_KALPHA2_RATIO,
    HandModel,
    HandSettings,
    evaluate_hand,
    find_pattern_peaks,
    hand_features,
    predict_hand,
    train_hand,
    visible_lines,
)

from xrdsim.errors import ConfigError, TrainingError
from xrdsim.grid import grid_centers
from xrdsim.peaks.writer import PeakDatabaseWriter
from xrdsim.structures.crystal_systems import crystal_system_index
from xrdsim.structures.extinction_table import extinction_table

CU = 1.5418
HKL = np.array([h for h in product(range(0, 7), range(-6, 7), range(-6, 7))
                if any(h) and 0 < sum(abs(np.array(h))) <= 12])


def _inverse_d2(sg: int, a: float, b: float, c: float) -> tuple[np.ndarray, np.ndarray]:
    """1/d² of HKL for a cell of space group sg, and the reflections that are allowed."""
    h, k, l = HKL.T
    if sg in (221, 225, 229):
        inv = (h**2 + k**2 + l**2) / a**2
    elif sg == 123:
        inv = (h**2 + k**2) / a**2 + l**2 / c**2
    elif sg == 191:
        inv = 4 / 3 * (h**2 + h * k + k**2) / a**2 + l**2 / c**2
    else:  # 47, Pmmm
        inv = h**2 / a**2 + k**2 / b**2 + l**2 / c**2
    allowed = np.ones(len(HKL), dtype=bool)
    if sg == 225:  # F: h, k, l all even or all odd
        allowed = (h % 2 == k % 2) & (k % 2 == l % 2)
    elif sg == 229:  # I: h + k + l even
        allowed = (h + k + l) % 2 == 0
    return inv, allowed


def _lines(sg: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    a, b, c = rng.uniform(3.0, 9.0, 3)
    inv, allowed = _inverse_d2(sg, a, b, c)
    d = 1 / np.sqrt(inv[allowed])
    s = CU / (2 * d)
    d = np.unique(np.round(d[s < np.sin(np.radians(60))], 5))[::-1]  # 2θ < 120°, merged
    x = 2 * np.degrees(np.arcsin(CU / (2 * d)))
    y = rng.uniform(5, 100, x.size)
    return x, 100 * y / y.max()


SPACE_GROUPS = (221, 225, 229, 123, 191, 47)


@pytest.fixture(scope="module")
def peak_db(tmp_path_factory):
    """A small synthetic peak database: 40 random cells for each of 6 space groups."""
    path = tmp_path_factory.mktemp("hand") / "peaks.h5"
    rng = np.random.default_rng(7)
    table = extinction_table()
    with PeakDatabaseWriter(path, wavelength=CU, two_theta_range=(0, 120), symprec=0.1) as w:
        for i, sg in enumerate(np.repeat(SPACE_GROUPS, 40)):
            x, y = _lines(int(sg), rng)
            n = x.size
            peaks = type("P", (), dict(two_theta=x, intensity=y, intensity_raw=y, d=CU / (
                2 * np.sin(np.radians(x / 2))), hkl=np.zeros((n, 3), np.int32),
                multiplicity=np.ones(n, np.int32)))
            labels = dict(formula="X", elements="X", space_group=int(sg), space_group_symbol="",
                          crystal_system=crystal_system_index(int(sg)),
                          extinction_group=table.of_space_group(int(sg)), extinction_symbol="",
                          laue_class="", bravais_lattice="", a=1.0, b=1.0, c=1.0, alpha=90.0,
                          beta=90.0, gamma=90.0, declared_space_group=int(sg), num_sites=1)
            w.add_structure(structure_id=f"s{i}", source="synthetic", peaks=peaks, labels=labels)
    return path


def _grid_pattern(lines: np.ndarray, heights: np.ndarray, fwhm: float = 0.08) -> np.ndarray:
    x = grid_centers()
    out = np.zeros_like(x)
    for c, h in zip(lines, heights, strict=True):
        out += h * np.exp(-4 * np.log(2) * ((x - c) / fwhm) ** 2)
    return out / out.max()


def test_features_of_a_known_peak_list():
    peaks = [95.0, 20.0, 31.5, 12.25, 44.0, 50.0, 61.0, 70.0, 75.0, 80.0, 85.0, 88.0, 91.0]
    f = hand_features(peaks)
    np.testing.assert_array_equal(f[:10], [12.25, 20.0, 31.5, 44.0, 50.0, 61.0, 70.0, 75.0,
                                           80.0, 85.0])
    assert f[10] == 11  # 95° and 91° lie past 90°
    short = hand_features([30.0, 10.0])
    np.testing.assert_array_equal(short, [10.0, 30.0] + [0.0] * 8 + [2.0])


def test_peaks_at_the_start_of_the_scan_are_not_used():
    # a scan from 5°: a spurious maximum at 7° (beam knife, air scatter) would take the
    # first position and shift every other one
    lines = np.array([12.25, 20.0, 31.5, 44.0])
    clean = _grid_pattern(lines, np.array([1.0, 0.7, 0.5, 0.3])) + 0.01
    spurious = clean + _grid_pattern(np.array([7.0]), np.array([1.0])) * 0.4
    for p in (clean, spurious):
        p[grid_centers() < 5.0] = 0.0  # not measured
    default = HandModel(HandSettings())
    assert default.settings.scan_edge_deg == 3.5
    np.testing.assert_array_equal(default.features_of_patterns(spurious),
                                  default.features_of_patterns(clean))
    np.testing.assert_allclose(default.features_of_patterns(clean)[0, :4], lines, atol=0.01)
    no_edge = HandModel(HandSettings(scan_edge_deg=0.0))
    shifted = no_edge.features_of_patterns(spurious)[0]
    assert shifted[0] == pytest.approx(7.0, abs=0.01)
    np.testing.assert_allclose(shifted[1:5], lines, atol=0.01)
    # the edge follows the scan: the same 7° line in a scan from 2° is kept
    early = (_grid_pattern(lines, np.array([1.0, 0.7, 0.5, 0.3])) + 0.01
             + _grid_pattern(np.array([7.0]), np.array([1.0])) * 0.4)
    early[grid_centers() < 2.0] = 0.0
    assert default.features_of_patterns(early)[0, 0] == pytest.approx(7.0, abs=0.01)


def test_settings_saved_before_the_scan_edge_load_with_it():
    old = HandSettings().to_dict()
    del old["scan_edge_deg"]
    assert HandSettings.from_dict(old).scan_edge_deg == 3.5
    with pytest.raises(ConfigError, match="scan_edge_deg"):
        HandSettings(scan_edge_deg=-1.0)


def test_visible_lines_drop_weak_and_merge_close():
    x = np.array([10.0, 10.02, 20.0, 30.0])
    y = np.array([100.0, 50.0, 0.5, 40.0])
    lines = visible_lines(x, y, min_intensity=1.0, merge_deg=0.05)
    np.testing.assert_allclose(lines, [(10.0 * 100 + 10.02 * 50) / 150, 30.0])


def test_peak_finder_recovers_positions():
    lines = np.array([15.123, 27.456, 33.3, 47.891, 88.02])
    found = find_pattern_peaks(_grid_pattern(lines, np.array([1.0, 0.5, 0.3, 0.8, 0.2])))
    np.testing.assert_allclose(found, lines, atol=0.002)  # parabolic refinement, 0.01° bins
    assert find_pattern_peaks(np.zeros(12000)).size == 0


def test_peak_finder_noise_threshold_ignores_counting_noise():
    lines = np.array([20.0, 33.3, 47.9, 61.2])
    rng = np.random.default_rng(5)
    clean = _grid_pattern(lines, np.array([1.0, 0.6, 0.4, 0.2]))
    noisy = clean + rng.normal(0, 0.008, clean.size)  # noise spikes reach ~0.03 of the max
    s = HandSettings()
    assert find_pattern_peaks(noisy).size > 50  # 2 % of max alone: noise peaks pass
    found = find_pattern_peaks(noisy, smooth_deg=s.smooth_deg, noise_sigmas=s.noise_sigmas)
    np.testing.assert_allclose(found, lines, atol=0.01)


def test_peak_finder_drops_resolved_kalpha2():
    lines = np.array([30.0, 55.0, 80.0])
    ratio = CU_KALPHA2_RATIO
    k2 = 2 * np.degrees(np.arcsin(ratio * np.sin(np.radians(lines / 2))))
    assert np.all(k2 - lines > 0.07)  # resolved at these angles with 0.05° wide peaks
    pattern = _grid_pattern(np.concatenate([lines, k2]), np.array([1, 0.8, 0.6, 0.5, 0.4, 0.3]),
                            fwhm=0.05)
    np.testing.assert_allclose(find_pattern_peaks(pattern, kalpha2_ratio=ratio), lines,
                               atol=0.003)
    assert find_pattern_peaks(pattern).size == 6


def test_train_predict_save_load(peak_db, tmp_path):
    summary = train_hand(peak_db, tmp_path / "hand", seed=1, n_estimators=60,
                         test_fraction=0.2)
    assert summary["n_train"] == 192 and summary["n_test"] == 48
    test = summary["test"]
    # held-out cells: crystal system well above chance (1/4 for 4 systems here)
    assert test["accuracy"]["crystal_system"] > 0.6
    assert set(test["per_crystal_system"]) <= {"orthorhombic", "tetragonal", "hexagonal",
                                               "cubic"}
    assert json.loads((tmp_path / "hand" / "hand_metrics.json").read_text())["n_test"] == 48

    from xrdsim_training.hand import database_features

    from xrdsim.peaks.database import PeakDatabase

    model = HandModel.load(tmp_path / "hand")
    with PeakDatabase(peak_db) as db:
        features = database_features(db, model.settings)
        labels = {t: np.asarray(db.labels[t]) for t in ("crystal_system", "space_group")}
    pred = model.predict(features)
    # its own training set (80 %) is predicted almost perfectly
    assert np.mean(pred["space_group"] == labels["space_group"]) > 0.9
    assert np.mean(pred["crystal_system"] == labels["crystal_system"]) > 0.9


def test_predict_and_evaluate_on_pattern_files(peak_db, tmp_path):
    train_hand(peak_db, tmp_path / "m", seed=0, n_estimators=60, test_fraction=0.0)
    from xrdsim.peaks.database import PeakDatabase

    folder = tmp_path / "measured"
    folder.mkdir()
    rows = ["file,space_group"]
    with PeakDatabase(peak_db) as db:
        for i in (0, 45, 90, 130, 170, 230):  # one training cell of each space group
            peaks, labels = db.record(i)
            keep = peaks.intensity >= 1.0
            y = 50 + 1000 * _grid_pattern(peaks.two_theta[keep], peaks.intensity[keep])
            x = grid_centers()
            sel = (x > 5) & (x < 110)
            np.savetxt(folder / f"p{i}.xy", np.column_stack([x[sel], y[sel]]), fmt="%.4f",
                       header="wavelength = 1.5418")
            rows.append(f"p{i}.xy,{labels['space_group']}")
    (folder / "bad.xy").write_text("no data\n")
    rows.append("bad.xy,225")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")

    results = predict_hand(tmp_path / "m", [folder / "p0.xy", folder / "bad.xy"])
    assert results[0]["crystal_system"]["name"] == "cubic"
    assert len(results[0]["space_group"]["top_k"]) == 3
    assert "no numeric data" in results[1]["error"]

    report = evaluate_hand(tmp_path / "m", folder, tmp_path / "labels.csv")
    assert report["n"] == 6 and report["errors"][0][0] == "bad.xy"
    assert report["accuracy"]["crystal_system"] >= 5 / 6
    row = report["files"][0]
    assert row["true"]["space_group"] == 221 and row["true"]["crystal_system"] == 6
    # xrdsim predict's function takes a HAND run too: the same predictions, in its shape
    from xrdsim_training.measured.predict import accuracy_summary, predict_files

    records = predict_files(tmp_path / "m", [folder], labels=tmp_path / "labels.csv")
    by_file = {r["file"]: r for r in records}
    assert sorted(by_file) == sorted(p.name for p in folder.iterdir())
    assert "no numeric data" in by_file["bad.xy"]["error"]
    p0 = by_file["p0.xy"]
    for task in ("crystal_system", "extinction_group", "space_group"):
        assert [[c["label"], c["probability"]] for c in p0[task]["top_k"]] == \
            results[0][task]["top_k"]
    assert p0["crystal_system"]["name"] == "cubic" and p0["n_peaks"] == results[0]["n_peaks"]
    assert p0["space_group"]["symbol"] == results[0]["space_group"]["names"][0].split()[1]
    summary = accuracy_summary(records)
    assert (summary["n"], summary["n_failed"]) == (6, 1)
    assert summary["accuracy"] == report["accuracy"]


def test_bad_settings_and_missing_model(tmp_path):
    with pytest.raises(ConfigError, match="prominence"):
        HandSettings(prominence=0.0)
    with pytest.raises(TrainingError, match="holds no HAND model"):
        HandModel.load(tmp_path)


def test_cli_hand_train_and_predict(peak_db, tmp_path, test_data):
    from click.testing import CliRunner
    from xrdsim_cli.main import cli

    runner = CliRunner()
    model = tmp_path / "cli_model"
    result = runner.invoke(cli, ["hand", "train", str(peak_db), str(model), "--n-estimators",
                                 "20", "--test-fraction", "0.1"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["n_test"] == 24
    # `xrdsim hand` is the old spelling: it still runs, after one warning line
    assert result.stderr == ("warning: `xrdsim hand` is deprecated and goes in the next "
                             "release; use `xrdsim train --method hand / predict --model RUN "
                             "FILES / evaluate RUN --measured FILES --labels CSV`\n")
    (tmp_path / "empty.xy").write_text("")
    files = [str(test_data / "patterns/feooh.xrdml"), str(tmp_path / "empty.xy")]
    result = runner.invoke(cli, ["hand", "predict", str(model), *files, "--json"])
    assert result.exit_code == 1  # one file unreadable
    rows = json.loads(result.stdout)
    assert rows[0]["n_peaks"] >= 5 and "crystal_system" in rows[0]
    assert rows[1]["error"]
    # the new spelling: xrdsim predict takes the HAND run, same predictions, no warning
    result = runner.invoke(cli, ["predict", "--model", str(model), *files, "--json",
                                    "-"])
    assert result.exit_code == 1 and "deprecated" not in result.stderr
    new = json.loads(result.stdout)["files"]
    assert new[0]["n_peaks"] == rows[0]["n_peaks"] and new[1]["error"] == rows[1]["error"]
    assert new[0]["space_group"]["prediction"] == rows[0]["space_group"]["prediction"]
    result = runner.invoke(cli, ["predict", "--model", str(model), files[0]])
    assert result.exit_code == 0 and f"[{rows[0]['n_peaks']} peaks]" in result.stdout


def test_train_cli_routes_method_hand(peak_db, tmp_path):
    """``xrdsim train --method hand`` runs train_hand; neural flags are refused, not ignored."""
    from click.testing import CliRunner
    from xrdsim_cli.main import cli

    runner = CliRunner()
    run = tmp_path / "hand_run"
    result = runner.invoke(cli, ["train", "--method", "hand", "--peaks", str(peak_db),
                                 "-o", str(run), "--seed", "1"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    # same split and seed as the library call: 240 structures, 10 % held out
    assert summary["n_train"] + summary["n_test"] == 240 and summary["n_test"] == 24
    assert (run / "hand_metrics.json").is_file()
    refused = runner.invoke(cli, ["train", "--method", "hand", "--peaks", str(peak_db),
                                  "-o", str(tmp_path / "r2"), "--epochs", "3"])
    assert refused.exit_code == 3 and "--epochs" in refused.stderr
    missing = runner.invoke(cli, ["train", "--method", "hand", "-o", str(tmp_path / "r3")])
    assert missing.exit_code == 3 and "--peaks" in missing.stderr
