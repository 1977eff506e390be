"""The position-encoding switch: one read-only table from ``PredictorConfig.encoding`` to the attention
layer it builds, plus the token features some encodings add (heading or absolute pose as features)."""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType

import torch
from torch import nn

from drive.models.config import PredictorConfig
from drive.nn import MLP, PoseRotaryAttention, RelativePoseAttention, SE2Attention

_ABSOLUTE_SCALE_M = 100.0


def _rotary(config: PredictorConfig, xy_slots: int, heading_slots: int, heading_heads: int = 0) -> nn.Module:
    return PoseRotaryAttention(
        config.hidden_dim,
        config.num_heads,
        xy_slots=xy_slots,
        heading_slots=heading_slots,
        min_wavelength_m=config.min_wavelength_m,
        max_wavelength_m=config.max_wavelength_m,
        heading_heads=heading_heads,
        shared_wavelengths=config.shared_wavelengths,
        dropout=config.dropout,
        layout=config.rotary_layout,
    )


def _se2(config: PredictorConfig) -> nn.Module:
    return SE2Attention(
        config.hidden_dim,
        config.num_heads,
        num_pose_blocks=config.se2_pose_blocks,
        num_rotation_pairs=config.se2_rotation_pairs,
        min_scale_m=config.se2_min_scale_m,
        max_scale_m=config.se2_max_scale_m,
        distance_scale_m=config.se2_distance_scale_m,
        dropout=config.dropout,
    )


def _rpe(config: PredictorConfig) -> nn.Module:
    return RelativePoseAttention(
        config.hidden_dim, config.num_heads, num_bands=config.rpe_num_bands, dropout=config.dropout
    )


ATTENTION_BUILDERS: MappingProxyType[str, Callable[[PredictorConfig], nn.Module]] = MappingProxyType(
    {
        "drope_rope": lambda c: _rotary(c, c.xy_slots, c.heading_slots, c.heading_heads),
        "rope_2d": lambda c: _rotary(c, c.xy_slots + c.heading_slots, 0),
        "rpe": _rpe,
        "absolute": lambda c: _rotary(c, 0, 0),
        "se2": _se2,
    }
)


def build_attention(config: PredictorConfig) -> nn.Module:
    """The pose-aware attention layer for ``config.encoding`` (signature in :mod:`drive.nn`)."""
    return ATTENTION_BUILDERS[config.encoding](config)


class PoseFeatures(nn.Module):
    """Token features that carry pose for encodings whose attention does not: ``rope_2d`` adds the
    heading (cos, sin), ``absolute`` adds position (per 100 m) and heading; others add nothing.

    ``forward(tokens [B, N, D], pos [B, N, 2] m from the scene origin, heading [B, N] rad) -> [B, N, D]``.
    """

    def __init__(self, config: PredictorConfig) -> None:
        super().__init__()
        in_dim = {"rope_2d": 2, "absolute": 4}.get(config.encoding, 0)
        self.in_dim = in_dim
        self.mlp = MLP(in_dim, config.hidden_dim, config.hidden_dim) if in_dim else None

    def forward(self, tokens: torch.Tensor, pos: torch.Tensor, heading: torch.Tensor) -> torch.Tensor:
        if self.mlp is None:
            return tokens
        feats = [heading.cos()[..., None], heading.sin()[..., None]]
        if self.in_dim == 4:
            feats = [pos / _ABSOLUTE_SCALE_M, *feats]
        return tokens + self.mlp(torch.cat(feats, dim=-1).to(tokens.dtype))
