"""The one angle formula of the RoPE core: ``angle[..., h, s] = sum_a F[h, s, a] * p[..., a]``."""

from __future__ import annotations

import torch
from torch import Tensor


def rope_angles(positions: Tensor, frequencies: Tensor) -> Tensor:
    """Rotation angles ``[..., H, S]`` (fp32; fp64 if either input is fp64) for ``positions [..., A]``
    (any real-valued axes: steps, metres, radians) and frequencies ``F [H, S, A]``.

    Integer positions are converted exactly to fp32 (|p| < 2^24). Autocast is disabled here so angles
    never drop to half precision, whose rounding at large positions would destroy relative encoding.
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
    with torch.autocast(device_type=positions.device.type, enabled=False):
        p = positions.to(dtype)
        f = frequencies.to(dtype)
        # A sum of per-axis products rather than a matmul: exact fp32 products, never TF32.
        angle = p[..., 0, None, None] * f[..., 0]  # (..., H, S)
        for axis in range(1, f.shape[-1]):
            angle = angle + p[..., axis, None, None] * f[..., axis]  # (..., H, S)
        return angle
