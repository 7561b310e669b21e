"""End-to-end training on a small real store: learning, resume, refusals, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import training_store
import zarr
from click.testing import CliRunner
from training_store import copy_store
from xrdsim_cli.main import cli
from xrdsim_training import trainer
from xrdsim_training.config import ModelConfig, TrainConfig
from xrdsim_training.evaluation.evaluate import evaluate_run

from xrdsim.errors import ConfigError, TrainingError

built_store = training_store.built_store  # the session's small real store (fixture)
one_torch_thread = training_store.one_torch_thread
pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = ModelConfig(width=8, depth=3, embed_dim=64, projector_dim=64, pool_length=8)
TINY = ModelConfig(width=4, depth=2, embed_dim=16, projector_dim=32, pool_length=4)
#: Losses of a resumed run equal the uninterrupted run's up to float32 summation order.
RESUME_RTOL = 1e-5


def _config(**kw) -> TrainConfig:
    base = dict(method="supervised", epochs=3, batch_size=16, lr=2e-3, shuffle_buffer=48,
                model=TINY, val_max_patterns=16)
    return TrainConfig(**{**base, **kw})


def test_supervised_run_learns_its_training_structures(built_store, tmp_path):
    config = _config(epochs=12, model=SMALL)
    result = trainer.train(config, run_dir=tmp_path / "run", data=built_store, progress=False)
    assert [row["epoch"] for row in result.history] == list(range(1, 13))
    assert result.history[-1]["loss"] < 0.5 * result.history[0]["loss"]
    for name in ("checkpoint.pt", "config.json", "metrics.csv", "metrics.json"):
        assert (tmp_path / "run" / name).is_file()
    assert (tmp_path / "run" / "best.pt").is_file()  # the best validation epoch
    report = evaluate_run(tmp_path / "run", data=built_store, splits=("train",),
                          block_split="train", block_structures=10, block_views=4,
                          checkpoint="last")
    scores = report["splits"]["train"]
    labels = zarr.open_group(str(built_store), mode="r")["train"]["crystal_system"][:]
    majority = np.bincount(labels).max() / labels.size  # ≈ 0.14 for this balanced store
    # the default train preset (mixtures, preferred orientation, Poisson counts, scan ends)
    # makes memorising slower than the old one: 12 epochs reach ~0.5, chance is ~0.14
    assert scores["cs_accuracy"] > 3 * majority
    assert scores["sg_accuracy"] > 0.4
    assert scores["cs_top3"] >= scores["cs_accuracy"]
    assert 0.0 <= scores["sg_consistent_with_cs"] <= 1.0
    assert np.sum(scores["cs_confusion"]) == scores["n_patterns"] == labels.size
    block = report["block_similarity"]
    assert (block["n_structures"], block["n_views"]) == (10, 4)
    assert block["mean_within"] > block["mean_between"]
    assert -1 <= block["silhouette_crystal_system"] <= 1
    # views of one structure are closer to each other than to other structures on average;
    # with the default train preset's mixtures and preferred orientation 12 small epochs no
    # longer make them separate clusters (silhouette about -0.1 here), so only the range
    assert -1 <= block["silhouette_structure"] <= 1
    saved = json.loads((tmp_path / "run" / "eval.json").read_text())
    assert saved["splits"]["train"]["cs_accuracy"] == scores["cs_accuracy"]


def test_resumed_run_continues_the_same_curve(built_store, tmp_path, monkeypatch):
    config = _config(epochs=4)
    straight = trainer.train(config, run_dir=tmp_path / "a", data=built_store, progress=False)

    real_save = trainer.save_checkpoint

    def crash_after_epoch_2(run_dir, **kw):
        real_save(run_dir, **kw)
        if kw["epoch"] == 2:
            raise KeyboardInterrupt("simulated kill after epoch 2")

    monkeypatch.setattr(trainer, "save_checkpoint", crash_after_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        trainer.train(config, run_dir=tmp_path / "b", data=built_store, progress=False)
    monkeypatch.setattr(trainer, "save_checkpoint", real_save)
    resumed = trainer.train(config, run_dir=tmp_path / "b", data=built_store, resume=True,
                            progress=False)
    assert [r["epoch"] for r in resumed.history] == [1, 2, 3, 4]
    for a, b in zip(straight.history, resumed.history, strict=True):
        for key in ("loss", "loss_cs", "loss_eg", "loss_sg", "lr", "val_cs_accuracy"):
            assert b[key] == pytest.approx(a[key], rel=RESUME_RTOL), (a["epoch"], key)


def test_runs_refuse_mismatched_checkpoints_and_settings(built_store, tmp_path):
    run = tmp_path / "run"
    trainer.train(_config(epochs=1), run_dir=run, data=built_store, progress=False)
    with pytest.raises(TrainingError, match="already holds a run"):
        trainer.train(_config(epochs=2), run_dir=run, data=built_store, progress=False)
    wider = ModelConfig(**{**TINY.to_dict(), "width": 6})
    with pytest.raises(TrainingError, match="another architecture.*width"):
        trainer.train(_config(epochs=2, model=wider), run_dir=run, data=built_store,
                      resume=True, progress=False)
    with pytest.raises(TrainingError, match="other settings.*lr"):
        trainer.train(_config(epochs=2, lr=1e-2), run_dir=run, data=built_store, resume=True,
                      progress=False)
    with pytest.raises(TrainingError, match="already completed 1 of 1"):
        trainer.train(_config(epochs=1), run_dir=run, data=built_store, resume=True,
                      progress=False)
    with pytest.raises(TrainingError, match="no checkpoint"):
        trainer.train(_config(), run_dir=tmp_path / "new", data=built_store, resume=True,
                      progress=False)


def test_label_count_mismatch_and_missing_sources_are_refused(built_store, tmp_path):
    k = zarr.open_group(str(built_store), mode="r").attrs["n_extinction_groups"]
    wrong = ModelConfig(**{**TINY.to_dict(), "n_extinction_groups": k - 1})
    with pytest.raises(TrainingError, match=f"EG head has {k - 1} classes.*{k} extinction"):
        trainer.train(_config(model=wrong), run_dir=tmp_path / "r", data=built_store,
                      progress=False)
    with pytest.raises(TrainingError, match="--peaks"):
        trainer.train(_config(method="supervised-aug"), run_dir=tmp_path / "r", data=built_store,
                      progress=False)
    with pytest.raises(ConfigError, match="pretrain_epochs must be ≥ 1"):
        _config(method="barlow", pretrain_epochs=0)


def test_nan_loss_stops_the_run_with_a_clear_error(built_store, tmp_path):
    store = copy_store(built_store, tmp_path)
    patterns = zarr.open_group(str(store), mode="r+")["train"]["patterns"]
    block = patterns[:]
    block[:] = np.nan
    block[:, 0] = 0.0  # not all fill value: zarr keeps the shard files (none goes missing)
    patterns[:] = block
    with pytest.raises(TrainingError, match="loss became nan at epoch 1, step 1"):
        trainer.train(_config(), run_dir=tmp_path / "run", data=store, progress=False)


def test_barlow_pretrains_on_two_views_then_fine_tunes(built_store, tmp_path):
    config = _config(method="barlow", pretrain_epochs=1, epochs=1, steps_per_epoch=2,
                     batch_size=8, val_max_patterns=0)
    result = trainer.train(config, run_dir=tmp_path / "run", data=built_store,
                           peaks=str(built_store) + ".peaks.h5", progress=False)
    phases = [(r["phase"], r["steps"]) for r in result.history]
    assert phases == [("pretrain", 2), ("finetune", 2)]
    assert np.isfinite(result.history[0]["loss"]) and "loss_cs" not in result.history[0]
    assert "loss_cs" in result.history[1]


def test_cli_train_resume_and_evaluate(built_store, tmp_path):
    run = tmp_path / "run"
    args = ["train", "--method", "supervised", "--data", str(built_store), "-o", str(run),
            "--epochs", "1", "--batch-size", "16", "--width", "4", "--depth", "2",
            "--embed-dim", "16", "--projector-dim", "32", "-q"]
    runner = CliRunner()
    first = runner.invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["epochs_completed"] == 1
    # no view flag given: the run sees the default view (5-90 deg, SNIP), as predict does
    model = json.loads((run / "config.json").read_text())["model"]
    assert (model["view_two_theta"], model["view_background"]) == ([5.0, 90.0], "snip")
    again = runner.invoke(cli, args[:7] + ["--epochs", "2", "--resume", "-q"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["last_epoch"]["epoch"] == 2
    refused = runner.invoke(cli, args[:7] + ["--width", "8", "--epochs", "3", "--resume"])
    assert refused.exit_code == 3 and "another architecture" in refused.output
    out = tmp_path / "eval.json"
    scored = runner.invoke(cli, ["evaluate", str(run), "--data", str(built_store), "-o", str(out),
                                 "--block-structures", "4", "--block-views", "2"])
    assert scored.exit_code == 0, scored.output
    report = json.loads(out.read_text())
    assert set(report["splits"]) == {"equivariance", "invariance", "held_out_invariance"}
    assert report["block_similarity"]["split"] == "invariance"
    rep = report["representation"]
    assert set(rep["splits"]) == {"equivariance", "invariance"}
    assert -1 <= rep["splits"]["invariance"]["silhouette_crystal_system"] <= 1
    assert (run / "tsne_crystal_system.png").is_file()
    assert (run / "calibration.json").is_file()
    assert report["calibration"]["crystal_system"]["temperature"] > 0
    missing = runner.invoke(cli, ["evaluate", str(run), "--data", str(built_store),
                                  "--split", "nope"])
    assert missing.exit_code == 3 and "no split 'nope'" in missing.output
    # more block views than the split holds: refused (not silently clamped) ...
    views = int(np.bincount(zarr.open_group(str(built_store), mode="r")["invariance"]
                            ["structure_index"][:]).max())
    too_many = runner.invoke(cli, ["evaluate", str(run), "--data", str(built_store),
                                   "--block-views", str(views + 1)])
    assert too_many.exit_code == 3 and f"at most {views} views" in too_many.output
    # ... and by default the block matrix takes every view the split has
    default = runner.invoke(cli, ["evaluate", str(run), "--data", str(built_store), "-o",
                                  str(out), "--block-structures", "4"])
    assert default.exit_code == 0, default.output
    assert json.loads(out.read_text())["block_similarity"]["n_views"] == views
    # a store with one view per structure: the default block matrix is skipped with a
    # note (the accuracies stand); a block split asked for by name is refused
    from xrdsim.dataset.build import build_dataset

    one_view = tmp_path / "one_view.zarr"
    build_dataset([str(built_store) + ".peaks.h5"], one_view, views_train=1, views_test=1,
                  test_fraction=0.25, workers=1, manifest_dir=None, progress=False)
    skipped = runner.invoke(cli, ["evaluate", str(run), "--data", str(one_view), "-o", str(out)])
    assert skipped.exit_code == 0, skipped.output
    report = json.loads(out.read_text())
    assert "block_similarity" not in report
    assert "--views-test 2" in report["skipped"]["block_similarity"]
    assert "note:" in skipped.stderr and report["splits"]["invariance"]["n_patterns"] > 0
    named = runner.invoke(cli, ["evaluate", str(run), "--data", str(one_view),
                                "--block-split", "invariance"])
    assert named.exit_code == 3 and "needs ≥ 2 structures" in named.output


def test_metrics_on_hand_made_predictions():
    from xrdsim_training.evaluation.metrics import classification_metrics, cosine_block_matrix
    from xrdsim_training.inference import Predictions

    cs_prob = np.array([[0.1, 0.6, 0.3, 0, 0, 0, 0], [0.5, 0.2, 0.3, 0, 0, 0, 0]])
    sg_prob = np.zeros((2, 230))
    sg_prob[0, [3, 20, 1]] = [0.5, 0.3, 0.2]  # SG 4 (monoclinic) first
    sg_prob[1, [15, 0, 2]] = [0.5, 0.3, 0.2]  # SG 16 (orthorhombic) first, CS head says triclinic
    pred = Predictions(
        cs_prob=cs_prob, eg_prob=np.array([[0.7, 0.3], [0.4, 0.6]]), sg_prob=sg_prob,
        sg_routed=np.array([4, 1]),
        labels={"crystal_system": np.array([1, 1]), "extinction_group": np.array([0, 0]),
                "space_group": np.array([4, 3]), "structure_index": np.array([0, 1]),
                "view": np.array([0, 0])},
    )
    m = classification_metrics(pred)
    assert m["cs_accuracy"] == 0.5 and m["cs_top3"] == 1.0
    assert m["eg_accuracy"] == 0.5
    assert m["sg_accuracy"] == 0.5 and m["sg_accuracy_joint"] == 0.5
    assert m["sg_top3"] == 1.0  # SG 3 is third for the second pattern
    assert m["sg_consistent_with_cs"] == 0.5
    emb = np.array([[1.0, 0], [1, 0.1], [0, 1], [0.1, 1]])
    s, summary = cosine_block_matrix(emb, np.array([1, 0, 1, 0]))
    within = np.mean([emb[0] @ emb[2] / np.linalg.norm(emb[0]) / np.linalg.norm(emb[2]),
                      emb[1] @ emb[3] / np.linalg.norm(emb[1]) / np.linalg.norm(emb[3])])
    assert summary["mean_within"] == pytest.approx(within)
    assert s.shape == (4, 4) and np.allclose(np.diag(s), 1)


def test_early_stopping_follows_the_best_validation_epoch():
    from xrdsim_training.trainer import _best_epoch, _stop_early

    history = [{"epoch": 1, "phase": "pretrain"}]
    history += [{"epoch": e, "val_score": s} for e, s in ((2, 0.3), (3, 0.5), (4, 0.5),
                                                          (5, 0.4))]
    assert _best_epoch(history) == 3  # first of ties
    assert _stop_early(TrainConfig(patience=2), history=history)
    assert not _stop_early(TrainConfig(patience=3), history=history)
    assert not _stop_early(TrainConfig(patience=0), history=history)
    assert _best_epoch(history[:1]) is None
