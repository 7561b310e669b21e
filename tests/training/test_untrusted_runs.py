"""Run directories from someone else: opening them runs none of their code (defect 19)."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch
from xrdsim_training.checkpoint import (
    CHECKPOINT_FORMAT,
    load_checkpoint,
    restore_rng_states,
    rng_states,
    save_checkpoint,
)
from xrdsim_training.config import ModelConfig, TrainConfig
from xrdsim_training.hand import MODEL_FILE, SETTINGS_FILE, HandModel
from xrdsim_training.hand.forest import ForestArrays

from xrdsim.errors import TrainingError


class _Payload:
    """Pickles as a call that writes ``marker``: what a hostile run directory would hold."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('pwned')",))


def test_crafted_checkpoint_runs_nothing(tmp_path):
    marker = tmp_path / "executed"
    run = tmp_path / "run"
    run.mkdir()
    torch.save({"format": CHECKPOINT_FORMAT, "epoch": 1, "meta": _Payload(marker)},
               run / "checkpoint.pt")
    with pytest.raises(TrainingError, match="nothing in it was run"):
        load_checkpoint(run)
    assert not marker.exists()


def test_crafted_checkpoint_through_predict_and_evaluate(tmp_path):
    from click.testing import CliRunner
    from xrdsim_cli.main import cli

    marker = tmp_path / "executed"
    run = tmp_path / "run"
    run.mkdir()
    torch.save(_Payload(marker), run / "checkpoint.pt")
    (tmp_path / "p.xy").write_text("10 1\n20 2\n30 1\n")
    for args in (["predict", "--model", str(run), str(tmp_path / "p.xy")],
                 ["evaluate", str(run), "--data", str(tmp_path / "nowhere.zarr")]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code != 0
        assert not marker.exists(), args


def test_checkpoint_round_trip_restores_every_rng(tmp_path):
    config = TrainConfig(model=ModelConfig(width=4, depth=2, embed_dim=16, projector_dim=32,
                                           pool_length=4))
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.randn(2, 3)).sum().backward()
    opt.step()
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 1.0)
    torch.manual_seed(5)
    np.random.seed(6)  # noqa: NPY002 - the legacy global stream is what is saved
    random.seed(7)
    save_checkpoint(tmp_path, model=model, optimizer=opt, scheduler=sched, epoch=2,
                    config=config, history=[{"epoch": 1, "loss": np.float32(0.5)}])
    expected = (torch.rand(3), np.random.rand(3), random.random())  # noqa: NPY002
    payload = load_checkpoint(tmp_path)
    assert payload["epoch"] == 2 and payload["config"] == config
    assert payload["history"] == [{"epoch": 1, "loss": 0.5}]
    assert torch.equal(payload["model"]["weight"], model.weight.detach())
    restore_rng_states(payload["rng"])
    got = (torch.rand(3), np.random.rand(3), random.random())  # noqa: NPY002
    assert torch.equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])
    assert got[2] == expected[2]
    assert set(rng_states()) == {"torch", "numpy", "python", "cuda"}


def test_pickled_hand_model_is_never_loaded(tmp_path):
    import pickle

    marker = tmp_path / "executed"
    (tmp_path / SETTINGS_FILE).write_text(json.dumps({"format": "xrdsim-hand/1"}))
    (tmp_path / "hand_model.joblib").write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(TrainingError, match="never loaded"):
        HandModel.load(tmp_path)
    # the same pickle under the new name: numpy refuses object arrays, nothing runs
    (tmp_path / SETTINGS_FILE).write_text(json.dumps(
        {"format": "xrdsim-hand/2", "settings": {}, "tasks": []}))
    np.savez(tmp_path / "evil.npz", **{"crystal_system.classes": np.array([_Payload(marker)],
                                                                         dtype=object)})
    (tmp_path / "evil.npz").rename(tmp_path / MODEL_FILE)
    with pytest.raises(TrainingError, match="pickled models are never loaded"):
        HandModel.load(tmp_path)
    assert not marker.exists()


def test_forest_arrays_predict_as_scikit_learn():
    from sklearn.ensemble import ExtraTreesClassifier

    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 11))
    y = (3 * x[:, 0] + x[:, 1]).astype(int) % 7
    clf = ExtraTreesClassifier(n_estimators=30, min_samples_leaf=2, random_state=0).fit(x, y)
    forest = ForestArrays.from_sklearn(clf)
    test = rng.normal(size=(200, 11))
    np.testing.assert_allclose(forest.predict_proba(test), clf.predict_proba(test), atol=1e-12)
    assert np.array_equal(forest.classes, clf.classes_)


