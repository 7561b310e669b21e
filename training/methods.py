"""The training methods: the one list that ``xrdsim train``, the config and the trainer read.

No torch here: ``xrdsim train --help`` and the config validation import this module.

=================  =======================================  ==============================
method             phases                                   das2025
=================  =======================================  ==============================
supervised         train: store shards, weighted CE          CNNstatic (§4.3)
supervised-aug     train: on-the-fly views, weighted CE      CNNaug (§4.4)
barlow             pretrain: 2 views, Barlow Twins (RH);     DIFCON (§4.5)
                   finetune: on-the-fly views, weighted CE
simclr             pretrain: 2 views, NT-Xent (RH);          SimCLR variant (§4.5)
                   finetune: on-the-fly views, weighted CE
hand               ExtraTrees on peak features of the        HAND (§4.2)
                   peak database (no network, no phases)
=================  =======================================  ==============================

Adding a method is one entry in :data:`METHODS`: its phases (neural methods, run by
:func:`xrdsim_training.trainer.train_from_options`) or its own ``runner``
(``"module:function"``, called as ``function(options, *, run_dir, data, peaks,
config_file, resume, progress)``). The loss of one step is :mod:`xrdsim_training.step`.
"""

from __future__ import annotations

from dataclasses import dataclass

from xrdsim.errors import ConfigError


@dataclass(frozen=True)
class Phase:
    """One stage of a method.

    Attributes:
        name: ``"train"``, ``"pretrain"`` or ``"finetune"`` (written to the metrics log).
        source: ``"store"`` (precomputed Zarr shards) or ``"on_the_fly"`` (peak DB + simulator).
        views: views per structure in a batch (2 for the contrastive objectives).
        objective: ``"supervised"``, ``"barlow_twins"`` or ``"nt_xent"``.
    """

    name: str
    source: str
    views: int
    objective: str


@dataclass(frozen=True)
class Method:
    """One entry of ``xrdsim train --method``.

    Attributes:
        description: the ``--method`` help text.
        phases: (pre-training phase or None, main phase) of a neural method; None for a
            method with its own ``runner``.
        runner: ``"module:function"`` that trains it.
    """

    description: str
    phases: tuple[Phase | None, Phase] | None = None
    runner: str = "xrdsim_training.trainer:train_from_options"


_FINETUNE = Phase("finetune", "on_the_fly", 1, "supervised")
#: method name -> :class:`Method`
METHODS: dict[str, Method] = {
    "supervised": Method("CNNstatic", (None, Phase("train", "store", 1, "supervised"))),
    "supervised-aug": Method("CNNaug", (None, Phase("train", "on_the_fly", 1, "supervised"))),
    "barlow": Method("DIFCON", (Phase("pretrain", "on_the_fly", 2, "barlow_twins"), _FINETUNE)),
    "simclr": Method("SimCLR", (Phase("pretrain", "on_the_fly", 2, "nt_xent"), _FINETUNE)),
    "hand": Method("HAND baseline: ExtraTrees on peak features, needs --peaks",
                   runner="xrdsim_training.hand.model:train_hand_from_options"),
}
#: Methods the neural trainer runs (a :class:`~xrdsim_training.config.TrainConfig`'s method).
NEURAL_METHODS: tuple[str, ...] = tuple(n for n, m in METHODS.items() if m.phases is not None)
#: Methods that learn a representation first (contrastive pre-training, then fine-tuning).
CONTRASTIVE_METHODS: tuple[str, ...] = tuple(
    n for n in NEURAL_METHODS if METHODS[n].phases[0] is not None)


def phases(method: str) -> tuple[Phase | None, Phase]:
    """(pre-training phase or None, main phase) of a neural ``method``."""
    found = METHODS[method].phases
    if found is None:
        raise ConfigError(f"method {method!r} trains no network, so it has no phases; "
                          f"the neural methods are {NEURAL_METHODS}")
    return found


def phase_of(method: str, epoch: int, *, pretrain_epochs: int) -> Phase:
    """The phase that 0-based ``epoch`` of a run of ``method`` belongs to."""
    pretrain, main = phases(method)
    return pretrain if pretrain is not None and epoch < pretrain_epochs else main


def sources_needed(method: str) -> set[str]:
    """Data sources the method's phases read (``"store"``, ``"on_the_fly"``)."""
    return {p.source for p in phases(method) if p is not None}
