"""The training loop: one call trains (or resumes) a run into ``RUN_DIR``.

``RUN_DIR`` holds ``config.json`` (the resolved :class:`TrainConfig`),
``checkpoint.pt`` (after every epoch, atomically), ``best.pt`` (the epoch of the best
validation score, see ``TrainConfig.patience``), ``metrics.csv`` and
``metrics.json`` (one row per epoch). A run killed at any point resumes from its
last checkpoint with ``resume=True`` and continues the same curve: the data order
and the simulated views are functions of ``(seed, epoch)``, the learning rate is a
function of ``(config, epoch)`` (:mod:`xrdsim_training.schedule`), and the weights,
optimiser and RNG states are restored.

Mixed precision (bfloat16 autocast) is only active on CUDA; under ``torchrun`` each
rank trains a DDP replica on its share of the shards / structures and rank 0
writes the files.
"""

from __future__ import annotations

import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from xrdsim_training.averaging import WeightAverage
from xrdsim_training.checkpoint import (
    BEST_NAME,
    CHECKPOINT_NAME,
    check_architecture,
    load_checkpoint,
    restore_rng_states,
    save_checkpoint,
)
from xrdsim_training.config import TrainConfig
from xrdsim_training.data import sources
from xrdsim_training.data.loader import make_loader
from xrdsim_training.evaluation.collapse import (
    CHECK_PATTERNS,
    collapse_warning,
    representation_spread,
    too_few_steps,
)
from xrdsim_training.evaluation.metrics import MetricsLog, classification_metrics
from xrdsim_training.inference import predict
from xrdsim_training.methods import phase_of, sources_needed
from xrdsim_training.models import XrdNet
from xrdsim_training.runtime import Runtime, setup_runtime, teardown_runtime
from xrdsim_training.schedule import lr_factor, starts_phase
from xrdsim_training.step import step_loss

from xrdsim.errors import TrainingError
from xrdsim.files import write_json
from xrdsim.progress import progress_bar

#: Settings that may change when a run is resumed (they do not change the curve).
RESUME_MUTABLE = ("epochs", "workers", "device", "val_max_patterns", "patience", "simulate_on")
#: Validation metrics copied into the per-epoch log.
VAL_KEYS = ("cs_accuracy", "eg_accuracy", "sg_accuracy")


@dataclass(frozen=True)
class TrainResult:
    """What a finished :func:`train` call leaves behind.

    ``representation`` is the end-of-training check of ``h``
    (:func:`~xrdsim_training.evaluation.collapse.representation_spread`, also written to
    ``run_dir/representation.json``); ``warnings`` the lines the run warned with.
    """

    run_dir: Path
    epochs_completed: int
    history: list[dict[str, Any]]
    representation: dict[str, Any] | None = None
    warnings: tuple[str, ...] = ()

    @property
    def checkpoint(self) -> Path:
        return self.run_dir / CHECKPOINT_NAME


def train(
    config: TrainConfig,
    *,
    run_dir: str | Path,
    data: str | Path | None = None,
    peaks: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
) -> TrainResult:
    """Train ``config.method`` into ``run_dir`` (or continue it with ``resume=True``).

    Args:
        config: the run's settings; ``model.n_extinction_groups = 0`` takes K from the data.
        run_dir: output folder (created).
        data: ``dataset.zarr`` (supervised source, train structures, validation split).
        peaks: ``peaks.h5`` for on-the-fly methods.
        resume: continue from ``run_dir/checkpoint.pt``.
        progress: show a progress bar per epoch on stderr.

    Raises:
        TrainingError: missing data source, a store without the split or labels, K of the
            data ≠ K of the heads, a checkpoint of another architecture or settings, an
            existing run without ``resume``, a non-finite loss.
    """
    sources.check_inputs(config, data=data, peaks=peaks)
    run_dir = Path(run_dir)
    config = _resolve_classes(config, data=data, peaks=peaks)
    payload = _resume_payload(config, run_dir, resume)
    runtime = setup_runtime(config.device)
    try:
        return _run(config, runtime, run_dir=run_dir, data=data, peaks=peaks,
                    payload=payload, progress=progress)
    finally:
        teardown_runtime(runtime)


