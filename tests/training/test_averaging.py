"""The moving average of the weights (``--ema``): a NumPy reference, and runs that use it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import training_store
from xrdsim_training import trainer
from xrdsim_training.averaging import WARMUP, WeightAverage
from xrdsim_training.checkpoint import load_checkpoint, load_run
from xrdsim_training.config import ModelConfig, TrainConfig

from xrdsim.errors import ConfigError

built_store = training_store.built_store
one_torch_thread = training_store.one_torch_thread
TINY = ModelConfig(width=4, depth=2, embed_dim=16, projector_dim=32, pool_length=4)


def test_average_follows_the_numpy_reference_with_its_warm_up():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 3), torch.nn.BatchNorm1d(3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    average = WeightAverage(model, 0.8)
    reference = {k: v.detach().numpy().astype(np.float64).copy()
                 for k, v in model.state_dict().items() if v.is_floating_point()}
    for t in range(25):
        model.train()
        loss = model(torch.randn(8, 5)).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        average.update(model)
        d = min(0.8, (1 + t) / (WARMUP + t))  # 0.1, 0.18, ... then 0.8 from t = 26/… on
        for k, v in model.state_dict().items():
            if v.is_floating_point():
                reference[k] = d * reference[k] + (1 - d) * v.detach().numpy()
    assert average.steps == 25
    state = average.module.state_dict()
    for k, v in reference.items():
        np.testing.assert_allclose(state[k].numpy(), v, rtol=1e-5, atol=1e-6, err_msg=k)
    # integer buffers (the batch-norm step counter) are the trained model's, not averaged
    assert int(state["1.num_batches_tracked"]) == 25
    # the average is a separate module: no gradients, the trained weights untouched
    assert not any(p.requires_grad for p in average.module.parameters())
    assert not torch.equal(state["0.weight"], model.state_dict()["0.weight"])


@pytest.mark.parametrize("decay", [0.0, 1.0, -0.1])
def test_decay_outside_the_open_interval_is_refused(decay):
    with pytest.raises(ValueError, match="decay"):
        WeightAverage(torch.nn.Linear(2, 2), decay)
    if decay:
        with pytest.raises(ConfigError, match="ema must be in"):
            TrainConfig(method="supervised", ema=decay)


@pytest.mark.usefixtures("one_torch_thread")
def test_a_run_with_ema_predicts_with_the_average_and_resumes_both(built_store, tmp_path,
                                                                   monkeypatch):
    config = TrainConfig(method="supervised", epochs=2, batch_size=16, lr=2e-3,
                         shuffle_buffer=48, model=TINY, val_max_patterns=16, ema=0.9)
    trainer.train(config, run_dir=tmp_path / "a", data=built_store, progress=False)
    saved = load_checkpoint(tmp_path / "a")
    steps = sum(row["steps"] for row in saved["history"])
    assert saved["ema_steps"] == steps > 0
    averaged, trained = saved["model"], saved["trained_model"]
    assert set(averaged) == set(trained)
    assert any(not torch.equal(averaged[k], trained[k]) for k in averaged)
    network, _ = load_run(tmp_path / "a", device="cpu")
    for k, v in network.state_dict().items():  # prediction loads the average
        assert torch.equal(v, load_checkpoint(tmp_path / "a" / "best.pt")["model"][k])

    real_save = trainer.save_checkpoint

    def crash_after_epoch_1(run_dir, **kw):
        real_save(run_dir, **kw)
        if kw["epoch"] == 1:
            raise KeyboardInterrupt("simulated kill after epoch 1")

    monkeypatch.setattr(trainer, "save_checkpoint", crash_after_epoch_1)
    with pytest.raises(KeyboardInterrupt):
        trainer.train(config, run_dir=tmp_path / "b", data=built_store, progress=False)
    monkeypatch.setattr(trainer, "save_checkpoint", real_save)
    trainer.train(config, run_dir=tmp_path / "b", data=built_store, resume=True, progress=False)
    resumed = load_checkpoint(tmp_path / "b")
    assert resumed["ema_steps"] == saved["ema_steps"]
    for key in ("model", "trained_model"):
        for name, value in saved[key].items():
            torch.testing.assert_close(resumed[key][name], value, rtol=1e-5, atol=1e-6,
                                       msg=f"{key}.{name}")
