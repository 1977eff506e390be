"""Rotary cross-attention to a time-varying condition (the MuseControlLite pattern, Tsai et al., ICML 2025).

Queries (e.g. the Tf future steps of a trajectory) attend to a condition sequence on its own time axis
(e.g. P route or plan points). Both get 1-D RoPE on one common axis: the condition's index, with query
times rescaled onto it, ``pos_q = i · (Nc / Nq)`` (MuseControlLite's reading), or any real-valued times
given in condition steps. Scores then depend only on ``pos_k - pos_q``, so query step i is drawn to the
condition points at the same fraction of the horizon whatever the two rates are.

Reading implemented: queries and keys are rotated (by the core's :class:`~drive.rope.RotaryAttention`);
the official code also rotates the values with the key positions, which makes the output depend on
absolute condition times, so it is left out here. The output projection starts at zero (the paper's
zero-initialised ``conv_out``), so adding the module to a trained model changes nothing until trained.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from drive.rope.angles import rope_angles
from drive.rope.attention import RotaryAttention
from drive.rope.frequencies import axial_frequencies, geometric_frequencies
from drive.rope.variants._checks import base_value, positive_int


def aligned_positions(num_query: int, num_condition: int, *, device: torch.device | None = None) -> Tensor:
    """Query positions ``[Nq]`` on the condition's index axis: ``arange(Nq) · Nc / Nq`` (fp32), so the
    last query sits at ``(Nq - 1) · Nc / Nq``; equal rates give ``arange(Nq)``."""
    positive_int("num_query", num_query)
    positive_int("num_condition", num_condition)
    return torch.arange(num_query, dtype=torch.float32, device=device) * (num_condition / num_query)


def times_to_condition_steps(times_s: Tensor, condition_start_s: float, condition_dt_s: float) -> Tensor:
    """Real-valued times ``[...]`` in seconds -> positions on a condition sampled every
    ``condition_dt_s`` from ``condition_start_s`` (fp32): the general form of the rescaling."""
    if not condition_dt_s > 0:
        raise ValueError(f"condition_dt_s must be > 0, got {condition_dt_s!r}")
    return (times_s.float() - condition_start_s) / condition_dt_s


class ConditionCrossAttention(nn.Module):
    """Queries ``[B, Nq, D]`` attend to a condition ``[B, Nc, Dc]`` with rescaled 1-D RoPE on time.

    ``forward(query, condition, query_pos [B|1, Nq] | None, condition_pos [B|1, Nc] | None,
    condition_mask [B, Nc] bool (True = valid) | None, return_weights=False) -> [B, Nq, D]``: the
    conditioning term (add it to the query stream). Default positions: :func:`aligned_positions` and
    ``arange(Nc)``. ``rotary_slots`` pairs per head are rotated (default: all, head_dim/2) with
    frequencies ``base^(-i/S)``.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        *,
        condition_dim: int | None = None,
        rotary_slots: int | None = None,
        base: float = 10000.0,
        dropout: float = 0.0,
        zero_init: bool = True,
    ) -> None:
        super().__init__()
        self.attention = RotaryAttention(embed_dim, num_heads, dropout=dropout)
        head_dim = embed_dim // num_heads
        slots = head_dim // 2 if rotary_slots is None else positive_int("rotary_slots", rotary_slots)
        if 2 * slots > head_dim:
            raise ValueError(f"rotary_slots must be <= head_dim/2 = {head_dim // 2}, got {slots}")
        freqs = axial_frequencies([(0, geometric_frequencies(slots, base_value(base)))], 1, num_heads)
        self.register_buffer("freqs", freqs, persistent=False)  # (H, S, 1)
        self.condition_proj = nn.Linear(condition_dim or embed_dim, embed_dim)
        self.out = nn.Linear(embed_dim, embed_dim)
        if zero_init:
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)

    def angles(self, positions: Tensor) -> Tensor:
        """Positions ``[B, N]`` on the condition's axis -> angles ``[B, N, H, S]`` (fp32)."""
        return rope_angles(positions[..., None], self.freqs)

    def forward(
        self,
        query: Tensor,
        condition: Tensor,
        query_pos: Tensor | None = None,
        condition_pos: Tensor | None = None,
        condition_mask: Tensor | None = None,
        return_weights: bool = False,
    ) -> Tensor | tuple[Tensor, Tensor]:
        B, Nq, _ = query.shape
        Nc = condition.shape[1]
        if query_pos is None:
            query_pos = aligned_positions(Nq, Nc, device=query.device)[None]  # (1, Nq)
        if condition_pos is None:
            condition_pos = torch.arange(Nc, dtype=torch.float32, device=query.device)[None]  # (1, Nc)
        q_angle = self.angles(query_pos).expand(B, -1, -1, -1)  # (B, Nq, H, S)
        k_angle = self.angles(condition_pos).expand(B, -1, -1, -1)  # (B, Nc, H, S)
        context = self.condition_proj(condition)  # (B, Nc, D)
        result = self.attention(
            query, context, q_angle, k_angle, key_padding_mask=condition_mask, return_weights=return_weights
        )
        if return_weights:
            out, weights = result
            return self.out(out), weights
        return self.out(result)


class RouteConditioning(nn.Module):
    """Conditions per-step trajectory tokens on a route (or plan): P points in the agent's frame.

    ``forward(step_tokens [B, Tf, D], route_xy [B, P, 2] m, route_mask [B, P] | None) -> [B, Tf, D]``:
    the tokens plus the conditioning term; future step t attends to the route points around the same
    fraction of the route (``t · P / Tf``). Route points are embedded by an MLP of (x, y) / ``scale_m``.
    """

    def __init__(self, embed_dim: int, num_heads: int, *, scale_m: float = 10.0, **attention_options) -> None:
        super().__init__()
        self.scale_m = scale_m
        self.embed = nn.Sequential(nn.Linear(2, embed_dim), nn.ReLU(), nn.Linear(embed_dim, embed_dim))
        self.cross = ConditionCrossAttention(embed_dim, num_heads, **attention_options)

    def forward(self, step_tokens: Tensor, route_xy: Tensor, route_mask: Tensor | None = None) -> Tensor:
        route = self.embed(route_xy.to(step_tokens.dtype) / self.scale_m)  # (B, P, D)
        return step_tokens + self.cross(step_tokens, route, condition_mask=route_mask)
