"""QCNet-style relative pose attention on explicit pairwise edges (the O(N²)-memory reference).

For every query i and key j the relative pose of j in i's frame is described by
``[distance, bearing of p_j seen from i's heading, wrap(ψ_j − ψ_i)]``, Fourier-embedded to ``[D]`` and
added to the key and the value of that edge: ``k_ij = W_k x_j + W_kr r_ij``, ``v_ij = W_v x_j + W_vr r_ij``.
Every edge holds its own ``[D]`` vectors, so memory grows as ``Nq · Nk · D``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from drive.errors import ConfigError
from drive.geometry.se2 import relative_pose
from drive.nn.masking import attention_mask
from drive.nn.mlp import FourierEmbedding


def relative_pose_descriptor(
    query_pos: torch.Tensor, query_heading: torch.Tensor, key_pos: torch.Tensor, key_heading: torch.Tensor
) -> torch.Tensor:
    """``[B, Nq, 2]``, ``[B, Nq]``, ``[B, Nk, 2]``, ``[B, Nk]`` -> ``[B, Nq, Nk, 3]``:
    distance (m), bearing (rad, in the query's frame) and relative heading (rad)."""
    rel_pos, rel_heading = relative_pose(
        query_pos[:, :, None, :], query_heading[:, :, None], key_pos[:, None, :, :], key_heading[:, None, :]
    )  # (B, Nq, Nk, 2), (B, Nq, Nk)
    distance = torch.hypot(rel_pos[..., 0], rel_pos[..., 1])
    # A self edge has rel_pos = (±0, ±0), whose atan2 is 0 or ±π depending on signed zeros.
    bearing = torch.where(distance > 0, torch.atan2(rel_pos[..., 1], rel_pos[..., 0]), 0.0)
    return torch.stack([distance, bearing, rel_heading], dim=-1)


class RelativePoseAttention(nn.Module):
    """Multi-head attention with per-edge relative pose embeddings on keys and values.

    Same ``forward`` signature as :class:`drive.nn.se2_attention.SE2Attention`; returns ``[B, Nq, D]``.
    """

    def __init__(self, embed_dim: int, num_heads: int, *, num_bands: int = 16, dropout: float = 0.0) -> None:
        super().__init__()
        if embed_dim % num_heads:
            raise ConfigError(f"embed_dim {embed_dim} must be divisible by num_heads {num_heads}")
        self.num_heads, self.head_dim = num_heads, embed_dim // num_heads
        self.edge_embedding = FourierEmbedding(3, embed_dim, num_bands)
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.kv_proj = nn.Linear(embed_dim, 2 * embed_dim)
        self.edge_kv_proj = nn.Linear(embed_dim, 2 * embed_dim, bias=False)
        self.out_proj = nn.Linear(embed_dim, embed_dim)
        self.dropout = nn.Dropout(dropout)

    def forward(
        self,
        query: torch.Tensor,
        key_value: torch.Tensor,
        query_pos: torch.Tensor,
        query_heading: torch.Tensor,
        key_pos: torch.Tensor,
        key_heading: torch.Tensor,
        key_padding_mask: torch.Tensor | None = None,
        attn_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        b, nq, d = query.shape
        nk = key_value.shape[1]
        h, dh = self.num_heads, self.head_dim
        edge = self.edge_embedding(
            relative_pose_descriptor(query_pos, query_heading, key_pos, key_heading).to(query.dtype)
        )  # (B, Nq, Nk, D)
        edge_k, edge_v = self.edge_kv_proj(edge).chunk(2, dim=-1)  # (B, Nq, Nk, D) each
        k, v = self.kv_proj(key_value).chunk(2, dim=-1)  # (B, Nk, D)
        k = (k[:, None] + edge_k).view(b, nq, nk, h, dh)  # (B, Nq, Nk, H, dh)
        v = (v[:, None] + edge_v).view(b, nq, nk, h, dh)
        q = self.q_proj(query).view(b, nq, h, dh)  # (B, Nq, H, dh)
        logits = torch.einsum("bqhd,bqkhd->bhqk", q, k) / math.sqrt(dh)  # (B, H, Nq, Nk)
        mask, has_key = attention_mask(key_padding_mask, attn_mask, nq)
        if mask is not None:
            logits = logits.masked_fill(~mask, float("-inf"))
        weights = self.dropout(torch.softmax(logits, dim=-1))
        out = torch.einsum("bhqk,bqkhd->bqhd", weights, v).reshape(b, nq, d)  # (B, Nq, D)
        out = self.out_proj(out)
        if has_key is not None:  # a query with nothing to attend to outputs zeros
            out = out * has_key[..., None].to(out.dtype)
        return out
