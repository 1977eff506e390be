"""Context extension: RoFormer decay, PI, NTK-aware, dynamic, YaRN, Llama-3, and the base lower bound."""

from __future__ import annotations

import math

import pytest
import torch

from drive.errors import ConfigError
from drive.rope import geometric_frequencies, rope_angles, text_positions
from drive.rope.variants import (
    base_lower_bound,
    discrimination_curve,
    dynamic_ntk_frequencies,
    interpolate_frequencies,
    llama3_frequencies,
    ntk_aware_base,
    ntk_aware_frequencies,
    ntk_by_parts_frequencies,
    roformer_decay_bound,
    yarn_attention_factor,
    yarn_correction_range,
    yarn_frequencies,
)

THETA = geometric_frequencies(64, 10000.0)  # d = 128, b = 1e4


def test_roformer_bound_is_hand_value_at_zero_and_decays():
    bound = roformer_decay_bound(torch.tensor([0, 1, 10, 100, 1000]), head_dim=128)
    assert bound[0].item() == pytest.approx((64 + 1) / 2)  # |S_j| = j at m = 0: mean of 1..64
    assert bool((bound[1:] < bound[:-1]).all())  # decays over decades of distance
    assert bound[-1].item() < bound[0].item() / 5


def test_roformer_decay_matches_brute_force_partial_sums():
    m, theta = 37.0, [10000.0 ** (-i / 64) for i in range(64)]
    partial = [abs(sum(complex(math.cos(m * t), math.sin(m * t)) for t in theta[:j])) for j in range(1, 65)]
    assert roformer_decay_bound(torch.tensor([m]), 128).item() == pytest.approx(sum(partial) / 64, rel=1e-12)


@pytest.mark.parametrize(
    "transform",
    [
        lambda f: interpolate_frequencies(f, 1.0),
        lambda f: ntk_by_parts_frequencies(f, 1.0, 4096),
        lambda f: llama3_frequencies(f, 1.0, 8192),
    ],
    ids=["pi", "ntk_by_parts", "llama3"],
)
def test_elementwise_transforms_are_rope_at_scale_one(transform):
    F = THETA[None, :, None].repeat(2, 1, 1)  # (H, S, 1)
    assert torch.equal(transform(F), F)


def test_schedule_transforms_are_rope_at_scale_one():
    assert torch.equal(ntk_aware_frequencies(64, 1e4, 1.0), THETA)
    assert torch.equal(dynamic_ntk_frequencies(64, 1e4, length=4096, original_length=4096), THETA)
    freqs, factor = yarn_frequencies(64, 1e4, 1.0, 4096)
    assert torch.equal(freqs, THETA) and factor == 1.0


def test_pi_equals_dividing_positions():
    positions = text_positions(50).float() * 3.0
    F = THETA[None, :, None]
    assert torch.allclose(
        rope_angles(positions, interpolate_frequencies(F, 4.0)), rope_angles(positions / 4.0, F)
    )


def test_ntk_aware_base_hand_value_and_lowest_frequency_divided_by_scale():
    assert ntk_aware_base(64, 1e4, 8.0) == pytest.approx(1e4 * 8.0 ** (128 / 126))
    assert ntk_aware_base(64, 1e4, 8.0) == pytest.approx(82684.62, abs=0.01)
    scaled = ntk_aware_frequencies(64, 1e4, 8.0).double()
    assert scaled[0].item() == 1.0
    assert (scaled[-1] / THETA[-1].double()).item() == pytest.approx(1 / 8, rel=1e-6)


def test_dynamic_scaling_follows_the_current_length():
    assert torch.equal(dynamic_ntk_frequencies(64, 1e4, 1000, 4096), THETA)  # below L: plain RoPE
    assert torch.equal(dynamic_ntk_frequencies(64, 1e4, 3 * 4096, 4096), ntk_aware_frequencies(64, 1e4, 3.0))


def test_yarn_ramp_bounds_match_hand_computed_values():
    # i(n) = d ln(L / (2π n)) / (2 ln b): d=128, b=1e4, L=4096: i(32) = 20.94 -> 20, i(1) = 45.03 -> 46
    assert yarn_correction_range(64, 1e4, 4096) == (20, 46)
    assert yarn_correction_range(64, 1e4, 2048) == (16, 41)  # i(32) = 16.13, i(1) = 40.21
    freqs, factor = yarn_frequencies(64, 1e4, 16.0, 4096)
    ratio = freqs.double() / THETA.double()
    assert torch.allclose(ratio[:21], torch.ones(21, dtype=torch.float64))  # extrapolated, ramp 0 at 20
    assert torch.allclose(ratio[46:], torch.full((18,), 1 / 16, dtype=torch.float64))  # interpolated
    ramp = (torch.arange(21, 46, dtype=torch.float64) - 20) / 26
    assert torch.allclose(ratio[21:46], (1 - ramp) + ramp / 16)
    assert factor == pytest.approx(0.1 * math.log(16) + 1) == pytest.approx(1.277259, abs=1e-6)
    assert yarn_attention_factor(32.0) == pytest.approx(1.346574, abs=1e-6)


