"""Rotate 2-D channel pairs of queries and keys: the one rotation primitive of the RoPE core.

Two memory layouts pair channels differently: ``"half"`` pairs channel ``i`` with ``i + S``
(GPT-NeoX / LLaMA ``rotate_half``), ``"interleaved"`` pairs ``2i`` with ``2i + 1`` (RoFormer, GPT-J).
Only the first ``2S`` channels of ``x`` are rotated (S = number of slots = ``angle.shape[-1]``); any
further channels pass through unchanged. Angles, cos and sin are fp32 (fp64 if given in fp64); the
output has ``x``'s dtype.

Every path computes ``(x1, x2) -> (x1 cos - x2 sin, x2 cos + x1 sin)`` per pair, written into ``out``
(which may be ``x``): the interleaved layout as one complex multiplication (a single pass over memory);
the half layout, whose pair members are not adjacent, as three in-place ops per cache-sized block, so
no tensor-sized temporary is allocated and the intermediate traffic stays in cache. With autograd the
same code runs inside an autograd Function whose backward is the inverse rotation (plus the cos/sin
gradients when those are learned).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

LAYOUTS = ("half", "interleaved")

# Elements per block of the half-layout path: about 4 MiB of fp32, so the block, its cos/sin rows and the
# in-place scratch stay in the last-level cache while per-op dispatch cost stays small against the work.
_BLOCK_ELEMENTS = 1 << 20


def cos_sin(angle: Tensor) -> tuple[Tensor, Tensor]:
    """``(cos, sin)`` of ``angle [..., S]``, computed in fp32 (fp64 stays fp64)."""
    angle = angle.to(torch.promote_types(angle.dtype, torch.float32))
    return torch.cos(angle), torch.sin(angle)


def rotate(x: Tensor, angle: Tensor, layout: str = "half", *, out: Tensor | None = None) -> Tensor:
    """Rotate each channel pair of ``x [..., D]`` by its slot's ``angle [..., S]`` (S ≤ D/2, broadcast
    against ``x[..., :S]``). Returns ``x``'s shape and dtype. ``out`` receives the result when given and
    autograd is not recording; it is either ``x`` itself (in place) or memory that does not overlap ``x``."""
    cos, sin = cos_sin(angle)
    return apply_rotation(x, cos, sin, layout, out=out)


def apply_rotation(
    x: Tensor, cos: Tensor, sin: Tensor, layout: str = "half", *, out: Tensor | None = None
) -> Tensor:
    """Rotate ``x [..., D]`` by precomputed ``cos, sin [..., S]`` (see :func:`rotate`)."""
    num_slots = _check(x, cos, sin, layout, out)
    if torch.is_grad_enabled() and (x.requires_grad or cos.requires_grad or sin.requires_grad):
        if out is not None:
            raise ValueError("out= cannot be used while autograd records through x, cos or sin")
        return _Rotation.apply(x, cos, sin, layout)
    return _rotate_into(x, cos, sin, num_slots, layout, out)


class _Rotation(torch.autograd.Function):
    """Rotation with a written-out backward. The gradient of a rotation is the inverse rotation, so both
    directions run the allocation-free path instead of recording a graph of elementwise temporaries."""

    @staticmethod
    def forward(ctx, x: Tensor, cos: Tensor, sin: Tensor, layout: str) -> Tensor:
        num_slots = cos.shape[-1]
        ctx.layout, ctx.num_slots = layout, num_slots
        needs_x = ctx.needs_input_grad[1] or ctx.needs_input_grad[2]
        ctx.save_for_backward(x if needs_x else None, cos, sin)
        return _rotate_into(x, cos, sin, num_slots, layout, None)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, Tensor | None, Tensor | None, None]:
        x, cos, sin = ctx.saved_tensors
        num_slots, layout = ctx.num_slots, ctx.layout
        grad_x = grad_cos = grad_sin = None
        if ctx.needs_input_grad[0]:
            grad_x = _rotate_into(grad, cos, -sin, num_slots, layout, None)  # (..., D): inverse rotation
        if ctx.needs_input_grad[1] or ctx.needs_input_grad[2]:
            dtype = torch.promote_types(x.dtype, cos.dtype)
            g1, g2 = _pairs(grad.to(dtype), num_slots, layout)
            x1, x2 = _pairs(x.to(dtype), num_slots, layout)
            if ctx.needs_input_grad[1]:  # d(x1 cos - x2 sin, x2 cos + x1 sin) / d cos
                grad_cos = (g1 * x1 + g2 * x2).sum_to_size(cos.shape).to(cos.dtype)  # (..., S)
            if ctx.needs_input_grad[2]:
                grad_sin = (g2 * x1 - g1 * x2).sum_to_size(sin.shape).to(sin.dtype)  # (..., S)
        return grad_x, grad_cos, grad_sin, None


def _rotate_into(
    x: Tensor, cos: Tensor, sin: Tensor, num_slots: int, layout: str, out: Tensor | None
) -> Tensor:
    """The rotation outside autograd: into ``out`` (a new tensor when None; may be ``x`` itself)."""
    compute_dtype = torch.promote_types(x.dtype, cos.dtype)
    cos, sin = cos.to(compute_dtype), sin.to(compute_dtype)
    if out is None:
        out = torch.empty_like(x)
    if x.dtype == compute_dtype:
        if out.data_ptr() != x.data_ptr() and x.shape[-1] > 2 * num_slots:
            out[..., 2 * num_slots :].copy_(x[..., 2 * num_slots :])
        _rotate_fast(x, out, cos, sin, num_slots, layout)
        return out
    work = x.to(compute_dtype)  # low-precision input: rotate an fp32 copy in place, round once
    _rotate_fast(work, work, cos, sin, num_slots, layout)
    return out.copy_(work)


def _check(x: Tensor, cos: Tensor, sin: Tensor, layout: str, out: Tensor | None) -> int:
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor, got dtype {x.dtype}")
    if cos.shape != sin.shape:
        raise ValueError(f"cos and sin must have one shape, got {tuple(cos.shape)} and {tuple(sin.shape)}")
    num_slots = cos.shape[-1] if cos.dim() else 0
    if num_slots < 1 or 2 * num_slots > x.shape[-1]:
        raise ValueError(
            f"angle has {num_slots} slots per position; x's last dim {x.shape[-1]} allows"
            f" 1..{x.shape[-1] // 2}"
        )
    lead = torch.broadcast_shapes(x.shape[:-1], cos.shape[:-1])
    if lead != x.shape[:-1]:
        raise ValueError(
            f"angle leading shape {tuple(cos.shape[:-1])} does not broadcast to x {tuple(x.shape)}"
        )
    if out is not None and (out.shape != x.shape or out.dtype != x.dtype):
        raise ValueError(f"out must match x's shape {tuple(x.shape)} and dtype {x.dtype}")
    return num_slots


def _pairs(x: Tensor, num_slots: int, layout: str) -> tuple[Tensor, Tensor]:
    """Views ``(x1, x2)``, each ``[..., S]``: the first and second component of every rotated pair."""
    if layout == "half":
        return x[..., :num_slots], x[..., num_slots : 2 * num_slots]
    pairs = x[..., : 2 * num_slots].unflatten(-1, (num_slots, 2))  # (..., S, 2)
    return pairs[..., 0], pairs[..., 1]


def _rotate_fast(x: Tensor, out: Tensor, cos: Tensor, sin: Tensor, num_slots: int, layout: str) -> None:
    """Rotate ``x``'s pairs into ``out`` without autograd; ``out`` may be ``x`` itself."""
    if layout == "interleaved" and _complex_viewable(x) and _complex_viewable(out):
        z = torch.view_as_complex(x[..., : 2 * num_slots].unflatten(-1, (num_slots, 2)))  # (..., S)
        z_out = torch.view_as_complex(out[..., : 2 * num_slots].unflatten(-1, (num_slots, 2)))  # (..., S)
        torch.mul(z, torch.complex(cos, sin), out=z_out)
        return
    _rotate_blocks(x, out, cos, sin, num_slots, layout)


