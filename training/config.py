"""The training configuration: one frozen, validated record of every knob of a run.

A :class:`TrainConfig` is written to ``RUN_DIR/config.json`` and into every
checkpoint, so a run can be resumed (or reproduced) from its directory alone.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xrdsim_training.methods import CONTRASTIVE_METHODS, NEURAL_METHODS

from xrdsim.errors import ConfigError, brief

#: Background handling of the model's input view (:mod:`xrdsim_training.models.view`).
VIEW_BACKGROUNDS: tuple[str, ...] = ("snip", "none")
#: The view of runs saved before the view settings existed: the whole grid, as given.
LEGACY_VIEW: dict[str, Any] = {"view_two_theta": (0.0, 120.0), "view_background": "none"}
#: Pre-training epochs of the contrastive methods when none are given (as many as the
#: default fine-tuning ``epochs``), so ``xrdsim train --method barlow`` runs as written.
DEFAULT_PRETRAIN_EPOCHS = 10


#: Allowed [min, max] of the architecture integers (the upper ends keep one model in memory).
_MODEL_RANGES: dict[str, tuple[int, int]] = {
    "width": (1, 1024), "depth": (1, 12), "blocks_per_stage": (1, 32), "pool_length": (1, 12000),
    "embed_dim": (1, 65536), "projector_dim": (1, 65536), "n_extinction_groups": (0, 10000),
    "view_pool": (1, 100),
}
#: Most parameters a model may have (checked from the settings before any allocation; a
#: 165 KB checkpoint once named an 8.3 GiB model, the largest settings 25 TiB).
MAX_MODEL_PARAMETERS = 500_000_000
#: Allowed [min, max] of the run's integers; seeds fit torch's 64-bit generator.
_INT_RANGES: dict[str, tuple[int, int]] = {
    "epochs": (0, 1_000_000), "pretrain_epochs": (0, 1_000_000), "batch_size": (2, 65536),
    "shuffle_buffer": (1, 1_000_000), "steps_per_epoch": (0, 10**9),
    "val_max_patterns": (0, 10**8), "workers": (0, 256), "seed": (0, 2**63 - 1),
    "patience": (0, 1_000_000),
}
#: (low, high, low excluded) of the run's real numbers; an lr of 1e300 or inf only makes NaNs.
_FLOAT_RANGES: dict[str, tuple[float, float, bool]] = {
    "lr": (0.0, 10.0, True), "temperature": (0.0, 100.0, True),
    "barlow_lambda": (0.0, 100.0, True), "weight_decay": (0.0, 100.0, False),
    "pretrain_supervised_weight": (0.0, 1e6, False),
    "grad_clip": (0.0, 1e6, False),
}
#: Where on-the-fly views are simulated (``TrainConfig.simulate_on``).
SIMULATE_ON = ("loader", "device")
_DEVICE = re.compile(r"auto|cpu|cuda(:\d{1,3})?")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of the 1D ResNet encoder, the heads and the projector.

    Defaults: width 8, depth 5, chosen by a reduced-scale CPU measurement (docs/training.md
    "Width and depth"): after one epoch on 2,700 structures, width 8 beat 4 and 16, and
    depth 5 beat 4. On a GPU at paper scale raise ``width`` (das2025 use wider networks).

    Attributes:
        width: channels of the first residual stage (doubles per stage, capped at 8×).
        depth: number of residual stages (each halves the length; ≥ 1).
        blocks_per_stage: residual blocks per stage (≥ 1).
        pool_length: positions kept by the adaptive average pool before the embedding
            (keeps coarse absolute 2θ information that a global pool would discard).
        embed_dim: size of the representation ``h`` the heads read.
        projector_dim: width of the representation head (Barlow Twins / SimCLR ``z``).
        n_extinction_groups: classes of the EG head; 0 = take K from the data (store attr
            ``n_extinction_groups`` or the extinction table) when the run starts.
        view_two_theta: ``(lo, hi)`` degrees 2θ the network sees (zeros outside), the
            first step of :class:`~xrdsim_training.models.view.PatternView`.
        view_background: ``"snip"`` (subtract and clip, as for measured files) or ``"none"``.
        view_crop: the encoder sees only the window's bins (8,500 for 5–90°) instead of
            the 12,000-bin grid with zeros outside it.
        view_pool: adjacent 0.01° bins averaged into one input sample (2: 0.02° steps).
            Crop + pool 2 costs 1.8× less CPU per step but scored 6.6 points of CS lower
            than the full grid on rruff_dev [−11.4, −1.8] (paired, one seed each;
            docs/results/2026-12-07-rruff-dev-recipes.md): off by default.
    """

    width: int = 8
    depth: int = 5
    blocks_per_stage: int = 1
    pool_length: int = 16
    embed_dim: int = 256
    projector_dim: int = 1024
    n_extinction_groups: int = 0
    view_two_theta: tuple[float, float] = (5.0, 90.0)
    view_background: str = "snip"
    view_crop: bool = False
    view_pool: int = 1

    def __post_init__(self) -> None:
        try:
            lo, hi = (float(v) for v in self.view_two_theta)
        except (TypeError, ValueError):
            lo = hi = math.nan
        if not 0.0 <= lo < hi <= 120.0:
            raise ConfigError(f"model.view_two_theta must be (lo, hi) with 0 ≤ lo < hi ≤ 120 "
                              f"degrees 2θ, got {brief(self.view_two_theta)}")
        object.__setattr__(self, "view_two_theta", (lo, hi))
        if self.view_background not in VIEW_BACKGROUNDS:
            raise ConfigError(f"model.view_background must be one of {VIEW_BACKGROUNDS}, got "
                              f"{self.view_background!r}")
        if not isinstance(self.view_crop, bool):
            raise ConfigError(f"model.view_crop must be true or false, got {brief(self.view_crop)}")
        for name, (minimum, maximum) in _MODEL_RANGES.items():
            value = getattr(self, name)
            if (not isinstance(value, int) or isinstance(value, bool)
                    or not minimum <= value <= maximum):
                raise ConfigError(f"model.{name} must be an integer in [{minimum}, {maximum}], "
                                  f"got {brief(value)}")
        if self.parameter_bound() > MAX_MODEL_PARAMETERS:
            raise ConfigError(
                f"model of width {self.width}, depth {self.depth}, blocks_per_stage "
                f"{self.blocks_per_stage}, pool_length {self.pool_length}, embed_dim "
                f"{self.embed_dim}, projector_dim {self.projector_dim} has up to "
                f"{self.parameter_bound():.3g} parameters (> {MAX_MODEL_PARAMETERS:.0e}, "
                f"{MAX_MODEL_PARAMETERS * 4 / 2**30:.0f} GiB of float32 weights); refused "
                "before anything is allocated — shrink these settings")

    def parameter_bound(self) -> int:
        """Upper bound of the network's parameter count, from the settings alone: stem,
        residual stages (two k = 7 convolutions per block, a 1×1 shortcut per stage, batch
        norms), the embedding, heads and the three-layer projector (``XrdNet``)."""
        w, total, c_in = self.width, 15 * self.width + 4 * self.width, self.width
        for stage in range(self.depth):
            c_out = w * min(2**stage, 8)
            block = 7 * c_in * c_out + 7 * c_out * c_out + c_in * c_out + 12 * c_out
            total += block + (self.blocks_per_stage - 1) * (14 * c_out * c_out + 8 * c_out)
            c_in = c_out
        p = self.projector_dim
        total += (c_in * self.pool_length + 1) * self.embed_dim
        total += (self.embed_dim + 1) * (self.n_extinction_groups + 7 + 230 + 7)
        total += self.embed_dim * p + 2 * p * p + 8 * p
        return int(total + 3 * (self.depth * self.blocks_per_stage + 2))  # BN step counters

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["view_two_theta"] = list(self.view_two_theta)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, saved: bool = False) -> ModelConfig:
        """Inverse of :meth:`to_dict`: settings not given keep their defaults.

        With ``saved`` (the settings of a trained model: a checkpoint, a run's
        ``config.json``), a model saved before the view settings existed (no ``view_*``
        keys) gets :data:`LEGACY_VIEW`, the input it was trained on. New settings (flags,
        a user's config file) never do: they get the default view.
        """
        if not isinstance(data, dict):
            raise ConfigError(f"model must be a mapping of architecture settings (width, "
                              f"depth, ...), got {brief(data)}")
        data = dict(_known(cls, data, "model"))
        if saved and "view_two_theta" not in data and "view_background" not in data:
            data.update(LEGACY_VIEW)
        if isinstance(data.get("view_two_theta"), list):
            data["view_two_theta"] = tuple(data["view_two_theta"])
        return cls(**data)


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of one training run (all keyword-only, validated on construction).

    Attributes:
        method: one of :data:`~xrdsim_training.methods.NEURAL_METHODS`.
        epochs: supervised epochs (for contrastive methods: the fine-tuning epochs).
        pretrain_epochs: representation-learning epochs before fine-tuning
            (contrastive methods only; must be 0 for the supervised ones). None (the
            default) resolves to :data:`DEFAULT_PRETRAIN_EPOCHS` for the contrastive
            methods and 0 for the others.
        batch_size: patterns per optimiser step (per DDP rank).
        lr: peak AdamW learning rate (cosine decay over each phase, see
            :mod:`xrdsim_training.schedule`).
        weight_decay: AdamW weight decay.
        loss_weights: ``(w_cs, w_eg, w_sg)`` of the weighted cross-entropy (das2025 §4.3).
        class_balance: β of the per-class weights ``n_c^(−β)`` from the training labels
            (0 = plain cross-entropy, 1 = fully balanced; :func:`~xrdsim_training.losses.
            supervised.class_weights`).
        label_smoothing: ε of the supervised targets, in [0, 1).
        ema: decay of the exponential moving average of the weights, in [0, 1)
            (:mod:`xrdsim_training.averaging`): when set, validation, ``best.pt``, the
            checkpoint's ``model`` and everything that predicts from the run use the
            average, and the trained weights travel beside it for ``--resume``
            (0 = off, the trained weights are the model).
        patience: early stopping on the validation (equivariance) split as das2025 §4.3:
            stop after this many supervised epochs without a better mean CS/EG/SG
            accuracy; the best epoch is kept as ``best.pt`` either way (0 = never stop).
        barlow_lambda: off-diagonal weight τ of the Barlow Twins loss (das2025 eq. 6).
        pretrain_supervised_weight: contrastive methods: weight ``w`` of the supervised
            cross-entropy of both views added to the contrastive loss during pre-training,
            ``L = L_contrastive + w·CE`` (0 = self-supervised pre-training, das2025 §4.5).
            The scale is the loss's: Barlow Twins at ``projector_dim`` 1024 is ~10²–10³,
            NT-Xent ~1–5, the CE ~1–5.
        temperature: NT-Xent temperature (SimCLR).
        shuffle_buffer: rows in the streaming shuffle buffer (store methods).
        steps_per_epoch: on-the-fly methods: optimiser steps per epoch
            (0 = one pass over the training structures).
        val_max_patterns: patterns of the validation split scored after each epoch
            (0 disables validation).
        workers: DataLoader worker processes (0 = load in the main process).
        seed: seeds the weights, the data order and the simulated views.
        device: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``, ``"cuda:1"`` ...
        amp: bfloat16 autocast; only ever active on CUDA.
        simulate_on: where on-the-fly views are simulated: ``"loader"`` (the numba
            simulator in the data loader: the main process or ``workers`` processes) or
            ``"device"`` (:mod:`xrdsim_training.torch_sim` on the training device, the
            peak database held there; same patterns up to float32 rounding).
        grad_clip: maximum gradient norm (0 disables clipping).
        sim_config: simulation preset/file for on-the-fly views (``"train"``).
        model: the architecture.
    """

    method: str = "supervised"
    epochs: int = 10
    pretrain_epochs: int | None = None
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-4
    loss_weights: tuple[float, float, float] = (1.0, 1.0, 1.0)
    class_balance: float = 0.0
    label_smoothing: float = 0.0
    ema: float = 0.0
    patience: int = 0
    barlow_lambda: float = 5e-3
    pretrain_supervised_weight: float = 0.0
    temperature: float = 0.1
    shuffle_buffer: int = 4096
    steps_per_epoch: int = 0
    val_max_patterns: int = 4096
    workers: int = 0
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    simulate_on: str = "loader"
    grad_clip: float = 1.0
    sim_config: str = "train"
    model: ModelConfig = field(default_factory=ModelConfig)

    def __post_init__(self) -> None:
        if not isinstance(self.method, str) or self.method not in NEURAL_METHODS:
            raise ConfigError(f"method must be one of {NEURAL_METHODS}, got "
                              f"{brief(self.method)}")
        if self.pretrain_epochs is None:
            object.__setattr__(self, "pretrain_epochs", DEFAULT_PRETRAIN_EPOCHS
                               if self.method in CONTRASTIVE_METHODS else 0)
        for name, (minimum, maximum) in _INT_RANGES.items():
            _bounded_int(self, name, minimum=minimum, maximum=maximum)
        for name, high, open_high in (("class_balance", 1.0, False),
                                      ("label_smoothing", 1.0, True), ("ema", 1.0, True)):
            value = getattr(self, name)
            if (isinstance(value, bool) or not isinstance(value, (int, float))
                    or not (0.0 <= value < high if open_high else 0.0 <= value <= high)):
                raise ConfigError(f"{name} must be in [0, {high:g}{')' if open_high else ']'}, "
                                  f"got {brief(value)}")
        if self.method in CONTRASTIVE_METHODS:
            if self.pretrain_epochs < 1:
                raise ConfigError(
                    f"method {self.method!r} learns a representation first: pretrain_epochs "
                    f"must be ≥ 1, got {self.pretrain_epochs}"
                )
        elif self.pretrain_epochs:
            raise ConfigError(
                f"pretrain_epochs applies to {CONTRASTIVE_METHODS} only; method "
                f"{self.method!r} got {self.pretrain_epochs}. Set it to 0."
            )
        elif self.pretrain_supervised_weight:
            raise ConfigError(
                f"pretrain_supervised_weight applies to {CONTRASTIVE_METHODS} only; method "
                f"{self.method!r} got {self.pretrain_supervised_weight}. Set it to 0."
            )
        if self.epochs + self.pretrain_epochs < 1:
            raise ConfigError("a run needs at least one epoch (epochs + pretrain_epochs ≥ 1)")
        for name, (low, high, open_low) in _FLOAT_RANGES.items():
            value = getattr(self, name)
            if (isinstance(value, bool) or not isinstance(value, (int, float))
                    or not math.isfinite(value) or not low <= value <= high
                    or (open_low and value == low)):
                side = "(" if open_low else "["
                raise ConfigError(f"{name} must be a finite number in {side}{low}, {high}], "
                                  f"got {brief(value)}")
            object.__setattr__(self, name, float(value))
        weights = self.loss_weights
        if (not isinstance(weights, (list, tuple)) or len(weights) != 3
                or not all(isinstance(w, (int, float)) and not isinstance(w, bool)
                           and math.isfinite(w) and 0 <= w <= 1e3 for w in weights)
                or sum(weights) <= 0):
            raise ConfigError(
                f"loss_weights must be three numbers in [0, 1000] (cs, eg, sg) with a "
                f"positive sum, got {brief(weights)}"
            )
        object.__setattr__(self, "loss_weights", tuple(float(w) for w in weights))
        if isinstance(self.model, dict):
            object.__setattr__(self, "model", ModelConfig.from_dict(self.model))
        if not isinstance(self.model, ModelConfig):
            raise ConfigError(f"model must be a mapping of architecture settings (width, "
                              f"depth, ...), got {brief(self.model)}")
        if not isinstance(self.device, str) or not _DEVICE.fullmatch(self.device):
            raise ConfigError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got "
                              f"{brief(self.device)}")
        if not isinstance(self.amp, bool):
            raise ConfigError(f"amp must be true or false, got {brief(self.amp)}")
        if self.simulate_on not in SIMULATE_ON:
            raise ConfigError(f"simulate_on must be one of {SIMULATE_ON}, got "
                              f"{brief(self.simulate_on)}")
        if self.simulate_on == "device" and self.workers:
            raise ConfigError(f"simulate_on='device' renders views in the training process; "
                              f"workers must be 0, got {self.workers}")
        if not isinstance(self.sim_config, str) or len(self.sim_config) > 4096:
            raise ConfigError(f"sim_config must be a preset name or a file path, got "
                              f"{brief(self.sim_config)}")

    @property
    def total_epochs(self) -> int:
        """Pre-training plus fine-tuning epochs."""
        return self.pretrain_epochs + self.epochs

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["loss_weights"] = list(self.loss_weights)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, saved: bool = False) -> TrainConfig:
        """Inverse of :meth:`to_dict`; ``saved``: the settings of a trained run
        (:meth:`ModelConfig.from_dict`)."""
        if not isinstance(data, dict):
            raise ConfigError(f"a train config must be a mapping, got {brief(data)}")
        kw = _known(cls, data, "train config")
        if "model" in kw:
            kw["model"] = ModelConfig.from_dict(kw["model"], saved=saved)
        return cls(**kw)

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)


def _known(cls: type, data: dict[str, Any], what: str) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(str(k) for k in set(data) - names)
    if unknown:
        raise ConfigError(f"unknown {what} key(s) {brief(unknown)}; allowed: {sorted(names)}")
    return dict(data)


def _bounded_int(cfg: TrainConfig, name: str, *, minimum: int, maximum: int) -> None:
    value = getattr(cfg, name)
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
        raise ConfigError(f"{name} must be an integer in [{minimum}, {maximum}], "
                          f"got {brief(value)}")


def config_from_options(options: dict[str, Any], *, base: TrainConfig | None = None) -> TrainConfig:
    """Apply flat options (CLI flags; ``None`` = not given) on top of ``base``.

    Keys of :class:`ModelConfig` (``width``, ``depth``, ...) go to ``model``; the rest
    to :class:`TrainConfig`. Unknown keys are refused.
    """
    model_keys = {f.name for f in dataclasses.fields(ModelConfig)}
    train_keys = {f.name for f in dataclasses.fields(TrainConfig)} - {"model"}
    given = {k: v for k, v in options.items() if v is not None}
    unknown = sorted(set(given) - model_keys - train_keys)
    if unknown:
        raise ConfigError(f"unknown training option(s) {unknown}")
    # without a base, settings not given keep their defaults (pretrain_epochs: per method)
    model = ModelConfig.from_dict({**(base.model.to_dict() if base else {}),
                                   **{k: v for k, v in given.items() if k in model_keys}})
    data = {**(base.to_dict() if base else {}),
            **{k: v for k, v in given.items() if k in train_keys}}
    data["model"] = model.to_dict()
    return TrainConfig.from_dict(data)


def load_train_config(path: str | Path, *, saved: bool = False) -> TrainConfig:
    """A :class:`TrainConfig` from a JSON or YAML file: a user's settings, or with
    ``saved`` a run's own ``config.json`` (:meth:`ModelConfig.from_dict`)."""
    from xrdsim.config_files import read_config_file

    data = read_config_file(path, what="train config")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of training settings, got "
                          f"{type(data).__name__}")
    try:
        return TrainConfig.from_dict(data, saved=saved)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
