"""Constant-velocity baseline: exact on constant motion, causal, gaps and single observations; the
velocity fan: its lines are the constant-velocity line turned and scaled."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from drive.errors import ConfigError
from drive.evaluation.baselines import constant_velocity, velocity_fan
from tests.evaluation.scenes import moving_scene


def test_exact_on_constant_velocity_motion():
    scene = moving_scene()
    pred = constant_velocity(scene, 80)
    np.testing.assert_array_equal(pred.agent_ids, scene.agents.ids)
    np.testing.assert_allclose(pred.trajectory[:, 0], scene.agents.position[:, 11:91], atol=1e-3)
    assert pred.probability.tolist() == [[1.0]] * 3


def test_uses_observed_steps_only():
    scene = moving_scene()
    agents = scene.agents
    changed = agents.position.copy()
    changed[:, 11:] += 37.0  # rewrite the future, and the velocity field
    scene_b = dataclasses.replace(
        scene, agents=dataclasses.replace(agents, position=changed, velocity=agents.velocity * 3)
    )
    np.testing.assert_array_equal(
        constant_velocity(scene, 30).trajectory, constant_velocity(scene_b, 30).trajectory
    )


def test_gap_in_history_and_single_observation():
    scene = moving_scene(velocities=((2.0, 0.0), (1.0, 1.0)), types=(0, 1))
    valid = scene.agents.valid.copy()
    valid[0, 8:10] = False  # agent 0: last observations at steps 7 and 10
    valid[0, 10] = True
    valid[1, :10] = False  # agent 1: observed only at the current step
    position = np.where(valid[..., None], scene.agents.position, 0.0).astype(np.float32)
    scene = dataclasses.replace(
        scene, agents=dataclasses.replace(scene.agents, valid=valid, position=position)
    )
    pred = constant_velocity(scene, 5)
    # Agent 0: 0.2 m per step from steps 7 -> 10, continued from its current position.
    np.testing.assert_allclose(
        pred.trajectory[0, 0, :, 0], scene.agents.position[0, 10, 0] + 0.2 * np.arange(1, 6)
    )
    np.testing.assert_allclose(pred.trajectory[1, 0], np.repeat(scene.agents.position[1, 10][None], 5, 0))


def test_modes_and_config_errors():
    pred = constant_velocity(moving_scene(), 12, num_modes=6)
    assert pred.trajectory.shape == (3, 6, 12, 2)
    np.testing.assert_allclose(pred.probability, 1 / 6)
    np.testing.assert_array_equal(pred.trajectory[:, 0], pred.trajectory[:, 5])
    with pytest.raises(ConfigError, match="num_future_steps"):
        constant_velocity(moving_scene(), 0)
    with pytest.raises(ConfigError, match="num_modes"):
        constant_velocity(moving_scene(), 5, num_modes=0)


def test_velocity_fan_turns_and_scales_the_constant_velocity_line():
    scene = moving_scene()
    line = constant_velocity(scene, 20).trajectory[:, 0]  # (N, 20, 2)
    fan = velocity_fan(scene, 20, num_modes=6, max_angle_deg=40.0, speed_spread=0.5)
    assert fan.trajectory.shape == (3, 6, 20, 2)
    np.testing.assert_allclose(fan.probability, 1 / 6)
    start = scene.agents.position[:, scene.current_step][:, None]  # (N, 1, 2)
    angles, speeds = np.radians([-40, -40, 0, 0, 40, 40]), np.array([0.5, 1.5] * 3)
    for k, (angle, speed) in enumerate(zip(angles, speeds)):
        rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        expected = start + speed * (line - start) @ rotation.T
        np.testing.assert_allclose(fan.trajectory[:, k], expected, atol=1e-3)
        np.testing.assert_allclose(fan.heading[:, k, 0], scene.agents.heading[:, 10] + angle, atol=1e-6)
    one = velocity_fan(scene, 20, num_modes=1)
    np.testing.assert_allclose(one.trajectory, constant_velocity(scene, 20).trajectory, atol=1e-5)
    with pytest.raises(ConfigError, match="velocity_fan"):
        velocity_fan(scene, 20, speed_spread=1.0)
