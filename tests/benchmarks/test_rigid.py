"""The rotated test set is an exact rigid motion of each scene."""

from __future__ import annotations

import math

import numpy as np
import pytest

from drive.benchmarks import random_rigid_motion, rigid_motion, synthetic_scene
from drive.benchmarks.ablation import moved_scenes
from drive.errors import ConfigError
from drive.evaluation import constant_velocity, evaluate
from drive.geometry.se2 import wrap_angle
from drive.training.scenes import crop_scenario, rotate_scenario


def _scene(seed: int = 0):
    scene = synthetic_scene(6, 5, seed=seed)
    valid = scene.agents.valid.copy()
    valid[0, :3] = False  # some invalid steps must stay zero
    agents = scene.agents
    agents = type(agents)(
        **{
            **agents.__dict__,
            "valid": valid,
            "position": np.where(valid[..., None], agents.position, 0),
            "velocity": np.where(valid[..., None], agents.velocity, 0),
            "heading": np.where(valid, agents.heading, 0),
        }
    )
    return type(scene)(**{**scene.__dict__, "agents": agents})


def _all_points(scene) -> np.ndarray:
    agents = scene.agents
    return np.concatenate([agents.position[agents.valid], scene.map.points]).astype(np.float64)


@pytest.mark.parametrize("angle", [0.7, -2.9, math.pi / 2])
def test_distances_and_relative_headings_are_kept(angle):
    scene = _scene()
    moved = rigid_motion(scene, angle, (37.0, -12.5))
    before, after = _all_points(scene), _all_points(moved)
    d_before = np.linalg.norm(before[:, None] - before[None], axis=-1)
    d_after = np.linalg.norm(after[:, None] - after[None], axis=-1)
    np.testing.assert_allclose(d_after, d_before, atol=1e-3)
    valid = scene.agents.valid
    shift = wrap_angle(moved.agents.heading[valid].astype(np.float64) - scene.agents.heading[valid])
    np.testing.assert_allclose(wrap_angle(shift - angle), 0.0, atol=1e-5)
    speed = np.linalg.norm(scene.agents.velocity[valid], axis=-1)
    np.testing.assert_allclose(np.linalg.norm(moved.agents.velocity[valid], axis=-1), speed, atol=1e-4)
    # The velocity turns with the scene: it stays along the (moved) direction of travel.
    v, h = moved.agents.velocity[valid], moved.agents.heading[valid]
    np.testing.assert_allclose(v[:, 0] * np.sin(h) - v[:, 1] * np.cos(h), 0.0, atol=1e-4)


def test_pivot_is_fixed_and_inverse_restores():
    scene = _scene(1)
    pivot = np.array([3.0, 4.0])
    angle = 1.1
    moved = rigid_motion(scene, angle, pivot)
    back = rigid_motion(moved, -angle, pivot)
    np.testing.assert_allclose(back.agents.position, scene.agents.position, atol=1e-4)
    np.testing.assert_allclose(back.map.points, scene.map.points, atol=1e-4)
    np.testing.assert_allclose(wrap_angle(back.agents.heading - scene.agents.heading), 0.0, atol=1e-5)
    invalid = ~scene.agents.valid
    assert invalid.any()
    assert not moved.agents.position[invalid].any() and not moved.agents.velocity[invalid].any()
    # The pivot is the fixed point: a point's distance to it is unchanged.
    for before, after in ((scene.map.points, moved.map.points),):
        np.testing.assert_allclose(
            np.linalg.norm(after - pivot, axis=-1), np.linalg.norm(before - pivot, axis=-1), atol=1e-3
        )


def test_origin_pivot_matches_rotate_scenario():
    scene = _scene(2)
    a, b = rigid_motion(scene, 0.4, (0.0, 0.0)), rotate_scenario(scene, 0.4)
    np.testing.assert_allclose(a.agents.position, b.agents.position, atol=1e-4)
    np.testing.assert_allclose(a.map.points, b.map.points, atol=1e-4)
    np.testing.assert_allclose(a.agents.velocity, b.agents.velocity, atol=1e-4)


def test_bad_motion_is_refused():
    with pytest.raises(ConfigError):
        rigid_motion(_scene(), float("nan"), (0.0, 0.0))
    with pytest.raises(ConfigError):
        rigid_motion(_scene(), 0.1, (0.0, 1.0, 2.0))


def test_random_motion_is_reproducible_and_metrics_of_constant_velocity_unchanged():
    scenes = [crop_scenario(_scene(s), 11, 80) for s in range(3)]
    first, second = moved_scenes(scenes), moved_scenes(scenes)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a.agents.position, b.agents.position)
    _, angle, _ = random_rigid_motion(scenes[0], np.random.default_rng(0))
    assert -math.pi <= angle < math.pi

    def cv(scene):
        return constant_velocity(scene, 80, 1)

    before, after = evaluate(scenes, cv).metrics, evaluate(first, cv).metrics
    for key in ("minADE_6", "minFDE_6", "MR_6"):
        assert after[key] == pytest.approx(before[key], abs=1e-3)