def _resolve_classes(config: TrainConfig, *, data, peaks) -> TrainConfig:
    k = sources.n_extinction_groups(data=data, peaks=peaks)
    asked = config.model.n_extinction_groups
    if asked not in (0, k):
        raise TrainingError(
            f"the EG head has {asked} classes but the data has {k} extinction groups; "
            "leave n_extinction_groups at 0 to take K from the data"
        )
    return config.replace(model=config.model.__class__(**{**config.model.to_dict(),
                                                          "n_extinction_groups": k}))


def _resume_payload(config: TrainConfig, run_dir: Path, resume: bool) -> dict | None:
    existing = run_dir / CHECKPOINT_NAME
    if not resume:
        if existing.exists():
            raise TrainingError(f"{str(run_dir)!r} already holds a run; pass --resume to "
                                "continue it or choose a new output directory")
        return None
    payload = load_checkpoint(existing)
    saved: TrainConfig = payload["config"]
    check_architecture(saved.model, config.model, source=str(existing))
    a, b = saved.to_dict(), config.to_dict()
    diff = sorted(k for k in a if k not in RESUME_MUTABLE and k != "model" and a[k] != b[k])
    if diff:
        listed = ", ".join(f"{k}: checkpoint {a[k]!r} vs asked {b[k]!r}" for k in diff)
        raise TrainingError(f"cannot resume {str(run_dir)!r} with other settings ({listed}); "
                            f"only {RESUME_MUTABLE} may change on resume")
    if payload["epoch"] >= config.total_epochs:
        raise TrainingError(f"{str(run_dir)!r} already completed {payload['epoch']} of "
                            f"{config.total_epochs} epochs; raise --epochs to train further")
    return payload


