import dataclasses
import math

import numpy as np
import pytest

from drive.errors import ConfigError
from drive.training.scenes import crop_scenario, mirror_scenario, rotate_scenario, scale_scenario
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


def _heading_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.angle(np.exp(1j * (a - b)))


def test_mirror_reflects_y_negates_headings_and_is_its_own_inverse():
    scene = crop_scenario(make_scenario(6), 8, 12)
    mirrored = mirror_scenario(scene)
    valid = scene.agents.valid
    np.testing.assert_allclose(mirrored.agents.position[..., 0], scene.agents.position[..., 0])
    np.testing.assert_allclose(mirrored.agents.position[..., 1], -scene.agents.position[..., 1])
    np.testing.assert_allclose(mirrored.map.points * [1, -1], scene.map.points)
    np.testing.assert_allclose(
        _heading_error(mirrored.agents.heading, -scene.agents.heading)[valid], 0, atol=1e-6
    )
    # A reflection keeps each velocity along its heading: the scene stays physically consistent.
    speed_dir = np.arctan2(mirrored.agents.velocity[..., 1], mirrored.agents.velocity[..., 0])
    np.testing.assert_allclose(_heading_error(speed_dir, mirrored.agents.heading)[valid], 0, atol=1e-4)
    back = mirror_scenario(mirrored)
    np.testing.assert_array_equal(back.agents.position, scene.agents.position)
    np.testing.assert_allclose(_heading_error(back.agents.heading, scene.agents.heading), 0, atol=1e-6)


def test_mirror_turns_left_turns_into_right_turns():
    scene = crop_scenario(make_scenario(7), 8, 12)
    mirrored = mirror_scenario(scene)
    valid = scene.agents.valid[:, 1:] & scene.agents.valid[:, :-1]
    turn = _heading_error(scene.agents.heading[:, 1:], scene.agents.heading[:, :-1])
    mirrored_turn = _heading_error(mirrored.agents.heading[:, 1:], mirrored.agents.heading[:, :-1])
    np.testing.assert_allclose(mirrored_turn[valid], -turn[valid], atol=1e-5)


def test_scale_multiplies_distances_and_speeds_and_keeps_headings():
    scene = crop_scenario(make_scenario(8), 8, 12)
    scaled = scale_scenario(scene, 1.25)
    valid = scene.agents.valid
    np.testing.assert_allclose(scaled.agents.position[valid], 1.25 * scene.agents.position[valid], rtol=1e-6)
    np.testing.assert_allclose(scaled.agents.velocity[valid], 1.25 * scene.agents.velocity[valid], rtol=1e-6)
    np.testing.assert_allclose(scaled.map.points, 1.25 * scene.map.points, rtol=1e-6)
    np.testing.assert_allclose(
        _heading_error(scaled.agents.heading, scene.agents.heading)[valid], 0, atol=1e-6
    )
    np.testing.assert_array_equal(scaled.agents.size, scene.agents.size)
    back = scale_scenario(scaled, 1 / 1.25)
    np.testing.assert_allclose(back.agents.position, scene.agents.position, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("factor", [0.0, -1.0, float("nan"), float("inf")])
def test_scale_rejects_factors_that_are_not_positive_and_finite(factor):
    with pytest.raises(ConfigError, match="factor"):
        scale_scenario(crop_scenario(make_scenario(9), 8, 12), factor)


def test_data_module_augments_the_training_split_only_and_keeps_rotation_draws():
    from tests.training.scenes import SyntheticDataModule

    rotate_only = SyntheticDataModule(num_train=8, num_val=4, rotate_augmentation=True)
    every = SyntheticDataModule(
        num_train=8, num_val=4, rotate_augmentation=True, mirror_augmentation=True, scale_augmentation=0.2
    )
    for data in (rotate_only, every):
        data.setup("fit")
    plain_train, train = rotate_only._dataset("train", True), every._dataset("train", True)
    reflected = []
    for index in range(8):
        a, b = plain_train[(index, 11 + index)], train[(index, 11 + index)]
        valid = a.agents.valid
        ratio = np.linalg.norm(b.agents.position[valid], axis=-1) / np.linalg.norm(
            a.agents.position[valid], axis=-1
        )
        assert 0.8 - 1e-6 < ratio.min() and ratio.max() < 1.2 + 1e-6 and np.ptp(ratio) < 1e-4
        same = np.allclose(_heading_error(b.agents.heading, a.agents.heading)[valid], 0, atol=1e-5)
        flipped = np.allclose(_heading_error(b.agents.heading, -a.agents.heading)[valid], 0, atol=1e-5)
        assert same or flipped  # the rotation angle is the same draw with or without the other two
        reflected.append(flipped and not same)
    assert 0 < sum(reflected) < 8
    val = every._dataset("val", False)
    np.testing.assert_array_equal(
        val[(0, 11)].agents.position, rotate_only._dataset("val", False)[(0, 11)].agents.position
    )


def test_data_module_refuses_a_scale_spread_outside_its_range():
    from tests.training.scenes import SyntheticDataModule

    with pytest.raises(ConfigError, match="scale_augmentation"):
        SyntheticDataModule(scale_augmentation=1.5)
