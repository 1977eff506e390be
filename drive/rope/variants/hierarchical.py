"""HiRoPE (Zhang et al., 2024): hierarchical positions on disjoint slot groups.

A token's position is a vector of levels, finest first (token within line, line within file, ...).
Each level rotates its own contiguous group of slots of the ordinary geometric schedule; the finest
level takes the highest frequencies. With one level the result is plain RoPE. HiRoPE's window keeps
flat token positions for nearby pairs (:func:`windowed_hierarchical_scores`).

Reading: the paper's split of frequencies between levels is not fully specified; here level groups are
contiguous, finest on the highest frequencies. The window depends on the query-key pair, not on one
token, so it is applied to scores rather than to positions.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from drive.errors import ConfigError
from drive.rope.angles import rope_angles
from drive.rope.frequencies import axial_frequencies, geometric_frequencies
from drive.rope.rotation import rotate
from drive.rope.variants._checks import positive_int


def hierarchical_frequencies(level_slots: Sequence[int], base: float = 10000.0, num_heads: int = 1) -> Tensor:
    """``F [H, S, num_levels]`` with ``S = sum(level_slots)``: level ``g`` (0 = finest) rotates slots
    ``sum(level_slots[:g]) ..`` with their geometric frequencies ``base^(-i/S)``."""
    if len(level_slots) == 0:
        raise ConfigError("level_slots must name at least one level, got an empty sequence")
    for index, count in enumerate(level_slots):
        positive_int(f"level_slots[{index}]", count)
    theta = geometric_frequencies(sum(level_slots), base)  # (S,)
    groups = list(zip(range(len(level_slots)), theta.split(list(level_slots)), strict=True))
    return axial_frequencies(groups, num_axes=len(level_slots), num_heads=num_heads)


def hierarchical_positions(group_ids: Tensor) -> Tensor:
    """Positions ``[T, 1 + G]`` for tokens in sequence order with coarser-level ids ``group_ids [T, G]``
    (e.g. the line index of each token, ``G = 1``), or ``[T]`` for one coarser level.

    Axis 0 is the token's index within its innermost group (reset whenever any coarser id changes);
    axes ``1..G`` are the given ids. int64.
    """
    if group_ids.dim() == 1:
        group_ids = group_ids[:, None]  # (T, 1)
    if group_ids.dim() != 2 or group_ids.shape[0] == 0 or group_ids.is_floating_point():
        raise ConfigError(
            f"group_ids must be an int tensor [T] or [T, G], got {group_ids.dtype} {tuple(group_ids.shape)}"
        )
    steps = torch.arange(group_ids.shape[0], device=group_ids.device)  # (T,)
    change = torch.ones_like(steps, dtype=torch.bool)
    change[1:] = (group_ids[1:] != group_ids[:-1]).any(dim=-1)
    start = torch.cummax(torch.where(change, steps, torch.zeros_like(steps)), dim=0).values  # (T,)
    return torch.cat([(steps - start)[:, None], group_ids.long()], dim=-1)  # (T, 1 + G)


def windowed_hierarchical_scores(
    query: Tensor,
    key: Tensor,
    flat_pos: Tensor,
    level_pos: Tensor,
    level_frequencies: Tensor,
    *,
    window: int,
    layout: str = "half",
) -> Tensor:
    """HiRoPE's window mechanism as pre-softmax scores ``[..., H, N, N]``: token pairs closer than
    ``window`` flat steps are scored with ordinary RoPE on ``flat_pos [N]`` (the geometric schedule
    of the same slots), farther pairs with the hierarchical positions ``level_pos [N, L]``.

    ``query, key [..., N, H, D]`` are un-rotated; ``level_frequencies [H, S, L]`` come from
    :func:`hierarchical_frequencies`. The window depends on the pair, so it is applied to scores.
    """
    positive_int("window", window)
    flat_frequencies = level_frequencies.sum(-1, keepdim=True)  # (H, S, 1): each slot's own frequency
    scores = []
    for positions, frequencies in ((flat_pos[:, None], flat_frequencies), (level_pos, level_frequencies)):
        angle = rope_angles(positions, frequencies)  # (N, H, S)
        q, k = rotate(query, angle, layout), rotate(key, angle, layout)
        scores.append(torch.einsum("...ihd,...jhd->...hij", q, k))  # (..., H, N, N)
    near = (flat_pos[:, None] - flat_pos[None, :]).abs() < window  # (N, N)
    return torch.where(near, scores[0], scores[1])
