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
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from drive.errors import ConfigError
from drive.nn.masking import attention_mask

POSE_KINDS = ("key", "query", "output")


def pose_matrices(
    pos: torch.Tensor, heading: torch.Tensor, block_scale: torch.Tensor, harmonics: torch.Tensor, kind: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token blocks of the representation of the pose ``pos [B, N, 2]`` (divided by
    ``block_scale [Nb]``), ``heading [B, N]`` rad: pose blocks ``[B, N, Nb, 3, 3]`` and rotation blocks
    ``[B, N, Nr, 2, 2]`` for ``harmonics [Nr]``. ``kind`` "key" gives ρ(g) (keys and values), "query"
    ρ(g)^{-T}, "output" ρ(g)^{-1}.

    Pose block ``ρ = [[R(ψ), t], [0, 1]]`` with t = p / s: ``ρ^{-T} = [[R, 0], [−tᵀR, 1]]``,
    ``ρ^{-1} = [[Rᵀ, −Rᵀt], [0, 1]]``. Rotation pair ``R(mψ)``: ``ρ^{-T} = R(mψ)``, ``ρ^{-1} = R(−mψ)``.
    Angles in at least fp32 (fp64 stays fp64 for exactness checks).
    """
    if kind not in POSE_KINDS:
        raise ConfigError(f"kind must be one of {POSE_KINDS}, got {kind!r}")
    work = torch.promote_types(pos.dtype, torch.float32)
    psi = heading.to(work)[..., None]  # (B, N, 1)
    sign = -1.0 if kind == "output" else 1.0  # ρ^{-1} rotates backwards; ρ and ρ^{-T} forwards
    t = pos.to(work)[:, :, None, :] / block_scale.to(work)[:, None]  # (B, N, Nb, 2)
    tx, ty = t[..., 0], t[..., 1]  # (B, N, Nb)
    c, s = psi.cos().expand_as(tx), sign * psi.sin().expand_as(tx)
    zero, one = torch.zeros_like(tx), torch.ones_like(tx)
    if kind == "key":
        rows = [(c, -s, tx), (s, c, ty), (zero, zero, one)]
    elif kind == "query":
        rows = [(c, -s, zero), (s, c, zero), (-(tx * c + ty * s), -(ty * c - tx * s), one)]
    else:  # here s = −sin ψ, so [[c, −s], [s, c]] = Rᵀ and −Rᵀt = −(c tx − s ty, s tx + c ty)
        rows = [(c, -s, -(c * tx - s * ty)), (s, c, -(s * tx + c * ty)), (zero, zero, one)]
    hom = torch.stack([torch.stack(row, dim=-1) for row in rows], dim=-2)  # (B, N, Nb, 3, 3)
    angle = psi * harmonics.to(work)  # (B, N, Nr)
    rc, rs = angle.cos(), sign * angle.sin()
    rot = torch.stack([torch.stack([rc, -rs], -1), torch.stack([rs, rc], -1)], dim=-2)  # (B, N, Nr, 2, 2)
    return hom, rot


def apply_pose(
    matrices: tuple[torch.Tensor, torch.Tensor], x: torch.Tensor, extra: torch.Tensor | None = None
) -> torch.Tensor:
    """Reference: multiply the leading channels of every head of ``x [B, N, H, w]`` (Nb pose blocks of 3,
    then Nr pairs) by :func:`pose_matrices` blocks; the rest passes unchanged and ``extra [B, N, H, e]``
    is appended. Returns ``[B, N, H, w + e]``. :func:`transform` computes the same with less memory."""
    hom_m, rot_m = matrices
    b, n, h, _ = x.shape
    nb, nr = hom_m.shape[2], rot_m.shape[2]
    hom = x[..., : 3 * nb].reshape(b, n, h, nb, 3)
    rot = x[..., 3 * nb : 3 * nb + 2 * nr].reshape(b, n, h, nr, 2)
    hom = torch.einsum("bnkij,bnhkj->bnhki", hom_m.to(x.dtype), hom)  # (B, N, H, Nb, 3)
    rot = torch.einsum("bnkij,bnhkj->bnhki", rot_m.to(x.dtype), rot)  # (B, N, H, Nr, 2)
    parts = [hom.flatten(-2), rot.flatten(-2), x[..., 3 * nb + 2 * nr :]]
    return torch.cat(parts if extra is None else [*parts, extra], dim=-1)


@dataclass(frozen=True)
class PoseTerms:
    """Per-token quantities shared by every transform of one set of poses: cos ψ, sin ψ
    ``[B, N, 1, 1]``, shifts t = p / s ``[B, N, 1, Nb]`` (x and y), cos mψ, sin mψ ``[B, N, 1, Nr]``."""

    cos: torch.Tensor
    sin: torch.Tensor
    tx: torch.Tensor
    ty: torch.Tensor
    rot_cos: torch.Tensor
    rot_sin: torch.Tensor


def pose_terms(
    pos: torch.Tensor,
    heading: torch.Tensor,
    block_scale: torch.Tensor,
    harmonics: torch.Tensor,
    dtype: torch.dtype,
) -> PoseTerms:
    """:class:`PoseTerms` of ``pos [B, N, 2]``, ``heading [B, N]``; angles in at least fp32, results in
    ``dtype``."""
    work = torch.promote_types(pos.dtype, torch.float32)
    psi = heading.to(work)[:, :, None, None]  # (B, N, 1, 1)
    t = (pos.to(work)[:, :, None, :] / block_scale.to(work)[:, None]).to(dtype)  # (B, N, Nb, 2)
    angle = psi * harmonics.to(work)  # (B, N, 1, Nr)
    return PoseTerms(
        cos=psi.cos().to(dtype),
        sin=psi.sin().to(dtype),
        tx=t[:, :, None, :, 0],
        ty=t[:, :, None, :, 1],
        rot_cos=angle.cos().to(dtype),
        rot_sin=angle.sin().to(dtype),
    )


def transform(
    x: torch.Tensor, terms: PoseTerms, kind: str, extra: torch.Tensor | None = None
) -> torch.Tensor:
    """``apply_pose(pose_matrices(pos, heading, block_scale, harmonics, kind), x, extra)`` written
    elementwise: ``x [B, N, H, w]``, ``terms = pose_terms(pos, heading, ...)``.

    No per-token matrices; the transformed channels are computed from per-token cos, sin and shifts
    (which is all the products save for backward, not copies of ``x``) and joined with the untouched
    channels by one concatenation, whose backward only slices the gradient.
    """
    if kind not in POSE_KINDS:
        raise ConfigError(f"kind must be one of {POSE_KINDS}, got {kind!r}")
    nb, nr = terms.tx.shape[-1], terms.rot_cos.shape[-1]
    used = 3 * nb + 2 * nr
    backwards = kind == "output"  # ρ^{-1} rotates by −ψ; ρ and ρ^{-T} by +ψ
    cos, sin = terms.cos, -terms.sin if backwards else terms.sin
    parts = []
    if nb:
        tx, ty = terms.tx, terms.ty  # (B, N, 1, Nb)
        hom = x[..., : 3 * nb].unflatten(-1, (nb, 3))  # (B, N, H, Nb, 3)
        ax, ay, c = hom[..., 0], hom[..., 1], hom[..., 2]  # (B, N, H, Nb)
        if kind == "output":  # Rᵀ (a − t c)
            ax, ay = ax - tx * c, ay - ty * c
        rx, ry = cos * ax - sin * ay, sin * ax + cos * ay
        if kind == "key":  # R a + t c
            rx, ry = rx + tx * c, ry + ty * c
        rc = c - (tx * rx + ty * ry) if kind == "query" else c  # query: c − tᵀ R a
        parts.append(torch.stack([rx, ry, rc], dim=-1).flatten(-2))  # (B, N, H, 3 Nb)
    if nr:
        rot_c, rot_s = terms.rot_cos, -terms.rot_sin if backwards else terms.rot_sin  # (B, N, 1, Nr)
        rot = x[..., 3 * nb : used].unflatten(-1, (nr, 2))  # (B, N, H, Nr, 2)
        u, v = rot[..., 0], rot[..., 1]
        parts.append(torch.stack([rot_c * u - rot_s * v, rot_s * u + rot_c * v], dim=-1).flatten(-2))
    parts.append(x[..., used:])
    if extra is not None:
        parts.append(extra)
    return torch.cat(parts, dim=-1)  # (B, N, H, w + e)


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
            raise ConfigError(
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

    def _project(
        self, proj: nn.Linear, x: torch.Tensor, terms: PoseTerms, kind: str, extra: torch.Tensor | None = None
    ) -> torch.Tensor:
        b, n, _ = x.shape
        return transform(proj(x).view(b, n, self.num_heads, -1), terms, kind, extra)  # (B, N, H, dh)

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
        score_scale = 1.0 / math.sqrt(self.head_dim)
        beta = F.softplus(self.beta_raw).to(query.dtype) / score_scale  # (H,) cancels SDPA's scale
        q_dist = distance_features(query_pos.to(query.dtype), beta, self.distance_scale_m, True)
        k_dist = distance_features(key_pos.to(query.dtype), beta, self.distance_scale_m, False)
        geo = (self.block_scale, self.harmonics, query.dtype)
        q_terms = pose_terms(query_pos, query_heading, *geo)
        same_pose = key_pos is query_pos and key_heading is query_heading  # self-attention: reuse
        k_terms = q_terms if same_pose else pose_terms(key_pos, key_heading, *geo)
        q = self._project(self.q_proj, query, q_terms, "query", q_dist)  # (B, Nq, H, dh)
        k = self._project(self.k_proj, key_value, k_terms, "key", k_dist)  # (B, Nk, H, dh)
        v = self._project(self.v_proj, key_value, k_terms, "key")  # (B, Nk, H, dh)
        mask, has_key = attention_mask(key_padding_mask, attn_mask, nq)
        out = F.scaled_dot_product_attention(
            q.transpose(1, 2),
            k.transpose(1, 2),
            v.transpose(1, 2),  # (B, H, N, dh)
            attn_mask=mask,
            dropout_p=self.dropout if self.training else 0.0,
            scale=score_scale,
        ).transpose(1, 2)  # (B, Nq, H, dh)
        del q, k, v  # without autograd nothing else holds them: freed before the output transform
        out = transform(out, q_terms, "output").reshape(b, nq, d)
        out = self.out_proj(out)
        if has_key is not None:  # a query with nothing to attend to outputs zeros
            out = out * has_key[..., None].to(out.dtype)
        return out
