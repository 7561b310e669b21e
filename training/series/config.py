"""Settings of a series run (:class:`SeriesTrainConfig`), written to the run's model file."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from xrdsim_training.series.augment import AUGMENTATIONS

from xrdsim.errors import ConfigError, did_you_mean

#: sun2023's frameworks, plus SelfTime with the ConvSC backbone (no external variable).
METHODS = ("specrr", "specmoco", "specrrmoco", "specselftime")


@dataclass(frozen=True)
class SeriesTrainConfig:
    """Every knob of stage 1 (self-supervised) and stage 2 (linear, few labels).

    sun2023 values where the paper gives them: T = 5 external-variable classes, c = 0.01,
    queue = 2 × training patterns, SGD with weight decay 1e-4, linear warm-up then cosine,
    2.7 % labels, magnitude + angle warping. Scaled down for CPUs: fewer views
    (paper 6), smaller batches and a step budget instead of epochs.
    """

    method: str = "specrrmoco"
    steps: int = 80
    batch_size: int = 32
    n_views: int = 2
    lr: float = 0.05
    warmup_steps: int = 8
    weight_decay: float = 1e-4
    sgd_momentum: float = 0.9
    channels: int = 16
    pool_length: int = 64
    embed_dim: int = 128
    crop: tuple[float, float] = (10.0, 90.0)
    pool: int = 16
    augment: tuple[str, ...] = ("magnitude_warp", "angle_warp")
    n_pieces: int = 8
    intra_classes: int = 4
    external_classes: int = 5
    queue_size: int = 0
    moco_dim: int = 64
    moco_momentum: float = 0.99
    temperature: float = 0.2
    contrast_weight: float = 0.01
    label_fraction: float = 0.027
    seed: int = 0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(
                f"unknown method {self.method!r}; choose from {METHODS}"
                + did_you_mean(str(self.method), METHODS)
            )
        for name in (
            "steps",
            "batch_size",
            "channels",
            "pool_length",
            "embed_dim",
            "pool",
            "n_pieces",
            "moco_dim",
        ):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"{name} must be a positive integer, got {v!r}")
        if self.n_views < 2:
            raise ConfigError(f"n_views must be >= 2 (pairs of views), got {self.n_views}")
        if not 2 <= self.intra_classes <= self.n_pieces:
            raise ConfigError("need 2 <= intra_classes <= n_pieces")
        if self.external_classes < 2:
            raise ConfigError(f"external_classes must be >= 2, got {self.external_classes}")
        if not 0.0 < self.label_fraction <= 1.0:
            raise ConfigError(f"label_fraction must lie in (0, 1], got {self.label_fraction}")
        bad = [a for a in self.augment if a not in AUGMENTATIONS]
        if bad:
            raise ConfigError(f"unknown augmentations {bad}; choose from {AUGMENTATIONS}")
        object.__setattr__(self, "crop", tuple(float(c) for c in self.crop))
        object.__setattr__(self, "augment", tuple(self.augment))

    @property
    def uses_relations(self) -> bool:
        return self.method != "specmoco"

    @property
    def uses_moco(self) -> bool:
        return self.method in ("specmoco", "specrrmoco")

    def to_dict(self) -> dict[str, Any]:
        return {
            k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SeriesTrainConfig:
        names = [f.name for f in dataclasses.fields(cls)]
        for key in data:
            if key not in names:
                raise ConfigError(
                    f"unknown series-train setting {key!r}" + did_you_mean(key, names)
                )
        return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items()})
