"""Rotary attention on poses: RoPE on x/y in metres plus DRoPE on the heading (DRoPE-RoPE).

Per head, rotary slots are split into groups: ``xy_slots`` pairs (half rotated by x, half by y, with
angular frequencies 2π/λ for wavelengths λ in metres), ``heading_slots`` pairs rotated by the heading
itself (unit frequency, so exactly 2π-periodic: DRoPE), and the remaining channels position-free. The
wavelengths are spread over heads: head h gets every H-th wavelength of one geometric ladder, so each
head sees the whole range and different heads see different scales. Scores depend on the scene-frame
displacement ``p_k − p_q`` and on ``ψ_k − ψ_q``: invariant to translating the scene, not to rotating it.
With no slots at all this is plain scaled-dot-product attention.

Alternatively (``heading_heads > 0``) the split is per head: the last ``heading_heads`` heads rotate all
their ``xy_slots + heading_slots`` pairs by the heading, the other heads all of theirs by x/y.
"""

from __future__ import annotations

import torch
from torch import nn

from drive.errors import ConfigError
from drive.rope import RotaryAttention, rope_angles, unit_frequencies, wavelength_frequencies


def pose_frequencies(
    num_heads: int,
    xy_slots: int,
    heading_slots: int,
    min_wavelength_m: float,
    max_wavelength_m: float,
    heading_heads: int = 0,
    shared: bool = False,
) -> torch.Tensor:
    """Frequency table ``F [H, S, 3]`` over the axes (x m, y m, heading rad), S = xy_slots + heading_slots.

    ``shared=True`` gives every head the same ``xy_slots / 2`` wavelengths per axis and returns
    ``F [1, S, 3]``: angles then broadcast over heads, which saves their per-head memory.

    Slot layout per head: x slots, y slots (``xy_slots / 2`` each), then heading slots. With
    ``heading_heads > 0``, heads ``H - heading_heads ..`` put all S slots on the heading and the other
    heads put all S slots on x/y (S must then be even).
    """
    if not 0 <= heading_heads < num_heads or (heading_heads and num_heads < 2):
        raise ConfigError(f"heading_heads must be in [0, num_heads={num_heads}), got {heading_heads}")
    if shared and heading_heads:
        raise ConfigError("shared wavelengths and heading_heads cannot be combined")
    if shared:
        return pose_frequencies(1, xy_slots, heading_slots, min_wavelength_m, max_wavelength_m)
    if heading_heads:
        total = xy_slots + heading_slots
        xy = pose_frequencies(num_heads, total, 0, min_wavelength_m, max_wavelength_m)
        xy[num_heads - heading_heads :] = 0.0
        xy[num_heads - heading_heads :, :, 2] = unit_frequencies(total)
        return xy
    if xy_slots % 2:
        raise ConfigError(f"xy_slots must be even (x and y get half each), got {xy_slots}")
    per_axis = xy_slots // 2
    table = torch.zeros(num_heads, xy_slots + heading_slots, 3)
    if per_axis:
        ladder = wavelength_frequencies(num_heads * per_axis, min_wavelength_m, max_wavelength_m)
        per_head = ladder.view(per_axis, num_heads).T  # (H, per_axis): head h takes every H-th
        table[:, :per_axis, 0] = per_head
        table[:, per_axis:xy_slots, 1] = per_head
    if heading_slots:
        table[:, xy_slots:, 2] = unit_frequencies(heading_slots)
    return table


class PoseRotaryAttention(nn.Module):
    """DRoPE-RoPE attention on token poses (``rope_2d`` when ``heading_slots = 0``; plain when both 0).

    ``forward(query [B, Nq, D], key_value [B, Nk, D], query_pos [B, Nq, 2] m, query_heading [B, Nq] rad,
    key_pos [B, Nk, 2], key_heading [B, Nk], key_padding_mask [B, Nk] | None, attn_mask [B, Nq, Nk] |
    None) -> [B, Nq, D]``. ``layout`` chooses which channels of a head form the rotated pairs
    (:data:`drive.rope.LAYOUTS`).
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        *,
        xy_slots: int = 4,
        heading_slots: int = 2,
        min_wavelength_m: float = 2.0,
        max_wavelength_m: float = 400.0,
        heading_heads: int = 0,
        shared_wavelengths: bool = False,
        dropout: float = 0.0,
        layout: str = "half",
    ) -> None:
        super().__init__()
        head_dim = embed_dim // num_heads
        if embed_dim % num_heads or 2 * (xy_slots + heading_slots) > head_dim:
            raise ConfigError(
                f"xy_slots + heading_slots = {xy_slots + heading_slots} pairs do not fit head_dim "
                f"{head_dim} (embed_dim {embed_dim} / num_heads {num_heads})"
            )
        self.attention = RotaryAttention(embed_dim, num_heads, dropout=dropout, layout=layout)
        self.use_rotary = xy_slots + heading_slots > 0
        freqs = pose_frequencies(
            num_heads,
            xy_slots,
            heading_slots,
            min_wavelength_m,
            max_wavelength_m,
            heading_heads,
            shared_wavelengths,
        )
        self.register_buffer("freqs", freqs, persistent=False)

    def angles(self, pos: torch.Tensor, heading: torch.Tensor) -> torch.Tensor | None:
        """``[B, N, 2]``, ``[B, N]`` -> rotation angles ``[B, N, H, S]`` (``[B, N, 1, S]`` with shared
        wavelengths; fp32), or None without slots."""
        if not self.use_rotary:
            return None
        return rope_angles(torch.cat([pos.float(), heading.float()[..., None]], dim=-1), self.freqs)

    def forward(
        self,
        query: torch.Tensor,
        key_value: torch.Tensor,
        query_pos: torch.Tensor,
        query_heading: torch.Tensor,
        key_pos: torch.Tensor,
        key_heading: torch.Tensor,
        key_padding_mask: torch.Tensor | None = None,
        attn_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        query_angle = self.angles(query_pos, query_heading)
        same_pose = key_pos is query_pos and key_heading is query_heading  # self-attention: reuse
        key_angle = query_angle if same_pose else self.angles(key_pos, key_heading)
        return self.attention(
            query,
            key_value,
            query_angle,
            key_angle,
            key_padding_mask=key_padding_mask,
            attn_mask=attn_mask,
        )
