"""Relative-position and heading properties of the angle formula plus rotation, and low-precision error."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from drive.rope import (
    RotaryEmbedding,
    axial_frequencies,
    geometric_frequencies,
    grid_positions,
    mixed_frequencies,
    rope_angles,
    rotate,
    unit_frequencies,
    wavelength_frequencies,
)


def _scores(q, k, q_pos, k_pos, F, layout="half"):
    """All query-key dot products ``[Nq, Nk, H]`` after rotating q ``[Nq, H, D]`` and k ``[Nk, H, D]``."""
    q_rot = rotate(q, rope_angles(q_pos, F), layout)
    k_rot = rotate(k, rope_angles(k_pos, F), layout)
    return torch.einsum("ihd,jhd->ijh", q_rot, k_rot)


def _qk(nq, nk, heads, dim, seed, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(nq, heads, dim, generator=g, dtype=dtype), torch.randn(
        nk, heads, dim, generator=g, dtype=dtype
    )


@pytest.mark.parametrize("layout", ["half", "interleaved"])
def test_1d_scores_depend_only_on_offset(layout: str) -> None:
    F = geometric_frequencies(16)[None, :, None].double()  # (1, 16, 1)
    q, k = _qk(6, 9, 1, 32, 0)
    q_pos = torch.randint(0, 500, (6, 1)).double()
    k_pos = torch.randint(0, 500, (9, 1)).double()
    base = _scores(q, k, q_pos, k_pos, F, layout)
    shifted = _scores(q, k, q_pos + 1234, k_pos + 1234, F, layout)
    torch.testing.assert_close(shifted, base, rtol=1e-9, atol=1e-9)
    # and the property has teeth: moving only the keys changes the scores
    assert (base - _scores(q, k, q_pos, k_pos + 3, F, layout)).abs().max() > 1e-2


def test_1d_invariance_holds_in_fp32_at_moderate_positions() -> None:
    F = geometric_frequencies(16)[None, :, None]
    q, k = _qk(4, 5, 1, 32, 1, torch.float32)
    q_pos, k_pos = torch.arange(4.0)[:, None], torch.arange(5.0)[:, None] * 3
    base = _scores(q, k, q_pos, k_pos, F)
    torch.testing.assert_close(_scores(q, k, q_pos + 1000, k_pos + 1000, F), base, rtol=0, atol=2e-3)


def test_2d_grid_scores_depend_only_on_offset() -> None:
    half = geometric_frequencies(8, base=100.0)
    F = axial_frequencies([(0, half), (1, half)], num_axes=2, num_heads=2).double()  # (2, 16, 2)
    pos = grid_positions(5, 7).double()  # (35, 2)
    q, k = _qk(35, 35, 2, 32, 2)
    base = _scores(q, k, pos, pos, F)
    shift = torch.tensor([11.0, -4.0], dtype=torch.float64)
    torch.testing.assert_close(_scores(q, k, pos + shift, pos + shift, F), base, rtol=1e-9, atol=1e-9)
    assert (base - _scores(q, k, pos, pos + torch.tensor([0.0, 1.0]).double(), F)).abs().max() > 1e-2


def test_metric_xy_scores_depend_only_on_displacement() -> None:
    freqs = wavelength_frequencies(8, min_wavelength=0.5, max_wavelength=400.0)
    F = axial_frequencies([(0, freqs), (1, freqs)], num_axes=2).double()  # (1, 16, 2)
    g = torch.Generator().manual_seed(3)
    q_xy = torch.rand(5, 2, generator=g, dtype=torch.float64) * 100
    k_xy = torch.rand(8, 2, generator=g, dtype=torch.float64) * 100
    q, k = _qk(5, 8, 1, 32, 4)
    base = _scores(q, k, q_xy, k_xy, F)
    shift = torch.tensor([-2731.25, 512.5], dtype=torch.float64)  # metres
    torch.testing.assert_close(_scores(q, k, q_xy + shift, k_xy + shift, F), base, rtol=1e-8, atol=1e-8)


def test_drope_scores_depend_only_on_heading_difference_and_are_2pi_periodic() -> None:
    F = unit_frequencies(8)[None, :, None]  # (1, 8, 1): DRoPE on one heading axis
    q, k = _qk(4, 6, 1, 16, 5, torch.float32)
    g = torch.Generator().manual_seed(6)
    psi_q = (torch.rand(4, 1, generator=g) - 0.5) * 2 * math.pi
    psi_k = (torch.rand(6, 1, generator=g) - 0.5) * 2 * math.pi
    base = _scores(q, k, psi_q, psi_k, F)
    for turns in (-3, 1, 2, 5):
        torch.testing.assert_close(
            _scores(q, k, psi_q + 2 * math.pi * turns, psi_k, F), base, rtol=0, atol=1e-4
        )
    common = 0.83  # rotating every agent by the same angle keeps all heading differences
    torch.testing.assert_close(_scores(q, k, psi_q + common, psi_k + common, F), base, rtol=0, atol=1e-4)


def test_geometric_frequencies_on_headings_are_not_periodic() -> None:
    F = geometric_frequencies(8)[None, :, None]
    q, k = _qk(4, 6, 1, 16, 5, torch.float32)
    psi_q = torch.linspace(-3, 3, 4)[:, None]
    psi_k = torch.linspace(-2, 2, 6)[:, None]
    base = _scores(q, k, psi_q, psi_k, F)
    turned = _scores(q, k, psi_q + 2 * math.pi, psi_k, F)
    assert (turned - base).abs().max() > 0.5  # the same physical heading gives a different score


def test_mixed_with_zero_mixing_equals_axial_rope() -> None:
    mixed = RotaryEmbedding(mixed_frequencies(16, num_heads=2, rotate=False), learnable=True)
    magnitude = geometric_frequencies(8, base=10.0)
    axial = RotaryEmbedding(axial_frequencies([(0, magnitude), (1, magnitude)], num_axes=2, num_heads=2))
    pos = grid_positions(4, 6) * 1.7
    x = torch.randn(24, 2, 32)
    with torch.no_grad():
        torch.testing.assert_close(mixed(pos), axial(pos), rtol=0, atol=0)
        torch.testing.assert_close(rotate(x, mixed(pos)), rotate(x, axial(pos)), rtol=0, atol=0)


def test_mixed_scores_depend_only_on_offset() -> None:
    F = mixed_frequencies(16, num_heads=3, generator=torch.Generator().manual_seed(7)).double()
    pos = grid_positions(4, 4).double()
    q, k = _qk(16, 16, 3, 32, 8)
    base = _scores(q, k, pos, pos, F)
    shift = torch.tensor([3.5, -9.0], dtype=torch.float64)
    torch.testing.assert_close(_scores(q, k, pos + shift, pos + shift, F), base, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("layout", ["half", "interleaved"])
def test_zero_frequency_group_is_position_invariant(layout: str) -> None:
    F = axial_frequencies([(0, geometric_frequencies(4)), (None, torch.ones(4))], num_axes=1)  # (1, 8, 1)
    x = torch.randn(10, 1, 16)
    pos_a, pos_b = torch.randn(10, 1) * 100, torch.randn(10, 1) * 100
    ya, yb = rotate(x, rope_angles(pos_a, F), layout), rotate(x, rope_angles(pos_b, F), layout)
    free = [4, 5, 6, 7, 12, 13, 14, 15] if layout == "half" else list(range(8, 16))
    assert torch.equal(ya[..., free], x[..., free]) and torch.equal(yb[..., free], x[..., free])
    assert not torch.allclose(ya, yb)


# Stated tolerance: with angles, cos and sin in fp32, a low-precision result differs from the fp32 result
# by input rounding plus output rounding, at most 2u times the pair's norm (u = 2^-8 bf16, 2^-11 fp16).
@pytest.mark.parametrize(("dtype", "unit_roundoff"), [(torch.bfloat16, 2.0**-8), (torch.float16, 2.0**-11)])
@pytest.mark.parametrize("layout", ["half", "interleaved"])
def test_low_precision_matches_fp32_reference_at_large_positions(dtype, unit_roundoff, layout) -> None:
    F = geometric_frequencies(32)[None, :, None]
    positions = torch.tensor([[0.0], [1.0], [4095.0], [65_537.0], [1_000_003.0]])
    angle = rope_angles(positions, F)  # (5, 1, 32)
    x = torch.randn(5, 1, 64)
    reference = rotate(x, angle, layout)
    low = rotate(x.to(dtype), angle, layout)
    assert low.dtype == dtype
    pair_norm = (x[..., :32] ** 2 + x[..., 32:] ** 2).sqrt() if layout == "half" else None
    if pair_norm is None:
        pair_norm = x.unflatten(-1, (32, 2)).norm(dim=-1)
    bound = 2 * unit_roundoff * torch.cat([pair_norm, pair_norm], dim=-1).max()
    assert (low.float() - reference).abs().max() <= bound
    # the fp32 angle rule matters: rounding the angles themselves to `dtype` breaks far positions
    rounded = rotate(x, angle.to(dtype).float(), layout)  # fp16 even overflows to inf (NaN rotations)
    assert (rounded - reference).abs().nan_to_num(nan=math.inf).max() > 10 * bound


def test_angles_stay_fp32_under_autocast() -> None:
    F = axial_frequencies([(0, geometric_frequencies(8)), (1, geometric_frequencies(8))], num_axes=2)
    positions = torch.randn(6, 2) * 1e4
    with torch.autocast("cpu", dtype=torch.bfloat16):
        angle = rope_angles(positions, F)
    assert angle.dtype == torch.float32
    assert torch.equal(angle, rope_angles(positions, F))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("layout", ["half", "interleaved"])
def test_cuda_rotation_matches_cpu(layout: str) -> None:
    F = geometric_frequencies(32)[None, :, None]
    angle = rope_angles(torch.arange(4096.0)[:, None], F)  # (T, 1, 32)
    x = torch.randn(2, 4096, 4, 64)
    expected = rotate(x, angle, layout)
    with torch.no_grad():
        on_device = rotate(x.to("cuda"), angle.to("cuda"), layout)
        in_place = x.to("cuda")
        rotate(in_place, angle.to("cuda"), layout, out=in_place)
    torch.testing.assert_close(on_device.cpu(), expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(in_place.cpu(), expected, atol=1e-5, rtol=1e-5)


@settings(max_examples=30, deadline=None)
@given(
    shift=st.floats(-1e3, 1e3, allow_nan=False),
    num_slots=st.integers(1, 8),
    extra_channels=st.integers(0, 3),
    layout=st.sampled_from(["half", "interleaved"]),
    base=st.floats(2.0, 1e5),
)
def test_any_shift_any_width_leaves_scores_unchanged(shift, num_slots, extra_channels, layout, base) -> None:
    F = geometric_frequencies(num_slots, base=base)[None, :, None].double()
    dim = 2 * num_slots + 2 * extra_channels  # trailing channels stay position-free
    q, k = _qk(3, 4, 1, dim, 9)
    q_pos, k_pos = (
        torch.tensor([[0.0], [2.5], [-7.0]]).double(),
        torch.tensor([[1.0], [4.0], [9.5], [-3.0]]).double(),
    )
    base_scores = _scores(q, k, q_pos, k_pos, F, layout)
    torch.testing.assert_close(_scores(q, k, q_pos + shift, k_pos + shift, F, layout), base_scores)
