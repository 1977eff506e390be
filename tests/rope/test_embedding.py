"""RotaryEmbedding's integer-position cos/sin cache, and the position generators."""

from __future__ import annotations

import math

import pytest
import torch

from drive.rope import (
    RotaryAttention,
    RotaryEmbedding,
    agent_positions,
    axial_frequencies,
    cos_sin,
    geometric_frequencies,
    grid_positions,
    rope_angles,
    text_positions,
    unit_frequencies,
    wavelength_frequencies,
)


def _text_frequencies(num_heads: int = 2) -> torch.Tensor:
    return axial_frequencies([(0, geometric_frequencies(16))], num_axes=1, num_heads=num_heads)


def test_cached_cos_sin_equals_uncached_and_is_reused() -> None:
    cached = RotaryEmbedding(_text_frequencies(), max_cached_position=512)
    plain = RotaryEmbedding(_text_frequencies())
    positions = torch.randint(0, 512, (3, 40, 1))
    first = cached.cos_sin(positions)
    table = cached._table
    second = cached.cos_sin(text_positions(40, offset=100))
    assert cached._table is table  # built once, gathered from on later calls
    for got, want in zip(first, plain.cos_sin(positions)):
        assert torch.equal(got, want)
    for got, want in zip(second, cos_sin(plain(text_positions(40, offset=100)))):
        assert torch.equal(got, want)


def test_cache_falls_back_outside_its_range_and_for_float_positions() -> None:
    emb = RotaryEmbedding(_text_frequencies(), max_cached_position=8)
    for positions in (torch.tensor([[3], [9]]), torch.tensor([[2.5]])):
        for got, want in zip(emb.cos_sin(positions), cos_sin(rope_angles(positions, emb.frequencies))):
            assert torch.equal(got, want)


def test_cache_follows_frequency_changes() -> None:
    emb = RotaryEmbedding(_text_frequencies(), max_cached_position=16)
    positions = text_positions(16)
    emb.cos_sin(positions)
    emb.load_state_dict({"frequencies": _text_frequencies() * 0.5})
    for got, want in zip(emb.cos_sin(positions), cos_sin(rope_angles(positions, emb.frequencies))):
        assert torch.equal(got, want)


def test_text_positions() -> None:
    assert torch.equal(text_positions(3, offset=5), torch.tensor([[5], [6], [7]]))
    with pytest.raises(ValueError, match="length"):
        text_positions(0)


def test_grid_positions_row_major_and_extrapolation_modes() -> None:
    pos = grid_positions(2, 3)
    assert torch.equal(pos, torch.tensor([[0, 0], [1, 0], [2, 0], [0, 1], [1, 1], [2, 1]]).float())
    big = grid_positions(4, 6)  # integer extrapolation: the trained 2x3 grid is the top-left corner
    assert torch.equal(big.view(4, 6, 2)[:2, :3].reshape(-1, 2), pos)
    scaled = grid_positions(4, 6, reference_size=(2, 3))  # interpolation onto the 2x3 range
    assert scaled.max(0).values.tolist() == [2.5, 1.5] and scaled[1].tolist() == [0.5, 0.0]


def test_agent_positions_stack_axes() -> None:
    xy = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    heading = torch.tensor([0.5, -3.0])
    assert torch.equal(agent_positions(xy, heading), torch.tensor([[1.0, 2.0, 0.5], [3.0, 4.0, -3.0]]))
    assert agent_positions(xy, heading, torch.tensor([0.1, 0.2])).shape == (2, 4)
    with pytest.raises(ValueError, match="heading_rad"):
        agent_positions(xy, heading[:1])


def test_scene_attention_is_invariant_to_translation_and_common_heading_offset() -> None:
    """DRoPE-RoPE on agents: x/y metres on wavelengths, heading on unit frequencies, some free slots."""
    torch.manual_seed(0)
    xy_freqs = wavelength_frequencies(4, 1.0, 200.0)
    F = axial_frequencies(
        [(0, xy_freqs), (1, xy_freqs), (2, unit_frequencies(4)), (None, torch.ones(2))],
        num_axes=3,
        num_heads=4,
    )  # (4, 14, 3)
    emb = RotaryEmbedding(F).double()
    attention = RotaryAttention(128, 4).double().eval()  # head_dim 32 >= 2 * 14
    tokens = torch.randn(1, 6, 128).double()
    xy = torch.randn(1, 6, 2).double() * 30
    heading = (torch.rand(1, 6).double() - 0.5) * 2 * math.pi
    valid = torch.tensor([[True, True, True, True, False, True]])

    def run(pos: torch.Tensor) -> torch.Tensor:
        angle = emb(pos)  # (1, 6, 4, 14)
        return attention(tokens, tokens, angle, angle, key_padding_mask=valid)

    with torch.no_grad():
        base = run(agent_positions(xy, heading).double())
        moved = run(agent_positions(xy + torch.tensor([500.0, -75.0]).double(), heading + 2.0).double())
        wrapped = run(agent_positions(xy, heading + 2 * math.pi).double())
        other = run(agent_positions(xy, heading.flip(-1)).double())
    torch.testing.assert_close(moved, base)
    torch.testing.assert_close(wrapped, base)
    assert (other - base).abs().max() > 1e-3
