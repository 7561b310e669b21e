"""The full network: encoder, the 8 classification heads and the representation head."""

from __future__ import annotations

import torch
from torch import nn
from xrdsim_training.config import ModelConfig
from xrdsim_training.models.heads import ClassificationHeads, ProjectionHead
from xrdsim_training.models.resnet1d import ResNet1dEncoder


class XrdNet(nn.Module):
    """Encoder ``f`` (1D ResNet), heads ``g`` (CS, EG, 7×SG) and projector ``p`` (RH).

    ``forward(x)`` gives the head logits and the representation ``h``;
    ``forward(x, project=True)`` gives the RH output ``z = p(f(x))`` of the contrastive losses.
    The projector exists for every method so checkpoints share one layout.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.encoder = ResNet1dEncoder(config)
        self.heads = ClassificationHeads(config.embed_dim, config.n_extinction_groups)
        self.projector = ProjectionHead(config.embed_dim, config.projector_dim)

    def forward(
        self, x: torch.Tensor, *, project: bool = False
    ) -> dict[str, torch.Tensor] | torch.Tensor:
        """Head logits, or the RH output.

        Args:
            x: (B, 12000) float32 patterns.
            project: return ``z = p(f(x))`` of shape ``(B, projector_dim)`` instead of the
                heads (one ``forward`` for both, so DDP sees every call).

        Returns:
            ``{"cs": (B,7), "eg": (B,K), "sg": (B,230) logits, "h": (B, embed_dim)}``, or ``z``.
        """
        h = self.encoder(x)
        if project:
            return self.projector(h)
        out = self.heads(h)
        out["h"] = h
        return out
