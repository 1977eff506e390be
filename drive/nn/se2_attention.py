"""Attention exactly invariant to rotating and translating the whole scene, in linear memory.

Each token carries an SE(2) pose g = (p, ψ). Following Geometric Transform Attention, queries are
mapped by ρ(g_q)^{-T}, keys and values by ρ(g_k), and the attention output by ρ(g_q)^{-1}, so that
every score ``qᵀ ρ(g_q⁻¹ g_k) k`` and every message depends only on the relative pose g_q⁻¹ g_k. The
representation ρ is block diagonal per head, made of exact SE(2) / SO(2) representations:

- homogeneous blocks of 3 channels ``(a_x, a_y, c)`` with ``ρ(g) = [[R(ψ), p / s], [0, 1]]`` (one length
  scale s per block): scores gain ``q_aᵀ R(ψ_k − ψ_q) k_a + c_k q_aᵀ R(−ψ_q)(p_k − p_q) / s``, i.e. the
  key's position in the query's frame; values carry it into the message;
- rotation pairs with ``ρ(g) = R(m ψ)`` for integer harmonics m (exactly 2π-periodic in heading);
- invariant channels (ρ = identity);
- three query/key channels (values keep their channels) that add ``−β_h |p_q − p_k|² / s_d²`` to the logits, a
  learnable per-head locality kernel; ``|p_q − p_k|²`` expands into per-token terms, so it stays fused.

All transforms are per token, so the layer runs on ``scaled_dot_product_attention`` with O(N) memory.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from drive.nn.masking import attention_mask


def _angle(heading: torch.Tensor) -> torch.Tensor:
    """Headings ``[B, N]`` -> ``[B, N, 1, 1]`` in at least fp32 (fp64 stays fp64 for exactness checks)."""
    return heading.to(torch.promote_types(heading.dtype, torch.float32))[:, :, None, None]


def _rotate(vec: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate ``vec [..., 2]`` counter-clockwise by the angle whose cos/sin broadcast to ``[...]``."""
    x, y = vec[..., 0], vec[..., 1]
    return torch.stack([cos * x - sin * y, sin * x + cos * y], dim=-1)


