"""Weighted cross-entropy over the CS, EG and SG heads (das2025 §4.3, eq. 4–5).

    L = (w_cs·CE_cs + w_eg·CE_eg + w_sg·CE_sg) / (w_cs + w_eg + w_sg)

``CE_sg`` is the cross-entropy of the SG head of the *true* crystal system, i.e.
``−log p(sg | cs_true)`` with the softmax taken within that head's space groups
(teacher forcing of the CS → SG routing); at prediction time the predicted CS
routes instead (:func:`xrdsim_training.models.heads.predict_space_group`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from xrdsim_training.models.heads import conditional_sg_log_probs


def supervised_loss(
    logits: dict[str, torch.Tensor],
    *,
    crystal_system: torch.Tensor,
    extinction_group: torch.Tensor,
    space_group: torch.Tensor,
    weights: tuple[float, float, float],
) -> dict[str, torch.Tensor]:
    """Weighted CE and its parts.

    Args:
        logits: ``{"cs": (B,7), "eg": (B,K), "sg": (B,230)}`` head outputs.
        crystal_system: ``(B,)`` int64 labels 0–6.
        extinction_group: ``(B,)`` int64 labels 0–K−1.
        space_group: ``(B,)`` int64 space-group numbers 1–230 (consistent with ``crystal_system``).
        weights: ``(w_cs, w_eg, w_sg)``.

    Returns:
        ``{"loss", "cs", "eg", "sg"}`` scalar tensors (float32).
    """
    ce_cs = F.cross_entropy(logits["cs"].float(), crystal_system)
    ce_eg = F.cross_entropy(logits["eg"].float(), extinction_group)
    ce_sg = F.nll_loss(conditional_sg_log_probs(logits["sg"]), space_group - 1)
    w_cs, w_eg, w_sg = weights
    total = (w_cs * ce_cs + w_eg * ce_eg + w_sg * ce_sg) / (w_cs + w_eg + w_sg)
    return {"loss": total, "cs": ce_cs.detach(), "eg": ce_eg.detach(), "sg": ce_sg.detach()}
