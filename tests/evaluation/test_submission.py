"""Official submission formats: WOMD tar.gz and AV2 parquet written and read back."""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
import pytest

from drive.errors import DataError
from drive.evaluation.evaluator import evaluate
from drive.evaluation.predictions import ScenarioPrediction, load_predictions
from drive.evaluation.submission import (
    AV2_COLUMNS,
    WOMDSubmissionInfo,
    save_av2_submission,
    save_womd_submission,
)
from tests.evaluation.scenes import moving_scene

pb2 = pytest.importorskip(
    "waymo_open_dataset.protos.motion_submission_pb2", reason="waymo-open-dataset protos are not installed"
)


def _prediction(scenario_id="s0", n=2, k=8, tf=80, seed=0):
    rng = np.random.default_rng(seed)
    return ScenarioPrediction(
        scenario_id,
        np.array([5, 9][:n], np.int64),
        rng.normal(size=(n, k, tf, 2)).astype(np.float32),
        rng.dirichlet(np.ones(k), size=n).astype(np.float32),
    )


def test_womd_archive_has_the_challenge_layout(tmp_path):
    path = tmp_path / "submission.tar.gz"
    info = WOMDSubmissionInfo(account_name="me@example.com", unique_method_name="cv", authors=("A", "B"))
    save_womd_submission(path, [_prediction("s0"), _prediction("s1", seed=1)], info, scenarios_per_shard=1)
    with tarfile.open(path) as tar:
        members = sorted(m.name for m in tar.getmembers())
        assert members == ["submission.binproto-00000-of-00002", "submission.binproto-00001-of-00002"]
        submission = pb2.MotionChallengeSubmission.FromString(tar.extractfile(members[0]).read())
    assert submission.submission_type == pb2.MotionChallengeSubmission.MOTION_PREDICTION
    assert submission.account_name == "me@example.com" and list(submission.authors) == ["A", "B"]
    (scenario,) = submission.scenario_predictions
    assert scenario.scenario_id == "s0"
    single = scenario.single_predictions.predictions[0]
    assert single.object_id == 5
    assert len(single.trajectories) == 6  # the 6 most probable of K = 8
    confidences = [t.confidence for t in single.trajectories]
    assert confidences == sorted(confidences, reverse=True)
    assert all(len(t.trajectory.center_x) == 16 for t in single.trajectories)


def test_womd_round_trip_takes_2hz_samples_of_the_8s_horizon(tmp_path):
    original = _prediction()
    path = tmp_path / "submission.tar.gz"
    save_womd_submission(path, [original])
    (loaded,) = load_predictions(path)
    assert loaded.trajectory.shape == (2, 6, 16, 2)
    top = np.argsort(-original.probability, axis=1, kind="stable")[:, :6]
    for n in range(2):
        expected = original.trajectory[n, top[n]][:, 4::5]  # future steps 5, 10, ..., 80
        np.testing.assert_allclose(loaded.trajectory[n], expected, rtol=1e-6)
        kept = original.probability[n, top[n]]
        np.testing.assert_allclose(loaded.probability[n], kept / kept.sum(), rtol=1e-5)


def test_womd_submission_scores_like_the_original_predictions(tmp_path):
    scene = moving_scene()
    rng = np.random.default_rng(3)
    future = scene.agents.position[:, 11:91].astype(np.float64)  # (A, 80, 2)
    traj = future[:, None] + rng.normal(scale=1.5, size=(3, 6, 80, 2))
    prob = rng.dirichlet(np.ones(6), size=3)
    original = ScenarioPrediction(
        scene.scenario_id, scene.agents.ids, traj.astype(np.float32), prob.astype(np.float32)
    )
    path = tmp_path / "submission.tar.gz"
    save_womd_submission(path, [original])
    direct = evaluate([scene], [original]).to_json()["womd"]
    via_file = evaluate([scene], load_predictions(path)).to_json()["womd"]
    for key in ("minADE", "minFDE", "miss_rate", "mAP", "soft_mAP"):
        assert via_file["overall"][key] == pytest.approx(direct["overall"][key], abs=1e-5)


