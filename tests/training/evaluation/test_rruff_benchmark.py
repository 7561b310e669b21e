"""The real-data benchmark: ``xrdsim evaluate RUN --measured FILES --labels CSV``.

The metrics are checked against direct NumPy counts on hand-made predictions; a tiny
neural run and a tiny HAND run are then scored end to end on real rruff_dev files.
"""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest
import training_store
from click.testing import CliRunner
from xrdsim_cli.main import cli
from xrdsim_training import trainer
from xrdsim_training.config import ModelConfig, TrainConfig
from xrdsim_training.evaluation.measured import measured_report, records_to_arrays
from xrdsim_training.hand import train_hand

from xrdsim.structures.crystal_systems import crystal_system_index
from xrdsim.structures.extinction_table import extinction_table

built_store = training_store.built_store
one_torch_thread = training_store.one_torch_thread

#: rruff_dev files scored end to end (two per crystal system present in the set).
N_FILES = 12


def _record(sg_true: int, cs_probs: list[float], sg_pred: int) -> dict:
    table = extinction_table()
    cs_top = [{"label": i, "probability": p} for i, p in enumerate(cs_probs)]
    eg = table.of_space_group(sg_pred)
    return {"file": f"f{sg_true}_{sg_pred}.xy",
            "true": {"crystal_system": int(crystal_system_index(sg_true)),
                     "extinction_group": table.of_space_group(sg_true), "space_group": sg_true},
            "crystal_system": {"prediction": int(np.argmax(cs_probs)), "top_k": cs_top},
            "extinction_group": {"prediction": eg, "top_k": [{"label": eg, "probability": 1.0}]},
            "space_group": {"prediction": sg_pred,
                            "top_k": [{"label": sg_pred, "probability": 0.6},
                                      {"label": 225, "probability": 0.3},
                                      {"label": 2, "probability": 0.1}]}}


def test_report_matches_direct_counts():
    # true CS: cubic (225) ×3, triclinic (2) ×1; predictions: 2 of 3 cubic right, triclinic right
    cubic = [0, 0, 0, 0, 0, 0, 1.0]
    tric = [1.0, 0, 0, 0, 0, 0, 0]
    mono = [0, 0.9, 0, 0, 0, 0, 0.1]
    records = [_record(225, cubic, 225), _record(225, cubic, 221), _record(225, mono, 14),
               _record(2, tric, 2)]
    report = measured_report(records_to_arrays(records), rounds=200)
    cs = report["tasks"]["crystal_system"]
    assert report["n"] == 4
    assert cs["top1"]["accuracy"] == pytest.approx(3 / 4)
    # balanced: cubic recall 2/3, triclinic 1/1
    assert cs["top1"]["balanced"] == pytest.approx((2 / 3 + 1) / 2)
    # the monoclinic call has cubic second: top-3 finds all four
    assert cs["top3"]["accuracy"] == pytest.approx(1.0)
    sg = report["tasks"]["space_group"]
    assert sg["top1"]["accuracy"] == pytest.approx(2 / 4)          # 225 and 2 right
    assert sg["top3"]["accuracy"] == pytest.approx(4 / 4)          # 225 / 2 always listed
    assert cs["majority"] == {"label": 6, "accuracy": 0.75}
    for task in report["tasks"].values():
        for k in ("top1", "top3"):
            lo, hi = task[k]["accuracy_95"]
            assert 0.0 <= lo <= task[k]["accuracy"] <= hi <= 1.0
    assert report["crystal_system_confusion"]["rows_true_columns_predicted"][6] == \
        [0, 1, 0, 0, 0, 0, 2]
    assert report["per_crystal_system"]["cubic"]["crystal_system"] == pytest.approx(2 / 3)
    # ECE: confidences 1, 1, 0.9 (wrong), 1 → |1−1|·3/4 + |0−0.9|·1/4
    assert cs["ece"] == pytest.approx(0.9 / 4)


