"""The learning-rate schedule: a cosine decay per phase, a pure function of the epoch.

Each phase of a method (:mod:`xrdsim_training.methods`) gets its own schedule: it starts
at the peak rate ``lr`` and decays to 0 over the phase's epochs,

    lr_e = lr · ½ (1 + cos(π · e_p / E_p)),

with ``e_p`` the 0-based epoch inside the phase and ``E_p`` the phase's length
(``pretrain_epochs`` for pre-training, ``epochs`` for the supervised or fine-tuning
phase). So Barlow Twins / SimCLR fine-tuning uses "the same training strategy as
CNNaug" (das2025 §4.5): the schedule (and fresh AdamW moments, see
:func:`starts_phase`) of a ``supervised-aug`` run of ``epochs`` epochs, not the tail of
one curve spanning both phases. Being a function of ``(config, epoch)`` only, the rate
of a resumed run, even one resumed with more ``epochs``, is that of the uninterrupted
run with the same settings.
"""

from __future__ import annotations

import math

from xrdsim_training.config import TrainConfig


def lr_factor(config: TrainConfig, epoch: int) -> float:
    """Multiplier of ``config.lr`` in 0-based ``epoch`` (1 at each phase's first epoch)."""
    if epoch < config.pretrain_epochs:
        e, n = epoch, config.pretrain_epochs
    else:
        e, n = epoch - config.pretrain_epochs, config.epochs
    return 0.5 * (1.0 + math.cos(math.pi * min(e, n) / n))


def starts_phase(config: TrainConfig, epoch: int) -> bool:
    """True when 0-based ``epoch`` is the first fine-tuning epoch after pre-training
    (the optimiser's moments are reset there, as for a fresh CNNaug run)."""
    return config.pretrain_epochs > 0 and epoch == config.pretrain_epochs
