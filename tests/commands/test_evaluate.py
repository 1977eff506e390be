"""`drive evaluate` on scenarios written as WOMD TFRecords and on the real samples."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from drive.cli import main as cli_main
from drive.commands.evaluate import main
from drive.errors import ConfigError
from drive.evaluation.baselines import constant_velocity
from drive.evaluation.predictions import ScenarioPrediction, save_predictions
from tests.conftest import shared_path
from tests.evaluation.scenes import moving_scene


@pytest.fixture
def womd_file(tmp_path):
    womd = pytest.importorskip("drive.datasets.womd", reason="the WOMD reader is not available")
    scenes = [moving_scene("s0"), moving_scene("s1", velocities=((5.0, 5.0), (1.0, 0.0)), types=(0, 1))]
    path = tmp_path / "scenes.tfrecord"
    womd.write_scenarios(path, scenes)
    return path, scenes


def test_predictions_and_baseline_in_one_run(womd_file, tmp_path, capsys):
    path, scenes = womd_file
    shifted = []
    for scene in scenes:
        cv = constant_velocity(scene, 80)
        traj = cv.trajectory + np.array([0.0, 1.0], np.float32)  # 1 m off everywhere
        shifted.append(ScenarioPrediction(cv.scenario_id, cv.agent_ids, traj, cv.probability))
    preds = tmp_path / "preds.npz"
    save_predictions(preds, shifted)
    out_json, out_table = tmp_path / "metrics.json", tmp_path / "metrics.txt"
    argv = ["--data", str(path), "--predictions", str(preds), "--baseline", "constant_velocity"]
    assert main([*argv, "--json", str(out_json), "--table", str(out_table)]) == 0
    payload = json.loads(out_json.read_text())
    runs = payload["runs"]
    assert set(runs) == {str(preds), "constant_velocity"}
    assert runs[str(preds)]["metrics"]["minADE_6"] == pytest.approx(1.0, abs=1e-3)
    assert runs[str(preds)]["metrics"]["minADE"] == pytest.approx(1.0, abs=1e-3)
    assert runs["constant_velocity"]["metrics"]["minADE_6"] == pytest.approx(0.0, abs=1e-3)
    assert runs["constant_velocity"]["counts"]["scored"] == 5
    printed = capsys.readouterr().out
    assert "== constant_velocity ==" in printed and "soft_mAP" in printed
    assert out_table.read_text().strip() == printed.strip()


def test_missing_target_fails_with_one_line(womd_file, tmp_path, capsys):
    path, scenes = womd_file
    preds = tmp_path / "preds.npz"
    save_predictions(preds, [constant_velocity(scenes[0], 80)])  # nothing for scenario s1
    assert cli_main(["evaluate", "--data", str(path), "--predictions", str(preds)]) == 1
    err = capsys.readouterr().err.strip()
    assert "'s1'" in err and len(err.splitlines()) == 1
    assert main(["--data", str(path), "--predictions", str(preds), "--missing", "count"]) == 0


def test_needs_predictions_or_baseline(tmp_path):
    with pytest.raises(ConfigError, match="--predictions"):
        main(["--data", str(tmp_path)])


def test_empty_input_and_too_long_horizon_are_errors(womd_file, tmp_path, capsys):
    empty = tmp_path / "empty.tfrecord"
    empty.write_bytes(b"")
    assert cli_main(["evaluate", "--data", str(empty), "--baseline", "constant_velocity"]) == 1
    assert f"{empty}: holds no scenario" in capsys.readouterr().err
    path, scenes = womd_file
    available = scenes[0].num_steps - 1 - scenes[0].current_step
    argv = ["evaluate", "--data", str(path), "--baseline", "constant_velocity"]
    assert cli_main([*argv, "--num-future-steps", str(available + 1)]) == 1
    err = capsys.readouterr().err
    assert f"--num-future-steps {available + 1}" in err and f"only {available} step(s)" in err
    assert len(err.strip().splitlines()) == 1
    assert cli_main([*argv, "--num-future-steps", str(available)]) == 0


@pytest.mark.parametrize(
    ("parts", "keys"),
    [
        (("womd", "motion_data_one_scenario.tfrecord"), {"minADE_6", "minADE", "mAP", "soft_mAP"}),
        (("av2", "forecasting_scenarios"), {"minADE_6", "brier_minFDE_6", "MR_1"}),
        (("eth_ucy", "eth", "test", "biwi_eth.txt"), {"ADE_1", "FDE_1"}),
    ],
)
def test_baseline_on_real_samples(parts, keys, tmp_path):
    data = shared_path(*parts)
    out = tmp_path / "cv.json"
    assert main(["--data", str(data), "--baseline", "constant_velocity", "--json", str(out)]) == 0
    metrics = json.loads(out.read_text())["metrics"]
    assert keys <= set(metrics)
    assert all(math.isfinite(v) and v >= 0 for v in metrics.values())


def test_baseline_follows_the_predictions_horizon(womd_file, tmp_path, capsys):
    path, scenes = womd_file
    preds = tmp_path / "preds.npz"
    save_predictions(preds, [constant_velocity(scene, 60) for scene in scenes])  # a 6 s model
    out = tmp_path / "m.json"
    argv = ["--data", str(path), "--predictions", str(preds), "--baseline", "constant_velocity"]
    assert main([*argv, "--json", str(out)]) == 0
    runs = json.loads(out.read_text())["runs"]
    assert runs["constant_velocity"]["settings"]["horizon_s"] == [6.0]
    assert "minADE" not in runs["constant_velocity"]["metrics"]  # no 8 s, no WOMD keys, for either run
    assert runs["constant_velocity"]["metrics"] == runs[str(preds)]["metrics"]
    comparison = capsys.readouterr().out.split("== comparison ==")[1]
    assert "constant_velocity" in comparison and "minADE_6" in comparison
