"""Small building blocks: a two-layer MLP and a QCNet-style Fourier feature embedding."""

from __future__ import annotations

import math

import torch
from torch import nn


class MLP(nn.Module):
    """``Linear -> LayerNorm -> ReLU -> Linear``; ``[..., in_dim] -> [..., out_dim]``."""

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(in_dim, hidden_dim),
            nn.LayerNorm(hidden_dim),
            nn.ReLU(inplace=True),
            nn.Linear(hidden_dim, out_dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class FourierEmbedding(nn.Module):
    """Continuous scalars ``[..., C]`` -> ``[..., D]`` through learnable Fourier features.

    Each input channel c is expanded to ``[cos(2π f x_c), sin(2π f x_c), x_c]`` with ``num_bands``
    learnable frequencies f, mapped by a per-channel MLP, summed over channels and projected (the
    relative-pose embedding of QCNet, re-derived).
    """

    def __init__(self, in_dim: int, out_dim: int, num_bands: int = 16) -> None:
        super().__init__()
        self.freqs = nn.Parameter(torch.randn(in_dim, num_bands))
        self.channel_mlps = nn.ModuleList(
            [
                nn.Sequential(nn.Linear(2 * num_bands + 1, out_dim), nn.LayerNorm(out_dim), nn.ReLU())
                for _ in range(in_dim)
            ]
        )
        self.out = nn.Sequential(nn.LayerNorm(out_dim), nn.ReLU(), nn.Linear(out_dim, out_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        phase = x.unsqueeze(-1) * self.freqs * (2 * math.pi)  # (..., C, bands)
        feats = torch.cat([phase.cos(), phase.sin(), x.unsqueeze(-1)], dim=-1)  # (..., C, 2*bands+1)
        total = sum(mlp(feats[..., c, :]) for c, mlp in enumerate(self.channel_mlps))  # (..., D)
        return self.out(total)
