"""The one angle formula of the RoPE core: ``angle[..., h, s] = sum_a F[h, s, a] * p[..., a]``."""

from __future__ import annotations

import torch
from torch import Tensor

from drive.rope.fused import cpu_kernels

_FLOATS = (torch.float32, torch.float64)


def _fused_applies(positions: Tensor, frequencies: Tensor) -> bool:
    """CPU, fp32 / fp64 inputs and no gradient to carry: the fused kernel has no backward."""
    return (
        positions.device.type == "cpu"
        and frequencies.device.type == "cpu"
        and positions.dtype in _FLOATS
        and frequencies.dtype in _FLOATS
        and not (torch.is_grad_enabled() and (positions.requires_grad or frequencies.requires_grad))
    )


def rope_angles(positions: Tensor, frequencies: Tensor) -> Tensor:
    """Rotation angles ``[..., H, S]`` (fp32; fp64 if either input is fp64) for ``positions [..., A]``
    (any real-valued axes: steps, metres, radians) and frequencies ``F [H, S, A]``.

    Integer positions are converted exactly (|p| < 2^53; 2^24 on MPS). Angles never pass through half
    precision (autocast leaves fp64 alone and is disabled on the MPS path), whose rounding at large
    positions would destroy relative encoding.
    """
    if frequencies.dim() != 3:
        raise ValueError(f"frequencies must be [H, S, num_axes], got shape {tuple(frequencies.shape)}")
    if positions.dim() < 1 or positions.shape[-1] != frequencies.shape[-1]:
        raise ValueError(
            f"positions must be [..., {frequencies.shape[-1]}] to match frequencies"
            f" {tuple(frequencies.shape)},"
            f" got shape {tuple(positions.shape)}"
        )
    dtype = torch.promote_types(torch.promote_types(positions.dtype, frequencies.dtype), torch.float32)
    num_heads, num_slots, _ = frequencies.shape
    if _fused_applies(positions, frequencies):
        kernels = cpu_kernels()
        if kernels is not None:  # the same formula in one call: the eager one costs ~10 µs of dispatch
            return kernels.rope_angles(positions, frequencies)  # (..., H, S)
    if positions.device.type != "mps":
        # One matrix product in fp64: products of fp32 values are exact there, the sum is rounded once,
        # and neither autocast nor a reduced-precision matmul mode (TF32, bf16) touches fp64.
        flat = frequencies.to(torch.float64).reshape(-1, frequencies.shape[-1]).T  # (A, H*S)
        angle = torch.matmul(positions.to(torch.float64), flat)  # (..., H*S)
        return angle.to(dtype).view(*positions.shape[:-1], num_heads, num_slots)  # (..., H, S)
    with torch.autocast(device_type=positions.device.type, enabled=False):  # MPS has no fp64
        p = positions.to(dtype)
        f = frequencies.to(dtype)
        angle = p[..., 0, None, None] * f[..., 0]  # (..., H, S)
        for axis in range(1, f.shape[-1]):
            angle = angle + p[..., axis, None, None] * f[..., axis]  # (..., H, S)
        return angle