def transform_keys(
    hom: torch.Tensor,
    rot: torch.Tensor,
    pos: torch.Tensor,
    heading: torch.Tensor,
    block_scale: torch.Tensor,
    harmonics: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply ρ(g) to keys or values.

    hom ``[B, N, H, Nb, 3]``, rot ``[B, N, H, Nr, 2]``, pos ``[B, N, 2]`` (any unit; divided by
    ``block_scale [Nb]``), heading ``[B, N]`` rad, harmonics ``[Nr]`` integers.
    """
    angle = _angle(heading)  # (B, N, 1, 1)
    cos, sin = angle.cos().to(hom.dtype), angle.sin().to(hom.dtype)
    shift = pos[:, :, None, None, :] / block_scale[:, None]  # (B, N, 1, Nb, 2)
    a = _rotate(hom[..., :2], cos, sin) + shift * hom[..., 2:]  # (B, N, H, Nb, 2)
    hom_out = torch.cat([a, hom[..., 2:]], dim=-1)
    rot_angle = angle * harmonics.to(angle.dtype)  # (B, N, 1, Nr)
    rot_out = _rotate(rot, rot_angle.cos().to(rot.dtype), rot_angle.sin().to(rot.dtype))
    return hom_out, rot_out


def transform_queries(
    hom: torch.Tensor,
    rot: torch.Tensor,
    pos: torch.Tensor,
    heading: torch.Tensor,
    block_scale: torch.Tensor,
    harmonics: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply ρ(g)^{-T} to queries (shapes as :func:`transform_keys`)."""
    angle = _angle(heading)
    cos, sin = angle.cos().to(hom.dtype), angle.sin().to(hom.dtype)
    a = _rotate(hom[..., :2], cos, sin)  # (B, N, H, Nb, 2)
    shift = pos[:, :, None, None, :] / block_scale[:, None]  # (B, N, 1, Nb, 2)
    c = hom[..., 2:] - (shift * a).sum(-1, keepdim=True)
    rot_angle = angle * harmonics.to(angle.dtype)
    rot_out = _rotate(rot, rot_angle.cos().to(rot.dtype), rot_angle.sin().to(rot.dtype))
    return torch.cat([a, c], dim=-1), rot_out


def untransform_output(
    hom: torch.Tensor,
    rot: torch.Tensor,
    pos: torch.Tensor,
    heading: torch.Tensor,
    block_scale: torch.Tensor,
    harmonics: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply ρ(g_q)^{-1} to attention outputs (exact because softmax weights sum to one)."""
    angle = _angle(heading)
    cos, sin = angle.cos().to(hom.dtype), angle.sin().to(hom.dtype)
    shift = pos[:, :, None, None, :] / block_scale[:, None]
    a = _rotate(hom[..., :2] - shift * hom[..., 2:], cos, -sin)
    rot_angle = angle * harmonics.to(angle.dtype)
    rot_out = _rotate(rot, rot_angle.cos().to(rot.dtype), -rot_angle.sin().to(rot.dtype))
    return torch.cat([a, hom[..., 2:]], dim=-1), rot_out


def distance_features(pos: torch.Tensor, beta: torch.Tensor, scale: float, as_query: bool) -> torch.Tensor:
    """Per-token channels ``[B, N, H, 3]`` whose query·key product is ``β(2 p_q·p_k − |p_k|²)``, i.e.
    ``−β|p_q − p_k|²`` up to a per-query constant that softmax ignores. ``pos [B, N, 2]`` in units of
    ``scale``; ``beta [H]`` (already multiplied by the score scale's inverse by the caller)."""
    p = pos / scale
    num_heads = beta.shape[0]
    if as_query:
        feats = torch.cat([2 * p, torch.ones_like(p[..., :1])], dim=-1)  # (B, N, 3)
        return feats[:, :, None, :] * beta[:, None]  # (B, N, H, 3)
    feats = torch.cat([p, -(p * p).sum(-1, keepdim=True)], dim=-1)
    return feats[:, :, None, :].expand(-1, -1, num_heads, -1)


class SE2Attention(nn.Module):
    """Multi-head attention whose scores and messages depend only on relative SE(2) poses.

    Per head of width dh, values use all dh channels (pose blocks, rotation pairs, invariant rest) and
    queries/keys use dh - 3 projected channels plus the 3 distance channels, so q, k and v share one
    width and the fused kernels apply (same cost as plain attention of that width).

    ``forward(query [B, Nq, D], key_value [B, Nk, D], query_pos [B, Nq, 2] m, query_heading [B, Nq] rad,
    key_pos [B, Nk, 2], key_heading [B, Nk], key_padding_mask [B, Nk] | None, attn_mask [B, Nq, Nk] |
    None) -> [B, Nq, D]``.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        *,
        num_pose_blocks: int = 2,
        num_rotation_pairs: int = 3,
        min_scale_m: float = 10.0,
        max_scale_m: float = 100.0,
        distance_scale_m: float = 10.0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        head_dim = embed_dim // num_heads
        used = 3 * num_pose_blocks + 2 * num_rotation_pairs + 3
        if embed_dim % num_heads or used > head_dim:
            raise ValueError(
                f"head_dim {head_dim} (embed_dim {embed_dim} / num_heads {num_heads}) must hold "
                f"3 * num_pose_blocks + 2 * num_rotation_pairs + 3 distance channels = {used}"
            )
        self.num_heads, self.head_dim = num_heads, head_dim
        self.num_blocks, self.num_pairs = num_pose_blocks, num_rotation_pairs
        self.distance_scale_m = distance_scale_m
        self.dropout = dropout
        scales = torch.logspace(math.log10(min_scale_m), math.log10(max_scale_m), max(num_pose_blocks, 1))
        self.register_buffer("block_scale", scales[:num_pose_blocks], persistent=False)
        self.register_buffer("harmonics", torch.arange(1, num_rotation_pairs + 1).float(), persistent=False)
        # Locality kernels from sharp (~1 distance scale) to almost flat, spread over heads.
        beta0 = torch.logspace(0, -3, num_heads)
        self.beta_raw = nn.Parameter(torch.log(torch.expm1(beta0)))
        qk_dim = num_heads * (head_dim - 3)
        self.q_proj = nn.Linear(embed_dim, qk_dim)
        self.k_proj = nn.Linear(embed_dim, qk_dim)
        self.v_proj = nn.Linear(embed_dim, embed_dim)
        self.out_proj = nn.Linear(embed_dim, embed_dim)

    def _split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``[B, N, H * w]`` -> pose blocks ``[B, N, H, Nb, 3]``, pairs ``[B, N, H, Nr, 2]``, rest."""
        b, n, _ = x.shape
        x = x.view(b, n, self.num_heads, -1)  # (B, N, H, w)
        nb, nr = 3 * self.num_blocks, 2 * self.num_pairs
        hom = x[..., :nb].reshape(b, n, self.num_heads, self.num_blocks, 3)
        rot = x[..., nb : nb + nr].reshape(b, n, self.num_heads, self.num_pairs, 2)
        return hom, rot, x[..., nb + nr :]

    @staticmethod
    def _merge(hom: torch.Tensor, rot: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
        return torch.cat([hom.flatten(-2), rot.flatten(-2), *rest], dim=-1)  # (B, N, H, w)

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
        geo = (self.block_scale.to(query.dtype), self.harmonics)
        score_scale = 1.0 / math.sqrt(self.head_dim)
        beta = F.softplus(self.beta_raw).to(query.dtype) / score_scale  # (H,) cancels SDPA's scale
        qh, qr, qf = self._split(self.q_proj(query))
        kh, kr, kf = self._split(self.k_proj(key_value))
        vh, vr, vf = self._split(self.v_proj(key_value))
        q_dist = distance_features(query_pos.to(query.dtype), beta, self.distance_scale_m, True)
        k_dist = distance_features(key_pos.to(query.dtype), beta, self.distance_scale_m, False)
        q = self._merge(*transform_queries(qh, qr, query_pos, query_heading, *geo), qf, q_dist)
        k = self._merge(*transform_keys(kh, kr, key_pos, key_heading, *geo), kf, k_dist)
        v = self._merge(*transform_keys(vh, vr, key_pos, key_heading, *geo), vf)  # (B, Nk, H, dh)
        mask, has_key = attention_mask(key_padding_mask, attn_mask, nq)
        out = F.scaled_dot_product_attention(
            q.transpose(1, 2),
            k.transpose(1, 2),
            v.transpose(1, 2),  # (B, H, N, dh)
            attn_mask=mask,
            dropout_p=self.dropout if self.training else 0.0,
            scale=score_scale,
        ).transpose(1, 2)  # (B, Nq, H, dh)
        oh, orot, of = self._split(out.reshape(b, nq, d))
        out = self._merge(*untransform_output(oh, orot, query_pos, query_heading, *geo), of)
        out = self.out_proj(out.reshape(b, nq, d))
        if has_key is not None:  # a query with nothing to attend to outputs zeros
            out = out * has_key[..., None].to(out.dtype)
        return out
