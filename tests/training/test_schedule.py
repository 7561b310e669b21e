"""Learning-rate schedule per phase, on resume and for fine-tuning (issue 15, items 1, 5, 6)."""

from __future__ import annotations

import pytest
import training_store
from xrdsim_training import trainer
from xrdsim_training.config import DEFAULT_PRETRAIN_EPOCHS, TrainConfig, config_from_options
from xrdsim_training.schedule import lr_factor

built_store = training_store.built_store  # the session's small real store (fixture)
one_torch_thread = training_store.one_torch_thread
pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = {"width": 4, "depth": 2, "embed_dim": 16, "projector_dim": 32, "pool_length": 4}
LR = 2e-3
#: Losses of a resumed run equal the uninterrupted run's up to float32 summation order.
RESUME_RTOL = 1e-5


def _config(**kw) -> TrainConfig:
    base = dict(method="supervised", epochs=3, batch_size=16, lr=LR, shuffle_buffer=48,
                model=TINY, val_max_patterns=16)
    return TrainConfig.from_dict({**base, **kw})


def test_item01_contrastive_methods_have_a_default_pretraining():
    for method in ("barlow", "simclr"):
        assert TrainConfig(method=method).pretrain_epochs == DEFAULT_PRETRAIN_EPOCHS
        assert config_from_options({"method": method}).pretrain_epochs == DEFAULT_PRETRAIN_EPOCHS
    assert TrainConfig(method="supervised").pretrain_epochs == 0
    assert config_from_options({"method": "barlow", "pretrain_epochs": 2}).pretrain_epochs == 2


def test_item05_resume_with_more_epochs_keeps_the_lr_schedule(built_store, tmp_path):
    straight = trainer.train(_config(epochs=3), run_dir=tmp_path / "a", data=built_store,
                             progress=False)
    trainer.train(_config(epochs=1), run_dir=tmp_path / "b", data=built_store, progress=False)
    resumed = trainer.train(_config(epochs=3), run_dir=tmp_path / "b", data=built_store,
                            resume=True, progress=False)
    lrs = [r["lr"] for r in resumed.history]
    assert lrs == pytest.approx([LR, LR * 0.75, LR * 0.25])  # ½(1 + cos(π e / 3))
    for a, b in zip(straight.history, resumed.history, strict=True):
        for key in ("lr", "loss", "loss_cs", "val_cs_accuracy"):
            assert b[key] == pytest.approx(a[key], rel=RESUME_RTOL), (a["epoch"], key)


def test_item06_fine_tuning_restarts_the_schedule_like_cnnaug(built_store, tmp_path):
    peaks = str(built_store) + ".peaks.h5"
    small = dict(steps_per_epoch=2, batch_size=8, val_max_patterns=0)
    barlow = trainer.train(_config(method="barlow", pretrain_epochs=2, epochs=2, **small),
                           run_dir=tmp_path / "b", data=built_store, peaks=peaks,
                           progress=False)
    aug = _config(method="supervised-aug", epochs=2, **small)
    assert [r["phase"] for r in barlow.history] == ["pretrain"] * 2 + ["finetune"] * 2
    assert [r["lr"] for r in barlow.history] == pytest.approx([LR, LR / 2, LR, LR / 2])
    assert [r["lr"] for r in barlow.history[2:]] == pytest.approx(
        [LR * lr_factor(aug, e) for e in range(2)])