def _complex_viewable(t: Tensor) -> bool:
    return t.stride(-1) == 1 and t.storage_offset() % 2 == 0 and all(st % 2 == 0 for st in t.stride()[:-1])


def _rotate_blocks(x: Tensor, out: Tensor, cos: Tensor, sin: Tensor, num_slots: int, layout: str) -> None:
    """Blockwise ``out = x * cos2 + partner(x) * signed_sin2``: one full-width multiply and two
    multiply-adds on the pair members, per block of about ``_BLOCK_ELEMENTS`` elements."""
    width = 2 * num_slots
    if layout == "half":
        cos2 = torch.cat([cos, cos], dim=-1)  # (..., 2S)
    else:
        cos2 = torch.stack([cos, cos], dim=-1).flatten(-2)  # (..., 2S)
    lead = x.shape[:-1]
    cos2, sin = cos2.expand(*lead, width), sin.expand(*lead, num_slots)  # views, no copy
    x_rot, out_rot = x[..., :width], out[..., :width]
    in_place = x.data_ptr() == out.data_ptr()
    scratch = None
    # Blocks serve CPU caches; on an accelerator one launch per op over the whole tensor is faster.
    block_elements = _BLOCK_ELEMENTS if x.device.type == "cpu" else x.numel()
    for index in _blocks(tuple(lead), width, block_elements):
        src, dst = x_rot[index], out_rot[index]
        if in_place:  # keep the block's inputs before dst overwrites them
            if scratch is None or scratch.shape != src.shape:
                scratch = torch.empty(src.shape, dtype=x.dtype, device=x.device)
            src = scratch.copy_(src)
        src1, src2 = _pairs(src, num_slots, layout)
        dst1, dst2 = _pairs(dst, num_slots, layout)
        torch.mul(src, cos2[index], out=dst)  # (x1 cos, x2 cos)
        dst1.addcmul_(src2, sin[index], value=-1.0)  # x1 cos - x2 sin
        dst2.addcmul_(src1, sin[index])  # x2 cos + x1 sin


def _blocks(lead_shape: tuple[int, ...], inner: int, target: int) -> Iterator[tuple]:
    """Index tuples cutting the leading dims into blocks of about ``target`` elements (``inner`` each)."""
    per_index = inner
    split = len(lead_shape)
    for dim in reversed(range(len(lead_shape))):
        if per_index * lead_shape[dim] > target:
            split = dim
            break
        per_index *= lead_shape[dim]
    if split == len(lead_shape):
        yield (Ellipsis,)
        return
    step = max(1, target // per_index)
    for outer in itertools.product(*(range(size) for size in lead_shape[:split])):
        for start in range(0, lead_shape[split], step):
            yield (*outer, slice(start, start + step))