def _run(config: TrainConfig, runtime: Runtime, *, run_dir: Path, data, peaks,
         payload: dict | None, progress: bool) -> TrainResult:
    device = runtime.device
    if runtime.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_json(run_dir / "config.json", config.to_dict())
    torch.manual_seed(config.seed)
    model = XrdNet(config.model).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay)
    start, history = 0, []
    if payload is not None:
        model.load_state_dict(payload.get("trained_model", payload["model"]))
        optimizer.load_state_dict(payload["optimizer"])  # keeps each group's initial_lr
        restore_rng_states(payload["rng"])
        start, history = int(payload["epoch"]), list(payload["history"])
    # cosine decay per phase, lr_e = lr · lr_factor(config, e), rebuilt at the resumed epoch
    # from the config (not from the saved scheduler state, whose last rate belongs to the
    # old number of epochs: a run resumed with more epochs follows the longer curve)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda e: lr_factor(config, e), last_epoch=start - 1)
    average = None
    if config.ema:
        average = WeightAverage(model, config.ema,
                                steps=int(payload.get("ema_steps", 0)) if payload else 0)
        if payload is not None:
            average.module.load_state_dict(payload["model"])
    scored = average.module if average is not None else model  # what validates and predicts
    net: torch.nn.Module = model
    if runtime.distributed:
        ids = [device.index] if device.type == "cuda" else None
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids,
                                                        find_unused_parameters=True)
    structures = (sources.train_structures(data, peaks)
                  if "on_the_fly" in sources_needed(config.method) else None)
    val = sources.validation_dataset(config, data)
    log = MetricsLog(run_dir, history)
    weights = _class_weights(config, data=data, peaks=peaks, structures=structures,
                             device=device)
    datasets: dict[str, Any] = {}
    notes: dict[str, str] = {}
    for epoch in range(start, config.total_epochs):
        phase = phase_of(config.method, epoch, pretrain_epochs=config.pretrain_epochs)
        if phase.name not in datasets:
            datasets[phase.name] = sources.train_dataset(config, phase, data=data, peaks=peaks,
                                                         structures=structures, device=device)
            notes[phase.name] = too_few_steps(datasets[phase.name].batches_per_epoch(),
                                              objective=phase.objective)
            if notes[phase.name] and runtime.is_main:
                warnings.warn(notes[phase.name], UserWarning, stacklevel=3)
        dataset = datasets[phase.name]
        dataset.set_epoch(epoch)
        if starts_phase(config, epoch):  # fine-tuning starts like a fresh CNNaug run
            optimizer.state.clear()
        row = _train_epoch(net, optimizer, dataset, phase=phase, config=config, epoch=epoch,
                           runtime=runtime, progress=progress, class_weights=weights,
                           after_step=None if average is None else lambda: average.update(model))
        row["lr"] = scheduler.get_last_lr()[0]
        if notes[phase.name]:
            row["warning"] = f"{row['steps']} {phase.objective} steps per epoch (too few)"
        scheduler.step()
        if val is not None and runtime.is_main and phase.objective == "supervised":
            scores = classification_metrics(predict(scored, _loader(val, config, device),
                                                    device=device, amp=config.amp))
            row.update({f"val_{k}": scores[k] for k in VAL_KEYS})
            row["val_score"] = sum(scores[k] for k in VAL_KEYS) / len(VAL_KEYS)
        if runtime.is_main:
            log.append(row)
            save_checkpoint(run_dir, model=scored, optimizer=optimizer, scheduler=scheduler,
                            epoch=epoch + 1, config=config, history=log.history,
                            trained=model if average is not None else None,
                            ema_steps=average.steps if average is not None else None)
            if _best_epoch(log.history) == epoch + 1:
                shutil.copyfile(run_dir / CHECKPOINT_NAME, run_dir / BEST_NAME)
        if runtime.distributed:
            torch.distributed.barrier()
        if _stop_early(config, history=log.history):
            break
    said = [note for note in notes.values() if note]
    spread = None
    if runtime.is_main and datasets:
        where = (f"the {sources.VALIDATION_SPLIT} split"
                 if val is not None else "training patterns")
        spread = _check_representation(scored, val if val is not None else dataset, where,
                                       config=config, device=device, run_dir=run_dir)
        if spread is not None and spread["warning"]:
            warnings.warn(spread["warning"], UserWarning, stacklevel=3)
            said.append(spread["warning"])
    return TrainResult(run_dir, int(log.history[-1]["epoch"]) if log.history else start,
                       log.history, representation=spread, warnings=tuple(said))


def _check_representation(model, dataset, where: str, *, config: TrainConfig,
                          device: torch.device, run_dir: Path) -> dict[str, Any] | None:
    """:func:`representation_spread` of ``h`` on up to :data:`CHECK_PATTERNS` patterns of
    ``dataset`` (the validation rows, else the last phase's training batches); written to
    ``run_dir/representation.json`` with its ``warning`` (empty when ``h`` is healthy).
    None when the dataset yields fewer than 2 patterns (no spread to measure)."""
    was_training = model.training
    model.eval()
    parts, n = [], 0
    try:
        with torch.no_grad():
            for batch in _loader(dataset, config, device):
                x = batch["pattern"].to(device).float()
                parts.append(model(x)["h"].float().cpu().numpy())
                n += len(parts[-1])
                if n >= CHECK_PATTERNS:
                    break
    finally:
        model.train(was_training)
    if n < 2:
        return None
    spread = representation_spread(np.concatenate(parts)[:CHECK_PATTERNS])
    spread.update(patterns=where, warning=collapse_warning(spread, where=where))
    write_json(run_dir / "representation.json", spread)
    return spread


def _class_weights(config: TrainConfig, *, data, peaks, structures, device
                   ) -> dict[str, torch.Tensor] | None:
    """Per-class CE weights from the training labels (None when ``class_balance`` is 0)."""
    if not config.class_balance:
        return None
    from xrdsim_training.losses.supervised import class_weights

    labels = sources.train_labels(config, data=data, peaks=peaks, structures=structures)
    n = {"crystal_system": 7, "extinction_group": config.model.n_extinction_groups,
         "space_group": 230}
    return {k: v.to(device) for k, v in
            class_weights(labels, beta=config.class_balance, n_classes=n).items()}


