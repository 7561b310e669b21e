"""Exponential moving average of the weights: the network that validation, ``best.pt`` and
prediction use when ``TrainConfig.ema`` is set.

After every optimiser step ``t`` (counted from 0 over the whole run), every floating-point
tensor of the state dict — parameters and batch-norm running statistics — moves toward
the trained network's: ``θ̄ ← θ̄ + (1 − d_t)(θ − θ̄)`` with ``d_t = min(d, (1 + t)/(10 + t))``,
so the first steps, where a fixed ``d`` near 1 would keep the random initialisation, are
averaged with a smaller decay (the warm-up of the TensorFlow / timm ``ModelEma``); integer
buffers (batch-norm step counters) are copied. Averaging the weights of one run's last
steps finds flatter minima that generalise better to shifted domains (Izmailov et al.,
"Averaging weights leads to wider optima and better generalization", UAI 2018; Cha et al.,
"SWAD: domain generalization by seeking flat minima", NeurIPS 2021).
"""

from __future__ import annotations

import copy

import torch

#: Warm-up constant of the decay: ``d_t = min(d, (1 + t)/(WARMUP + t))``.
WARMUP = 10


class WeightAverage:
    """The running average of ``model``'s weights (a copy of the module, in eval mode).

    Args:
        model: the trained network (unwrapped from DDP).
        decay: ``d`` in (0, 1).
        steps: optimiser steps already averaged (a resumed run's count).
    """

    def __init__(self, model: torch.nn.Module, decay: float, *, steps: int = 0) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"decay must be in (0, 1), got {decay}")
        self.decay = float(decay)
        self.steps = int(steps)
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)

    def rate(self) -> float:
        """The decay ``d_t`` the next :meth:`update` applies."""
        return min(self.decay, (1 + self.steps) / (WARMUP + self.steps))

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        """Average in the weights ``model`` has after one more optimiser step."""
        d = self.rate()
        current = model.state_dict()
        for name, mean in self.module.state_dict().items():
            value = current[name].detach()
            if mean.is_floating_point():
                mean.lerp_(value, 1.0 - d)
            else:
                mean.copy_(value)
        self.steps += 1
