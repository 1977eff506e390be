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
On CPU each transform, distance channels included, is one call of a fused kernel
(:mod:`drive.rope.fused`) and the query, key and value transforms are one autograd node; elsewhere, or
without the kernels, the eager :func:`transform` computes the same values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

from drive.errors import ConfigError
from drive.nn.masking import attention_mask
from drive.rope.fused import cpu_kernels

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


# Fused-kernel codes (kernels/se2_kernel.cpp): modes, and which distance channels are appended.
_KERNEL_MODE = {"key": 0, "query": 1, "output": 2}
_NO_DISTANCE, _QUERY_DISTANCE, _KEY_DISTANCE = 0, 1, 2
# The layer's plans: (mode, distance channels, pose index 0 = query's / 1 = key's) per transformed tensor.
_QUERY_PLAN = ((_KERNEL_MODE["query"], _QUERY_DISTANCE, 0),)
_KEY_VALUE_PLAN = ((_KERNEL_MODE["key"], _KEY_DISTANCE, 1), (_KERNEL_MODE["key"], _NO_DISTANCE, 1))
_OUTPUT_PLAN = ((_KERNEL_MODE["output"], _NO_DISTANCE, 0),)


class _FusedPoseTransforms(torch.autograd.Function):
    """Several fused pose transforms in one autograd node, saving only the poses and β's raw parameter: the
    backward of each is the kernel of the transposed representation (and, for query distance channels,
    the gradient of the raw β)."""

    @staticmethod
    def forward(ctx, plan, geometry, beta_raw, query_pos, query_heading, key_pos, key_heading, *xs):
        ctx.plan, ctx.geometry = plan, geometry
        ctx.widths = [x.shape[-1] for x in xs]
        ctx.save_for_backward(beta_raw, query_pos, query_heading, key_pos, key_heading)
        scales, harmonics, score_scale, distance_scale = geometry
        poses = (query_pos, query_heading, key_pos, key_heading, scales, harmonics)
        flat_plan = [code for step in plan for code in step]
        return tuple(
            cpu_kernels().se2_transform_many(xs, *poses, flat_plan, beta_raw, score_scale, distance_scale)
        )

    @staticmethod
    @once_differentiable
    def backward(ctx, *grads):
        beta_raw, *pose_tensors = ctx.saved_tensors  # query pos, query heading, key pos, key heading
        scales, harmonics, score_scale, distance_scale = ctx.geometry
        poses = (*pose_tensors, scales, harmonics)
        used = [i for i, grad in enumerate(grads) if grad is not None]
        grad_xs, grad_beta_raw = cpu_kernels().se2_transform_many_backward(
            [grads[i] for i in used],
            *poses,
            [code for i in used for code in ctx.plan[i]],
            [ctx.widths[i] for i in used],
            beta_raw,
            score_scale,
            distance_scale,
        )
        full: list[torch.Tensor | None] = [None] * len(grads)
        for i, grad_x in zip(used, grad_xs):
            full[i] = grad_x
        has_beta = any(ctx.plan[i][1] == _QUERY_DISTANCE for i in used)
        return (None, None, grad_beta_raw if has_beta else None, None, None, None, None, *full)


