"""Two-stage training of a series run (sun2023 Fig. 3).

Stage 1 trains the ConvSC-attention encoder without labels on the method's pretext
tasks (eq. 2): L = L_inter + L_intra + L_tmp + c·L_cont for ``specrrmoco``; only the
relational terms for ``specrr``; inter + intra (no external variable) for
``specselftime``; only L_cont for ``specmoco``. Heads are then dropped, and stage 2 fits
a linear classifier on ``label_fraction`` of the patterns (:mod:`.linear`).

A run directory holds ``model.pt`` (encoder weights, the linear classifier, the config,
the data description) and ``history.json`` (losses and pretext accuracies per step).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from xrdsim_training.models.convsc import ConvSCEncoder
from xrdsim_training.series.augment import SpectraAugment
from xrdsim_training.series.config import SeriesTrainConfig
from xrdsim_training.series.data import SeriesArrays, load_series
from xrdsim_training.series.linear import fit_linear, select_labelled
from xrdsim_training.series.moco import MoCo
from xrdsim_training.series.relational import (
    external_variable_classes,
    external_variable_loss,
    inter_sample_loss,
    intra_sample_loss,
    relation_mlp,
)

from xrdsim.errors import TrainingError

MODEL_NAME = "model.pt"
FORMAT = "xrdsim-series-run/1"


def build_encoder(cfg: SeriesTrainConfig) -> ConvSCEncoder:
    return ConvSCEncoder(
        channels=cfg.channels, pool_length=cfg.pool_length, embed_dim=cfg.embed_dim
    )


class PretextModel(nn.Module):
    """The encoder with the heads of the chosen method."""

    def __init__(self, cfg: SeriesTrainConfig, n_train: int):
        super().__init__()
        self.encoder = build_encoder(cfg)
        d = cfg.embed_dim
        if cfg.uses_relations:
            self.inter = relation_mlp(2 * d, 1)
            self.intra = relation_mlp(2 * d, cfg.intra_classes)
        if cfg.method in ("specrr", "specrrmoco"):
            self.external = nn.Linear(d, cfg.external_classes)
        if cfg.uses_moco:
            self.moco = MoCo(
                self.encoder,
                embed_dim=d,
                dim=cfg.moco_dim,
                queue_size=cfg.queue_size or 2 * n_train,
                momentum=cfg.moco_momentum,
                temperature=cfg.temperature,
            )


def _learning_rate(cfg: SeriesTrainConfig, step: int) -> float:
    """Linear warm-up from lr/7.5 (sun2023: 0.02 → 0.15), then cosine decay to 0."""
    if step < cfg.warmup_steps:
        return cfg.lr * (1 / 7.5 + (1 - 1 / 7.5) * step / max(cfg.warmup_steps, 1))
    t = (step - cfg.warmup_steps) / max(cfg.steps - cfg.warmup_steps, 1)
    return cfg.lr * 0.5 * (1.0 + math.cos(math.pi * t))


def pretext_step(
    model: PretextModel,
    cfg: SeriesTrainConfig,
    data: SeriesArrays,
    ext_classes: np.ndarray,
    augment: SpectraAugment,
    rng: np.random.Generator,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The loss of one batch and its parts."""
    rows = rng.choice(data.x.shape[0], size=min(cfg.batch_size, data.x.shape[0]), replace=False)
    x = torch.from_numpy(data.x[rows])
    views = [augment(x, rng) for _ in range(cfg.n_views)]
    h = model.encoder(torch.cat(views)).view(cfg.n_views, x.shape[0], -1)
    parts: dict[str, torch.Tensor] = {}
    acc: dict[str, float] = {}
    if cfg.uses_relations:
        parts["inter"], acc["inter_acc"] = inter_sample_loss(model.inter, h)
        parts["intra"], acc["intra_acc"] = intra_sample_loss(
            model.encoder,
            model.intra,
            views[0],
            rng,
            n_pieces=cfg.n_pieces,
            n_classes=cfg.intra_classes,
        )
    if hasattr(model, "external"):
        target = torch.from_numpy(ext_classes[rows])
        parts["tmp"], acc["tmp_acc"] = external_variable_loss(model.external, h[0], target)
    if cfg.uses_moco:
        weight = 1.0 if cfg.method == "specmoco" else cfg.contrast_weight
        parts["cont"] = weight * model.moco.loss(h[0], views[1])
    loss = sum(parts.values())
    scalars = {k: float(v.detach()) for k, v in parts.items()}
    return loss, {**scalars, **acc, "loss": float(loss.detach())}


