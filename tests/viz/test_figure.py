"""Static figures: what is drawn (counts, pixels), views, and the geometry helpers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from matplotlib.colors import to_rgb

from drive.errors import ConfigError
from drive.viz import ViewWindow, default_window, figure_pixels, match_prediction, render_figure, save_figure
from drive.viz.figure import scale_bar_length_m
from drive.viz.layers import AGENT_BOXES_GID, box_corners, valid_runs
from drive.viz.style import BACKGROUND_COLOUR, PREDICTION_COLOUR
from tests.viz.scenes import make_prediction, make_scene


def agent_box_count(figure) -> int:
    """Boxes actually added to the axes (the polygons of the agent collection)."""
    ax = figure.axes[0]
    collections = [c for c in ax.collections if c.get_gid() == AGENT_BOXES_GID]
    return sum(len(c.get_paths()) for c in collections)


def differing_fraction(pixels: np.ndarray, colour: str = BACKGROUND_COLOUR) -> float:
    rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
    return float(np.any(np.abs(pixels.astype(int) - rgb) > 8, axis=-1).mean())


def test_box_corners_match_hand_computed_rotation():
    corners = box_corners(np.array([[1.0, 2.0]]), np.array([math.pi / 2]), np.array([4.0]), np.array([2.0]))
    # Facing +y the left side is -x: rear-left (x - w/2, y - l/2) = (0, 0), front-right (2, 4).
    expected = np.array([[[0.0, 0.0], [2.0, 0.0], [2.0, 4.0], [0.0, 4.0]]])
    np.testing.assert_allclose(corners, expected, atol=1e-9)


def test_figure_draws_one_box_per_agent_valid_at_the_step():
    scenario = make_scene(num_agents=5, invalid_agent=True)
    figure, summary = render_figure(scenario, size_px=300)
    expected = int(scenario.agents.valid[:, scenario.current_step].sum())
    assert expected == 4  # the fifth agent vanished after step 1
    assert summary.num_agents_drawn == expected == agent_box_count(figure)
    figure_early, summary_early = render_figure(scenario, step=0, size_px=300)
    assert summary_early.num_agents_drawn == 5 == agent_box_count(figure_early)
    assert differing_fraction(figure_pixels(figure)) > 0.01


def test_forecast_draws_every_mode_of_focus_agents_and_changes_pixels():
    scenario = make_scene()
    forecast = match_prediction(scenario, make_prediction(scenario, num_modes=4, offset_m=1.0))
    window = ViewWindow(-10.0, 0.0, 25.0)
    with_fc, summary = render_figure(scenario, forecast, window=window, size_px=300, legend=False)
    without, bare = render_figure(scenario, window=window, size_px=300, legend=False)
    assert summary.num_modes_drawn == 4 and bare.num_modes_drawn == 0
    assert np.any(figure_pixels(with_fc) != figure_pixels(without))
    # Focusing on a non-predicted agent hides the forecast.
    _, other = render_figure(scenario, forecast, focus_idx=np.array([1]), size_px=300)
    assert other.num_modes_drawn == 0 and other.num_focus_agents == 1


def test_scene_without_map_and_with_one_agent_renders(tmp_path):
    scenario = make_scene(num_agents=1, with_map=False)
    summary = save_figure(tmp_path / "one.png", scenario, size_px=200)
    assert summary.num_agents_drawn == 1 and summary.num_map_features_drawn == 0
    figure, _ = render_figure(scenario, size_px=200)
    assert differing_fraction(figure_pixels(figure)) > 0.005
    svg = save_figure(tmp_path / "one.svg", scenario, size_px=200)
    assert svg.num_agents_drawn == 1
    assert (tmp_path / "one.svg").read_text().lstrip().startswith("<?xml")


def test_fixed_window_limits_the_map_features_drawn():
    scenario = make_scene()
    _, wide = render_figure(scenario, window=ViewWindow(0.0, 0.0, 60.0), size_px=200)
    _, narrow = render_figure(scenario, window=ViewWindow(20.0, 4.0, 1.0), size_px=200)
    assert wide.num_map_features_drawn == scenario.map.num_polylines
    # Only the stop sign at (20, 4) and the +3.5 m road edge pass through that 2 m square.
    assert narrow.num_map_features_drawn == 2


def test_default_window_holds_the_focus_tracks_and_forecast():
    scenario = make_scene()
    forecast = match_prediction(scenario, make_prediction(scenario, num_modes=3, offset_m=5.0))
    window = default_window(scenario, scenario.target_idx, forecast)
    track = scenario.agents.position[0][scenario.agents.valid[0]]
    assert window.contains(track).all()
    assert window.contains(forecast.trajectory.reshape(-1, 2)).all()
    assert window.half_width_m >= 10.0


def test_window_validation_and_parsing():
    assert ViewWindow.parse("1.5,-2,30") == ViewWindow(1.5, -2.0, 30.0)
    with pytest.raises(ConfigError, match="half_width_m"):
        ViewWindow(0.0, 0.0, 0.0)
    with pytest.raises(ConfigError, match="X,Y,HALF_WIDTH"):
        ViewWindow.parse("1,2")
    with pytest.raises(ConfigError, match="step"):
        render_figure(make_scene(num_steps=10), step=10)


@pytest.mark.parametrize(("half", "expected"), [(10.0, 2.0), (12.75, 5.0), (60.0, 20.0), (300.0, 100.0)])
def test_scale_bar_is_a_round_length_near_a_fifth_of_the_view(half, expected):
    assert scale_bar_length_m(half) == expected


def test_valid_runs_split_tracks_at_unobserved_steps():
    points = np.arange(16, dtype=np.float64).reshape(8, 2)
    valid = np.array([1, 1, 1, 0, 1, 0, 1, 1], bool)
    runs = valid_runs(points, valid)
    # The lone valid step 4 makes no line; the other runs keep all their points.
    assert [r[:, 0].tolist() for r in runs] == [[0.0, 2.0, 4.0], [12.0, 14.0]]
    assert valid_runs(points, np.zeros(8, bool)) == []


def test_traffic_lights_are_drawn_in_their_state_colour():
    import dataclasses

    from matplotlib.colors import to_hex

    from drive.data.schema import TrafficLights

    scenario = make_scene(num_steps=10, current_step=4)
    states = np.zeros((10, 2), np.int8)
    states[:, 0], states[:, 1] = 4, 6  # stop, go
    valid = np.ones((10, 2), bool)
    valid[4, 1] = False  # the second signal is unobserved at the current step
    lights = TrafficLights(
        lane_ids=np.array([0, 1]), states=states,
        stop_point=np.tile(np.array([[[5.0, -1.75], [5.0, 1.75]]], np.float32), (10, 1, 1)), valid=valid,
    )  # fmt: skip
    scenario = dataclasses.replace(scenario, traffic_lights=lights)
    figure, summary = render_figure(scenario, size_px=200)
    assert summary.num_signals_drawn == 1
    _, later = render_figure(scenario, step=5, size_px=200)
    assert later.num_signals_drawn == 2
    dots = [c for c in figure.axes[0].collections if c.get_zorder() == 5]
    assert [to_hex(c) for c in dots[0].get_facecolors()] == ["#d7191c"]


def test_attention_lines_go_to_every_other_attended_agent():
    from drive.viz import AgentAttention

    scenario = make_scene(num_agents=4)
    per_head = np.array([[0.0, 0.2, 0.0, 0.8], [0.0, 0.4, 0.0, 0.6]])  # (H, A): agent 2 gets nothing
    attention = AgentAttention(0, per_head)
    np.testing.assert_allclose(attention.agent_weights(), [0.0, 0.3, 0.0, 0.7])
    figure, _ = render_figure(scenario, attention=attention, size_px=200)
    lines = [c for c in figure.axes[0].collections if c.get_zorder() == 5]
    assert len(lines) == 1 and len(lines[0].get_segments()) == 2
    widths = lines[0].get_linewidths()
    assert widths[1] > widths[0]  # the heavier weight draws the wider line
    with pytest.raises(ConfigError, match="non-negative"):
        AgentAttention(0, np.array([0.5, -0.1]))
    with pytest.raises(ConfigError, match="the scene has 4 agents"):
        render_figure(scenario, attention=AgentAttention(0, np.ones(3)), size_px=200)


def test_title_legend_and_mode_opacity_follow_the_scene_and_probabilities():
    scenario = make_scene()
    prediction = make_prediction(scenario, num_modes=3)
    forecast = match_prediction(scenario, prediction)
    figure, _ = render_figure(scenario, forecast, size_px=300)
    ax = figure.axes[0]
    assert scenario.scenario_id in ax.get_title()
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    present = {int(t) for t in np.unique(scenario.agents.types)}
    assert sum(label in ("vehicle", "pedestrian", "cyclist", "other") for label in labels) == len(present)
    assert "ground truth" in labels and any(label.startswith("predicted") for label in labels)
    # One line per mode and target, opacity rising with the mode's probability (1 for the likeliest).
    modes = [
        line for line in ax.get_lines() if line.get_color() in (PREDICTION_COLOUR, to_rgb(PREDICTION_COLOUR))
    ]
    assert len(modes) == 3 * len(scenario.target_idx)
    prob = prediction.probability[0].astype(np.float64)
    expected = sorted(0.2 + 0.8 * prob / prob.max())
    assert sorted(line.get_alpha() for line in modes[:3]) == pytest.approx(expected)
    assert max(line.get_alpha() for line in modes) == pytest.approx(1.0)
