"""RoPE-Axial / RoPE-Mixed on ViT grids, and M-RoPE, VideoRoPE, VRoPE, HoPE on text-video-text."""

from __future__ import annotations

import pytest
import torch

from drive.errors import ConfigError
from drive.rope import (
    RotaryAttention,
    RotaryEmbedding,
    geometric_frequencies,
    mixed_frequencies,
    rope_angles,
    rotate,
    text_positions,
)
from drive.rope.variants import (
    TextSpan,
    VideoSpan,
    hope_frequencies,
    hope_positions,
    mrope_frequencies,
    mrope_positions,
    patch_positions,
    videorope_frequencies,
    videorope_positions,
    vit_axial_frequencies,
    vit_mixed_frequencies,
    vrope_frequencies,
    vrope_positions,
)
from tests.rope.variants._helpers import random_qk, rotated_scores


def test_mixed_without_rotation_is_axial():
    assert torch.equal(mixed_frequencies(16, 3, 100.0, rotate=False), vit_axial_frequencies(32, 3, 100.0))


def test_mixed_scores_depend_only_on_2d_offsets():
    F = vit_mixed_frequencies(32, 2, generator=torch.Generator().manual_seed(0))
    q, k = random_qk(5, 2, 32)
    pos = torch.randint(0, 14, (5, 2)).double()
    shift = torch.tensor([[3.0, -7.0]], dtype=torch.float64)
    assert torch.allclose(
        rotated_scores(q, k, pos, pos.flip(0), F), rotated_scores(q, k, pos + shift, pos.flip(0) + shift, F)
    )


def test_cls_token_is_not_rotated():
    positions = patch_positions(3, 4, num_prefix_tokens=1)
    assert positions.shape == (13, 2) and torch.equal(positions[0], torch.zeros(2))
    x = torch.randn(13, 1, 32)
    assert torch.equal(rotate(x, rope_angles(positions, vit_axial_frequencies(32)))[0], x[0])


def test_resolution_extrapolation_keeps_scores_for_equal_offsets():
    F = vit_axial_frequencies(32, 1)
    q, k = random_qk(1, 1, 32, seed=1)
    small, large = patch_positions(14, 14, num_prefix_tokens=0), patch_positions(28, 28, num_prefix_tokens=0)
    # (row 2, col 3) -> (row 5, col 1) at 14x14 and (row 20, col 23) -> (row 23, col 21) at 28x28.
    s_small = rotated_scores(q, k, small[2 * 14 + 3][None], small[5 * 14 + 1][None], F)
    s_large = rotated_scores(q, k, large[20 * 28 + 23][None], large[23 * 28 + 21][None], F)
    assert torch.allclose(s_small, s_large, atol=1e-5)
    interpolated = patch_positions(28, 28, num_prefix_tokens=0, reference_size=(14, 14))
    assert interpolated.max() <= 13.5 and interpolated.min() >= 0  # stays inside the trained range


def test_vit_attention_runs_at_two_resolutions_with_learnable_mixed_frequencies():
    torch.manual_seed(0)
    rope = RotaryEmbedding(vit_mixed_frequencies(8, 2), learnable=True)
    attention = RotaryAttention(16, 2)
    for side in (4, 6):
        angle = rope(patch_positions(side, side))[None]  # (1, N, H, S)
        tokens = torch.randn(1, 1 + side * side, 16)
        attention(tokens, tokens, angle, angle).sum().backward()
    assert rope.frequencies.grad is not None and rope.frequencies.grad.abs().sum() > 0


def test_vit_head_dim_must_split_into_two_axes():
    with pytest.raises(ConfigError, match="head_dim"):
        vit_axial_frequencies(30)


def test_mrope_hand_example():
    pos = mrope_positions([TextSpan(3), VideoSpan(2, 2, 2), TextSpan(2)])
    video = pos[3:11]
    assert video[:, 0].tolist() == [3, 3, 3, 3, 4, 4, 4, 4]
    assert video[:, 1].tolist() == [3, 3, 4, 4, 3, 3, 4, 4]
    assert video[:, 2].tolist() == [3, 4, 3, 4, 3, 4, 3, 4]
    assert pos[11:].tolist() == [[5.0] * 3, [6.0] * 3]  # text resumes at max(t, h, w) + 1


