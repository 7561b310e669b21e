"""Too few contrastive steps and a collapsed representation are said, not silent (issue 31,
item 13): on constructed embeddings, and on real tiny Barlow Twins runs of the small store."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import training_store
from click.testing import CliRunner
from xrdsim_cli.main import cli
from xrdsim_training import trainer
from xrdsim_training.config import ModelConfig, TrainConfig
from xrdsim_training.evaluation.collapse import (
    COLLAPSED_DIM_REL_STD,
    MIN_CONTRASTIVE_STEPS,
    representation_spread,
    too_few_steps,
)
from xrdsim_training.evaluation.evaluate import evaluate_run

built_store = training_store.built_store  # the session's small real store (fixture)
one_torch_thread = training_store.one_torch_thread
pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = ModelConfig(width=4, depth=2, embed_dim=16, projector_dim=32, pool_length=4)
TINY_FLAGS = ["--width", "4", "--depth", "2", "--embed-dim", "16", "--projector-dim", "32"]


def test_spread_of_constructed_embeddings():
    rng = np.random.default_rng(0)
    healthy = rng.normal(size=(200, 16))
    spread = representation_spread(healthy)
    assert spread["collapsed_dims"] == 0 and not spread["collapsed"]
    assert spread["median_relative_std"] == pytest.approx(1.0, abs=0.1)  # N(0, 1): std ≈ RMS
    # every pattern at the same point, up to noise far below 1 % of the RMS
    same = 3.0 + 1e-4 * rng.normal(size=(200, 16))
    assert representation_spread(same)["collapsed_dims"] == 16
    assert representation_spread(same)["collapsed"]
    # half of the dimensions constant: "most" starts at half
    half = healthy.copy()
    half[:, :8] = 2.0
    assert representation_spread(half)["collapsed_dims"] == 8
    assert representation_spread(half)["collapsed"]
    half[:, 7] = healthy[:, 7]
    assert not representation_spread(half)["collapsed"]
    # a dimension right above the threshold is not collapsed
    edge = np.zeros((2, 1)) + [[1.0], [1.0 + 4 * COLLAPSED_DIM_REL_STD]]
    assert representation_spread(edge)["collapsed_dims"] == 0
    with pytest.raises(ValueError, match="n >= 2"):
        representation_spread(healthy[:1])


def test_too_few_steps_concerns_contrastive_epochs_only():
    assert "1 optimiser step(s)" in too_few_steps(1, objective="barlow_twins")
    assert too_few_steps(1, objective="nt_xent")
    assert too_few_steps(MIN_CONTRASTIVE_STEPS, objective="barlow_twins") == ""
    assert too_few_steps(1, objective="supervised") == ""


def test_a_one_step_barlow_run_collapses_and_is_flagged(built_store, tmp_path):
    run = tmp_path / "run"
    result = CliRunner().invoke(cli, [
        "train", "--method", "barlow", "--data", str(built_store),
        "--peaks", str(built_store) + ".peaks.h5", "-o", str(run), "--pretrain-epochs", "2",
        "--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "8",
        "--val-max-patterns", "32", "--device", "cpu", "-q", *TINY_FLAGS])
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    steps = [s for s in lines if "barlow_twins epochs have 1 optimiser step(s)" in s]
    assert len(steps) == 1 and steps[0].startswith("warning: ")
    collapsed = [s for s in lines if "representation h has collapsed" in s]
    assert len(collapsed) == 1 and collapsed[0].startswith("warning: ")
    printed = json.loads(result.stdout)
    assert printed["representation"]["collapsed"] and len(printed["warnings"]) == 2
    rows = json.loads((run / "metrics.json").read_text())
    assert [r["phase"] for r in rows if "warning" in r] == ["pretrain", "pretrain"]
    saved = json.loads((run / "representation.json").read_text())
    assert saved["collapsed"] and saved["collapsed_dims"] > saved["dims"] / 2
    report = evaluate_run(run, data=built_store, splits=("equivariance", "invariance"),
                          block_structures=4, calibrate=False, tsne_points=0)
    assert report["splits"]["invariance"]["representation_spread"]["collapsed"]
    assert len(report["warnings"]) == 2 and "split 'invariance'" in report["warnings"][1]


def test_a_ten_step_barlow_run_is_not_flagged(built_store, tmp_path):
    config = TrainConfig(method="barlow", pretrain_epochs=2, epochs=1,
                         steps_per_epoch=MIN_CONTRASTIVE_STEPS, batch_size=8, lr=2e-3,
                         model=TINY, val_max_patterns=32, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # neither warning may be raised
        result = trainer.train(config, run_dir=tmp_path / "run", data=built_store,
                               peaks=str(built_store) + ".peaks.h5", progress=False)
    assert result.warnings == () and not result.representation["collapsed"]
    assert result.representation["collapsed_dims"] == 0
    assert all("warning" not in row for row in result.history)
    report = evaluate_run(tmp_path / "run", data=built_store, splits=("invariance",),
                          block_structures=4, calibrate=False, tsne_points=0)
    assert "warnings" not in report
    assert not report["splits"]["invariance"]["representation_spread"]["collapsed"]
