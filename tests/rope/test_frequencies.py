"""Frequency schedules, axial composition, RoPE-Mixed initialisation and the angle formula."""

from __future__ import annotations

import math

import pytest
import torch

from drive.rope import (
    RotaryEmbedding,
    axial_frequencies,
    geometric_frequencies,
    mixed_frequencies,
    rope_angles,
    unit_frequencies,
    wavelength_frequencies,
)


def test_geometric_frequencies_match_roformer_values() -> None:
    freqs = geometric_frequencies(64)  # head dim 128, base 1e4
    assert freqs.dtype == torch.float32 and freqs.shape == (64,)
    expected = [1.0, 10000 ** (-2 / 128), 10000 ** (-4 / 128), 10000 ** (-6 / 128)]
    torch.testing.assert_close(freqs[:4], torch.tensor(expected))
    assert math.isclose(freqs[-1].item(), 10000 ** (-126 / 128), rel_tol=1e-6)
    # the "1 / base^(arange(0, d, 2) / d)" form used across the ecosystem
    torch.testing.assert_close(freqs, 1.0 / 10000 ** (torch.arange(0, 128, 2).double() / 128).float())


def test_wavelength_frequencies_span_the_range() -> None:
    freqs = wavelength_frequencies(5, 1.0, 16.0)
    torch.testing.assert_close(2 * math.pi / freqs, torch.tensor([1.0, 2.0, 4.0, 8.0, 16.0]))
    torch.testing.assert_close(wavelength_frequencies(1, 3.0, 9.0), torch.tensor([2 * math.pi / 3]))


def test_unit_frequencies_are_ones() -> None:
    assert torch.equal(unit_frequencies(3), torch.ones(3))


def test_axial_frequencies_layout() -> None:
    F = axial_frequencies(
        [(0, torch.tensor([1.0, 2.0])), (None, torch.ones(1)), (1, torch.tensor([3.0]))], 2, 3
    )
    expected = torch.tensor([[1.0, 0.0], [2.0, 0.0], [0.0, 0.0], [0.0, 3.0]])
    assert F.shape == (3, 4, 2)
    assert all(torch.equal(F[h], expected) for h in range(3))


def test_rope_angles_is_the_weighted_sum_over_axes() -> None:
    F = torch.randn(2, 3, 4)
    positions = torch.randn(5, 6, 4)
    expected = (positions[..., None, None, :].double() * F.double()).sum(-1)
    angle = rope_angles(positions, F)
    assert angle.shape == (5, 6, 2, 3) and angle.dtype == torch.float32
    torch.testing.assert_close(angle.double(), expected, rtol=1e-5, atol=1e-5)


def test_mixed_without_rotation_equals_axial() -> None:
    mixed = mixed_frequencies(8, num_heads=3, base=10.0, rotate=False)
    magnitude = geometric_frequencies(4, 10.0)
    axial = axial_frequencies([(0, magnitude), (1, magnitude)], num_axes=2, num_heads=3)
    assert torch.equal(mixed, axial)


def test_mixed_rotation_keeps_magnitudes_and_perpendicular_halves() -> None:
    F = mixed_frequencies(8, num_heads=4, generator=torch.Generator().manual_seed(0)).double()
    magnitude = geometric_frequencies(4, 10.0).double()
    torch.testing.assert_close(F.norm(dim=-1), torch.cat([magnitude, magnitude]).expand(4, 8))
    dots = (F[:, :4] * F[:, 4:]).sum(-1)  # first-half slot k is perpendicular to second-half slot k
    torch.testing.assert_close(dots, torch.zeros_like(dots), atol=1e-7, rtol=0)


def test_rotary_embedding_learnable_frequencies_get_gradients() -> None:
    emb = RotaryEmbedding(mixed_frequencies(4, 2), learnable=True)
    assert isinstance(emb.frequencies, torch.nn.Parameter)
    emb(torch.randn(3, 2)).sin().sum().backward()
    assert emb.frequencies.grad is not None and emb.frequencies.grad.abs().sum() > 0
    fixed = RotaryEmbedding(geometric_frequencies(4)[:, None])
    assert "frequencies" in dict(fixed.named_buffers()) and not list(fixed.parameters())


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: geometric_frequencies(0), "num_slots"),
        (lambda: geometric_frequencies(4, base=1.0), "base"),
        (lambda: wavelength_frequencies(4, 2.0, 1.0), "max_wavelength"),
        (lambda: axial_frequencies([(2, torch.ones(2))], num_axes=2), "axis"),
        (lambda: axial_frequencies([], num_axes=2), "groups"),
        (lambda: mixed_frequencies(3, 2), "even"),
        (lambda: rope_angles(torch.zeros(4, 3), torch.zeros(1, 2, 2)), "positions"),
    ],
)
def test_bad_arguments_name_the_field(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()
