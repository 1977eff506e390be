"""The variants run on a CUDA device and agree with the CPU (skipped without CUDA)."""

from __future__ import annotations

import pytest
import torch

from drive.rope import geometric_frequencies, rope_angles, text_positions
from drive.rope.variants import (
    DecoupledRotaryAttention,
    RecurrentMemoryAttention,
    TextSpan,
    VideoSpan,
    rank_elite_slots,
    relative_score_drift,
    videorope_frequencies,
    videorope_positions,
    windowed_rope_scores,
)

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]
CUDA = torch.device("cuda")


def test_elite_and_windowed_match_cpu():
    q, k = torch.randn(32, 2, 16), torch.randn(32, 2, 16)
    F = geometric_frequencies(8)[None, :, None].repeat(2, 1, 1)
    pos = text_positions(32)
    assert torch.equal(
        rank_elite_slots(q.cuda(), k.cuda(), pos.cuda(), F.cuda()).cpu(), rank_elite_slots(q, k, pos, F)
    )
    args = (q[:1], k, torch.tensor([31]), torch.arange(32), F)
    expected = windowed_rope_scores(*args, window=4, far_distance=16, num_sinks=2)
    on_device = windowed_rope_scores(*(a.cuda() for a in args), window=4, far_distance=16, num_sinks=2)
    torch.testing.assert_close(on_device.cpu(), expected, atol=1e-4, rtol=1e-4)


def test_modules_match_cpu():
    torch.manual_seed(0)
    mla = DecoupledRotaryAttention(32, 2, content_dim=8, rotary_dim=8, latent_dim=12)
    x = torch.randn(2, 9, 32)
    angle = rope_angles(text_positions(9), geometric_frequencies(4)[None, :, None])[None].expand(
        2, -1, -1, -1
    )
    expected = mla(x, angle)
    torch.testing.assert_close(mla.to(CUDA)(x.cuda(), angle.cuda()).cpu(), expected, atol=1e-4, rtol=1e-4)
    memory = RecurrentMemoryAttention(32, 2, geometric_frequencies(8)[None, :, None], chunk_size=4)
    expected, _ = memory(x)
    on_device, _ = memory.to(CUDA)(x.cuda())
    torch.testing.assert_close(on_device.cpu(), expected, atol=1e-4, rtol=1e-4)


def test_video_angles_and_drift_on_device():
    positions = videorope_positions([TextSpan(3), VideoSpan(2, 3, 3), TextSpan(2)])
    F = videorope_frequencies(64, 16)
    torch.testing.assert_close(rope_angles(positions.cuda(), F.cuda()).cpu(), rope_angles(positions, F))
    q, k = torch.randn(128, device=CUDA), torch.randn(128, device=CUDA)
    drift = relative_score_drift(
        q,
        k,
        geometric_frequencies(64)[None, :, None].cuda(),
        5,
        torch.tensor([0, 1000, 10000], device=CUDA),
        angle_dtype=torch.float32,
    )
    assert drift.max() < 1e-2