def test_ntk_by_parts_keeps_fast_and_interpolates_slow_entries():
    scaled = ntk_by_parts_frequencies(THETA, 16.0, 4096, alpha=1.0, beta=32.0)
    turns = THETA.double() * 4096 / (2 * math.pi)
    assert torch.equal(scaled[turns > 32], THETA[turns > 32])
    assert torch.allclose(scaled[turns < 1], THETA[turns < 1] / 16)
    between = (turns > 1) & (turns < 32)
    assert bool(((scaled[between] < THETA[between]) & (scaled[between] > THETA[between] / 16)).all())


def test_llama3_slot_counts_for_its_published_setting():
    theta = geometric_frequencies(64, 500000.0)
    ratio = llama3_frequencies(theta, 8.0, 8192, low_freq_factor=1.0, high_freq_factor=4.0) / theta
    kept, divided = (ratio == 1).sum().item(), torch.isclose(ratio, torch.tensor(1 / 8)).sum().item()
    assert (kept, divided, 64 - kept - divided) == (29, 29, 6)  # λ < 2048 kept, λ > 8192 divided, 6 blended


def test_scale_below_one_is_refused():
    with pytest.raises(ConfigError, match="scale"):
        yarn_frequencies(64, 1e4, 0.5, 4096)


def test_discrimination_curve_starts_at_half_the_head_dim():
    assert discrimination_curve(torch.tensor([0]), 128, 1e4).item() == 64.0


def test_base_lower_bound_matches_the_paper_and_is_tight():
    bound = base_lower_bound(1024, 128, min_base=3e3, max_base=1e4)
    # The paper's Figure 1 reads about 4e3 for a 1k context (head size 128); our refined value is 4.29e3.
    assert 3.5e3 < bound.smallest < 5e3
    distances = torch.arange(1025)
    assert discrimination_curve(distances, 128, bound.smallest).min() >= 0
    assert discrimination_curve(distances, 128, bound.smallest * 0.999).min() < 0


def test_base_lower_bound_reports_the_non_monotone_window():
    bound = base_lower_bound(1024, 128, min_base=3e3, max_base=1e4)
    assert bound.stable > bound.smallest
    # Some base between the two fails again: feasibility is not monotone in the base.
    between = torch.logspace(math.log10(bound.smallest), math.log10(bound.stable), 60, dtype=torch.float64)
    distances = torch.arange(1025)
    fails = [discrimination_curve(distances, 128, b.item()).min().item() < 0 for b in between[1:-1]]
    assert any(fails)
    assert discrimination_curve(distances, 128, bound.stable).min() >= 0


def test_yarn_temperature_through_rotary_attention():
    from drive.rope import RotaryAttention, rotate

    torch.manual_seed(0)
    freqs, factor = yarn_frequencies(8, 1e4, 4.0, 64)
    attention = RotaryAttention(32, 2).double().eval()
    x = torch.randn(1, 12, 32, dtype=torch.float64)
    angle = rope_angles(text_positions(12, offset=200), freqs[None, :, None])[None].expand(1, 12, 2, 8)
    fused = attention(x, x, angle, angle, logit_scale=factor**2)
    explicit, _ = attention(x, x, angle, angle, return_weights=True, logit_scale=factor**2)
    # Reference: scale rotated q and k by the attention factor, as YaRN multiplies cos and sin.
    q = rotate(attention.q_proj(x).view(1, 12, 2, 16), angle) * factor
    k = rotate(attention.k_proj(x).view(1, 12, 2, 16), angle) * factor
    v = attention.v_proj(x).view(1, 12, 2, 16)
    weights = torch.softmax(torch.einsum("bihd,bjhd->bhij", q, k) / 4.0, dim=-1)
    reference = attention.out_proj(torch.einsum("bhij,bjhd->bihd", weights, v).reshape(1, 12, 32))
    assert torch.allclose(fused, reference) and torch.allclose(explicit, reference)
    assert not torch.allclose(attention(x, x, angle, angle), reference)


def test_llama3_matches_the_piecewise_reference():
    """Reference loop: keep λ < L/high, divide λ > L/low, else blend by (L/λ − low)/(high − low)."""
    theta = geometric_frequencies(64, 500000.0).double()
    expected = []
    for f in theta.tolist():
        wavelength = 2 * math.pi / f
        if wavelength < 8192 / 4:
            expected.append(f)
        elif wavelength > 8192 / 1:
            expected.append(f / 8)
        else:
            smooth = (8192 / wavelength - 1) / (4 - 1)
            expected.append((1 - smooth) * f / 8 + smooth * f)
    got = llama3_frequencies(theta, 8.0, 8192, low_freq_factor=1.0, high_freq_factor=4.0)
    assert torch.allclose(got, torch.tensor(expected, dtype=torch.float64), rtol=1e-12, atol=0)