def test_videorope_hand_example_and_centre_on_diagonal():
    pos = videorope_positions([TextSpan(3), VideoSpan(2, 3, 3), TextSpan(1)], temporal_stride=2.0)
    video = pos[3:21]
    assert video[:, 0].tolist() == [3.0] * 9 + [5.0] * 9
    assert video[:, 1].tolist() == [2, 2, 2, 3, 3, 3, 4, 4, 4, 4, 4, 4, 5, 5, 5, 6, 6, 6]
    assert video[:9, 2].tolist() == [2, 3, 4, 2, 3, 4, 2, 3, 4]
    assert torch.equal(video[4], torch.tensor([3.0, 3.0, 3.0]))  # centre patch: h = w = t
    assert pos[21].tolist() == [6.0, 6.0, 6.0]  # text resumes at max(t) + 1
    spaced = videorope_positions([TextSpan(3), VideoSpan(2, 3, 3)], temporal_stride=0.5)
    assert spaced[12:, 0].tolist() == [3.5] * 9  # adjustable temporal spacing


def test_videorope_puts_time_on_the_lowest_frequencies():
    F = videorope_frequencies(64, 16)[0]  # (S, 3)
    assert torch.equal(F[48:, 0], geometric_frequencies(64)[48:]) and torch.equal(F[:48, 0], torch.zeros(48))
    assert torch.equal(F[0:48:2, 1] > 0, torch.ones(24, dtype=torch.bool))  # h on even high slots
    assert torch.equal(F[1:48:2, 2] > 0, torch.ones(24, dtype=torch.bool))  # w on odd high slots


def test_vrope_hand_example_symmetry_and_continuity():
    pos = vrope_positions([VideoSpan(2, 2, 3), TextSpan(2)])
    assert pos[:12, 0].tolist() == [0, 1, 2, 1, 2, 3, 4, 5, 6, 5, 6, 7]
    assert pos[:12, 1].tolist() == [2, 1, 0, 3, 2, 1, 6, 5, 4, 7, 6, 5]
    sums = pos[:12].sum(-1)
    assert sums[:6].tolist() == [6.0] * 6 and sums[6:].tolist() == [22.0] * 6  # no patch favoured
    assert pos[12:].tolist() == [[8.0] * 4, [9.0] * 4]  # text continues right after the last frame
    assert torch.equal(vrope_frequencies(8)[0].argmax(-1), torch.tensor([0, 1, 2, 3, 0, 1, 2, 3]))


def test_hope_zero_slots_are_position_free_and_rest_is_videorope():
    spans = [TextSpan(2), VideoSpan(2, 3, 3), TextSpan(2)]
    assert torch.equal(hope_positions(spans, 1.0), videorope_positions(spans, 1.0))
    hope, video = hope_frequencies(64, 16), videorope_frequencies(64, 16)
    assert torch.equal(hope[:, :48], video[:, :48]) and torch.equal(hope[:, 48:], torch.zeros(1, 16, 3))
    angles = rope_angles(hope_positions(spans, 0.75), hope)
    assert torch.equal(angles[..., 48:], torch.zeros_like(angles[..., 48:]))
    assert torch.equal(hope_frequencies(64, 0), videorope_frequencies(64, 0))


SCHEMES = {
    "mrope": (mrope_positions, lambda: mrope_frequencies((16, 24, 24))),
    "videorope": (videorope_positions, lambda: videorope_frequencies(64, 16)),
    "vrope": (vrope_positions, lambda: vrope_frequencies(64)),
    "hope": (hope_positions, lambda: hope_frequencies(64, 0)),
}


@pytest.mark.parametrize("name", sorted(SCHEMES))
def test_text_only_is_1d_rope(name):
    positions_fn, freqs_fn = SCHEMES[name]
    angles = rope_angles(positions_fn([TextSpan(9)]), freqs_fn())
    assert torch.equal(
        angles, rope_angles(text_positions(9).float(), geometric_frequencies(64)[None, :, None])
    )


@pytest.mark.parametrize("name", sorted(SCHEMES))
def test_text_after_video_keeps_1d_relative_scores(name):
    positions_fn, freqs_fn = SCHEMES[name]
    positions = positions_fn([TextSpan(4), VideoSpan(2, 2, 2), TextSpan(5)])
    assert positions.shape[0] == 4 + 8 + 5
    q, k = random_qk(5, 1, 128, seed=3)
    F = freqs_fn()
    after = positions[-5:]
    assert bool((after[1:] - after[:-1] == 1).all())  # consecutive on every axis
    plain = rotated_scores(
        q, k, text_positions(5).double(), text_positions(5).double(), geometric_frequencies(64)[None, :, None]
    )
    assert torch.allclose(rotated_scores(q, k, after.double(), after.double(), F), plain, atol=1e-4)


def test_spans_are_validated():
    with pytest.raises(ConfigError, match="VideoSpan.height"):
        VideoSpan(2, 0, 3)
    with pytest.raises(ConfigError, match="spans"):
        mrope_positions([])