def _best_epoch(history: list[dict[str, Any]]) -> int | None:
    """The (1-based) epoch of the best validation score so far (first of ties)."""
    scored = [(row["val_score"], -int(row["epoch"])) for row in history if "val_score" in row]
    return -max(scored)[1] if scored else None


def _stop_early(config: TrainConfig, *, history: list[dict[str, Any]]) -> bool:
    """True once ``patience`` validated epochs have passed without a better score."""
    best = _best_epoch(history)
    if not config.patience or best is None:
        return False
    later = [r for r in history if "val_score" in r and int(r["epoch"]) > best]
    return len(later) >= config.patience


def _loader(dataset, config: TrainConfig, device: torch.device):
    return make_loader(dataset, workers=config.workers, device=device)


def _train_epoch(net, optimizer, dataset, *, phase, config: TrainConfig, epoch: int,
                 runtime: Runtime, progress: bool,
                 class_weights: dict[str, torch.Tensor] | None = None,
                 after_step: Callable[[], None] | None = None) -> dict[str, Any]:
    net.train()
    device = runtime.device
    sums: dict[str, float] = {}
    steps = patterns = 0
    t0 = time.perf_counter()
    label = f"epoch {epoch + 1}/{config.total_epochs} {phase.name}"
    total = dataset.batches_per_epoch()
    with progress_bar(total, label, enabled=progress and runtime.is_main) as bar:
        for batch in _loader(dataset, config, device):
            parts = step_loss(net, batch, phase=phase, config=config, device=device,
                              class_weights=class_weights)
            loss = parts["loss"]
            value = float(loss.detach())
            if not torch.isfinite(loss.detach()):
                raise TrainingError(
                    f"the {phase.objective} loss became {value} at epoch {epoch + 1}, step "
                    f"{steps + 1} ({config.method}, lr {config.lr}); the last good checkpoint "
                    "(if any) is kept — lower --lr or check the data, then resume with --resume"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip:
                torch.nn.utils.clip_grad_norm_(net.parameters(), config.grad_clip)
            optimizer.step()
            if after_step is not None:
                after_step()
            for k, v in parts.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach())
            steps += 1
            patterns += int(batch["pattern"].shape[0])
            bar.update(1, f"loss {sums['loss'] / steps:.4f}")  # running mean of the epoch
    if steps == 0:
        raise TrainingError(
            f"epoch {epoch + 1} ({phase.name}) had no full batch: the training data yields "
            f"fewer than batch_size={config.batch_size} patterns per worker; lower --batch-size "
            "or --workers"
        )
    seconds = time.perf_counter() - t0
    row: dict[str, Any] = {"epoch": epoch + 1, "phase": phase.name, "steps": steps}
    row["loss"] = sums.pop("loss") / steps
    row.update({f"loss_{k}": v / steps for k, v in sums.items()})
    row.update({"patterns": patterns * runtime.world, "seconds": round(seconds, 3),
                "patterns_per_s": round(patterns * runtime.world / seconds, 1)})
    return row


def train_from_options(
    options: dict[str, Any],
    *,
    run_dir: str | Path,
    data: str | Path | None,
    peaks: str | Path | None,
    config_file: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
) -> TrainResult:
    """The ``xrdsim train`` entry for the neural methods: flags → :class:`TrainConfig` → train.

    On ``resume`` the run's own ``config.json`` is the base, so only the flags given
    again (``--epochs``, ``--workers``, ``--device`` ...) change.
    """
    from xrdsim_training.config import config_from_options, load_train_config

    saved = Path(run_dir) / "config.json"
    if resume and saved.is_file():
        base = load_train_config(saved, saved=True)
        base = base.replace(model=base.model.__class__(**{**base.model.to_dict(),
                                                          "n_extinction_groups": 0}))
    else:
        base = load_train_config(config_file) if config_file is not None else None
    config = config_from_options(options, base=base)
    return train(config, run_dir=run_dir, data=data, peaks=peaks, resume=resume,
                 progress=progress)
