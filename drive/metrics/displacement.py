"""Displacement errors shared by every metric family.

Glossary: N objects, K modes, T prediction steps. Positions in metres, one frame for prediction and
ground truth. Masks are bool, True = valid.
"""

from __future__ import annotations

import torch
from torch import Tensor


def displacement(trajectory: Tensor, target: Tensor) -> Tensor:
    """L2 error ``[N, K, T]`` of ``trajectory [N, K, T, 2]`` against ``target [N, T, 2]``."""
    return torch.linalg.vector_norm(trajectory - target[:, None], dim=-1)


def masked_ade(error: Tensor, valid: Tensor) -> Tensor:
    """Mean of ``error [N, K, T]`` over the steps where ``valid [N, T]`` holds -> ``[N, K]``.

    Rows with no valid step give 0; callers drop them with ``valid.any(-1)``.
    """
    weight = valid[:, None].to(error.dtype)  # (N, 1, T)
    return (error * weight).sum(-1) / weight.sum(-1).clamp_min(1.0)


def last_valid_index(valid: Tensor) -> Tensor:
    """Index ``[N]`` of the last True step of ``valid [N, T]`` (0 for an all-False row)."""
    steps = torch.arange(valid.shape[-1], device=valid.device)
    return torch.where(valid, steps, torch.zeros_like(steps)).amax(-1)


def top_k_modes(trajectory: Tensor, probability: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """The ``k`` most probable modes, most probable first, probabilities renormalised to sum to 1.

    trajectory ``[N, K, T, 2]``, probability ``[N, K]`` -> ``([N, k', T, 2], [N, k'])`` with
    k' = min(k, K). Ties keep the file's mode order (stable sort).
    """
    k = min(k, probability.shape[-1])
    order = torch.sort(probability, dim=-1, descending=True, stable=True).indices[:, :k]  # (N, k)
    top_prob = probability.gather(1, order)
    top_traj = trajectory.gather(1, order[:, :, None, None].expand(-1, -1, *trajectory.shape[2:]))
    total = top_prob.sum(-1, keepdim=True)
    uniform = torch.full_like(top_prob, 1.0 / k)
    top_prob = torch.where(total > 0, top_prob / total.clamp_min(1e-12), uniform)
    return top_traj, top_prob
