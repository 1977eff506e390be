"""Modality-agnostic rotary position embeddings (RoPE).

One formula: ``angle[..., h, s] = sum_a F[h, s, a] * p[..., a]`` for positions ``p [..., A]`` on any axes
(token index, patch row/column, time, x/y in metres, heading in radians) and frequencies ``F [H, S, A]``;
each channel pair of a query or key is rotated by its slot's angle. See ``docs/rope.md``.
"""

from drive.rope.angles import rope_angles
from drive.rope.attention import RotaryAttention
from drive.rope.compiled import apply_rotation_compiled, rotate_compiled
from drive.rope.embedding import RotaryEmbedding
from drive.rope.frequencies import (
    axial_frequencies,
    geometric_frequencies,
    mixed_frequencies,
    unit_frequencies,
    wavelength_frequencies,
)
from drive.rope.positions import agent_positions, grid_positions, text_positions
from drive.rope.rotation import LAYOUTS, apply_rotation, cos_sin, rotate

__all__ = [
    "LAYOUTS",
    "RotaryAttention",
    "RotaryEmbedding",
    "agent_positions",
    "apply_rotation",
    "apply_rotation_compiled",
    "axial_frequencies",
    "cos_sin",
    "geometric_frequencies",
    "grid_positions",
    "mixed_frequencies",
    "rope_angles",
    "rotate",
    "rotate_compiled",
    "text_positions",
    "unit_frequencies",
    "wavelength_frequencies",
]
