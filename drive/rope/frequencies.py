"""Frequency schedules and their composition into the frequency tensor ``F [H, S, num_axes]``.

Every rotary variant here is one formula, ``angle[..., h, s] = sum_a F[h, s, a] * p[..., a]``
(see :func:`drive.rope.angles.rope_angles`). Schedules give the per-slot angular frequencies of one axis;
:func:`axial_frequencies` assigns slot groups to axes; :func:`mixed_frequencies` builds the learnable,
axis-mixing initialisation of RoPE-Mixed. Later variants (context-extension rescalings, frequency masks)
are functions from ``F`` to ``F`` and need no new rotation code.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor


def _check_num_slots(num_slots: int) -> None:
    if isinstance(num_slots, bool) or not isinstance(num_slots, int) or num_slots < 1:
        raise ValueError(f"num_slots must be a positive int, got {num_slots!r}")


def geometric_frequencies(num_slots: int, base: float = 10000.0) -> Tensor:
    """RoFormer frequencies ``base^(-2i/d) = base^(-i/num_slots)``, ``i = 0..num_slots-1``.

    For integer steps (tokens, time steps, patch indices). Returns fp32 ``[S]``, highest frequency (1) first.
    Computed in fp64 and rounded once, so values are the correctly rounded fp32 numbers.
    """
    _check_num_slots(num_slots)
    if not (isinstance(base, (int, float)) and base > 1.0):
        raise ValueError(f"base must be a number > 1, got {base!r}")
    exponent = torch.arange(num_slots, dtype=torch.float64) / num_slots  # (S,)
    return (float(base) ** -exponent).to(torch.float32)


def wavelength_frequencies(num_slots: int, min_wavelength: float, max_wavelength: float) -> Tensor:
    """Angular frequencies ``2π/λ`` with wavelengths λ geometrically spaced from min to max (inclusive).

    For continuous coordinates such as metres: a slot completes one turn per λ of displacement, so choose
    ``min_wavelength`` near the finest distance to resolve and ``max_wavelength`` above the scene extent.
    Returns fp32 ``[S]``, highest frequency first. With one slot, λ = ``min_wavelength``.
    """
    _check_num_slots(num_slots)
    if not (isinstance(min_wavelength, (int, float)) and min_wavelength > 0):
        raise ValueError(f"min_wavelength must be a positive number, got {min_wavelength!r}")
    if not (isinstance(max_wavelength, (int, float)) and max_wavelength >= min_wavelength):
        raise ValueError(
            f"max_wavelength must be a number >= min_wavelength={min_wavelength!r}, got {max_wavelength!r}"
        )
    if num_slots == 1:
        wavelength = torch.tensor([float(min_wavelength)], dtype=torch.float64)
    else:
        fraction = torch.arange(num_slots, dtype=torch.float64) / (num_slots - 1)  # (S,)
        wavelength = min_wavelength * (max_wavelength / min_wavelength) ** fraction
    return (2.0 * math.pi / wavelength).to(torch.float32)


def unit_frequencies(num_slots: int) -> Tensor:
    """All-ones frequencies ``[S]`` (DRoPE): every slot turns by the angle itself, so an angle axis such as
    a heading in radians is encoded exactly modulo 2π (``ψ`` and ``ψ + 2πk`` give the same rotation)."""
    _check_num_slots(num_slots)
    return torch.ones(num_slots, dtype=torch.float32)


def axial_frequencies(
    groups: Sequence[tuple[int | None, Tensor]], num_axes: int, num_heads: int = 1
) -> Tensor:
    """Compose slot groups into ``F [H, S, num_axes]`` (fp32), slots concatenated in group order.

    ``groups`` holds ``(axis, freqs [S_g])``: the group's slots turn with position axis ``axis`` only
    (one-hot rows); ``axis=None`` gives zero-frequency, position-free slots (the values in ``freqs`` are
    ignored, only their count matters). Every head gets the same frequencies; the result is a fresh
    contiguous tensor, so it can seed per-head learnable frequencies.
    """
    if isinstance(num_axes, bool) or not isinstance(num_axes, int) or num_axes < 1:
        raise ValueError(f"num_axes must be a positive int, got {num_axes!r}")
    if isinstance(num_heads, bool) or not isinstance(num_heads, int) or num_heads < 1:
        raise ValueError(f"num_heads must be a positive int, got {num_heads!r}")
    if len(groups) == 0:
        raise ValueError("groups must hold at least one (axis, freqs) pair, got an empty sequence")
    blocks = []
    for index, (axis, freqs) in enumerate(groups):
        if not isinstance(freqs, Tensor) or freqs.dim() != 1 or freqs.numel() == 0:
            raise ValueError(f"groups[{index}]: freqs must be a non-empty 1-D tensor, got {freqs!r}")
        block = torch.zeros(freqs.numel(), num_axes, dtype=torch.float32)  # (S_g, num_axes)
        if axis is not None:
            if isinstance(axis, bool) or not isinstance(axis, int) or not 0 <= axis < num_axes:
                raise ValueError(
                    f"groups[{index}]: axis must be None or an int in [0, {num_axes}), got {axis!r}"
                )
            block[:, axis] = freqs.detach().to(device="cpu", dtype=torch.float32)
        blocks.append(block)
    table = torch.cat(blocks, dim=0)  # (S, num_axes)
    return table.unsqueeze(0).repeat(num_heads, 1, 1)  # (H, S, num_axes)


def mixed_frequencies(
    num_slots: int,
    num_heads: int,
    base: float = 10.0,
    *,
    rotate: bool = True,
    generator: torch.Generator | None = None,
) -> Tensor:
    """RoPE-Mixed initialisation ``F [H, S, 2]`` over axes (x, y), as in "Rotary Position Embedding for
    Vision Transformer" (Heo et al., 2024).

    Magnitudes ``m_k = base^(-k/(S/2))``, ``k < S/2``; per head one direction angle ``a ~ U(0, 2π)``; the
    first S/2 slots turn along ``(cos a, sin a)·m_k`` and the last S/2 along the perpendicular
    ``(-sin a, cos a)·m_k``. With ``rotate=False`` (a = 0) this equals axial RoPE: x on the first half,
    y on the second, ``geometric_frequencies(S/2, base)`` on each. Train it as a Parameter.
    """
    _check_num_slots(num_slots)
    if num_slots % 2:
        raise ValueError(f"num_slots must be even for RoPE-Mixed (two perpendicular halves), got {num_slots}")
    if isinstance(num_heads, bool) or not isinstance(num_heads, int) or num_heads < 1:
        raise ValueError(f"num_heads must be a positive int, got {num_heads!r}")
    magnitude = geometric_frequencies(num_slots // 2, base).double()  # (S/2,)
    if rotate:
        direction = torch.rand(num_heads, 1, dtype=torch.float64, generator=generator) * (2 * math.pi)
    else:
        direction = torch.zeros(num_heads, 1, dtype=torch.float64)  # (H, 1)
    cos_a, sin_a = torch.cos(direction), torch.sin(direction)
    freq_x = torch.cat([magnitude * cos_a, -magnitude * sin_a], dim=-1)  # (H, S)
    freq_y = torch.cat([magnitude * sin_a, magnitude * cos_a], dim=-1)  # (H, S)
    return torch.stack([freq_x, freq_y], dim=-1).to(torch.float32)  # (H, S, 2)
