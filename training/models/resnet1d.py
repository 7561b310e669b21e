"""1D ResNet encoder with GELU activations (das2025 §4.3, Fig. 5; He et al. 2016).

A pattern ``x`` of shape ``(B, 12000)`` (or ``(B, 1, 12000)``) is mapped to a
representation ``h`` of shape ``(B, embed_dim)``:

    stem:   Conv1d(1→w, k=15, stride 4) → BN → GELU → MaxPool(k=3, stride 2)   (12000 → 1500)
    stages: ``depth`` stages, stage s has ``blocks_per_stage`` basic residual blocks
            (two k=7 convolutions with BN, GELU after the sum), channels w·2^s
            (capped at 8·w), the first block of each stage halves the length
    pool:   AdaptiveAvgPool1d(pool_length) — keeps coarse absolute 2θ position,
            which a global average pool would throw away
    embed:  flatten → Linear → GELU → ``h``
"""

from __future__ import annotations

import torch
from torch import nn
from xrdsim_training.config import ModelConfig

#: Channel multiplier cap: stage channels are ``width · min(2^s, 8)``.
MAX_CHANNEL_MULTIPLIER = 8


class BasicBlock1d(nn.Module):
    """``GELU(BN(conv(GELU(BN(conv(x))))) + shortcut(x))`` with optional stride-2 downsampling."""

    def __init__(self, c_in: int, c_out: int, *, stride: int):
        super().__init__()
        self.conv1 = nn.Conv1d(c_in, c_out, 7, stride=stride, padding=3, bias=False)
        self.bn1 = nn.BatchNorm1d(c_out)
        self.conv2 = nn.Conv1d(c_out, c_out, 7, padding=3, bias=False)
        self.bn2 = nn.BatchNorm1d(c_out)
        self.act = nn.GELU()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv1d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm1d(c_out)
            )
        else:
            self.shortcut = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.act(y + self.shortcut(x))


class ResNet1dEncoder(nn.Module):
    """The encoder: pattern ``(B, L)`` float32 → representation ``(B, embed_dim)``."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        w = config.width
        self.stem = nn.Sequential(
            nn.Conv1d(1, w, 15, stride=4, padding=7, bias=False),
            nn.BatchNorm1d(w),
            nn.GELU(),
            nn.MaxPool1d(3, stride=2, padding=1),
        )
        blocks: list[nn.Module] = []
        c_in = w
        for stage in range(config.depth):
            c_out = w * min(2**stage, MAX_CHANNEL_MULTIPLIER)
            for b in range(config.blocks_per_stage):
                blocks.append(BasicBlock1d(c_in, c_out, stride=2 if b == 0 else 1))
                c_in = c_out
        self.stages = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool1d(config.pool_length)
        self.embed = nn.Sequential(
            nn.Flatten(), nn.Linear(c_in * config.pool_length, config.embed_dim), nn.GELU()
        )
        self.out_dim = config.embed_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            x = x.unsqueeze(1)
        return self.embed(self.pool(self.stages(self.stem(x))))
