"""The full network: encoder, the 8 classification heads and the representation head."""

from __future__ import annotations

import torch
from torch import nn
from xrdsim_training.config import ModelConfig
from xrdsim_training.models.heads import ClassificationHeads, ProjectionHead
from xrdsim_training.models.resnet1d import ResNet1dEncoder
from xrdsim_training.models.view import PatternView


class XrdNet(nn.Module):
    """Input view, encoder ``f`` (1D ResNet), heads ``g`` (CS, EG, 7×SG), projector ``p`` (RH).

    Every pattern first goes through :class:`~xrdsim_training.models.view.PatternView`
    (window, background, max = 1; no parameters), so simulated and measured inputs are
    prepared by one function with the settings saved in the checkpoint.

    ``forward(x)`` gives the head logits and the representation ``h``;
    ``forward(x, project=True)`` gives the RH output ``z = p(f(x))`` of the contrastive losses;
    ``forward(x, project="both")`` gives the heads and ``z`` of one encoder pass (the joint
    contrastive + supervised pre-training, :mod:`xrdsim_training.methods`).
    The projector exists for every method so checkpoints share one layout.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.view = PatternView(config.view_two_theta, config.view_background,
                                crop=config.view_crop, pool=config.view_pool)
        self.encoder = ResNet1dEncoder(config)
        self.heads = ClassificationHeads(config.embed_dim, config.n_extinction_groups)
        self.projector = ProjectionHead(config.embed_dim, config.projector_dim)

    def forward(
        self, x: torch.Tensor, *, project: bool | str = False
    ) -> dict[str, torch.Tensor] | torch.Tensor:
        """Head logits, or the RH output.

        Args:
            x: (B, 12000) float32 patterns (any positive scale; the view normalises).
            project: ``True``: return ``z = p(f(x))`` of shape ``(B, projector_dim)`` instead
                of the heads; ``"both"``: the heads' dict with ``z`` added (one ``forward``
                for every use, so DDP sees every call).

        Returns:
            ``{"cs": (B,7), "eg": (B,K), "sg": (B,230) logits, "h": (B, embed_dim)}``
            (with ``"z"`` for ``project="both"``), or ``z``.
        """
        if project not in (False, True, "both"):
            raise ValueError(f"project must be False, True or 'both', got {project!r}")
        h = self.encoder(self.view(x))
        if project is True:
            return self.projector(h)
        out = self.heads(h)
        out["h"] = h
        if project == "both":
            out["z"] = self.projector(h)
        return out