@torch.no_grad()
def encode(encoder: nn.Module, x: np.ndarray, *, batch: int = 256) -> np.ndarray:
    """Representations (M, D) float32 of preprocessed patterns, encoder in eval mode."""
    encoder.eval()
    out = [encoder(torch.from_numpy(x[i : i + batch])).numpy() for i in range(0, len(x), batch)]
    return np.concatenate(out).astype(np.float32)


def train_series(
    store: str | Path,
    run_dir: str | Path,
    cfg: SeriesTrainConfig,
    *,
    names: list[str] | None = None,
    log=print,
) -> dict[str, Any]:
    """Stage 1 + stage 2 on the series of ``store``; writes the run directory.

    Raises:
        TrainingError: the run directory holds a model already; no labelled patterns.
    """
    run_dir = Path(run_dir)
    if (run_dir / MODEL_NAME).exists():
        raise TrainingError(f"{run_dir / MODEL_NAME} exists; choose a new run directory")
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    data = load_series(store, names, crop=cfg.crop, pool=cfg.pool)
    ext = external_variable_classes(data.order, data.length, cfg.external_classes)
    model = PretextModel(cfg, data.x.shape[0])
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(
        params, lr=cfg.lr, momentum=cfg.sgd_momentum, weight_decay=cfg.weight_decay
    )
    augment = SpectraAugment(ops=cfg.augment)
    history, t0 = [], time.perf_counter()
    for step in range(cfg.steps):
        for group in opt.param_groups:
            group["lr"] = _learning_rate(cfg, step)
        model.train()
        loss, parts = pretext_step(model, cfg, data, ext, augment, rng)
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append({"step": step, **parts})
        if step % 25 == 0 or step == cfg.steps - 1:
            log(f"step {step}: " + ", ".join(f"{k} {v:.3f}" for k, v in parts.items()))
    seconds = time.perf_counter() - t0
    features = encode(model.encoder, data.x)
    labelled = select_labelled(data.labels, data.series, fraction=cfg.label_fraction)
    clf = fit_linear(features[labelled], data.labels[labelled], seed=cfg.seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    info = {
        "store": str(store),
        "series": list(data.names),
        "patterns": int(data.x.shape[0]),
        "labelled": int(labelled.size),
        "length": int(data.x.shape[1]),
        "stage1_seconds": round(seconds, 1),
    }
    torch.save(
        {
            "format": FORMAT,
            "config": cfg.to_dict(),
            "data": info,
            "encoder": model.encoder.state_dict(),
            "classifier": {k: torch.as_tensor(v) for k, v in clf.items()},
        },
        run_dir / MODEL_NAME,
    )
    (run_dir / "history.json").write_text(json.dumps(history), encoding="utf-8")
    return info


def load_run(run_dir: str | Path) -> tuple[SeriesTrainConfig, nn.Module, dict]:
    """(config, encoder in eval mode, classifier as NumPy arrays) of a run directory."""
    path = Path(run_dir) / MODEL_NAME
    if not path.is_file():
        raise TrainingError(f"{path}: no series run here; train one with `xrdsim series train`")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state.get("format") != FORMAT:
        raise TrainingError(f"{path}: format {state.get('format')!r}, expected {FORMAT!r}")
    cfg = SeriesTrainConfig.from_dict(state["config"])
    encoder = build_encoder(cfg)
    encoder.load_state_dict(state["encoder"])
    encoder.eval()
    clf = {k: v.numpy() for k, v in state["classifier"].items()}
    return cfg, encoder, clf
