"""Shared helpers: rotated scores through the core, and random queries/keys."""

from __future__ import annotations

import torch

from drive.rope import rope_angles, rotate


def rotated_scores(q, k, q_pos, k_pos, frequencies, layout="half"):
    """Scores ``[H, Nq, Nk]`` of ``q [Nq, H, D]``, ``k [Nk, H, D]`` rotated at ``q_pos, k_pos [N, A]``."""
    q_rot = rotate(q, rope_angles(q_pos, frequencies), layout)
    k_rot = rotate(k, rope_angles(k_pos, frequencies), layout)
    return torch.einsum("ihd,jhd->hij", q_rot, k_rot)


def random_qk(n, heads, dim, seed=0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    return (
        torch.randn(n, heads, dim, generator=gen, dtype=dtype),
        torch.randn(n, heads, dim, generator=gen, dtype=dtype),
    )
