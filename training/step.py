"""The loss of one training step, for the phase of the method being trained.

Fine-tuning trains the whole network (encoder and heads), "using the same training
strategy as CNNaug" (das2025 §4.5). With ``pretrain_supervised_weight`` w > 0 the
pre-training is joint: ``L = L_contrastive + w·CE`` of both views' heads (labels used from
the first step; the representation is still pulled together across instrument settings).
The two views of a contrastive step go through the network as one batch of 2B patterns
(one forward per backward, as DDP requires), so batch-norm statistics are shared by both
views.
"""

from __future__ import annotations

import torch
from xrdsim_training.config import TrainConfig
from xrdsim_training.inference import autocast
from xrdsim_training.losses import barlow_twins_loss, nt_xent_loss, supervised_loss
from xrdsim_training.methods import Phase

#: the label keys of a batch (the supervised loss's targets)
_LABELS = ("crystal_system", "extinction_group", "space_group")


def step_loss(
    model: torch.nn.Module,
    batch: dict[str, torch.Tensor],
    *,
    phase: Phase,
    config: TrainConfig,
    device: torch.device,
    class_weights: dict[str, torch.Tensor] | None = None,
) -> dict[str, torch.Tensor]:
    """Loss of one batch: ``{"loss": scalar with grad, parts...: detached scalars}``.

    ``class_weights``: per-class weights of the supervised CE (trainer, from the
    training labels when ``config.class_balance`` > 0)."""
    x = batch["pattern"].to(device, non_blocking=True).float()
    if phase.objective == "supervised":
        with autocast(device, config.amp):
            logits = model(x)
        return _supervised(logits, batch, config=config, device=device,
                           class_weights=class_weights)
    xb = batch["pattern_b"].to(device, non_blocking=True).float()
    joint = config.pretrain_supervised_weight > 0
    with autocast(device, config.amp):
        # one forward over both views: DDP allows one forward per backward
        out = model(torch.cat([x, xb]), project="both" if joint else True)
    z_a, z_b = (out["z"] if joint else out).chunk(2)
    if phase.objective == "barlow_twins":
        loss = barlow_twins_loss(z_a.float(), z_b.float(), lambda_offdiag=config.barlow_lambda)
    else:
        loss = nt_xent_loss(z_a.float(), z_b.float(), temperature=config.temperature)
    if not joint:
        return {"loss": loss}
    # both views carry the structure's labels
    sup = _supervised(out, {k: batch[k].repeat(2) for k in _LABELS}, config=config,
                      device=device, class_weights=class_weights)
    return {"loss": loss + config.pretrain_supervised_weight * sup.pop("loss"),
            "contrastive": loss.detach(), **sup}


def _supervised(logits, labels, *, config: TrainConfig, device: torch.device,
                class_weights: dict[str, torch.Tensor] | None) -> dict[str, torch.Tensor]:
    return supervised_loss(
        logits,
        **{k: labels[k].to(device) for k in _LABELS},
        weights=config.loss_weights,
        class_weights=class_weights,
        label_smoothing=config.label_smoothing,
    )
