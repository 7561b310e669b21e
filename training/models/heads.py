"""Prediction heads of das2025 §4.3 and the representation head of §4.5.

Eight classification heads read the representation ``h``: one crystal-system (CS)
head (7 classes), one extinction-group (EG) head (K classes) and seven
crystal-system-specific space-group (SG) heads, head ``c`` covering the space
groups of crystal system ``c`` only (triclinic 1–2, monoclinic 3–15, ...,
cubic 195–230; :data:`xrdsim.structures.crystal_systems.SPACE_GROUP_RANGES`). Because every SG head
lives inside one crystal system, the SG prediction can be made consistent with the
CS prediction by construction (:func:`predict_space_group`).

SG logits are returned as one ``(B, 230)`` tensor, column ``sg − 1``, whose
segment ``[lo−1, hi)`` is the output of the head of that crystal system; a softmax
is only ever taken *within* a segment (:func:`conditional_sg_log_probs`).
"""

from __future__ import annotations

import torch
from torch import nn

from xrdsim.structures.crystal_systems import (
    CRYSTAL_SYSTEMS,
    SG_TO_CRYSTAL_SYSTEM,
    SPACE_GROUP_RANGES,
)

N_CRYSTAL_SYSTEMS = len(CRYSTAL_SYSTEMS)
N_SPACE_GROUPS = 230
#: Crystal-system index of space group ``sg`` at position ``sg − 1``, int64 (230,).
SG_CRYSTAL_SYSTEM = torch.as_tensor(SG_TO_CRYSTAL_SYSTEM[1:].astype("int64"))


class ClassificationHeads(nn.Module):
    """CS head, EG head and the 7 crystal-system-specific SG heads (8 heads in all)."""

    def __init__(self, embed_dim: int, n_extinction_groups: int):
        super().__init__()
        self.cs = nn.Linear(embed_dim, N_CRYSTAL_SYSTEMS)
        self.eg = nn.Linear(embed_dim, n_extinction_groups)
        self.sg = nn.ModuleList(nn.Linear(embed_dim, hi - lo + 1) for lo, hi in SPACE_GROUP_RANGES)

    def forward(self, h: torch.Tensor) -> dict[str, torch.Tensor]:
        """Logits ``{"cs": (B,7), "eg": (B,K), "sg": (B,230)}`` (SG segments per head)."""
        return {
            "cs": self.cs(h),
            "eg": self.eg(h),
            "sg": torch.cat([head(h) for head in self.sg], dim=1),
        }


class ProjectionHead(nn.Module):
    """Representation head (RH) of DIFCON: ``h → z`` in a high-dimensional space.

    Three linear layers as in Barlow Twins (Zbontar et al. 2021): Linear → BN → GELU,
    Linear → BN → GELU, Linear; GELU as in das2025 Fig. 5.
    """

    def __init__(self, embed_dim: int, projector_dim: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(embed_dim, projector_dim, bias=False),
            nn.BatchNorm1d(projector_dim),
            nn.GELU(),
            nn.Linear(projector_dim, projector_dim, bias=False),
            nn.BatchNorm1d(projector_dim),
            nn.GELU(),
            nn.Linear(projector_dim, projector_dim, bias=False),
        )

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h)


def conditional_sg_log_probs(sg_logits: torch.Tensor) -> torch.Tensor:
    """``log p(sg | cs = CS(sg))``: a log-softmax within each crystal system's segment.

    Args:
        sg_logits: ``(B, 230)`` logits of the seven SG heads side by side.

    Returns:
        ``(B, 230)`` float tensor; each segment exponentiates to a distribution.
    """
    parts = []
    for lo, hi in SPACE_GROUP_RANGES:
        parts.append(torch.log_softmax(sg_logits[:, lo - 1 : hi].float(), dim=1))
    return torch.cat(parts, dim=1)


def space_group_probabilities(cs_logits: torch.Tensor, sg_logits: torch.Tensor) -> torch.Tensor:
    """230-way SG probabilities ``p(sg) = p(cs = CS(sg)) · p(sg | CS(sg))``.

    The probabilities of the space groups of crystal system ``c`` sum to the CS
    head's ``p(c)`` exactly, so summing them recovers the CS prediction.

    Args:
        cs_logits: ``(B, 7)`` CS logits.
        sg_logits: ``(B, 230)`` SG logits (the seven SG heads side by side).

    Returns:
        ``(B, 230)`` float32 probabilities, rows sum to 1; column ``sg − 1``.
    """
    log_cs = torch.log_softmax(cs_logits.float(), dim=1)
    index = SG_CRYSTAL_SYSTEM.to(cs_logits.device)
    return torch.exp(log_cs[:, index] + conditional_sg_log_probs(sg_logits))


def predict_space_group(cs_logits: torch.Tensor, sg_logits: torch.Tensor) -> torch.Tensor:
    """SG prediction read from the SG head of the *predicted* crystal system.

    This is how das2025 §4.3 uses the CS output: the SG head of ``argmax p(cs)``
    chooses, so the predicted SG always belongs to the predicted CS.

    Returns:
        ``(B,)`` int64 space-group numbers 1–230.
    """
    cs = cs_logits.argmax(dim=1)
    index = SG_CRYSTAL_SYSTEM.to(cs_logits.device)
    masked = sg_logits.float().masked_fill(index[None, :] != cs[:, None], float("-inf"))
    return masked.argmax(dim=1) + 1
