"""RoPE for ViT patch grids (Heo et al., 2024): RoPE-Axial and RoPE-Mixed, with resolution extrapolation.

Positions come from :func:`drive.rope.grid_positions` (axes ``x = column``, ``y = row``); this module adds
the frequency tables with the paper's defaults and a position generator that puts prefix tokens (CLS)
at the origin, where the angle is zero and the token is not rotated (as the paper leaves CLS alone).

Extrapolation to a larger image keeps integer patch indices (RoPE-ViT's choice: neighbouring patches
stay one step apart and scores for a given 2-D offset are unchanged); ``reference_size`` instead
interpolates positions onto the training grid.
"""

from __future__ import annotations

import torch
from torch import Tensor

from drive.errors import ConfigError
from drive.rope.frequencies import axial_frequencies, geometric_frequencies, mixed_frequencies
from drive.rope.positions import grid_positions
from drive.rope.variants._checks import non_negative_int, positive_int


def _slots(head_dim: int) -> int:
    positive_int("head_dim", head_dim)
    if head_dim % 4:
        raise ConfigError(f"head_dim must be a multiple of 4 (two axes of channel pairs), got {head_dim}")
    return head_dim // 2


def vit_axial_frequencies(head_dim: int, num_heads: int = 1, base: float = 100.0) -> Tensor:
    """RoPE-Axial ``F [H, head_dim/2, 2]``: x on the first half of the slots, y on the second, each with
    ``base^(-4k/head_dim)``, ``k < head_dim/4`` (paper default ``base = 100``)."""
    quarter = geometric_frequencies(_slots(head_dim) // 2, base)  # (S/2,)
    return axial_frequencies([(0, quarter), (1, quarter)], num_axes=2, num_heads=num_heads)


def vit_mixed_frequencies(
    head_dim: int, num_heads: int, base: float = 10.0, *, generator: torch.Generator | None = None
) -> Tensor:
    """RoPE-Mixed initialisation ``F [H, head_dim/2, 2]`` (learnable; paper default ``base = 10``); use
    with ``RotaryEmbedding(F, learnable=True)``."""
    return mixed_frequencies(_slots(head_dim), num_heads, base, generator=generator)


def patch_positions(
    height: int,
    width: int,
    *,
    num_prefix_tokens: int = 1,
    reference_size: tuple[int, int] | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """Positions ``[num_prefix_tokens + height*width, 2]`` fp32: prefix tokens at ``(0, 0)`` (zero angle,
    not rotated), then the row-major patch grid of :func:`drive.rope.grid_positions`."""
    non_negative_int("num_prefix_tokens", num_prefix_tokens)
    grid = grid_positions(height, width, reference_size=reference_size, device=device)  # (h*w, 2)
    prefix = grid.new_zeros(num_prefix_tokens, 2)
    return torch.cat([prefix, grid], dim=0)
