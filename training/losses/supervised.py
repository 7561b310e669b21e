"""Weighted cross-entropy over the CS, EG and SG heads (das2025 §4.3, eq. 4–5).

    L = (w_cs·CE_cs + w_eg·CE_eg + w_sg·CE_sg) / (w_cs + w_eg + w_sg)

``CE_sg`` is the cross-entropy of the SG head of the *true* crystal system, i.e.
``−log p(sg | cs_true)`` with the softmax taken within that head's space groups
(teacher forcing of the CS → SG routing); at prediction time the predicted CS
routes instead (:func:`xrdsim_training.models.heads.predict_space_group`).

Two options against the skew of the classes (MP-20: 35 % of structures in one crystal
system, a long tail of space groups):

- **class weights** ``w_c ∝ n_c^(−β)`` from the training labels (:func:`class_weights`;
  β = 0 plain CE, β = 1 fully balanced), each CE the weighted mean
  ``Σ_i w_{y_i}·CE_i / Σ_i w_{y_i}`` (PyTorch's ``weight=`` convention);
- **label smoothing** ε (Szegedy et al. 2016): the target puts ``1 − ε`` on the true class
  and spreads ε uniformly over the classes of the head (for SG: over the space groups of
  the true crystal system's head).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from xrdsim_training.models.heads import SPACE_GROUP_RANGES, conditional_sg_log_probs


def supervised_loss(
    logits: dict[str, torch.Tensor],
    *,
    crystal_system: torch.Tensor,
    extinction_group: torch.Tensor,
    space_group: torch.Tensor,
    weights: tuple[float, float, float],
    class_weights: dict[str, torch.Tensor] | None = None,
    label_smoothing: float = 0.0,
) -> dict[str, torch.Tensor]:
    """Weighted CE and its parts.

    Args:
        logits: ``{"cs": (B,7), "eg": (B,K), "sg": (B,230)}`` head outputs.
        crystal_system: ``(B,)`` int64 labels 0–6.
        extinction_group: ``(B,)`` int64 labels 0–K−1.
        space_group: ``(B,)`` int64 space-group numbers 1–230 (consistent with ``crystal_system``).
        weights: ``(w_cs, w_eg, w_sg)``.
        class_weights: optional ``{"crystal_system": (7,), "extinction_group": (K,),
            "space_group": (230,)}`` per-class weights (:func:`class_weights`).
        label_smoothing: ε in [0, 1).

    Returns:
        ``{"loss", "cs", "eg", "sg"}`` scalar tensors (float32).
    """
    cw = class_weights or {}
    eps = float(label_smoothing)
    ce_cs = _smoothed_ce(F.log_softmax(logits["cs"].float(), 1), crystal_system, None,
                         cw.get("crystal_system"), eps)
    ce_eg = _smoothed_ce(F.log_softmax(logits["eg"].float(), 1), extinction_group, None,
                         cw.get("extinction_group"), eps)
    # SG: log p(sg | cs) within each CS segment; the true CS's segment is the target's head
    logp = conditional_sg_log_probs(logits["sg"])
    head = None
    if eps:
        ranges = torch.tensor(SPACE_GROUP_RANGES, device=logp.device)  # (7, 2), 1-based
        cs = torch.searchsorted(ranges[:, 1].contiguous(), space_group)
        k = torch.arange(logp.shape[1], device=logp.device)
        head = (k >= ranges[cs, 0:1] - 1) & (k <= ranges[cs, 1:2] - 1)
    ce_sg = _smoothed_ce(logp, space_group - 1, head, cw.get("space_group"), eps)
    w_cs, w_eg, w_sg = weights
    total = (w_cs * ce_cs + w_eg * ce_eg + w_sg * ce_sg) / (w_cs + w_eg + w_sg)
    return {"loss": total, "cs": ce_cs.detach(), "eg": ce_eg.detach(), "sg": ce_sg.detach()}


def _smoothed_ce(logp: torch.Tensor, target: torch.Tensor, head: torch.Tensor | None,
                 weight: torch.Tensor | None, eps: float) -> torch.Tensor:
    """``Σ_i w_{y_i}·ℓ_i / Σ_i w_{y_i}``, ``ℓ_i = −(1 − ε)·log p_{y_i} − ε·mean_{k∈head} log p_k``.

    ``head``: (B, C) bool, the classes the smoothing spreads over (None: all C).
    """
    nll = -logp.gather(1, target[:, None])[:, 0]
    if eps:
        if head is None:
            uniform = -logp.mean(1)
        else:
            uniform = -torch.where(head, logp, 0.0).sum(1) / head.sum(1)
        nll = (1.0 - eps) * nll + eps * uniform
    if weight is None:
        return nll.mean()
    w = weight.to(nll.device)[target]
    return (w * nll).sum() / w.sum()


def class_weights(labels: dict[str, np.ndarray], *, beta: float, n_classes: dict[str, int]
                  ) -> dict[str, torch.Tensor]:
    """Per-class weights ``w_c = n_c^(−β)`` (unseen classes: weight of a single example),
    scaled so the training examples average 1.

    Args:
        labels: ``{"crystal_system", "extinction_group", "space_group"}`` training labels
            (space groups 1–230).
        beta: 0 (plain CE) to 1 (fully balanced).
        n_classes: classes per task (7, K, 230).
    """
    out = {}
    for task, y in labels.items():
        y = np.asarray(y, dtype=np.int64) - (1 if task == "space_group" else 0)
        counts = np.bincount(y, minlength=n_classes[task]).astype(np.float64)
        w = np.maximum(counts, 1.0) ** (-float(beta))
        w /= (w[y].mean() if y.size else 1.0)
        out[task] = torch.tensor(w, dtype=torch.float32)
    return out
