"""Position generators: tokens, patches and agents to position tensors ``[..., A]`` for :func:`rope_angles`.

New position schemes (multimodal t/h/w ids, per-document ids, rescaled query times) are new functions
here; they never need new rotation code.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _check_size(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def text_positions(length: int, *, offset: int = 0, device: torch.device | str | None = None) -> Tensor:
    """Token indices ``offset .. offset+length-1`` as int64 ``[T, 1]`` (one axis).

    Integer positions let :meth:`RotaryEmbedding.cos_sin` use its cos/sin table; ``offset`` continues a
    sequence (e.g. new tokens after a cache of ``offset`` earlier ones).
    """
    _check_size("length", length)
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValueError(f"offset must be a non-negative int, got {offset!r}")
    return torch.arange(offset, offset + length, device=device)[:, None]  # (T, 1)


def grid_positions(
    height: int,
    width: int,
    *,
    reference_size: tuple[int, int] | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """Patch-grid positions ``[height*width, 2]`` fp32, axes ``(x = column, y = row)``, row-major tokens
    (token ``n`` is at column ``n % width``, row ``n // width``), as in RoPE for ViT.

    Resolution extrapolation: by default the grid keeps integer indices, so a larger image simply has
    larger positions with the same frequencies (RoPE-ViT's choice; relative offsets between neighbouring
    patches stay 1). With ``reference_size=(ref_height, ref_width)`` positions are instead rescaled onto
    the reference grid, ``x * ref_width / width`` and ``y * ref_height / height`` (position interpolation):
    every position stays inside the trained range, and neighbouring patches are closer than 1 apart.
    """
    _check_size("height", height)
    _check_size("width", width)
    rows = torch.arange(height, dtype=torch.float32, device=device)  # (height,)
    cols = torch.arange(width, dtype=torch.float32, device=device)  # (width,)
    if reference_size is not None:
        if len(reference_size) != 2:
            raise ValueError(f"reference_size must be (height, width), got {reference_size!r}")
        _check_size("reference_size[0]", reference_size[0])
        _check_size("reference_size[1]", reference_size[1])
        rows = rows * (reference_size[0] / height)
        cols = cols * (reference_size[1] / width)
    y, x = torch.meshgrid(rows, cols, indexing="ij")  # (height, width) each
    return torch.stack([x.reshape(-1), y.reshape(-1)], dim=-1)  # (height*width, 2)


def agent_positions(position_m: Tensor, heading_rad: Tensor, time_s: Tensor | None = None) -> Tensor:
    """Agent poses as RoPE positions ``[..., 3]`` = ``(x_m, y_m, heading_rad)``, or ``[..., 4]`` with
    ``time_s`` appended as a fourth axis.

    ``position_m [..., 2]`` in metres, ``heading_rad [...]`` in radians (any range: with unit frequencies
    on the heading axis, ψ and ψ + 2πk rotate identically), ``time_s [...]`` in seconds. Returned in fp32
    (fp64 when ``position_m`` is fp64).
    """
    if position_m.shape[-1:] != (2,):
        raise ValueError(f"position_m must be [..., 2] (x, y in metres), got shape {tuple(position_m.shape)}")
    if heading_rad.shape != position_m.shape[:-1]:
        raise ValueError(
            f"heading_rad must be [...] = {tuple(position_m.shape[:-1])} to match position_m, "
            f"got {tuple(heading_rad.shape)}"
        )
    dtype = torch.promote_types(position_m.dtype, torch.float32)  # fp32, or fp64 when given fp64
    axes = [position_m.to(dtype), heading_rad.to(dtype)[..., None]]
    if time_s is not None:
        if time_s.shape != heading_rad.shape:
            raise ValueError(f"time_s must be [...] = {tuple(heading_rad.shape)}, got {tuple(time_s.shape)}")
        axes.append(time_s.to(dtype)[..., None])
    return torch.cat(axes, dim=-1)  # (..., 3 or 4)
