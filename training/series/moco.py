"""MoCo v2 (He et al. 2020; Chen et al. 2020, arXiv:2003.04297), sun2023's SpecMoco-Net.

A query encoder f_q (+ MLP projector) and a key encoder f_k updated as an exponential
moving average θ_k ← m·θ_k + (1 − m)·θ_q; a FIFO queue of K past keys serves as negatives.
With L2-normalised query q, positive key k₊ and queue keys k_j (MoCo eq. 1):

    L = −log( exp(q·k₊/τ) / (exp(q·k₊/τ) + Σ_j exp(q·k_j/τ)) )

averaged over the batch; after each step the batch's keys replace the oldest queue entries.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn


def info_nce(q: torch.Tensor, k: torch.Tensor, queue: torch.Tensor, *, temperature: float):
    """InfoNCE of (N, D) normalised queries/positive keys against a (D, K) queue."""
    l_pos = (q * k).sum(dim=1, keepdim=True)  # (N, 1)
    l_neg = q @ queue  # (N, K)
    logits = torch.cat([l_pos, l_neg], dim=1) / temperature
    return F.cross_entropy(logits, torch.zeros(q.shape[0], dtype=torch.long, device=q.device))


def projector(embed_dim: int, out_dim: int) -> nn.Module:
    """MoCo v2's two-layer MLP head."""
    return nn.Sequential(nn.Linear(embed_dim, embed_dim), nn.ReLU(), nn.Linear(embed_dim, out_dim))


class MoCo(nn.Module):
    """Momentum contrast around an encoder: query branch trained, key branch an EMA."""

    def __init__(
        self,
        encoder: nn.Module,
        *,
        embed_dim: int,
        dim: int = 64,
        queue_size: int = 1024,
        momentum: float = 0.99,
        temperature: float = 0.2,
    ):
        super().__init__()
        if not (0.0 <= momentum < 1.0 and temperature > 0.0 and queue_size >= 1):
            raise ValueError(
                f"need 0 <= momentum < 1, temperature > 0, queue_size >= 1; got "
                f"{momentum}, {temperature}, {queue_size}"
            )
        self.encoder_q = encoder
        self.projector_q = projector(embed_dim, dim)
        self.encoder_k = copy.deepcopy(encoder)
        self.projector_k = copy.deepcopy(self.projector_q)
        for p in list(self.encoder_k.parameters()) + list(self.projector_k.parameters()):
            p.requires_grad_(False)
        self.momentum = momentum
        self.temperature = temperature
        self.register_buffer("queue", F.normalize(torch.randn(dim, queue_size), dim=0))
        self.register_buffer("queue_ptr", torch.zeros(1, dtype=torch.long))

    def _pairs(self):
        q = list(self.encoder_q.parameters()) + list(self.projector_q.parameters())
        k = list(self.encoder_k.parameters()) + list(self.projector_k.parameters())
        return zip(q, k, strict=True)

    @torch.no_grad()
    def momentum_update(self) -> None:
        """θ_k ← m·θ_k + (1 − m)·θ_q (buffers such as BN statistics are copied)."""
        for p_q, p_k in self._pairs():
            p_k.mul_(self.momentum).add_(p_q.detach(), alpha=1.0 - self.momentum)
        buffers_q = list(self.encoder_q.buffers())
        for b_q, b_k in zip(buffers_q, self.encoder_k.buffers(), strict=True):
            b_k.copy_(b_q)

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor) -> None:
        """Write (N, D) keys over the oldest entries (wrapping around the queue)."""
        size = self.queue.shape[1]
        keys = keys[-size:]
        ptr = int(self.queue_ptr)
        index = (ptr + torch.arange(keys.shape[0], device=keys.device)) % size
        self.queue[:, index] = keys.T
        self.queue_ptr[0] = (ptr + keys.shape[0]) % size

    def query(self, h_q: torch.Tensor) -> torch.Tensor:
        """Normalised query from the encoder's output (shared with relational heads)."""
        return F.normalize(self.projector_q(h_q), dim=1)

    def loss(self, h_q: torch.Tensor, x_k: torch.Tensor) -> torch.Tensor:
        """InfoNCE of the encoded query view ``h_q`` against the key view ``x_k``; updates
        the key encoder first and the queue after (MoCo Algorithm 1)."""
        q = self.query(h_q)
        with torch.no_grad():
            self.momentum_update()
            k = F.normalize(self.projector_k(self.encoder_k(x_k)), dim=1)
        loss = info_nce(q, k, self.queue.clone().detach(), temperature=self.temperature)
        self.enqueue(k)
        return loss
