"""Temperature scaling: fitted on one split, it lowers the calibration error on another."""

from __future__ import annotations

import json

import numpy as np
import pytest
import training_store
from xrdsim_training.evaluation.temperature import (
    apply_temperature,
    calibrate,
    expected_calibration_error,
    fit_temperature,
)
from xrdsim_training.inference import Predictions

built_store = training_store.built_store  # the session's small real store (fixture)


def _overconfident(n: int, seed: int, sharpen: float = 3.0) -> Predictions:
    """Labels drawn from softmax(z); the 'model' reports softmax(sharpen·z): over-confident
    by exactly T = sharpen, for every task."""
    rng = np.random.default_rng(seed)
    probs, labels = {}, {}
    for key, task, c in (("cs_prob", "crystal_system", 7), ("eg_prob", "extinction_group", 11),
                         ("sg_prob", "space_group", 230)):
        z = rng.normal(scale=1.5, size=(n, c))
        true_p = apply_temperature(np.exp(z), 1.0)
        y = np.array([rng.choice(c, p=p) for p in true_p])
        probs[key] = apply_temperature(np.exp(z), 1.0 / sharpen)
        labels[task] = y + (1 if task == "space_group" else 0)
    for k in ("structure_index", "view"):
        labels[k] = np.zeros(n, dtype=np.int64)
    return Predictions(sg_routed=labels["space_group"], labels=labels, **probs)


def test_temperature_recovers_the_known_overconfidence():
    pred = _overconfident(4000, seed=0)
    t = fit_temperature(pred.cs_prob, pred.labels["crystal_system"])
    assert t == pytest.approx(3.0, rel=0.1)


def test_calibration_lowers_ece_on_a_held_out_split():
    report = calibrate(_overconfident(3000, seed=1), _overconfident(3000, seed=2))
    for task in ("crystal_system", "extinction_group", "space_group"):
        r = report[task]
        assert r["ece_after"] < 0.5 * r["ece_before"], (task, r)
        assert r["nll_after"] < r["nll_before"]


def test_temperature_keeps_the_ranking():
    pred = _overconfident(200, seed=3)
    scaled = apply_temperature(pred.sg_prob, 2.5)
    assert (scaled.argmax(1) == pred.sg_prob.argmax(1)).all()
    assert np.allclose(scaled.sum(1), 1.0)


def test_ece_of_a_perfectly_calibrated_coin_is_small():
    rng = np.random.default_rng(4)
    p = rng.uniform(0.5, 1.0, size=20000)
    y = (rng.random(20000) >= p).astype(np.int64)  # class 0 with probability p
    prob = np.stack([p, 1 - p], axis=1)
    assert expected_calibration_error(prob, y) < 0.02


@pytest.fixture(scope="module")
def run_dir(built_store, tmp_path_factory):
    """A tiny supervised run on the small real store (as in
    tests/training/measured/test_predict.py)."""
    import torch
    from xrdsim_training import trainer
    from xrdsim_training.config import ModelConfig, TrainConfig

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    run = tmp_path_factory.mktemp("calibrate") / "run"
    model = ModelConfig(width=4, depth=2, embed_dim=16, projector_dim=32, pool_length=4)
    config = TrainConfig(method="supervised", epochs=2, batch_size=16, lr=5e-3,
                         shuffle_buffer=48, model=model, val_max_patterns=0, device="cpu")
    trainer.train(config, run_dir=run, data=built_store, progress=False)
    torch.set_num_threads(before)
    return run


def test_run_calibration_is_used_by_predict(run_dir, built_store, shared_data):
    from xrdsim_training.evaluation.temperature import CALIBRATION_FILE, calibrate_run
    from xrdsim_training.measured.predict import predict_files

    report = calibrate_run(run_dir, data=built_store, device="cpu")
    assert (run_dir / CALIBRATION_FILE).is_file() and report["n_fit"] and report["n_test"]
    t = json.loads((run_dir / CALIBRATION_FILE).read_text())["crystal_system"]["temperature"]
    files = [shared_data / "patterns" / "autoxrd_examples" / "MnO.xy"]
    (calibrated,) = predict_files(run_dir, files, wavelength="CuKa", top_k=7, device="cpu")
    (run_dir / CALIBRATION_FILE).unlink()
    (raw,) = predict_files(run_dir, files, wavelength="CuKa", top_k=7, device="cpu")
    assert calibrated["calibrated"] is True and raw["calibrated"] is False

    def full(rec):  # all 7 CS probabilities by label
        return np.array([[c["probability"] for c in sorted(rec["crystal_system"]["top_k"],
                                                            key=lambda c: c["label"])]])

    assert np.allclose(full(calibrated), apply_temperature(full(raw), t), atol=1e-6)
    assert calibrated["unsure"] == (calibrated["crystal_system"]["probability"] < 0.5)
