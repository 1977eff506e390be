"""Every source's real sample renders: the image is not blank and holds one box per agent observed at
the drawn step. Skips without ../shared/data."""

from __future__ import annotations

import numpy as np
import pytest

from drive.datasets import iter_scenarios
from drive.viz import figure_pixels, render_figure, save_animation, scene_payload
from tests.conftest import shared_path
from tests.viz.test_figure import agent_box_count, differing_fraction

SAMPLES = {
    "womd": ("womd", "motion_data_one_scenario.tfrecord"),
    "av2": ("av2", "forecasting_scenarios", "0a1e6f0a-1817-4a98-b02e-db8c9327d151"),
    "eth_ucy": ("eth_ucy", "eth", "test", "biwi_eth.txt"),
}


def first_scenario(source: str):
    return next(iter(iter_scenarios(shared_path(*SAMPLES[source]))))


@pytest.mark.parametrize("source", sorted(SAMPLES))
def test_real_sample_figure_draws_every_observed_agent(source):
    scenario = first_scenario(source)
    assert scenario.source == source
    figure, summary = render_figure(scenario, size_px=400)
    expected = int(scenario.agents.valid[:, scenario.current_step].sum())
    assert summary.num_agents_drawn == expected == agent_box_count(figure) > 0
    assert differing_fraction(figure_pixels(figure)) > 0.01
    if source != "eth_ucy":
        assert summary.num_map_features_drawn > 0


@pytest.mark.parametrize("source", sorted(SAMPLES))
def test_real_sample_viewer_payload_holds_every_agent(source):
    scenario = first_scenario(source)
    payload = scene_payload(scenario)
    assert len(payload["agents"]) == scenario.agents.num_agents
    observed = [sum(x is not None for x in a["x"]) for a in payload["agents"]]
    assert observed == scenario.agents.valid.sum(axis=1).tolist()


def test_real_sample_replay(tmp_path):
    scenario = first_scenario("womd")
    summary = save_animation(tmp_path / "womd.gif", scenario, max_frames=6, size_px=200)
    assert summary.num_frames == 6 and scenario.current_step in summary.steps
    assert np.prod(summary.frame_size_px) == 200 * 200


@pytest.mark.parametrize("source", sorted(SAMPLES))
def test_viewer_errors_equal_the_evaluator_on_real_samples(source):
    from drive.evaluation import evaluate
    from drive.evaluation.baselines import constant_velocity
    from drive.viz import forecast_errors, match_prediction

    scenario = first_scenario(source)
    prediction = constant_velocity(scenario, scenario.num_steps - 1 - scenario.current_step, num_modes=1)
    ours = forecast_errors(scenario, match_prediction(scenario, prediction))
    result = evaluate([scenario], [prediction]).to_json()
    if source == "eth_ucy":
        reference = {
            "minADE": result["eth_ucy"]["overall"]["ADE_1"],
            "minFDE": result["eth_ucy"]["overall"]["FDE_1"],
        }
    else:
        overall = result["av2"]["overall"]
        reference = {"minADE": overall["minADE_1"], "minFDE": overall["minFDE_1"]}
    assert ours == pytest.approx(reference, rel=1e-5)
