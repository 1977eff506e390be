import math

import pytest
import torch

from drive.errors import ConfigError
from drive.nn import PoseRotaryAttention, pose_frequencies, radius_mask
from drive.nn.masking import attention_mask
from drive.rope import wavelength_frequencies
from tests.nn.helpers import move, tokens_and_poses


def test_frequency_layout():
    table = pose_frequencies(
        num_heads=2, xy_slots=4, heading_slots=2, min_wavelength_m=1.0, max_wavelength_m=8.0
    )
    assert table.shape == (2, 6, 3)
    ladder = wavelength_frequencies(4, 1.0, 8.0)
    # Head 0 takes wavelengths 0 and 2 of the ladder, head 1 wavelengths 1 and 3, on x and on y alike.
    torch.testing.assert_close(table[0, :2, 0], ladder[[0, 2]])
    torch.testing.assert_close(table[1, 2:4, 1], ladder[[1, 3]])
    assert torch.equal(table[:, :2, 1:], torch.zeros(2, 2, 2))
    assert torch.equal(table[:, 4:], torch.tensor([0.0, 0.0, 1.0]).expand(2, 2, 3))
    with pytest.raises(ConfigError, match="even"):
        pose_frequencies(2, 3, 0, 1.0, 2.0)


def layer(heading_slots: int = 2) -> PoseRotaryAttention:
    torch.manual_seed(0)
    return PoseRotaryAttention(
        32, 2, xy_slots=4, heading_slots=heading_slots, min_wavelength_m=3.0, max_wavelength_m=200.0
    )


def data():
    return [t.float() for t in tokens_and_poses()]


def test_translation_invariant():
    attn = layer()
    q, kv, qp, qh, kp, kh = data()
    out = attn(q, kv, qp, qh, kp, kh)
    shift = (55.0, -31.0)
    moved = attn(q, kv, *move(qp, qh, 0.0, shift), *move(kp, kh, 0.0, shift))
    torch.testing.assert_close(moved, out, atol=2e-5, rtol=1e-4)


def test_drope_sees_heading_differences_only_and_is_2pi_periodic():
    attn = layer()
    q, kv, qp, qh, kp, kh = data()
    out = attn(q, kv, qp, qh, kp, kh)
    torch.testing.assert_close(attn(q, kv, qp, qh + 0.9, kp, kh + 0.9), out, atol=2e-5, rtol=1e-4)
    torch.testing.assert_close(
        attn(q, kv, qp, qh + 2 * math.pi, kp, kh - 2 * math.pi), out, atol=2e-5, rtol=1e-4
    )
    assert (attn(q, kv, qp, qh, kp, kh + 0.9) - out).abs().max() > 1e-3


def test_rope_2d_ignores_heading_and_no_slots_ignores_pose():
    q, kv, qp, qh, kp, kh = data()
    rope_2d = layer(heading_slots=0)
    torch.testing.assert_close(rope_2d(q, kv, qp, qh, kp, kh + 1.0), rope_2d(q, kv, qp, qh, kp, kh))
    plain = PoseRotaryAttention(32, 2, xy_slots=0, heading_slots=0)
    assert plain.angles(qp, qh) is None
    torch.testing.assert_close(plain(q, kv, qp, qh, kp * 3, kh), plain(q, kv, qp, qh, kp, kh))


def test_masks():
    pos = torch.tensor([[[0.0, 0.0], [3.0, 4.0], [10.0, 0.0]]])
    near = radius_mask(pos, pos, 5.0)
    assert near[0].tolist() == [[True, True, False], [True, True, False], [False, False, True]]
    mask, has_key = attention_mask(torch.tensor([[True, False, False]]), near, 3)
    assert has_key[0].tolist() == [True, True, False]
    assert mask.shape == (1, 1, 3, 3) and mask[0, 0, 2].all()  # an empty row is opened, then zeroed


def test_per_head_split():
    table = pose_frequencies(4, 4, 2, 1.0, 8.0, heading_heads=1)
    assert table.shape == (4, 6, 3)
    assert torch.equal(table[3], torch.tensor([0.0, 0.0, 1.0]).expand(6, 3))  # heading head: DRoPE only
    assert torch.equal(table[:3, :, 2], torch.zeros(3, 6))  # the others: x on 3 slots, y on 3
    assert (table[:3, :3, 0] > 0).all() and (table[:3, 3:, 1] > 0).all()
    with pytest.raises(ConfigError, match="heading_heads"):
        pose_frequencies(2, 4, 2, 1.0, 8.0, heading_heads=2)
    attn = PoseRotaryAttention(32, 2, xy_slots=4, heading_slots=2, heading_heads=1)
    q, kv, qp, qh, kp, kh = data()
    torch.testing.assert_close(
        attn(q, kv, qp, qh + 0.5, kp, kh + 0.5), attn(q, kv, qp, qh, kp, kh), atol=2e-5, rtol=1e-4
    )


def test_shared_wavelengths_broadcast_over_heads():
    shared = pose_frequencies(4, 4, 2, 1.0, 8.0, shared=True)
    assert shared.shape == (1, 6, 3)
    torch.testing.assert_close(shared[0, :2, 0], wavelength_frequencies(2, 1.0, 8.0))
    torch.manual_seed(0)
    attn = PoseRotaryAttention(32, 2, xy_slots=4, heading_slots=2, shared_wavelengths=True)
    q, kv, qp, qh, kp, kh = data()
    assert attn.angles(qp, qh).shape == (2, 5, 1, 6)
    # Same result as the per-head table filled with the shared frequencies.
    full = PoseRotaryAttention(32, 2, xy_slots=4, heading_slots=2)
    full.load_state_dict(attn.state_dict())
    full.freqs = pose_frequencies(2, 4, 2, 2.0, 400.0, shared=True).expand(2, -1, -1).clone()
    torch.testing.assert_close(attn(q, kv, qp, qh, kp, kh), full(q, kv, qp, qh, kp, kh))
