"""ConvSC-attention encoder (Sun et al. 2021, Appl. Sci. 11, 11520; sun2023 Fig. S1).

Two convolution modules extract local features, then a spatial (2θ positions) and a
channel self-attention module build long-range dependencies (DANet's position and channel
attention, Fu et al. 2019), without a feed-forward network. The second convolution module
ends in an adaptive average pool (sun2023: "to accept input data with different feature
sizes"), so whole patterns and short pieces of them (intra-sample relational reasoning)
share one encoder:

    conv 1:  Conv1d(1→c, k=7) → BN → ReLU → MaxPool(4)
    conv 2:  Conv1d(c→2c, k=5) → BN → ReLU → AdaptiveAvgPool1d(pool_length)
    spatial: A = softmax(Qᵀ K) over positions (L×L), y = γ·V Aᵀ + x     (Q, K: C/8 channels)
    channel: A = softmax(max(E) − E), E = X Xᵀ (C×C),  y = β·A X + x
    embed:   flatten → Linear → representation (B, embed_dim)

γ and β start at 0 (DANet), so the attention is learned in from the plain convolutions.
"""

from __future__ import annotations

import torch
from torch import nn


class SpatialAttention1d(nn.Module):
    """Self-attention across positions of a (B, C, L) feature map, with a residual."""

    def __init__(self, channels: int):
        super().__init__()
        inner = max(channels // 8, 1)
        self.query = nn.Conv1d(channels, inner, 1)
        self.key = nn.Conv1d(channels, inner, 1)
        self.value = nn.Conv1d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k = self.query(x), self.key(x)  # (B, C', L)
        attention = torch.softmax(q.transpose(1, 2) @ k, dim=-1)  # (B, L, L): a_ij = q_i·k_j
        return self.gamma * (self.value(x) @ attention.transpose(1, 2)) + x


class ChannelAttention1d(nn.Module):
    """Self-attention across channels of a (B, C, L) feature map, with a residual."""

    def __init__(self):
        super().__init__()
        self.beta = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        energy = x @ x.transpose(1, 2)  # (B, C, C)
        energy = energy.amax(dim=-1, keepdim=True) - energy  # DANet's max − E
        return self.beta * (torch.softmax(energy, dim=-1) @ x) + x


class ConvSCEncoder(nn.Module):
    """Pattern or piece ``(B, L)`` / ``(B, 1, L)`` float32 → representation ``(B, embed_dim)``."""

    def __init__(self, *, channels: int = 16, pool_length: int = 64, embed_dim: int = 128):
        super().__init__()
        c = channels
        self.conv1 = nn.Sequential(
            nn.Conv1d(1, c, 7, padding=3, bias=False),
            nn.BatchNorm1d(c),
            nn.ReLU(),
            nn.MaxPool1d(4),
        )
        self.conv2 = nn.Sequential(
            nn.Conv1d(c, 2 * c, 5, padding=2, bias=False),
            nn.BatchNorm1d(2 * c),
            nn.ReLU(),
            nn.AdaptiveAvgPool1d(pool_length),
        )
        self.spatial = SpatialAttention1d(2 * c)
        self.channel = ChannelAttention1d()
        self.embed = nn.Linear(2 * c * pool_length, embed_dim)
        self.embed_dim = embed_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            x = x.unsqueeze(1)
        h = self.channel(self.spatial(self.conv2(self.conv1(x))))
        return self.embed(h.flatten(1))
