"""Windowed RoPE (WRoPE) from A²ATS (He et al., 2025): approximate attention scores for key retrieval.

Keys are stored (and quantised) *before* rotation. A key within ``window`` steps of the query, or one of
the first ``num_sinks`` tokens, is scored exactly; every farther key is scored as if it sat exactly
``far_distance`` steps before the query: ``s̃ = (R(far_distance) q) · k``, one rotation of the query
instead of one per key. So WRoPE equals RoPE inside the window and at distance ``far_distance``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from drive.rope.angles import rope_angles
from drive.rope.rotation import rotate
from drive.rope.variants._checks import non_negative_int, positive_int


def windowed_rope_scores(
    query: Tensor,
    key: Tensor,
    query_pos: Tensor,
    key_pos: Tensor,
    frequencies: Tensor,
    *,
    window: int = 64,
    far_distance: int = 2048,
    num_sinks: int = 8,
    layout: str = "half",
) -> Tensor:
    """Scores ``[..., H, Nq, Nk]`` (unscaled dot products) for ``query [..., Nq, H, D]``, un-rotated
    ``key [..., Nk, H, D]``, integer ``query_pos [Nq]``, ``key_pos [Nk]`` and 1-axis ``F [H, S, 1]``.

    Exact where ``query_pos - key_pos < window`` (later keys included) or ``key_pos < num_sinks``.
    """
    positive_int("window", window)
    positive_int("far_distance", far_distance)
    non_negative_int("num_sinks", num_sinks)
    q_rot = rotate(query, rope_angles(query_pos[:, None], frequencies), layout)  # (..., Nq, H, D)
    k_rot = rotate(key, rope_angles(key_pos[:, None], frequencies), layout)  # (..., Nk, H, D)
    exact = torch.einsum("...ihd,...jhd->...hij", q_rot, k_rot)  # (..., H, Nq, Nk)
    far_angle = rope_angles(torch.full((1, 1), far_distance, device=query.device), frequencies)  # (1, H, S)
    q_far = rotate(query, far_angle, layout)  # (..., Nq, H, D)
    approx = torch.einsum("...ihd,...jhd->...hij", q_far, key.to(q_far.dtype))  # (..., H, Nq, Nk)
    distance = query_pos[:, None] - key_pos[None, :]  # (Nq, Nk)
    use_exact = (distance < window) | (key_pos[None, :] < num_sinks)  # (Nq, Nk)
    return torch.where(use_exact, exact, approx)
