"""Opt-in compiled rotation: the half layout as one generated kernel (``torch.compile``).

In eager mode the half layout needs three passes per block because the two members of a pair are
``S`` channels apart (see :mod:`drive.rope.rotation`); a compiled kernel reads ``x``, cos and sin once
and writes the result once. Compiling costs seconds per new shape (shapes are static), so this is for
long runs over fixed shapes, never a default. Whenever the compiled kernel does not apply (autograd
recording, ``out`` aliasing ``x``, partial rotation, interleaved layout, which is already a single pass in
eager) or compilation fails (no C++ compiler), the eager :func:`apply_rotation` is used; both give the
same values.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor

from drive.rope.rotation import apply_rotation, cos_sin

_state: dict[str, object] = {"kernel": None, "failed": False}  # the compiled kernel, built on first use


def _half_rotation_into(x: Tensor, cos: Tensor, sin: Tensor, out: Tensor) -> None:
    """``out = x * [cos, cos] + flip_halves(x) * [-sin, sin]``, written so one kernel is generated."""
    halves = x.unflatten(-1, (2, x.shape[-1] // 2))  # (..., 2, S)
    rotated = halves * torch.stack([cos, cos], dim=-2) + halves.flip(-2) * torch.stack([-sin, sin], dim=-2)
    out.copy_(rotated.flatten(-2))  # (..., D)


def rotate_compiled(x: Tensor, angle: Tensor, layout: str = "half", *, out: Tensor | None = None) -> Tensor:
    """:func:`drive.rope.rotate` through the compiled kernel where it applies (same arguments)."""
    cos, sin = cos_sin(angle)
    return apply_rotation_compiled(x, cos, sin, layout, out=out)


def apply_rotation_compiled(
    x: Tensor, cos: Tensor, sin: Tensor, layout: str = "half", *, out: Tensor | None = None
) -> Tensor:
    """:func:`drive.rope.apply_rotation` through the compiled kernel where it applies (same arguments)."""
    usable = (
        layout == "half"
        and not _state["failed"]
        and not (torch.is_grad_enabled() and (x.requires_grad or cos.requires_grad or sin.requires_grad))
        and x.dtype == cos.dtype == sin.dtype
        and x.dtype in (torch.float32, torch.float64)
        and cos.shape[-1:] == sin.shape[-1:]
        and 2 * cos.shape[-1] == x.shape[-1]
        and (
            out is None or (out.shape == x.shape and out.dtype == x.dtype and out.data_ptr() != x.data_ptr())
        )
    )
    if not usable:
        return apply_rotation(x, cos, sin, layout, out=out)
    if torch.broadcast_shapes(x.shape[:-1], cos.shape[:-1], sin.shape[:-1]) != x.shape[:-1]:
        return apply_rotation(x, cos, sin, layout, out=out)  # raises the shape error
    if out is None:
        out = torch.empty_like(x)
    try:
        if _state["kernel"] is None:
            _state["kernel"] = torch.compile(_half_rotation_into, dynamic=False, fullgraph=True)
        _state["kernel"](x, cos, sin, out)
    except Exception as err:  # any backend failure (no compiler, unsupported op): eager from now on
        _state["failed"] = True
        warnings.warn(
            f"compiled rotation unavailable, using the eager path: {err}", RuntimeWarning, stacklevel=2
        )
        return apply_rotation(x, cos, sin, layout, out=out)
    return out
