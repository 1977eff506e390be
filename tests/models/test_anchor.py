"""The constant-velocity anchor: decoder outputs are offsets from each agent's extrapolated velocity."""

from __future__ import annotations

import math

import pytest
import torch

from drive.errors import ConfigError
from drive.geometry.se2 import to_world
from drive.models import PredictorConfig, TrajectoryPredictor
from drive.models.predictor import VelocityFan, constant_velocity_anchor, fan_grid
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
    anchored = TrajectoryPredictor(small(anchor="constant_velocity")).eval()
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


def test_fan_grid_spans_the_configured_angles_and_speeds():
    angle, speed = fan_grid(20, 0.5, 0.3)
    assert angle.shape == speed.shape == (20,)
    assert torch.allclose(angle.unique(), torch.linspace(-0.5, 0.5, 5))
    assert torch.allclose(speed.unique(), torch.linspace(0.7, 1.3, 4))
    assert len({(float(a), float(s)) for a, s in zip(angle, speed)}) == 20  # every mode its own line
    assert fan_grid(1, 0.5, 0.3) == (torch.zeros(1), torch.ones(1))


def test_fan_turns_and_scales_the_constant_velocity_path():
    batch = make_batch(num_steps=8, current_step=4)
    path = constant_velocity_anchor(batch, 4)  # (B, A, 4, 2)
    fan = VelocityFan(6, 0.4, 0.25)
    with torch.no_grad():
        lines = fan(path)  # (B, A, 6, 4, 2)
    for k in range(6):
        angle, factor = float(fan.angle[k].detach()), float(fan.log_speed[k].detach().exp())
        rotation = torch.tensor([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
        torch.testing.assert_close(lines[:, :, k], factor * path @ rotation.T, atol=1e-5, rtol=1e-5)
    # Lengths scale by the factor and every line keeps the path's angle plus its own turn.
    norms = torch.linalg.vector_norm(lines, dim=-1) / torch.linalg.vector_norm(path, dim=-1)[:, :, None]
    moving = torch.linalg.vector_norm(path, dim=-1)[:, :, None].expand_as(norms) > 1e-3
    expected = fan.log_speed.detach().exp()[:, None].expand(6, 4).expand_as(norms)
    torch.testing.assert_close(norms[moving], expected[moving], atol=1e-4, rtol=1e-4)


def test_fan_model_is_the_plain_model_plus_one_line_per_mode_and_stays_invariant():
    torch.manual_seed(0)
    fanned = TrajectoryPredictor(small(anchor="velocity_fan")).eval()
    plain = TrajectoryPredictor(small(anchor="none")).eval()
    plain.load_state_dict({k: v for k, v in fanned.state_dict().items() if not k.startswith("fan.")})
    batch = make_batch()
    with torch.no_grad():
        difference = fanned(batch).trajectory - plain(batch).trajectory  # (B, A, K, Tf, 2)
        expected = fanned.fan(constant_velocity_anchor(batch, 4))
    torch.testing.assert_close(difference, expected, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(expected[:, :, 0], expected[:, :, 1])  # the modes start apart
    fanned = fanned.double()
    batch64 = make_batch(dtype=torch.float64)
    moved = transform(batch64, angle_rad=0.7, shift=(12.0, -30.0))
    with torch.no_grad():
        fan_now, fan_moved = (
            fanned.fan(constant_velocity_anchor(batch64, 4)),
            fanned.fan(constant_velocity_anchor(moved, 4)),
        )
    torch.testing.assert_close(fan_now, fan_moved, atol=1e-9, rtol=1e-9)


@pytest.mark.parametrize(("field", "value"), [("fan_max_angle_deg", -1.0), ("fan_speed_spread", 1.0)])
def test_fan_settings_are_validated(field, value):
    with pytest.raises(ConfigError, match=field):
        small(anchor="velocity_fan", **{field: value})
