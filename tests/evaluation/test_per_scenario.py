import json

import numpy as np

from drive.evaluation.baselines import constant_velocity
from drive.evaluation.evaluator import evaluate, scene_errors
from drive.viz.run import read_scene_errors
from tests.evaluation.scenes import moving_scene


def test_scene_errors_pick_the_mode_with_the_best_endpoint():
    target = np.zeros((1, 2, 2))
    target[0, 1] = [2.0, 0.0]
    # mode 0: perfect path but for a 1 m endpoint error; mode 1: 3 m off at the first step, exact endpoint.
    trajectory = np.array([[[[0.0, 0.0], [3.0, 0.0]], [[0.0, 3.0], [2.0, 0.0]]]])  # (1, 2, 2, 2)
    ade, fde = scene_errors(trajectory, target, np.ones((1, 2), bool))
    assert (ade, fde) == (1.5, 0.0)  # AV2 rule: mode 1 wins on the endpoint, its ADE is (3 + 0) / 2
    valid = np.array([[True, False]])  # the endpoint becomes step 0, where mode 0 is exact
    assert scene_errors(trajectory, target, valid) == (0.0, 0.0)


def test_per_scenario_rows_feed_the_viewer(tmp_path):
    scenes = [moving_scene("a"), moving_scene("b", velocities=((3.0, 0.0),), types=(0,))]
    result = evaluate(scenes, lambda s: constant_velocity(s, 80))
    rows = result.to_json()["per_scenario"]
    assert [r["scenario_id"] for r in rows] == ["a", "b"]
    assert rows[0]["num_targets"] == 3 and abs(rows[0]["minFDE"]) < 1e-4  # constant velocity is exact
    path = tmp_path / "eval.json"
    path.write_text(json.dumps(result.to_json()))
    errors = read_scene_errors(path)
    assert set(errors) == {"a", "b"} and errors["b"]["minADE"] == rows[1]["minADE"]
