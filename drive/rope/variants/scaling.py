"""Context extension as transforms of the frequency tensor: PI, NTK-aware, dynamic NTK, YaRN, Llama-3.

Every function returns new frequencies (and YaRN an attention factor); angles still come from
:func:`drive.rope.rope_angles` and rotation from :func:`drive.rope.rotate`. ``scale`` is ``s = L'/L``,
the new context over the trained one ``original_length``; ``s = 1`` returns the input unchanged.

Elementwise transforms (PI, NTK-by-parts, Llama-3) accept any ``F [..]`` (a schedule ``[S]`` or
``F [H, S, A]``) because they only look at each entry's wavelength ``2π/f``. Base changes (NTK-aware,
dynamic) and the official YaRN ramp over slot *indices* need the geometric schedule, so they take
``(num_slots, base)`` like :func:`drive.rope.geometric_frequencies`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from drive.errors import ConfigError
from drive.rope.frequencies import geometric_frequencies
from drive.rope.variants._checks import base_value, positive_float, positive_int, scale_factor


def interpolate_frequencies(frequencies: Tensor, scale: float) -> Tensor:
    """Position Interpolation (Chen et al., 2023): ``F / s``, the same as positions ``m / s``.

    Positions up to ``s·L`` then turn no further than positions up to ``L`` did in training.
    """
    s = scale_factor("scale", scale)
    return frequencies / s


def ntk_aware_base(num_slots: int, base: float, scale: float) -> float:
    """NTK-aware base ``b' = b · s^(d/(d-2))`` with ``d = 2·num_slots`` (bloc97, 2023).

    The highest frequency (slot 0) is unchanged and the lowest is divided by exactly ``s``.
    """
    d = 2 * positive_int("num_slots", num_slots)
    if d <= 2:
        raise ConfigError(f"num_slots must be >= 2 for a base change, got {num_slots}")
    return base_value(base) * scale_factor("scale", scale) ** (d / (d - 2))


def ntk_aware_frequencies(num_slots: int, base: float, scale: float) -> Tensor:
    """Geometric frequencies ``[S]`` with the NTK-aware base (:func:`ntk_aware_base`)."""
    return geometric_frequencies(num_slots, ntk_aware_base(num_slots, base, scale))


def dynamic_scale(length: int, original_length: int) -> float:
    """Dynamic scaling's factor ``s = max(1, l'/L)`` for the current sequence length ``l'`` (YaRN §3.3)."""
    positive_int("length", length)
    positive_int("original_length", original_length)
    return max(1.0, length / original_length)


def dynamic_ntk_frequencies(num_slots: int, base: float, length: int, original_length: int) -> Tensor:
    """NTK-aware frequencies ``[S]`` recomputed for the current length: plain RoPE while ``l' <= L``.

    Reading: the YaRN paper's ``s = max(1, l'/L)`` fed to the NTK-aware base. (HF's ``dynamic`` type uses
    ``b·((s·l'/L) − (s − 1))^(d/(d−2))`` with a configured s instead.) Keys must be cached *before*
    rotation, because every key's angles change when ``l'`` grows.
    """
    return ntk_aware_frequencies(num_slots, base, dynamic_scale(length, original_length))


def ntk_by_parts_frequencies(
    frequencies: Tensor, scale: float, original_length: int, *, alpha: float = 1.0, beta: float = 32.0
) -> Tensor:
    """NTK-by-parts (YaRN §3.2) on any ``F``: with ``r = L / λ`` turns of an entry within the trained
    context and ramp ``γ(r) = clamp((r − α)/(β − α), 0, 1)``, ``f' = (1 − γ)·f/s + γ·f``.

    Entries turning more than ``β`` times in ``L`` are kept (extrapolated); fewer than ``α`` times are
    interpolated (``f/s``); zero frequencies stay zero.
    """
    s = scale_factor("scale", scale)
    length = positive_int("original_length", original_length)
    if not 0 <= alpha < beta:
        raise ConfigError(f"alpha, beta must satisfy 0 <= alpha < beta, got alpha={alpha!r}, beta={beta!r}")
    turns = frequencies.abs() * length / (2.0 * math.pi)  # r = L / λ
    gamma = ((turns - alpha) / (beta - alpha)).clamp(0.0, 1.0)
    # (1 − γ)/s + γ as (1 + γ(s − 1))/s: exactly 1 where γ = 1 or s = 1, so kept entries stay bit-exact.
    return frequencies * ((1.0 + gamma * (s - 1.0)) / s)


