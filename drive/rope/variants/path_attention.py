"""PaTH attention (Yang et al., 2025): positions from data-dependent Householder products.

Each token ``t`` carries a transition ``H_t = I − β_t w_t w_tᵀ`` (``‖w_t‖ = 1``, ``β_t ∈ [0, 2]``); the
logit of query ``i`` and key ``j <= i`` is ``q_iᵀ H_i H_{i−1} ⋯ H_{j+1} k_j``. ``β = 0`` is attention
without position; ``β = 2`` makes every ``H_t`` a reflection (orthogonal, norm-preserving).

This is a reference implementation (not a rotation, so it shares no code with the RoPE core): the dense
form builds each product explicitly; the recurrent form is the decode loop, which applies ``H_t`` to
every cached key when token ``t`` arrives. Both are O(N²) and meant for tests and small models.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from drive.errors import ConfigError
from drive.rope.variants._checks import positive_int


def path_scores_dense(query: Tensor, key: Tensor, direction: Tensor, beta: Tensor) -> Tensor:
    """Logits ``[..., N, N]`` (zero above the diagonal) for ``query, key, direction [..., N, D]``
    (directions are normalised here) and ``beta [..., N]``."""
    w = F.normalize(direction, dim=-1)
    *lead, N, D = query.shape
    eye = torch.eye(D, dtype=query.dtype, device=query.device)
    transition = eye - beta[..., None, None] * w[..., :, None] * w[..., None, :]  # (..., N, D, D)
    scores = query.new_zeros(*lead, N, N)
    for i in range(N):
        product = eye.expand(*lead, D, D)  # H_i ⋯ H_{j+1}, empty for j = i
        for j in range(i, -1, -1):
            scores[..., i, j] = torch.einsum(
                "...d,...de,...e->...", query[..., i, :], product, key[..., j, :]
            )
            product = product @ transition[..., j, :, :]
    return scores


def path_scores_recurrent(query: Tensor, key: Tensor, direction: Tensor, beta: Tensor) -> Tensor:
    """The same logits by the decode recurrence: ``k ← k − β_t (k·w_t) w_t`` on the cache, then append."""
    w = F.normalize(direction, dim=-1)
    *lead, N, _ = query.shape
    scores = query.new_zeros(*lead, N, N)
    cache = key[..., :0, :]  # (..., 0, D)
    for t in range(N):
        coeff = (cache * w[..., t, None, :]).sum(-1, keepdim=True)  # (..., t, 1)
        cache = cache - beta[..., t, None, None] * coeff * w[..., t, None, :]  # H_t applied to old keys
        cache = torch.cat([cache, key[..., t : t + 1, :]], dim=-2)  # (..., t+1, D)
        scores[..., t, : t + 1] = (cache * query[..., t, None, :]).sum(-1)
    return scores


def path_attention(
    query: Tensor, key: Tensor, value: Tensor, direction: Tensor, beta: Tensor, *, recurrent: bool = False
) -> Tensor:
    """Causal softmax attention ``[..., N, Dv]`` on PaTH logits scaled by ``1/sqrt(D)``."""
    scores_fn = path_scores_recurrent if recurrent else path_scores_dense
    scores = scores_fn(query, key, direction, beta) / math.sqrt(query.shape[-1])  # (..., N, N)
    N = query.shape[-2]
    causal = torch.ones(N, N, dtype=torch.bool, device=query.device).tril()
    weights = torch.softmax(scores.masked_fill(~causal, float("-inf")), dim=-1)
    return weights @ value


class PathAttention(nn.Module):
    """Causal multi-head PaTH self-attention ``x [B, N, E]`` -> ``[B, N, E]``: ``w_t`` from a linear
    projection (normalised), ``β_t = 2·sigmoid(·)`` per head."""

    def __init__(self, embed_dim: int, num_heads: int) -> None:
        super().__init__()
        if positive_int("embed_dim", embed_dim) % positive_int("num_heads", num_heads):
            raise ConfigError(f"embed_dim must be divisible by num_heads={num_heads}, got {embed_dim}")
        self.num_heads, self.head_dim = num_heads, embed_dim // num_heads
        self.qkvw = nn.Linear(embed_dim, 4 * embed_dim)
        self.beta = nn.Linear(embed_dim, num_heads)
        self.out_proj = nn.Linear(embed_dim, embed_dim)

    def forward(self, x: Tensor) -> Tensor:
        B, N, E = x.shape
        q, k, v, w = (
            self.qkvw(x).view(B, N, 4, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        )  # 4x (B, H, N, Dh)
        beta = 2.0 * torch.sigmoid(self.beta(x)).transpose(1, 2)  # (B, H, N)
        out = path_attention(q, k, v, w, beta)  # (B, H, N, Dh)
        return self.out_proj(out.transpose(1, 2).reshape(B, N, E))  # (B, N, E)