def test_malformed_trees_are_refused(tmp_path):
    from sklearn.ensemble import ExtraTreesClassifier
    from xrdsim_training.hand.forest import load_forests, save_forests

    clf = ExtraTreesClassifier(n_estimators=2, random_state=0).fit(np.eye(4), [0, 1, 0, 1])
    forest = ForestArrays.from_sklearn(clf)
    loop = forest.left.copy()
    loop[forest.left >= 0] = 0  # every child points back at the root: an endless walk
    save_forests(tmp_path / "m.npz", {"cs": ForestArrays(**{**forest.__dict__, "left": loop})})
    with pytest.raises(TrainingError, match="malformed"):
        load_forests(tmp_path / "m.npz", ("cs",))


def test_refusal_says_why_without_advice_to_disable_safety(tmp_path):
    """Issue 30: the message quoted torch's advice to set weights_only=False."""
    torch.save({"format": CHECKPOINT_FORMAT, "meta": _Payload(tmp_path / "x")},
               tmp_path / "checkpoint.pt")
    with pytest.raises(TrainingError) as info:
        load_checkpoint(tmp_path)
    message = str(info.value)
    assert "weights_only=False" not in message and "weights_only" not in message.replace(
        "xrdsim loads only", "")
    assert "could run code" in message and "exec" in message and "\n" not in message


def _saved(tmp_path):
    config = TrainConfig(model=ModelConfig(width=4, depth=2, embed_dim=16, projector_dim=32,
                                           pool_length=4))
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 1.0)
    save_checkpoint(tmp_path, model=model, optimizer=opt, scheduler=sched, epoch=1,
                    config=config, history=[])
    return torch.load(tmp_path / "checkpoint.pt", weights_only=True)


@pytest.mark.parametrize("damage", ["rng_numpy", "rng_python", "nested", "scalar", "torch_rng"])
def test_damaged_checkpoint_metadata_is_one_error(tmp_path, damage):
    payload = _saved(tmp_path)
    meta = json.loads(payload["meta"])
    if damage == "rng_numpy":
        meta["rng_numpy"] = ["MT19937", [-1] * 3, 0, 0, 0.0]
    elif damage == "rng_python":
        meta["rng_python"] = [3, ["a"], None]
    elif damage == "nested":
        payload["meta"] = "[" * 5000 + "]" * 5000
    elif damage == "scalar":
        payload["meta"] = "5"
    else:
        payload["rng_torch"] = torch.zeros(3, dtype=torch.float64)
    if damage not in ("nested", "scalar"):
        payload["meta"] = json.dumps(meta)
    torch.save(payload, tmp_path / "checkpoint.pt")
    with pytest.raises(TrainingError, match="damaged|lacks its metadata") as info:
        load_checkpoint(tmp_path)
    assert "\n" not in str(info.value)


def test_weights_that_do_not_fit_the_architecture_are_refused(tmp_path):
    from xrdsim_training.checkpoint import load_weights

    _saved(tmp_path)
    loaded = load_checkpoint(tmp_path)
    from xrdsim_training.models import XrdNet

    model = XrdNet(loaded["config"].model)
    loaded["model"] = {"weight": torch.zeros(2, 3)}  # the Linear it saved, not this network
    with pytest.raises(TrainingError, match="do not fit the architecture"):
        load_weights(model, loaded, source="x")


@pytest.mark.parametrize("value", ["-1", "1e-300", "0", "NaN", "\"abc\"", "100", "true"])
def test_calibration_temperatures_out_of_range_are_refused(tmp_path, value):
    """Issue 30: T = −1 reversed the ranking and was still called calibrated; 1e-300 printed
    p = 1.000, 0 or NaN printed nan."""
    from xrdsim_training.evaluation.temperature import (
        CALIBRATION_FILE,
        TASK_PROBS,
        load_temperatures,
    )

    good = {task: {"temperature": 1.5} for task in TASK_PROBS}
    (tmp_path / CALIBRATION_FILE).write_text(json.dumps(good))
    assert load_temperatures(tmp_path) == dict.fromkeys(TASK_PROBS, 1.5)
    good[sorted(TASK_PROBS)[0]] = {"temperature": "placeholder"}
    text = json.dumps(good).replace('"placeholder"', value)
    (tmp_path / CALIBRATION_FILE).write_text(text)
    with pytest.raises(TrainingError, match=r"temperature must be a number in \[0\.05, 20\]"):
        load_temperatures(tmp_path)


