"""Predictions matched to a scene's agents, and the per-scene errors the viewer sorts by."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from drive.errors import DataError
from drive.viz import SceneForecast, find_prediction, forecast_errors, match_prediction
from tests.viz.scenes import make_prediction, make_scene


def test_match_prediction_maps_agent_ids_to_indices():
    scenario = make_scene(num_agents=4)
    prediction = make_prediction(scenario)
    prediction.agent_ids = np.array([scenario.agents.ids[0]])
    forecast = match_prediction(scenario, prediction)
    assert forecast.agent_idx.tolist() == [0]
    prediction.agent_ids = np.array([999])
    with pytest.raises(DataError, match="999"):
        match_prediction(scenario, prediction)


def test_find_prediction_picks_the_scene_by_id():
    first, second = make_scene(scenario_id="a"), make_scene(scenario_id="b")
    predictions = [make_prediction(first), make_prediction(second, offset_m=2.0)]
    found = find_prediction(second, predictions)
    assert found is not None and np.allclose(found.trajectory, predictions[1].trajectory)
    assert find_prediction(make_scene(scenario_id="c"), predictions) is None


def test_errors_of_shifted_modes_equal_the_smallest_shift():
    scenario = make_scene()
    # Mode k is the ground truth moved sideways by 1.5 + k metres: every step is off by that much.
    forecast = match_prediction(scenario, make_prediction(scenario, num_modes=3, offset_m=1.5))
    errors = forecast_errors(scenario, forecast)
    assert errors == pytest.approx({"minADE": 1.5, "minFDE": 1.5})


def test_errors_use_only_valid_ground_truth_and_its_last_valid_step():
    scenario = make_scene(num_steps=12, current_step=5)
    truth = scenario.agents.position[0, 6:]  # (6, 2)
    trajectory = truth[None, None].copy()  # (1, 1, 6, 2)
    trajectory[0, 0, :, 0] += np.arange(6)  # error grows 0, 1, ..., 5 m
    valid = scenario.agents.valid.copy()
    valid[0, 10:] = False  # the last two future steps are unobserved
    scenario.agents.valid[...] = valid
    forecast = SceneForecast(np.array([0]), trajectory.astype(np.float32), np.ones((1, 1), np.float32))
    errors = forecast_errors(scenario, forecast)
    assert errors == pytest.approx({"minADE": (0 + 1 + 2 + 3) / 4, "minFDE": 3.0})


def test_errors_are_none_without_future_ground_truth():
    scenario = make_scene(num_steps=10, current_step=9)
    forecast = SceneForecast(
        np.array([0]), np.zeros((1, 2, 5, 2), np.float32), np.full((1, 2), 0.5, np.float32)
    )
    assert forecast_errors(scenario, forecast) is None


def test_forecast_shapes_are_checked():
    with pytest.raises(DataError, match="probability"):
        SceneForecast(np.array([0]), np.zeros((1, 2, 5, 2), np.float32), np.ones((1, 3), np.float32))
    with pytest.raises(DataError, match="trajectory"):
        SceneForecast(np.array([0, 1]), np.zeros((1, 2, 5, 2), np.float32), np.ones((1, 2), np.float32))
    wrong_scene = SimpleNamespace(
        scenario_id="other", agent_ids=np.array([100]), trajectory=None, probability=None
    )
    with pytest.raises(DataError, match="other"):
        match_prediction(make_scene(), wrong_scene)


def test_womd_two_hertz_forecast_is_compared_at_every_fifth_step():
    scenario = make_scene(num_steps=91, current_step=10)
    steps = 10 + 5 * np.arange(1, 17)  # (16,) the WOMD 2 Hz samples
    prediction = make_prediction(scenario, num_modes=2, offset_m=0.0)
    prediction.trajectory = scenario.agents.position[[0]][:, None, steps].repeat(2, 1).copy()  # (1, 2, 16, 2)
    prediction.trajectory[0, 1] += 4.0
    forecast = match_prediction(scenario, prediction)
    assert forecast.stride == 5
    assert forecast_errors(scenario, forecast) == pytest.approx({"minADE": 0.0, "minFDE": 0.0})
