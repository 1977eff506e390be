"""RoPElite from EliteKV (Zhou et al., 2025): per head, keep rotation only on the "elite" slots.

A calibration pass ranks, per head, the slots whose rotation matters most for the attention scores:
starting from un-rotated q and k, it greedily restores the rotation of the slot that brings the scores
closest (mean absolute error) to the fully rotated scores, then the next, and so on. Keeping the first
``r`` slots of the ranking and zeroing the others' frequencies makes the others position-free (linear),
which is what lets EliteKV compress their keys jointly with the values.
"""

from __future__ import annotations

import torch
from torch import Tensor

from drive.errors import ConfigError
from drive.rope.angles import rope_angles
from drive.rope.rotation import LAYOUTS, rotate
from drive.rope.variants._checks import non_negative_int


def _pair_products(a: Tensor, b: Tensor, num_slots: int, layout: str) -> Tensor:
    """Per-slot dot products ``[..., S]`` of the channel pairs of ``a`` and ``b`` (``[..., D]``)."""
    if layout == "half":
        return (
            a[..., :num_slots] * b[..., :num_slots]
            + a[..., num_slots : 2 * num_slots] * b[..., num_slots : 2 * num_slots]
        )
    pa = a[..., : 2 * num_slots].unflatten(-1, (num_slots, 2))  # (..., S, 2)
    pb = b[..., : 2 * num_slots].unflatten(-1, (num_slots, 2))  # (..., S, 2)
    return (pa * pb).sum(-1)


def rank_elite_slots(
    query: Tensor,
    key: Tensor,
    positions: Tensor,
    frequencies: Tensor,
    *,
    layout: str = "half",
    causal: bool = True,
) -> Tensor:
    """Per-head slot ranking ``[H, S]`` (int64, most important first) from calibration activations
    ``query, key [N, H, D]`` at ``positions [N, A]`` with ``F [H, S, A]``."""
    if layout not in LAYOUTS:
        raise ConfigError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    num_heads, num_slots = frequencies.shape[0], frequencies.shape[1]
    angle = rope_angles(positions, frequencies)  # (N, H, S)
    q_rot, k_rot = rotate(query.double(), angle, layout), rotate(key.double(), angle, layout)
    device = query.device
    pairs = torch.arange(query.shape[0], device=device)
    keep = (
        (pairs[:, None] >= pairs[None, :])
        if causal
        else torch.ones(len(pairs), len(pairs), dtype=torch.bool, device=device)
    )
    rot = _pair_products(q_rot[:, None], k_rot[None, :], num_slots, layout)[keep]  # (P, H, S)
    plain = _pair_products(query.double()[:, None], key.double()[None, :], num_slots, layout)[
        keep
    ]  # (P, H, S)
    target = rot.sum(-1)  # (P, H): fully rotated scores
    current = plain.sum(-1)  # (P, H): no slot rotated yet
    gain = rot - plain  # (P, H, S): change of the score when a slot's rotation is restored
    chosen = torch.zeros(num_heads, num_slots, dtype=torch.bool, device=device)
    ranking = torch.empty(num_heads, num_slots, dtype=torch.long, device=device)
    heads = torch.arange(num_heads, device=device)
    for step in range(num_slots):
        error = (current[..., None] + gain - target[..., None]).abs().mean(0)  # (H, S)
        best = error.masked_fill(chosen, float("inf")).argmin(-1)  # (H,)
        ranking[:, step] = best
        chosen[heads, best] = True
        current = current + gain[:, heads, best]  # (P, H)
    return ranking


def elite_frequencies(frequencies: Tensor, ranking: Tensor, num_elite: int) -> Tensor:
    """``F [H, S, A]`` keeping, per head, the first ``num_elite`` slots of ``ranking [H, S]``; the others
    get zero frequency (position-free). ``num_elite = S`` is RoPE, ``0`` is NoPE."""
    non_negative_int("num_elite", num_elite)
    if num_elite > frequencies.shape[1]:
        raise ConfigError(f"num_elite must be <= num_slots={frequencies.shape[1]}, got {num_elite}")
    mask = torch.zeros(ranking.shape, dtype=torch.bool, device=ranking.device)
    mask.scatter_(1, ranking[:, :num_elite], True)  # (H, S)
    return frequencies * mask[..., None].to(frequencies.dtype)
