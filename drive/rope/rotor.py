"""Rotate queries and keys of the interleaved layout by unit complex rotors, in place.

In the interleaved layout channel pair ``(2i, 2i + 1)`` is one complex number, so the rotation by angle θ
is a multiplication by the rotor ``e^{iθ}``: one elementwise pass, no cos/sin tables beside it. This
is the attention layer's path for that layout; :func:`drive.rope.apply_rotation` stays the general one.

q and k are rotated in place, with or without autograd. Under autograd one node rotates both and saves
only the angles; backward recomputes the rotors (the gradient of a rotation is the inverse rotation).
So nothing q- or k-sized is kept for backward beyond what attention itself keeps, no rotated copy is
allocated beside the projection's output, and a call adds one node instead of a graph of small ones: on
layers of a few dozen tokens the fixed cost per call, not the arithmetic, is the time.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable
from torch.autograd.graph import increment_version

from drive.rope.fused import cpu_kernels

# Tensor dtypes the rotor path takes (q/k, angle): complex views need fp32 or fp64 on both sides.
_DTYPES = (torch.float32, torch.float64)


def rotors(angle: Tensor) -> Tensor:
    """Unit complex numbers ``e^{i angle}`` ``[..., S]``: complex64 for fp32 (or lower) angles, complex128
    for fp64."""
    angle = angle.to(torch.promote_types(angle.dtype, torch.float32))
    # cos and sin are vectorised kernels; torch.polar computes per element and is 2-3x slower on CPU.
    return torch.complex(torch.cos(angle), torch.sin(angle))


def rotor_path_applies(x: Tensor, angle: Tensor | None, head_dim: int) -> bool:
    """Whether :func:`rotate_query_key_` can rotate ``x [M, H*Dh]`` by ``angle [M, H | 1, S]``: fp32 / fp64
    on both sides, a contiguous ``x``, S ≤ Dh/2 and no gradient wanted for the angle."""
    if angle is None:
        return True
    return (
        x.dtype in _DTYPES
        and angle.dtype == x.dtype
        and not angle.requires_grad
        and 2 * angle.shape[-1] <= head_dim
        and x.is_contiguous()
    )


def rotate_query_key_(
    q: Tensor, k: Tensor, query_angle: Tensor | None, key_angle: Tensor | None, num_heads: int
) -> tuple[Tensor, Tensor]:
    """Rotate every head of ``q [M, H*Dh]`` by ``query_angle [M, H | 1, S]`` and of ``k [Mk, H*Dh]`` by
    ``key_angle [Mk, H | 1, S]`` (S ≤ Dh/2; a token per row), pairs interleaved, the first ``2S`` channels
    of a head rotated and the rest kept; None leaves that one as it is. Both are overwritten and returned.
    When ``key_angle is query_angle`` one rotor table serves both.

    Callers check :func:`rotor_path_applies` first. q and k must not be needed unrotated by the autograd
    graph (a Linear's output qualifies: its backward reads only its inputs); under autograd a view is
    rotated into a copy instead.
    """
    if torch.is_grad_enabled() and (q.requires_grad or k.requires_grad):
        return _RotateQueryKey.apply(q, k, query_angle, key_angle, num_heads)
    _rotate_both_(q, k, query_angle, key_angle, num_heads, inverse=False)
    return q, k


def _rotate_both_(
    q: Tensor, k: Tensor, query_angle: Tensor | None, key_angle: Tensor | None, num_heads: int, inverse: bool
) -> None:
    kernels = cpu_kernels() if q.device.type == "cpu" and k.device.type == "cpu" else None
    if kernels is not None:
        shared = key_angle is query_angle
        query_angle = None if query_angle is None else query_angle.contiguous()
        key_angle = query_angle if shared else None if key_angle is None else key_angle.contiguous()
        # Passing one tensor for both keys the kernel to compute each sine and cosine once.
        kernels.rotate_query_key_(q, k, query_angle, key_angle, num_heads, inverse)
        for x, angle in ((q, query_angle), (k, key_angle)):
            if angle is not None and not x.is_inference():
                increment_version(x)  # the kernel writes in place; autograd's saved-tensor checks must see it
        return
    _rotate_both_eager_(q, k, query_angle, key_angle, num_heads, inverse)


def _rotate_both_eager_(
    q: Tensor, k: Tensor, query_angle: Tensor | None, key_angle: Tensor | None, num_heads: int, inverse: bool
) -> None:
    query_rotor = None if query_angle is None else rotors(query_angle)
    if key_angle is query_angle:
        key_rotor = query_rotor
    else:
        key_rotor = None if key_angle is None else rotors(key_angle)
    if inverse:  # the conjugate of a unit rotor rotates back
        for rotor in {id(r): r for r in (query_rotor, key_rotor) if r is not None}.values():
            rotor.imag.neg_()
    if query_rotor is not None:
        _pairs(q, num_heads, query_rotor.shape[-1]).mul_(query_rotor)
    if key_rotor is not None:
        _pairs(k, num_heads, key_rotor.shape[-1]).mul_(key_rotor)


def _pairs(x: Tensor, num_heads: int, num_slots: int) -> Tensor:
    """The first ``num_slots`` channel pairs of every head of ``x [M, H*Dh]``, a complex view
    ``[M, H, S]``: writing into it writes into ``x``, and the position-free channels are never touched."""
    pairs_per_head = x.shape[1] // (2 * num_heads)  # explicit: -1 is ambiguous for zero tokens
    return torch.view_as_complex(x.view(x.shape[0], num_heads, pairs_per_head, 2)).narrow(-1, 0, num_slots)


def _needs_copy(x: Tensor) -> bool:
    """Views and leaves that want gradients cannot be overwritten under autograd."""
    return x._base is not None or (x.is_leaf and x.requires_grad)


class _RotateQueryKey(torch.autograd.Function):
    """Rotation of q and k in one node, saving only the angles: the rotors are recomputed in backward,
    whose inverse rotation writes new tensors (incoming gradients may be read elsewhere). q and k are
    overwritten unless they are views (a wrapped projection may return one; autograd lets a two-output
    node modify those only through a copy) or leaves that want gradients."""

    @staticmethod
    def forward(
        ctx, q: Tensor, k: Tensor, query_angle: Tensor | None, key_angle: Tensor | None, num_heads: int
    ) -> tuple[Tensor, Tensor]:
        q_out = q.clone() if query_angle is not None and _needs_copy(q) else q
        k_out = k.clone() if key_angle is not None and _needs_copy(k) else k
        _rotate_both_(q_out, k_out, query_angle, key_angle, num_heads, inverse=False)
        turned = ((q, q_out, query_angle), (k, k_out, key_angle))
        ctx.mark_dirty(*(x for x, out, angle in turned if out is x and angle is not None))
        ctx.shared, ctx.num_heads = key_angle is query_angle, num_heads
        ctx.save_for_backward(query_angle, None if ctx.shared else key_angle)
        return q_out, k_out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_q: Tensor, grad_k: Tensor) -> tuple[Tensor, Tensor, None, None, None]:
        query_angle, key_angle = ctx.saved_tensors
        if ctx.shared:
            key_angle = query_angle
        grad_q = grad_q if query_angle is None else grad_q.contiguous().clone()
        grad_k = grad_k if key_angle is None else grad_k.contiguous().clone()
        _rotate_both_(grad_q, grad_k, query_angle, key_angle, ctx.num_heads, inverse=True)
        return grad_q, grad_k, None, None, None
