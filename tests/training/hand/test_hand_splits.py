"""HAND on the simulated splits of a store (``xrdsim evaluate HAND_RUN --data store``).

The split accuracies must equal those of ``predict_hand`` called on the same rows
directly: with ``background=None`` on the raw (N, 12000) rows (the array path of
``predict_hand``, no preparation at all), with SNIP on rows whose background the test
subtracts itself with ``estimate_background``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import training_store
import zarr
from xrdsim_training.evaluation.evaluate import evaluate_run
from xrdsim_training.hand import TRAIN_IDS_FILE, predict_hand, train_hand

from xrdsim.errors import ConfigError
from xrdsim.grid import grid_centers
from xrdsim.measured.background import estimate_background
from xrdsim.structures.crystal_systems import crystal_system_index

built_store = training_store.built_store  # the session's small real store (fixture)
TASKS = {"cs": "crystal_system", "eg": "extinction_group", "sg": "space_group"}
SPLITS = ("equivariance", "invariance")


@pytest.fixture(scope="module")
def hand_run(built_store, tmp_path_factory):
    """A HAND run trained on the store's own peak database (``xrdsim train --method hand``)."""
    run = tmp_path_factory.mktemp("hand_splits") / "hand"
    train_hand(f"{built_store}.peaks.h5", run, n_estimators=20, test_fraction=0.0)
    return run


def _rows(store, split):
    group = zarr.open_group(str(store), mode="r")[split]
    return (np.asarray(group["patterns"][:], dtype=np.float64),
            {t: np.asarray(group[t][:], dtype=np.int64) for t in TASKS.values()})


def _direct_scores(run, patterns, labels):
    """Accuracies and top-3 of predict_hand records, computed here from scratch."""
    records = predict_hand(run, patterns, top_k=5)
    out = {}
    for short, task in TASKS.items():
        pred = np.array([r[task]["prediction"] for r in records])
        out[f"{short}_accuracy"] = float(np.mean(pred == labels[task]))
        out[f"{short}_top3"] = float(np.mean([
            any(c == labels[task][i] and p > 0 for c, p in r[task]["top_k"][:3])
            for i, r in enumerate(records)]))
    sg = np.array([r["space_group"]["prediction"] for r in records])
    cs = np.array([r["crystal_system"]["prediction"] for r in records])
    out["sg_consistent_with_cs"] = float(np.mean(crystal_system_index(sg) == cs))
    return out


def _snip(pattern):
    """The background step done by hand: SNIP on the non-zero span, then max 1."""
    y = pattern.copy()
    lo, hi = np.flatnonzero(y)[[0, -1]]
    y[lo:hi + 1] -= estimate_background(grid_centers()[lo:hi + 1], y[lo:hi + 1])
    return y / y.max()


@pytest.mark.parametrize("background", [None, "snip"])
def test_hand_split_accuracies_equal_predict_hand_on_the_rows(built_store, hand_run, tmp_path,
                                                               background):
    report = evaluate_run(hand_run, data=built_store, splits=SPLITS, background=background,
                          output=tmp_path / "eval.json")
    assert report["method"] == "hand" and report["background"] == background
    assert json.loads((tmp_path / "eval.json").read_text())["splits"] == report["splits"]
    for split in SPLITS:
        patterns, labels = _rows(built_store, split)
        if background is not None:
            patterns = np.array([_snip(p) for p in patterns])
        expected = _direct_scores(hand_run, patterns, labels)
        got = report["splits"][split]
        assert got["n_patterns"] == len(patterns) and got["n_failed"] == 0
        assert {k: got[k] for k in expected} == expected
        assert np.sum(got["cs_confusion"]) == len(patterns)
        assert np.trace(got["cs_confusion"]) == round(got["cs_accuracy"] * len(patterns))


def test_hand_evaluate_cli_skips_network_analyses_with_a_note(built_store, hand_run, tmp_path):
    from click.testing import CliRunner
    from xrdsim_cli.main import cli

    out = tmp_path / "eval.json"
    result = CliRunner().invoke(cli, ["evaluate", str(hand_run), "--data", str(built_store),
                                      "--max-patterns", "5", "--tsne-points", "50",
                                      "--block-views", "2", "-o", str(out)])
    assert result.exit_code == 0, result.output
    note = [line for line in result.stderr.splitlines() if line.startswith("note:")]
    assert len(note) == 1 and "block_similarity" in note[0] and "representation" in note[0] \
        and "calibration" in note[0]
    printed = json.loads(result.stdout)
    report = json.loads(out.read_text())
    assert set(printed["skipped"]) == {"block_similarity", "representation", "calibration"}
    assert "block_similarity" not in report and "calibration" not in report
    assert set(report["splits"]) == {"equivariance", "invariance", "held_out_invariance"}
    assert all(s["n_patterns"] == 5 for s in report["splits"].values())


def test_hand_fitted_on_held_out_structures_is_flagged(built_store, hand_run, tmp_path):
    """The module's run was fitted on the whole peak database, test structures included."""
    report = evaluate_run(hand_run, data=built_store, max_patterns=4,
                          output=tmp_path / "eval.json")
    splits = report["splits"]
    for split in ("equivariance", "held_out_invariance"):
        n = splits[split]["n_structures"]
        assert splits[split]["structures_seen_in_training"] == n > 0
        assert sum(w.startswith(f"{split}: HAND was fitted on {n} of its {n}")
                   for w in report["warnings"]) == 1
    assert splits["invariance"]["structures_seen_in_training"] == splits["invariance"][
        "n_structures"]
    assert len(report["warnings"]) == 2  # train structures seen in training are no warning
    (hand_run / TRAIN_IDS_FILE).rename(tmp_path / "ids.txt")  # a run from before the file
    try:
        old = evaluate_run(hand_run, data=built_store, max_patterns=2,
                           output=tmp_path / "old.json")
    finally:
        (tmp_path / "ids.txt").rename(hand_run / TRAIN_IDS_FILE)
    assert old["splits"]["equivariance"]["structures_seen_in_training"] is None
    assert len(old["warnings"]) == 1 and "unknown" in old["warnings"][0]


def test_train_hand_with_data_fits_the_store_train_structures_only(built_store, tmp_path):
    from click.testing import CliRunner
    from xrdsim_cli.main import cli

    run = tmp_path / "hand"
    result = CliRunner().invoke(cli, ["train", "--method", "hand", "--peaks",
                                      f"{built_store}.peaks.h5", "--data", str(built_store),
                                      "-o", str(run)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    root = zarr.open_group(str(built_store), mode="r")["structures"]
    train_ids = {i for i, code in zip(root["structure_id"][:].tolist(), root["split"][:],
                                      strict=True) if code == 0}
    fitted = set((run / TRAIN_IDS_FILE).read_text().split())
    assert summary["n_train"] + summary["n_test"] == len(train_ids) == 21
    assert fitted < train_ids and len(fitted) == summary["n_train"]
    report = evaluate_run(run, data=built_store, max_patterns=4, output=tmp_path / "e.json")
    assert report["warnings"] == []
    assert report["splits"]["equivariance"]["structures_seen_in_training"] == 0
    assert report["splits"]["invariance"]["structures_seen_in_training"] > 0


def test_background_is_refused_for_a_neural_run(built_store, tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ConfigError, match="HAND runs only"):
        evaluate_run(tmp_path, data=built_store, background="snip")
