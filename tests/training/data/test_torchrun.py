"""Two processes under ``torchrun`` (gloo, CPU) train the same weights as one process.

``xrdsim train`` runs on the small real store as 2 DDP ranks of 8 patterns (global batch
16) for one epoch. The reference, in this process, replays the same steps on one model:
the same seed, each rank's own batches (``ZarrStreamDataset.iterate`` with that rank's
layout), the loss of the global batch as the mean of the two ranks' losses (DDP averages
the ranks' gradients), clipping and AdamW as the trainer does. Batch norm is the one
thing DDP does per rank (no SyncBatchNorm on CPUs), so the reference forwards each
rank's half on its own: that is a single process at the same global batch with
batch-norm statistics over each 8-pattern half (and running statistics from rank 0's
halves, the buffers DDP broadcasts from rank 0).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import training_store
from xrdsim_training.checkpoint import load_checkpoint
from xrdsim_training.config import ModelConfig, TrainConfig
from xrdsim_training.data.distributed import WorkerLayout
from xrdsim_training.data.zarr_stream import ZarrStreamDataset
from xrdsim_training.losses import supervised_loss
from xrdsim_training.models import XrdNet
from xrdsim_training.schedule import lr_factor

built_store = training_store.built_store

TINY = ["--width", "4", "--depth", "2", "--embed-dim", "16", "--projector-dim", "16"]
PER_RANK = 8
#: The ranks' gradients are all-reduced (sum, then / 2) where the reference differentiates
#: the mean of two losses: float32 sums in another order. 1e-5 absolute is 1 % of one AdamW
#: step (lr 1e-3); a rank on the wrong data or gradients not averaged move whole steps.
WEIGHT_ATOL = 1e-5
LABELS = ("crystal_system", "extinction_group", "space_group")


def _reference(store: Path, config: TrainConfig) -> tuple[dict[str, torch.Tensor], list[float]]:
    """The weights and per-step losses DDP with 2 ranks must produce (module docstring)."""
    torch.manual_seed(config.seed)
    model = XrdNet(config.model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr * lr_factor(config, 0),
                                  weight_decay=config.weight_decay)
    streams = []
    for rank in range(2):
        data = ZarrStreamDataset(store, "train", batch_size=PER_RANK, shuffle=True,
                                 buffer_size=config.shuffle_buffer, seed=config.seed,
                                 dtype="native")
        data.set_epoch(0)
        streams.append(list(data.iterate(WorkerLayout(rank=rank, world=2))))
    assert len(streams[0]) == len(streams[1])  # DDP's cap: every rank takes as many steps
    model.train()
    losses = []
    for halves in zip(*streams, strict=True):
        parts, kept = [], {}
        for rank, b in enumerate(halves):
            if rank:  # DDP broadcasts rank 0's buffers before each forward: the batch-norm
                # running statistics rank 0 saves follow rank 0's halves only
                kept = {k: v.clone() for k, v in model.named_buffers()}
            parts.append(supervised_loss(model(b["pattern"].float()), **{k: b[k] for k in LABELS},
                                         weights=config.loss_weights)["loss"])
        loss = (parts[0] + parts[1]) / 2
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        with torch.no_grad():  # after backward: autograd saved the buffers it read
            for k, v in model.named_buffers():
                v.copy_(kept[k])
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        losses.append(float(loss.detach()))
    return {k: v.detach().clone() for k, v in model.state_dict().items()}, losses


@pytest.mark.slow
def test_two_ranks_train_the_weights_of_one_process(built_store, tmp_path):
    run = tmp_path / "ddp"
    xrdsim = Path(sys.executable).with_name("xrdsim")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         str(xrdsim), "train", "--method", "supervised", "--data", str(built_store),
         "-o", str(run), "--epochs", "1", "--batch-size", str(PER_RANK), "--device", "cpu",
         "--val-max-patterns", "0", "-q", *TINY],
        capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    payload = load_checkpoint(run)
    config = payload["config"]
    assert config.model == ModelConfig(width=4, depth=2, embed_dim=16, projector_dim=16,
                                       n_extinction_groups=config.model.n_extinction_groups)
    weights, losses = _reference(built_store, config)
    history = payload["history"][0]
    assert history["steps"] == len(losses)
    assert history["patterns"] == 2 * PER_RANK * len(losses)
    # rank 0 logs the mean of its own losses; the reference's are the ranks' mean: the
    # same to the spread of the two ranks' losses (checked loosely), the weights exactly
    for name, value in payload["model"].items():
        if name.startswith("projector."):
            continue  # unused by the supervised method: never updated by either side
        if value.dtype.is_floating_point:
            torch.testing.assert_close(value, weights[name], atol=WEIGHT_ATOL, rtol=0,
                                       msg=f"{name} differs from the reference")
        else:
            assert torch.equal(value, weights[name]), name  # BN's num_batches_tracked
    # the weights moved: the comparison is not between two untrained models
    torch.manual_seed(config.seed)
    initial = XrdNet(config.model).state_dict()
    moved = max(float((weights[k] - initial[k]).abs().max()) for k in weights
                if weights[k].dtype.is_floating_point and not k.startswith("projector."))
    assert moved > 100 * WEIGHT_ATOL
