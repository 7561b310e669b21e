"""Run a network over batches and collect probabilities, predictions and labels."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch
from xrdsim_training.models.heads import predict_space_group, space_group_probabilities


@dataclass(frozen=True)
class Predictions:
    """Outputs over ``N`` patterns (NumPy, float32 probabilities).

    Attributes:
        cs_prob: (N, 7) crystal-system probabilities.
        eg_prob: (N, K) extinction-group probabilities.
        sg_prob: (N, 230) joint SG probabilities ``p(cs)·p(sg|cs)``, column ``sg − 1``.
        sg_routed: (N,) int64 SG (1–230) from the SG head of the predicted crystal system.
        labels: ``{"crystal_system", "extinction_group", "space_group", "structure_index",
            "view"}`` (N,) int64.
        embeddings: (N, embed_dim) float32 representation ``h``, when asked for.
    """

    cs_prob: np.ndarray
    eg_prob: np.ndarray
    sg_prob: np.ndarray
    sg_routed: np.ndarray
    labels: dict[str, np.ndarray]
    embeddings: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.cs_prob.shape[0])


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager:
    """bfloat16 autocast on CUDA when ``enabled``; a no-op everywhere else."""
    if enabled and device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def predict(
    model: torch.nn.Module,
    batches: Iterable[dict[str, torch.Tensor]],
    *,
    device: torch.device,
    amp: bool = False,
    embeddings: bool = False,
) -> Predictions:
    """Evaluate ``model`` (in eval mode) on every batch of ``batches``."""
    was_training = model.training
    model.eval()
    keys = ("crystal_system", "extinction_group", "space_group", "structure_index", "view")
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("cs", "eg", "sg", "routed", "h", *keys)}
    try:
        for batch in batches:
            x = batch["pattern"].to(device, non_blocking=True).float()
            with autocast(device, amp):
                out = model(x)
            parts["cs"].append(torch.softmax(out["cs"].float(), 1).cpu().numpy())
            parts["eg"].append(torch.softmax(out["eg"].float(), 1).cpu().numpy())
            parts["sg"].append(space_group_probabilities(out["cs"], out["sg"]).cpu().numpy())
            parts["routed"].append(predict_space_group(out["cs"], out["sg"]).cpu().numpy())
            if embeddings:
                parts["h"].append(out["h"].float().cpu().numpy())
            for k in keys:
                parts[k].append(batch[k].numpy())
    finally:
        model.train(was_training)
    if not parts["cs"]:
        raise ValueError("no batches to evaluate")
    cat = {k: np.concatenate(v) for k, v in parts.items() if v}
    return Predictions(
        cs_prob=cat["cs"], eg_prob=cat["eg"], sg_prob=cat["sg"], sg_routed=cat["routed"],
        labels={k: cat[k].astype(np.int64) for k in keys},
        embeddings=cat.get("h"),
    )
