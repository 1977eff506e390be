"""Rotary cross-attention to a time-varying condition: rescaled times, relative scores, the equal-rate
reduction to plain 1-D RoPE cross-attention, zero init, and a route actually being followed."""

from __future__ import annotations

import math

import torch
from torch import nn

from drive.rope import geometric_frequencies, rope_angles, rotate
from drive.rope.variants.conditioning import (
    ConditionCrossAttention,
    RouteConditioning,
    aligned_positions,
    times_to_condition_steps,
)


def _module(seed=0, **options):
    torch.manual_seed(seed)
    return ConditionCrossAttention(16, 2, zero_init=False, base=100.0, **options).double()


def test_aligned_positions_hand_values():
    torch.testing.assert_close(aligned_positions(4, 8), torch.tensor([0.0, 2.0, 4.0, 6.0]))
    torch.testing.assert_close(aligned_positions(8, 4), torch.arange(8.0) * 0.5)
    torch.testing.assert_close(aligned_positions(5, 5), torch.arange(5.0))
    # 80 steps at 10 Hz against a route sampled every 2 s from t = 0.1 s.
    times = torch.arange(1, 81) * 0.1
    steps = times_to_condition_steps(times, 0.1, 2.0)
    assert steps[0] == 0.0 and math.isclose(steps[-1].item(), 3.95, rel_tol=1e-6)


def test_weights_depend_only_on_rescaled_time_difference():
    module = _module()
    gen = torch.Generator().manual_seed(1)
    token = torch.randn(1, 1, 16, generator=gen, dtype=torch.float64)
    condition = torch.randn(1, 8, 16, generator=gen, dtype=torch.float64)
    # 4 queries on an 8-point condition (rate 2) against 8 queries at the same rate: query i of the first
    # sits at 2i, like query 2i of the second, so their weights must agree.
    _, slow = module(token.expand(1, 4, 16), condition, return_weights=True)
    _, equal = module(token.expand(1, 8, 16), condition, return_weights=True)
    torch.testing.assert_close(slow[:, :, :], equal[:, :, 0::2], rtol=1e-10, atol=1e-12)
    assert not torch.allclose(slow[:, :, 0], slow[:, :, 1])  # positions do matter
    # A common shift of query and condition times (real-valued) changes nothing.
    q_pos, c_pos = aligned_positions(4, 8)[None].double(), torch.arange(8.0)[None].double()
    _, shifted = module(token.expand(1, 4, 16), condition, q_pos + 37.25, c_pos + 37.25, return_weights=True)
    torch.testing.assert_close(shifted, slow, rtol=1e-8, atol=1e-10)
    # Shifting only the queries does change them.
    _, moved = module(token.expand(1, 4, 16), condition, q_pos + 1.0, c_pos, return_weights=True)
    assert not torch.allclose(moved, slow)


def test_equal_rates_reduce_to_plain_rope_cross_attention():
    module = _module(rotary_slots=3)
    gen = torch.Generator().manual_seed(2)
    query = torch.randn(2, 6, 16, generator=gen, dtype=torch.float64)
    condition = torch.randn(2, 6, 16, generator=gen, dtype=torch.float64)
    mask = torch.ones(2, 6, dtype=torch.bool)
    mask[1, 4:] = False
    out = module(query, condition, condition_mask=mask)
    # Written out: per-head 1-D RoPE on indices 0..5 for queries and keys, softmax, values.
    attn = module.attention
    freqs = geometric_frequencies(3, 100.0).double()[None, :, None].expand(2, 3, 1)
    angle = rope_angles(torch.arange(6.0, dtype=torch.float64)[:, None], freqs)  # (6, H, S)
    context = module.condition_proj(condition)
    q = rotate(attn.q_proj(query).view(2, 6, 2, 8), angle)
    k = rotate(attn.k_proj(context).view(2, 6, 2, 8), angle)
    v = attn.v_proj(context).view(2, 6, 2, 8)
    scores = torch.einsum("bihd,bjhd->bhij", q, k) / math.sqrt(8)
    scores = scores.masked_fill(~mask[:, None, None], float("-inf"))
    mixed = torch.einsum("bhij,bjhd->bihd", scores.softmax(-1), v).reshape(2, 6, 16)
    expected = module.out(attn.out_proj(mixed))
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-12)


def test_zero_init_adds_nothing():
    torch.manual_seed(3)
    route = RouteConditioning(16, 2)
    tokens = torch.randn(2, 12, 16)
    assert torch.equal(route(tokens, torch.randn(2, 5, 2) * 10), tokens)


def _routes(n, num_points, num_steps, gen):
    """Random smooth routes ``[n, P, 2]`` m and the trajectory ``[n, Tf, 2]`` that follows them at the
    query times rescaled onto the route's axis (linear interpolation between route points)."""
    heading = torch.cumsum(torch.randn(n, num_points, generator=gen) * 0.4, dim=1)
    step = torch.stack([heading.cos(), heading.sin()], -1) * 5.0
    route = torch.cumsum(step, dim=1) - step[:, :1]  # starts at the origin
    pos = aligned_positions(num_steps, num_points)
    lo = pos.floor().long().clamp(max=num_points - 1)
    hi = (lo + 1).clamp(max=num_points - 1)
    w = (pos - lo)[None, :, None]
    return route, route[:, lo] * (1 - w) + route[:, hi] * w


class _StepDecoder(nn.Module):
    def __init__(self, num_steps, conditioned):
        super().__init__()
        self.steps = nn.Parameter(torch.randn(num_steps, 32) * 0.1)
        self.route = RouteConditioning(32, 2, base=20.0) if conditioned else None
        self.head = nn.Sequential(nn.LayerNorm(32), nn.Linear(32, 2))

    def forward(self, route):
        tokens = self.steps.expand(route.shape[0], -1, -1)
        if self.route is not None:
            tokens = self.route(tokens, route)
        return self.head(tokens) * 10.0


def test_route_conditioning_learns_to_follow_the_route():
    gen = torch.Generator().manual_seed(4)
    errors = {}
    for conditioned in (False, True):
        torch.manual_seed(5)
        model = _StepDecoder(12, conditioned)
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        for _ in range(150):
            route, target = _routes(32, 6, 12, gen)
            opt.zero_grad()
            (model(route) - target).norm(dim=-1).mean().backward()
            opt.step()
        route, target = _routes(256, 6, 12, torch.Generator().manual_seed(99))
        with torch.no_grad():
            errors[conditioned] = (model(route) - target).norm(dim=-1).mean().item()
    assert errors[True] < 0.35 * errors[False], errors
