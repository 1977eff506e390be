"""p-RoPE ("Round and Round We Go!", Barbero et al., 2025): keep the highest fraction ``p`` of the
frequencies and set the rest to zero, so those channel pairs carry position-free (semantic) content.

Reading: as Gemma's ``rope_proportion``, the kept slots are the first ``floor(p·S)`` slots of the
schedule with their *original* frequencies (not recomputed over a shorter rotary width as
``partial_rotary_factor`` does); the core's schedules list the highest frequency first.
"""

from __future__ import annotations

from torch import Tensor

from drive.errors import ConfigError


def proportional_frequencies(frequencies: Tensor, fraction: float) -> Tensor:
    """``F`` (``[S]`` or ``[H, S, A]``) with slots ``floor(fraction·S)..S-1`` zeroed.

    ``fraction = 1`` is RoPE, ``fraction = 0`` removes position entirely (NoPE).
    """
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0.0 <= fraction <= 1.0:
        raise ConfigError(f"fraction must be a number in [0, 1], got {fraction!r}")
    if frequencies.dim() not in (1, 3):
        raise ConfigError(f"frequencies must be [S] or [H, S, A], got shape {tuple(frequencies.shape)}")
    slot_dim = 0 if frequencies.dim() == 1 else 1
    num_slots = frequencies.shape[slot_dim]
    keep = int(fraction * num_slots + 1e-9)  # floor, robust to 0.75 * 64 style float error
    out = frequencies.clone()
    out.narrow(slot_dim, keep, num_slots - keep).zero_()
    return out
