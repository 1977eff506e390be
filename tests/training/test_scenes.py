import dataclasses
import math

import numpy as np

from drive.training.scenes import crop_scenario, rotate_scenario
from tests.training.scenes import make_scenario


def test_crop_keeps_the_window_around_the_current_step():
    scene = make_scenario(0, num_steps=20, current_step=7)
    cropped = crop_scenario(scene, num_history_steps=5, num_future_steps=6)
    assert cropped.num_steps == 11 and cropped.current_step == 4
    # Agent 4 is invalid at steps 0-1 only, so every agent is kept, steps 3..13 of the source.
    np.testing.assert_array_equal(cropped.agents.position, scene.agents.position[:, 3:14])
    np.testing.assert_array_equal(cropped.agents.valid, scene.agents.valid[:, 3:14])
    np.testing.assert_array_equal(cropped.target_idx, scene.target_idx)


def test_crop_pads_missing_steps_as_invalid_zeros():
    scene = make_scenario(1, num_steps=20, current_step=7)
    cropped = crop_scenario(scene, num_history_steps=10, num_future_steps=15)  # 2 before, 3 after
    assert cropped.num_steps == 25
    assert not cropped.agents.valid[:, :2].any() and not cropped.agents.valid[:, -3:].any()
    assert np.all(cropped.agents.position[:, :2] == 0) and np.all(cropped.agents.position[:, -3:] == 0)
    np.testing.assert_array_equal(cropped.agents.position[:, 2:22], scene.agents.position)


def test_crop_drops_agents_unseen_in_history_and_remaps_targets():
    scene = make_scenario(2, num_steps=20, current_step=1)
    # The last agent (not a target) is only valid from step 2 on: with history = steps 0..1 it goes.
    cropped = crop_scenario(scene, num_history_steps=2, num_future_steps=5)
    assert cropped.agents.num_agents == scene.agents.num_agents - 1
    np.testing.assert_array_equal(cropped.agents.ids, scene.agents.ids[:-1])
    np.testing.assert_array_equal(cropped.target_idx, np.arange(cropped.agents.num_agents))


def test_crop_stops_predicting_targets_unobserved_at_the_current_step():
    scene = make_scenario(3, num_steps=20, current_step=7)
    valid = scene.agents.valid.copy()
    valid[0, 7] = False  # target 0 misses the current step but is seen earlier
    agents = dataclasses.replace(
        scene.agents, valid=valid, position=np.where(valid[..., None], scene.agents.position, 0)
    )
    cropped = crop_scenario(dataclasses.replace(scene, agents=agents), 8, 12)
    assert cropped.agents.num_agents == scene.agents.num_agents  # still context
    np.testing.assert_array_equal(cropped.target_idx, scene.target_idx[1:])


def test_rotation_preserves_distances_and_shifts_headings():
    scene = crop_scenario(make_scenario(4), 8, 12)
    angle = 1.234
    rotated = rotate_scenario(scene, angle)
    valid = scene.agents.valid
    d0 = np.linalg.norm(scene.agents.position[:, None] - scene.agents.position[None], axis=-1)
    d1 = np.linalg.norm(rotated.agents.position[:, None] - rotated.agents.position[None], axis=-1)
    both = valid[:, None] & valid[None]
    np.testing.assert_allclose(d1[both], d0[both], atol=1e-3)
    turned = np.angle(np.exp(1j * (rotated.agents.heading - scene.agents.heading - angle)))
    np.testing.assert_allclose(turned[valid], 0.0, atol=1e-5)
    assert np.all(rotated.agents.heading[~valid] == 0) and np.all(rotated.agents.position[~valid] == 0)
    # Velocity stays tangent to heading after rotation.
    speed_dir = np.arctan2(rotated.agents.velocity[..., 1], rotated.agents.velocity[..., 0])
    np.testing.assert_allclose(
        np.angle(np.exp(1j * (speed_dir - rotated.agents.heading)))[valid], 0, atol=1e-4
    )


def test_rotation_round_trip_is_identity():
    scene = crop_scenario(make_scenario(5), 8, 12)
    back = rotate_scenario(rotate_scenario(scene, 2.5), -2.5)
    np.testing.assert_allclose(back.agents.position, scene.agents.position, atol=1e-4)
    np.testing.assert_allclose(back.map.points, scene.map.points, atol=1e-4)
    diff = np.angle(np.exp(1j * (back.agents.heading - scene.agents.heading)))
    np.testing.assert_allclose(diff, 0.0, atol=1e-5)
    assert math.isclose(float(np.abs(back.agents.velocity - scene.agents.velocity).max()), 0.0, abs_tol=1e-4)
