"""The evaluator: families per source, matching by scenario and agent id, JSON and table output."""

from __future__ import annotations

import json

import numpy as np
import pytest

from drive.errors import DataError
from drive.evaluation.baselines import constant_velocity
from drive.evaluation.evaluator import evaluate
from drive.evaluation.predictions import ScenarioPrediction
from tests.evaluation.scenes import moving_scene

AV2_KEYS = {"minADE_6", "minFDE_6", "MR_6", "brier_minFDE_6", "minADE_1", "minFDE_1", "MR_1"}
WOMD_KEYS = {"minADE", "minFDE", "miss_rate", "overlap_rate", "mAP", "soft_mAP"}


def test_perfect_predictions_on_womd_layout():
    scene = moving_scene()
    result = evaluate([scene], lambda s: constant_velocity(s, 80)).to_json()
    assert set(result["metrics"]) == AV2_KEYS | WOMD_KEYS
    for key in ("minADE_6", "minFDE_6", "MR_6", "minADE", "minFDE", "miss_rate", "overlap_rate"):
        assert result["metrics"][key] == pytest.approx(0.0, abs=1e-3)
    assert result["metrics"]["mAP"] == pytest.approx(1.0)
    # brier with a single mode of probability 1 adds nothing.
    assert result["metrics"]["brier_minFDE_6"] == pytest.approx(0.0, abs=1e-3)
    assert set(result["womd"]["by_horizon"]) == {"3s", "5s", "8s"}
    assert set(result["womd"]["by_type"]) == {"vehicle", "pedestrian", "cyclist"}
    assert set(result["av2"]["by_type"]) == {"vehicle", "pedestrian", "cyclist"}
    assert result["counts"] == {"scenarios": 1, "targets": 3, "scored": 3, "missing_predictions": 0}
    json.dumps(result)  # serialisable as is


def test_known_error_per_type():
    scene = moving_scene()
    pred = constant_velocity(scene, 80)
    shifted = pred.trajectory.copy()
    shifted[0] += np.array([0.0, 3.0], np.float32)  # vehicle: 3 m lateral error everywhere
    pred = ScenarioPrediction(pred.scenario_id, pred.agent_ids, shifted, pred.probability)
    result = evaluate([scene], [pred]).to_json()
    assert result["av2"]["by_type"]["vehicle"]["minFDE_1"] == pytest.approx(3.0, abs=1e-3)
    assert result["av2"]["by_type"]["vehicle"]["MR_1"] == 1.0
    assert result["av2"]["overall"]["minADE_6"] == pytest.approx(1.0, abs=1e-3)  # (3 + 0 + 0) / 3
    # WOMD: 10 m/s -> scale 0.5 + 0.5 * 8.6 / 9.6; 3 m lateral misses at every horizon (limit <= 3 * scale).
    assert result["womd"]["by_type"]["vehicle"]["miss_rate"] == 1.0
    assert result["womd"]["by_type"]["pedestrian"]["miss_rate"] == 0.0


def test_missing_prediction_is_an_error_naming_the_agent_or_counted():
    scene = moving_scene()
    pred = constant_velocity(scene, 80)
    partial = ScenarioPrediction(
        pred.scenario_id, pred.agent_ids[:2], pred.trajectory[:2], pred.probability[:2]
    )
    with pytest.raises(DataError, match="'scene-0'.*102"):
        evaluate([scene], [partial])
    result = evaluate([scene], [partial], missing="count").to_json()
    assert result["counts"]["missing_predictions"] == 1 and result["counts"]["scored"] == 2
    with pytest.raises(DataError, match="100, 101, 102"):
        evaluate([scene], [])


def test_short_horizon_has_no_womd_keys():
    scene = moving_scene(num_steps=110, current_step=49, source="av2")
    result = evaluate([scene], lambda s: constant_velocity(s, 60))
    assert set(result.metrics) == AV2_KEYS
    assert result.settings["horizon_s"] == [6.0]


def test_eth_ucy_keys_best_of_20():
    scene = moving_scene(
        velocities=((1.0, 0.0), (0.0, 1.2)),
        types=(1, 1),
        num_steps=20,
        current_step=7,
        dt_s=0.4,
        source="eth_ucy",
    )
    cv = constant_velocity(scene, 12)
    rng = np.random.default_rng(0)
    offsets = rng.normal(size=(2, 20, 1, 2)).astype(np.float32)
    offsets[:, 3] = 0.0  # sample 3 is exact
    traj = cv.trajectory + offsets
    pred = ScenarioPrediction(cv.scenario_id, cv.agent_ids, traj, np.full((2, 20), 0.05, np.float32))
    metrics = evaluate([scene], [pred]).metrics
    assert set(metrics) == {"ADE_20", "FDE_20", "ADE_1", "FDE_1"}
    assert metrics["ADE_20"] == pytest.approx(0.0, abs=1e-4)
    assert metrics["ADE_1"] == pytest.approx(np.linalg.norm(offsets[:, 0, 0], axis=-1).mean(), rel=1e-4)
    only_one = evaluate([scene], [cv])
    assert set(only_one.metrics) == {"ADE_1", "FDE_1"} and only_one.notes


def test_table_lists_every_metric():
    result = evaluate([moving_scene()], lambda s: constant_velocity(s, 80))
    table = result.table(title="constant velocity")
    assert table.splitlines()[0] == "constant velocity"
    for key in AV2_KEYS | WOMD_KEYS:
        assert key in table
    assert "8s" in table and "pedestrian" in table


def test_scenario_ids_match_not_order():
    scenes = [moving_scene("a"), moving_scene("b", velocities=((1.0, 0.0),), types=(0,))]
    preds = {s.scenario_id: constant_velocity(s, 80) for s in scenes}
    result = evaluate(scenes, [preds["b"], preds["a"]])
    assert result.counts["scored"] == 4
    assert result.metrics["minADE_6"] == pytest.approx(0.0, abs=1e-3)


def test_bad_options_are_config_errors():
    from drive.errors import ConfigError

    with pytest.raises(ConfigError, match="missing='skip'"):
        evaluate([moving_scene()], [], missing="skip")
    with pytest.raises(ConfigError, match="source='nuscenes'.*womd"):
        evaluate([moving_scene()], [], source="nuscenes")


def test_source_override_switches_families():
    scene = moving_scene(num_steps=20, current_step=7, dt_s=0.4, source="eth_ucy")
    result = evaluate([scene], lambda s: constant_velocity(s, 12), source="av2")
    assert set(result.metrics) == AV2_KEYS


def test_type_without_future_has_no_values_instead_of_zeros():
    import dataclasses

    scene = moving_scene()
    valid = scene.agents.valid.copy()
    valid[1, 11:] = False  # the pedestrian leaves at the current step
    scene = dataclasses.replace(scene, agents=dataclasses.replace(scene.agents, valid=valid))
    result = evaluate([scene], lambda s: constant_velocity(s, 80)).to_json()
    assert set(result["av2"]["by_type"]) == {"vehicle", "cyclist"}
    assert set(result["womd"]["by_type"]) == {"vehicle", "cyclist"}
    assert result["counts"]["scored"] == 2