def test_bootstrap_interval_width_follows_n():
    rng = np.random.default_rng(1)
    widths = []
    for n in (50, 450):
        records = [_record(225 if rng.random() < 0.5 else 2,
                           [0.5, 0, 0, 0, 0, 0, 0.5], 225) for _ in range(n)]
        cs = measured_report(records_to_arrays(records), rounds=400)["tasks"]["crystal_system"]
        lo, hi = cs["top1"]["accuracy_95"]
        widths.append(hi - lo)
    # binomial: ±1.96·√(p(1−p)/n) → ≈ 0.28 at n = 50, ≈ 0.09 at n = 450
    assert widths[0] == pytest.approx(0.28, abs=0.06)
    assert widths[1] == pytest.approx(0.092, abs=0.02)


@pytest.fixture(scope="module")
def rruff_subset(shared_data, tmp_path_factory):
    """(folder, labels CSV) of two rruff_dev files per crystal system."""
    source = shared_data / "patterns" / "rruff_dev"
    with open(source / "labels.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    picked, seen = [], {}
    for row in rows:
        cs = int(crystal_system_index(int(row["space_group"])))
        if seen.get(cs, 0) < 2 and len(picked) < N_FILES:
            picked.append(row)
            seen[cs] = seen.get(cs, 0) + 1
    folder = tmp_path_factory.mktemp("rruff")
    for row in picked:
        shutil.copy(source / row["file"], folder / row["file"])
    labels = folder / "labels.csv"
    with open(labels, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["file", "space_group"])
        writer.writeheader()
        writer.writerows(picked)
    return folder, labels


def _check_cli_report(run, folder, labels, tmp_path):
    out, png = tmp_path / "report.json", tmp_path / "confusion.png"
    result = CliRunner().invoke(cli, ["evaluate", str(run), "--measured", str(folder),
                                      "--labels", str(labels), "--wavelength", "CuKa",
                                      "-o", str(out),
                                      "--png", str(png), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["n"] == N_FILES and report["errors"] == []
    for task in report["tasks"].values():
        assert task["top1"]["accuracy"] <= task["top3"]["accuracy"]
        assert 0.0 <= task["ece"] <= 1.0
    assert sum(sum(r) for r in
               report["crystal_system_confusion"]["rows_true_columns_predicted"]) == N_FILES
    assert png.stat().st_size > 10_000
    printed = json.loads(result.stdout)
    assert printed["n"] == N_FILES
    return report


@pytest.mark.usefixtures("one_torch_thread")
def test_neural_run_scored_on_rruff_files(built_store, rruff_subset, tmp_path):
    run = tmp_path / "run"
    config = TrainConfig(method="supervised", epochs=1, batch_size=16, shuffle_buffer=32,
                         val_max_patterns=0, device="cpu",
                         model=ModelConfig(width=4, depth=2, embed_dim=16, projector_dim=16,
                                           pool_length=4))
    trainer.train(config, run_dir=run, data=built_store, progress=False)
    report = _check_cli_report(run, *rruff_subset, tmp_path)
    # a network lists every class: the 3 most probable space groups are 3 distinct groups
    assert report["tasks"]["space_group"]["top3"]["accuracy"] >= \
        report["tasks"]["space_group"]["top1"]["accuracy"]


def test_hand_run_scored_on_rruff_files(built_store, rruff_subset, tmp_path):
    run = tmp_path / "hand"
    train_hand(str(built_store) + ".peaks.h5", run, seed=0)
    _check_cli_report(run, *rruff_subset, tmp_path)


def test_measured_needs_labels_and_excludes_data(built_store, rruff_subset, tmp_path):
    folder, labels = rruff_subset
    both = CliRunner().invoke(cli, ["evaluate", str(tmp_path), "--data", str(built_store),
                                    "--measured", str(folder), "--labels", str(labels)])
    assert both.exit_code == 2 and "either --data" in both.output
    unlabelled = CliRunner().invoke(cli, ["evaluate", str(tmp_path), "--measured", str(folder)])
    assert unlabelled.exit_code == 2 and "--labels" in unlabelled.output