def test_womd_needs_8s(tmp_path):
    with pytest.raises(DataError, match="60 future steps"):
        save_womd_submission(tmp_path / "s.tar.gz", [_prediction(tf=60)])


def test_av2_parquet_columns_and_round_trip(tmp_path):
    import pyarrow.parquet as pq

    original = _prediction(k=6, tf=60)
    original = ScenarioPrediction(
        original.scenario_id, np.array([-1, 42]), original.trajectory, original.probability
    )  # -1 is the AV2 reader's id for the ego track "AV"
    path = tmp_path / "submission.parquet"
    save_av2_submission(path, [original])
    table = pq.read_table(path)
    assert tuple(table.column_names) == AV2_COLUMNS
    assert table.num_rows == 2 * 6
    assert sorted(set(table.column("track_id").to_pylist())) == ["42", "AV"]
    assert len(table.column("predicted_trajectory_x")[0].as_py()) == 60
    (loaded,) = load_predictions(path)
    np.testing.assert_array_equal(loaded.agent_ids, original.agent_ids)
    np.testing.assert_allclose(loaded.trajectory, original.trajectory)
    np.testing.assert_allclose(loaded.probability, original.probability, rtol=1e-5)


def test_av2_columns_match_the_av2_package():
    """Read av2's ``SUBMISSION_COL_NAMES`` from its source (importing the module needs pandas)."""
    import ast
    import importlib.util

    spec = importlib.util.find_spec("av2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("av2 is not installed (pip install --no-deps av2)")
    source = Path(spec.submodule_search_locations[0], "datasets/motion_forecasting/eval/submission.py")
    tree = ast.parse(source.read_text())
    (names,) = [
        ast.literal_eval(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "SUBMISSION_COL_NAMES"
    ]
    assert tuple(names) == AV2_COLUMNS


def test_av2_needs_60_steps(tmp_path):
    with pytest.raises(DataError, match="needs 60"):
        save_av2_submission(tmp_path / "s.parquet", [_prediction(tf=80)])


def test_womd_raw_confidences_survive_the_round_trip(tmp_path):
    base = _prediction(k=6)
    raw = np.random.default_rng(7).uniform(0.1, 3.0, size=(2, 6)).astype(np.float32)
    original = ScenarioPrediction(
        base.scenario_id, base.agent_ids, base.trajectory, raw / raw.sum(-1, keepdims=True), confidence=raw
    )
    path = tmp_path / "submission.tar.gz"
    save_womd_submission(path, [original])
    (loaded,) = load_predictions(path)
    order = np.argsort(-raw, axis=1, kind="stable")
    np.testing.assert_allclose(loaded.confidence, np.take_along_axis(raw, order, 1), rtol=1e-6)
    np.testing.assert_allclose(loaded.probability.sum(-1), 1.0, rtol=1e-6)


def test_av2_package_reads_our_parquet(tmp_path):
    pytest.importorskip("pandas", reason="av2's ChallengeSubmission needs pandas")
    submission = pytest.importorskip(
        "av2.datasets.motion_forecasting.eval.submission", reason="av2 not installed"
    )
    original = _prediction(n=1, k=6, tf=60)
    path = tmp_path / "submission.parquet"
    save_av2_submission(path, [original])
    probabilities, tracks = submission.ChallengeSubmission.from_parquet(path).predictions["s0"]
    order = np.argsort(-original.probability[0])  # av2 sorts rows by descending probability
    np.testing.assert_allclose(tracks["5"], original.trajectory[0, order], rtol=1e-6)
    np.testing.assert_allclose(probabilities, original.probability[0, order], rtol=1e-6)


def test_womd_object_ids_must_fit_int32(tmp_path):
    base = _prediction(n=1)
    big = ScenarioPrediction(base.scenario_id, np.array([2**40]), base.trajectory, base.probability)
    with pytest.raises(DataError, match="int32"):
        save_womd_submission(tmp_path / "s.tar.gz", [big])
