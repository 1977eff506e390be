"""Any element of a dense batch draws like the scene it came from."""

from __future__ import annotations

import numpy as np
import torch

from drive.data.batch import collate_scenarios
from drive.viz import render_figure
from drive.viz.batch_view import forecast_from_batch, scenario_from_batch
from tests.viz.scenes import make_scene


def test_batch_element_round_trips_agents_and_map_points():
    scenes = [make_scene(num_agents=2, scenario_id="small"), make_scene(num_agents=5, scenario_id="big")]
    batch = collate_scenarios(scenes, points_per_chunk=8)
    for index, original in enumerate(scenes):
        back = scenario_from_batch(batch, index)
        assert back.scenario_id == original.scenario_id
        np.testing.assert_array_equal(back.agents.ids, original.agents.ids)
        np.testing.assert_array_equal(back.agents.valid, original.agents.valid)
        np.testing.assert_allclose(back.agents.position, original.agents.position)
        np.testing.assert_array_equal(back.target_idx, original.target_idx)
        # Chunking repeats boundary points; the set of points is unchanged.
        assert {tuple(p) for p in back.map.points} == {tuple(p) for p in original.map.points}
    _, summary = render_figure(scenario_from_batch(batch, 0), size_px=200)
    assert summary.num_agents_drawn == 2


def test_forecast_from_batch_takes_the_target_rows():
    scenes = [make_scene(num_agents=2, scenario_id="a"), make_scene(num_agents=4, scenario_id="b")]
    batch = collate_scenarios(scenes)
    num_future = scenes[0].num_steps - scenes[0].current_step - 1
    trajectory = torch.randn(2, 4, 3, num_future, 2)  # (B, A, K, Tf, 2)
    probability = torch.softmax(torch.randn(2, 4, 3), -1)  # (B, A, K)
    forecast = forecast_from_batch(batch, 1, trajectory, probability)
    assert forecast.agent_idx.tolist() == [0]
    np.testing.assert_allclose(forecast.trajectory[0], trajectory[1, 0].numpy())
    np.testing.assert_allclose(forecast.probability[0], probability[1, 0].numpy())
    _, summary = render_figure(scenario_from_batch(batch, 1), forecast, size_px=200)
    assert summary.num_modes_drawn == 3