def fused_transforms(plan, poses, geometry, beta_raw, xs) -> list[torch.Tensor]:
    """Apply ``plan`` (``(kernel mode, distance channels, pose index)`` per tensor) to ``xs [B, N, H, w]``
    with the fused kernel: ``poses`` = ((query pos [B, Nq, 2], heading [B, Nq]), (key pos, heading)), all in
    one dtype with ``geometry`` = (scales [Nb], harmonics [Nr], score scale, distance scale); query distance
    channels use β = softplus(``beta_raw [H]``) / score scale. Returns ``[B, N, H, w (+ 3 with distance
    channels)]`` per tensor."""
    flat_poses = (*poses[0], *poses[1])
    if torch.is_grad_enabled() and (beta_raw.requires_grad or any(x.requires_grad for x in xs)):
        return list(_FusedPoseTransforms.apply(plan, geometry, beta_raw, *flat_poses, *xs))
    flat_plan = [code for step in plan for code in step]
    scales, harmonics, score_scale, distance_scale = geometry
    return cpu_kernels().se2_transform_many(
        list(xs), *flat_poses, scales, harmonics, flat_plan, beta_raw, score_scale, distance_scale
    )


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
        if self._fused_applies(query, key_value, query_pos, key_pos):
            return self._forward_fused(
                query, key_value, query_pos, query_heading, key_pos, key_heading, key_padding_mask, attn_mask
            )
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
        out, has_key = self._attend(q, k, v, key_padding_mask, attn_mask)  # (B, Nq, H, dh)
        del q, k, v  # without autograd nothing else holds them: freed before the output transform
        return self._output(transform(out, q_terms, "output").reshape(b, nq, d), has_key)

    def _attend(self, q, k, v, key_padding_mask, attn_mask):
        """Fused attention of ``q [B, Nq, H, dh]`` over ``k, v [B, Nk, H, dh]`` (β was scaled to cancel
        SDPA's scale): ``(out [B, Nq, H, dh]`` (a transposed view), ``has_key [B, Nq] | None)``."""
        mask, has_key = attention_mask(key_padding_mask, attn_mask, q.shape[1])
        out = F.scaled_dot_product_attention(
            q.transpose(1, 2),
            k.transpose(1, 2),
            v.transpose(1, 2),  # (B, H, N, dh)
            attn_mask=mask,
            dropout_p=self.dropout if self.training else 0.0,
            scale=1.0 / math.sqrt(self.head_dim),
        )
        return out.transpose(1, 2), has_key

    def _output(self, out: torch.Tensor, has_key: torch.Tensor | None) -> torch.Tensor:
        """``out [B, Nq, D]``, output-transformed -> projected ``[B, Nq, D]``; a query with nothing to attend
        to outputs zeros."""
        out = self.out_proj(out)
        if has_key is not None:
            out = out * has_key[..., None].to(out.dtype)
        return out

    def _fused_applies(self, query, key_value, query_pos, key_pos) -> bool:
        return (
            query.is_cpu
            and key_value.is_cpu
            and query_pos.is_cpu
            and key_pos.is_cpu
            and query.dtype in (torch.float32, torch.float64)
            and key_value.dtype == query.dtype == self.beta_raw.dtype
            and query_pos.is_floating_point()
            and key_pos.is_floating_point()
            and cpu_kernels() is not None
        )

    def _forward_fused(
        self, query, key_value, query_pos, query_heading, key_pos, key_heading, key_padding_mask, attn_mask
    ) -> torch.Tensor:
        """:meth:`forward` with each pose transform, distance channels included, one fused kernel call."""
        b, nq, d = query.shape
        nk = key_value.shape[1]
        work = torch.promote_types(torch.promote_types(query_pos.dtype, key_pos.dtype), torch.float32)

        def pose(pos, heading, n):  # contiguous [B, N, 2] and [B, N] in the pose dtype
            if pos.dtype != work or heading.dtype != work:
                pos, heading = pos.to(work), heading.to(work)
            if pos.shape != (b, n, 2) or heading.shape != (b, n):  # poses shared by the batch
                pos, heading = pos.expand(b, n, 2), heading.expand(b, n)
            if pos.is_contiguous() and heading.is_contiguous():
                return pos, heading
            return pos.contiguous(), heading.contiguous()

        query_pose = pose(query_pos, query_heading, nq)
        same_pose = key_pos is query_pos and key_heading is query_heading and nk == nq
        poses = (query_pose, query_pose if same_pose else pose(key_pos, key_heading, nk))
        score_scale = 1.0 / math.sqrt(self.head_dim)
        scales, harmonics = self.block_scale.to(work), self.harmonics.to(work)
        geometry = (scales, harmonics, score_scale, float(self.distance_scale_m))
        beta_raw = self.beta_raw
        h = self.num_heads
        if torch.is_grad_enabled():  # one autograd node for all three; the projections are not saved
            raw = (
                self.q_proj(query).view(b, nq, h, -1),
                self.k_proj(key_value).view(b, nk, h, -1),
                self.v_proj(key_value).view(b, nk, h, -1),
            )
            q, k, v = fused_transforms(_QUERY_PLAN + _KEY_VALUE_PLAN, poses, geometry, beta_raw, raw)
            del raw
        else:  # the query's projection is freed before the key's and value's exist: a lower peak
            q_raw = self.q_proj(query).view(b, nq, h, -1)
            (q,) = fused_transforms(_QUERY_PLAN, poses, geometry, beta_raw, (q_raw,))
            del q_raw
            raw = (self.k_proj(key_value).view(b, nk, h, -1), self.v_proj(key_value).view(b, nk, h, -1))
            k, v = fused_transforms(_KEY_VALUE_PLAN, poses, geometry, beta_raw, raw)  # (B, N, H, dh) each
            del raw
        out, has_key = self._attend(q, k, v, key_padding_mask, attn_mask)  # read through its strides
        del q, k, v
        (out,) = fused_transforms(_OUTPUT_PLAN, poses, geometry, beta_raw, (out,))
        return self._output(out.reshape(b, nq, d), has_key)
