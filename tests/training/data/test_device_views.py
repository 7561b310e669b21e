"""``--simulate-on device``: views made by torch_sim on the training device are the loader's.

On the CPU (no GPU in CI) the device path runs torch_sim in the training process; its
batches must be the numba loader's batches (same structures, views and labels; patterns
within 1e-5 of each pattern's maximum), and a run trained that way must work end to end.
"""

from __future__ import annotations

import numpy as np
import pytest
import training_store
from xrdsim_training import trainer
from xrdsim_training.config import ModelConfig, TrainConfig
from xrdsim_training.data.device_on_the_fly import DeviceOnTheFlyDataset
from xrdsim_training.data.distributed import WorkerLayout
from xrdsim_training.data.on_the_fly import OnTheFlyDataset
from xrdsim_training.data.sources import train_dataset
from xrdsim_training.methods import phase_of

from xrdsim.errors import ConfigError

built_store = training_store.built_store
one_torch_thread = training_store.one_torch_thread
pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = ModelConfig(width=4, depth=2, embed_dim=16, projector_dim=32, pool_length=4)


def _peaks(store):
    return store.with_name(store.name + ".peaks.h5")


@pytest.mark.parametrize("views", [1, 2])
def test_device_batches_equal_the_loader_batches(built_store, views):
    kw = dict(sim_config="train", batch_size=6, views=views, steps_per_epoch=3, seed=4)
    loader = OnTheFlyDataset(_peaks(built_store), **kw)
    device = DeviceOnTheFlyDataset(_peaks(built_store), device="cpu", **kw)
    for ds in (loader, device):
        ds.set_epoch(2)
    pairs = list(zip(loader.iterate(WorkerLayout()), device.iterate(WorkerLayout()),
                     strict=True))
    assert len(pairs) == 3
    for a, b in pairs:
        assert sorted(a) == sorted(b)
        for name in a:
            x, y = a[name].numpy(), b[name].numpy()
            if name.startswith("pattern"):
                scale = np.maximum(x.max(axis=1, keepdims=True), 1e-30)
                assert float((np.abs(x - y) / scale).max()) <= 1e-5, name
                assert x.max() > 0
            else:
                np.testing.assert_array_equal(x, y, err_msg=name)


def test_a_run_trains_with_views_simulated_on_the_device(built_store, tmp_path):
    config = TrainConfig(method="barlow", pretrain_epochs=1, epochs=1, batch_size=8,
                         steps_per_epoch=2, model=TINY, val_max_patterns=16,
                         simulate_on="device", device="cpu")
    pretrain = phase_of(config.method, 0, pretrain_epochs=config.pretrain_epochs)
    assert isinstance(train_dataset(config, pretrain, data=built_store,
                                    peaks=_peaks(built_store), structures=None, device="cpu"),
                      DeviceOnTheFlyDataset)
    result = trainer.train(config, run_dir=tmp_path / "run", data=built_store,
                           peaks=_peaks(built_store), progress=False)
    assert [row["epoch"] for row in result.history] == [1, 2]
    assert all(np.isfinite(row["loss"]) for row in result.history)
    assert (tmp_path / "run" / "best.pt").is_file()


def test_simulate_on_is_validated():
    with pytest.raises(ConfigError, match="simulate_on must be one of"):
        TrainConfig(simulate_on="gpu")
    with pytest.raises(ConfigError, match="workers must be 0"):
        TrainConfig(simulate_on="device", workers=2)