def yarn_attention_factor(scale: float) -> float:
    """YaRN's ``sqrt(1/t) = 0.1·ln(s) + 1``: multiply cos and sin (equivalently q and k) by it, so the
    logits are scaled by ``1/t``. Exactly 1 at ``s = 1``."""
    return 0.1 * math.log(scale_factor("scale", scale)) + 1.0


def yarn_correction_range(
    num_slots: int, base: float, original_length: int, *, beta_fast: float = 32.0, beta_slow: float = 1.0
) -> tuple[int, int]:
    """Slot bounds ``(low, high)`` of the YaRN ramp, as in the official code and HF ``truncate=True``.

    The slot index with ``n`` turns in ``L`` is ``i(n) = d·ln(L/(2πn)) / (2 ln b)`` (``d = 2S``);
    ``low = floor(i(beta_fast))``, ``high = ceil(i(beta_slow))``, clamped to ``[0, d − 1]``.
    """
    d = 2 * positive_int("num_slots", num_slots)
    b = base_value(base)
    length = positive_int("original_length", original_length)
    positive_float("beta_fast", beta_fast)
    positive_float("beta_slow", beta_slow)

    def slot_of(turns: float) -> float:
        return d * math.log(length / (turns * 2 * math.pi)) / (2 * math.log(b))

    return max(math.floor(slot_of(beta_fast)), 0), min(math.ceil(slot_of(beta_slow)), d - 1)


def yarn_frequencies(
    num_slots: int,
    base: float,
    scale: float,
    original_length: int,
    *,
    beta_fast: float = 32.0,
    beta_slow: float = 1.0,
) -> tuple[Tensor, float]:
    """YaRN: ``(frequencies [S], attention_factor)``.

    Slots below ``low`` keep ``θ_i``, slots from ``high`` on get ``θ_i / s``, a linear ramp over slot
    index in between (:func:`yarn_correction_range`); ``attention_factor`` is
    :func:`yarn_attention_factor`. Apply it by scaling the rotated queries and keys (or cos and sin).
    """
    s = scale_factor("scale", scale)
    low, high = yarn_correction_range(
        num_slots, base, original_length, beta_fast=beta_fast, beta_slow=beta_slow
    )
    theta = geometric_frequencies(num_slots, base).double()  # (S,)
    width = max(high - low, 1e-3)  # as the official code: a degenerate ramp becomes a step
    ramp = ((torch.arange(num_slots, dtype=torch.float64) - low) / width).clamp(0.0, 1.0)  # (S,)
    keep = 1.0 - ramp  # 1 = extrapolate (keep θ), 0 = interpolate (θ / s)
    freqs = theta / s * (1.0 - keep) + theta * keep
    return freqs.to(torch.float32), yarn_attention_factor(s)


def llama3_frequencies(
    frequencies: Tensor,
    scale: float = 8.0,
    original_length: int = 8192,
    *,
    low_freq_factor: float = 1.0,
    high_freq_factor: float = 4.0,
) -> Tensor:
    """Llama-3.1 scaling on any ``F``: wavelengths shorter than ``L/high_freq_factor`` are kept, longer
    than ``L/low_freq_factor`` divided by ``s``, a smooth blend in ``r = L/λ`` between."""
    s = scale_factor("scale", scale)
    length = positive_int("original_length", original_length)
    positive_float("low_freq_factor", low_freq_factor)
    if not high_freq_factor > low_freq_factor:
        raise ConfigError(
            f"high_freq_factor must be > low_freq_factor={low_freq_factor!r}, got {high_freq_factor!r}"
        )
    turns = frequencies.abs() * length / (2.0 * math.pi)  # L / λ
    smooth = ((turns - low_freq_factor) / (high_freq_factor - low_freq_factor)).clamp(0.0, 1.0)
    return frequencies * ((1.0 + smooth * (s - 1.0)) / s)
