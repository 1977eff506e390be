"""The constant-velocity anchor: decoder outputs are offsets from each agent's extrapolated velocity."""

from __future__ import annotations

import pytest
import torch

from drive.errors import ConfigError
from drive.geometry.se2 import to_world
from drive.models import PredictorConfig, TrajectoryPredictor
from drive.models.predictor import constant_velocity_anchor
from tests.models.synthetic import make_batch, transform


def small(**overrides) -> PredictorConfig:
    base = dict(num_future_steps=4, hidden_dim=32, num_heads=2, dropout=0.0, num_modes=3)
    return PredictorConfig(**(base | overrides))


def test_anchor_is_the_velocity_extrapolated_in_the_world():
    batch = make_batch(num_steps=8, current_step=4)
    anchor = constant_velocity_anchor(batch, 4)  # (B, A, 4, 2)
    now = batch.current_step
    world = to_world(anchor, batch.agent_pos[:, :, now, None], batch.agent_heading[:, :, now, None])
    steps = torch.arange(1, 5, dtype=torch.float32)[:, None] * batch.dt_s  # (4, 1)
    expected = batch.agent_pos[:, :, now, None] + batch.agent_vel[:, :, now, None] * steps  # (B, A, 4, 2)
    valid = batch.agent_valid[:, :, now] & batch.agent_mask
    assert torch.allclose(world[valid], expected[valid], atol=1e-4)
    assert float(anchor[~valid].abs().sum()) == 0.0


def test_model_output_is_the_anchor_plus_the_decoder_offset():
    torch.manual_seed(0)
    anchored = TrajectoryPredictor(small()).eval()
    plain = TrajectoryPredictor(small(anchor="none")).eval()
    plain.load_state_dict(anchored.state_dict())
    batch = make_batch()
    with torch.no_grad():
        difference = anchored(batch).trajectory - plain(batch).trajectory  # (B, A, K, Tf, 2)
    expected = constant_velocity_anchor(batch, 4)[:, :, None].expand_as(difference)
    assert torch.allclose(difference, expected, atol=1e-5)


def test_anchor_is_invariant_to_a_rigid_motion_of_the_scene():
    batch = make_batch(dtype=torch.float64)
    moved = transform(batch, angle_rad=1.1, shift=(40.0, -7.0))
    assert torch.allclose(constant_velocity_anchor(batch, 5), constant_velocity_anchor(moved, 5), atol=1e-9)


def test_unknown_anchor_is_named():
    with pytest.raises(ConfigError, match="anchor"):
        small(anchor="linear")
