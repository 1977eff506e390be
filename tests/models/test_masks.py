"""Attention masks in the model: the history is causal and the radius limit cuts far tokens off."""

from __future__ import annotations

import pytest
import torch

from drive.models import PredictorConfig, TrajectoryPredictor
from drive.models.encoder import TemporalEncoder, time_frequencies
from drive.rope import rope_angles
from tests.models.synthetic import make_batch, replace


def config(**overrides) -> PredictorConfig:
    base = dict(
        num_future_steps=3,
        hidden_dim=32,
        num_heads=2,
        dropout=0.0,
        num_modes=3,
        num_temporal_layers=2,
        num_interaction_layers=1,
    )
    return PredictorConfig(**(base | overrides))


def test_history_attention_is_causal():
    torch.manual_seed(0)
    cfg = config()
    encoder = TemporalEncoder(cfg).double().eval()
    b, a, th = 2, 3, 6
    x = torch.randn(b, a, th, cfg.hidden_dim, dtype=torch.float64)
    valid = torch.ones(b, a, th, dtype=torch.bool)
    angle = rope_angles(torch.arange(th, dtype=torch.float64)[:, None], time_frequencies(cfg))  # (Th, H, S)
    changed_step = 3
    later = x.clone()
    # Not a constant shift: a pre-norm block's LayerNorm would remove that before attention.
    later[:, :, changed_step] += torch.randn(b, a, cfg.hidden_dim, dtype=torch.float64)
    with torch.no_grad():
        out, out_later = encoder(x, valid, angle), encoder(later, valid, angle)
    # Steps before the change never see it; the changed step and those after it do.
    torch.testing.assert_close(out_later[:, :, :changed_step], out[:, :, :changed_step], rtol=0, atol=1e-12)
    assert (out_later[:, :, changed_step:] - out[:, :, changed_step:]).abs().amax(-1).min() > 1e-6


def far_map_variant(batch, offset_m: float, seed: int):
    """The batch with map chunk 0 of scene 0 moved ``offset_m`` away and reshaped at random."""
    g = torch.Generator().manual_seed(seed)
    points = batch.map_points.clone()
    mask = batch.map_point_mask[0, 0]
    noise = torch.randn(points[0, 0].shape, generator=g, dtype=points.dtype) * 2.0
    points[0, 0] = (points[0, 0] + offset_m + noise) * mask[:, None]
    return replace(batch, map_points=points)


@pytest.mark.parametrize("encoding", ["drope_rope", "se2"])
def test_radius_limit_is_a_mask_on_far_tokens(encoding):
    batch = make_batch(dtype=torch.float64)
    near_a, near_b = far_map_variant(batch, 1000.0, 1), far_map_variant(batch, 1500.0, 2)

    def outputs(radius_m, scene_batch):
        torch.manual_seed(0)
        net = TrajectoryPredictor(config(encoding=encoding, radius_m=radius_m)).double().eval()
        with torch.no_grad():
            pred = net(scene_batch)
        return torch.cat([pred.trajectory.flatten(2), pred.logits], -1)[batch.agent_mask]

    # With a 40 m limit a map chunk over 900 m from everything changes no prediction ...
    torch.testing.assert_close(outputs(40.0, near_a), outputs(40.0, near_b), rtol=0, atol=1e-10)
    # ... while full attention does see it, so the equality above is the mask's doing.
    assert (outputs(None, near_a) - outputs(None, near_b)).abs().max() > 1e-6