def test_calibration_file_that_is_a_fifo_is_refused_unread(tmp_path):
    import os

    from xrdsim_training.evaluation.temperature import CALIBRATION_FILE, load_temperatures

    os.mkfifo(tmp_path / CALIBRATION_FILE)
    with pytest.raises(TrainingError, match="not a regular file"):
        load_temperatures(tmp_path)


def _hand_dir(tmp_path, forests=None, settings=None):
    """A HAND model folder of tiny real forests (or the ``forests`` given)."""
    from sklearn.ensemble import ExtraTreesClassifier
    from xrdsim_training.hand.forest import save_forests

    if forests is None:
        x = np.random.default_rng(0).normal(size=(40, 11))
        forests = {t: ForestArrays.from_sklearn(ExtraTreesClassifier(
            n_estimators=2, random_state=0).fit(x, np.arange(40) % 3 + (1 if t == "space_group"
                                                                       else 0)))
            for t in ("crystal_system", "extinction_group", "space_group")}
    save_forests(tmp_path / MODEL_FILE, forests)
    (tmp_path / SETTINGS_FILE).write_text(json.dumps(
        {"format": "xrdsim-hand/2", "settings": settings or {}, "tasks": []}))
    return forests


def test_sound_hand_folder_loads(tmp_path):
    _hand_dir(tmp_path)
    assert set(HandModel.load(tmp_path).classifiers) == {"crystal_system", "extinction_group",
                                                         "space_group"}


@pytest.mark.parametrize(("damage", "match"), [
    ("truncated", "not a HAND model of plain arrays"),
    ("negative_class", "class labels must increase within \\[0, 6\\]"),
    ("class_7", "class labels must increase within \\[0, 6\\]"),
    ("no_settings", "HAND settings must be a mapping"),
    ("settings_1e308", "invalid HAND settings count_max_deg"),
    ("settings_string", "expected a finite whole number"),
    ("hand_json_list", "format"),
    ("chain", "deeper than 500 levels"),
])
def test_damaged_hand_folders_are_one_error(tmp_path, damage, match):
    """Issue 30: 13 tracebacks from truncated npz, out-of-range classes, bad hand.json and
    settings of 1e308; a negative class printed "cubic"; a chain-shaped tree cost 30 s a
    pattern."""
    forests = _hand_dir(tmp_path)
    cs = forests["crystal_system"]
    if damage == "truncated":
        data = (tmp_path / MODEL_FILE).read_bytes()
        (tmp_path / MODEL_FILE).write_bytes(data[: len(data) // 2])
    elif damage in ("negative_class", "class_7"):
        classes = cs.classes + (-1 if damage == "negative_class" else 5)
        _hand_dir(tmp_path, {**forests, "crystal_system": ForestArrays(
            **{**cs.__dict__, "classes": classes})})
    elif damage == "no_settings":
        (tmp_path / SETTINGS_FILE).write_text(json.dumps({"format": "xrdsim-hand/2"}))
    elif damage == "settings_1e308":
        _hand_dir(tmp_path, forests, {"count_max_deg": 1e308})
    elif damage == "settings_string":
        _hand_dir(tmp_path, forests, {"n_positions": "10"})
    elif damage == "hand_json_list":
        (tmp_path / SETTINGS_FILE).write_text("[1, 2]")
    else:  # one tree of 600 nodes, each inner node's left child a leaf: a chain
        m = 1201
        left = np.full(m, -1)
        right = np.full(m, -1)
        inner = np.arange(0, m - 1, 2)
        left[inner], right[inner] = inner + 1, inner + 2
        chain = ForestArrays(classes=cs.classes, roots=np.array([0]), left=left, right=right,
                             feature=np.zeros(m, dtype=np.int64), threshold=np.zeros(m),
                             nan_left=np.zeros(m, dtype=bool),
                             value=np.ones((m, cs.classes.size)))
        _hand_dir(tmp_path, {**forests, "crystal_system": chain})
    with pytest.raises(TrainingError, match=match) as info:
        HandModel.load(tmp_path)
    assert "\n" not in str(info.value)


def test_hand_arrays_declaring_gigabytes_are_refused_before_reading(tmp_path):
    """A small file whose .npy header asks for 80 GB: refused from the header alone."""
    import io
    import zipfile

    from numpy.lib import format as npy

    _hand_dir(tmp_path)
    header = io.BytesIO()
    npy.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False,
                                        "shape": (10**10,)})
    with zipfile.ZipFile(tmp_path / MODEL_FILE, "a") as z:
        z.writestr("space_group.extra.npy", header.getvalue() + bytes(64))
    with pytest.raises(TrainingError, match="GiB once read"):
        HandModel.load(tmp_path)
