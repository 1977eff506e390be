"""The predictions file: round trips, validation, atomic writes, dispatch by suffix."""

from __future__ import annotations

import numpy as np
import pytest

from drive.errors import DataError
from drive.evaluation.predictions import ScenarioPrediction, load_predictions, save_predictions


def _prediction(scenario_id: str, n: int = 3, k: int = 6, tf: int = 80, heading: bool = True, seed: int = 0):
    rng = np.random.default_rng(seed)
    return ScenarioPrediction(
        scenario_id=scenario_id,
        agent_ids=np.arange(n, dtype=np.int64) * 7,
        trajectory=rng.normal(size=(n, k, tf, 2)).astype(np.float32),
        probability=rng.dirichlet(np.ones(k), size=n).astype(np.float32),
        heading=rng.uniform(-3, 3, size=(n, k, tf)).astype(np.float32) if heading else None,
    )


@pytest.mark.parametrize("heading", [True, False])
def test_npz_round_trip(tmp_path, heading):
    original = [_prediction("a", heading=heading), _prediction("b", n=1, heading=heading, seed=1)]
    path = tmp_path / "preds.npz"
    save_predictions(path, original)
    loaded = load_predictions(path)
    assert [p.scenario_id for p in loaded] == ["a", "b"]
    for a, b in zip(original, loaded):
        np.testing.assert_array_equal(a.agent_ids, b.agent_ids)
        np.testing.assert_array_equal(a.trajectory, b.trajectory)
        np.testing.assert_array_equal(a.probability, b.probability)
        assert (b.heading is None) == (not heading)
        if heading:
            np.testing.assert_array_equal(a.heading, b.heading)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["preds.npz"]  # no temporary file left


def test_npz_is_readable_without_pickle(tmp_path):
    path = tmp_path / "preds.npz"
    save_predictions(path, [_prediction("a")])
    with np.load(path, allow_pickle=False) as data:
        assert str(data["format"]) == "drive-predictions"


def test_validation_errors_name_scenario_and_field():
    good = _prediction("s")
    with pytest.raises(DataError, match="'s'.*'probability'"):
        ScenarioPrediction("s", good.agent_ids, good.trajectory, good.probability * 2)
    with pytest.raises(DataError, match="'trajectory'"):
        ScenarioPrediction("s", good.agent_ids, good.trajectory[:, :, :, :1], good.probability)
    with pytest.raises(DataError, match="duplicate"):
        ScenarioPrediction("s", np.zeros(3, np.int64), good.trajectory, good.probability)
    bad = good.trajectory.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(DataError, match="non-finite"):
        ScenarioPrediction("s", good.agent_ids, bad, good.probability)


def test_save_refuses_mixed_shapes_and_duplicate_ids(tmp_path):
    with pytest.raises(DataError, match="K=6, Tf=60"):
        save_predictions(tmp_path / "x.npz", [_prediction("a"), _prediction("b", tf=60)])
    with pytest.raises(DataError, match="duplicate scenario"):
        save_predictions(tmp_path / "x.npz", [_prediction("a"), _prediction("a")])
    assert not list(tmp_path.iterdir())


def test_load_refuses_foreign_files(tmp_path):
    other = tmp_path / "other.npz"
    np.savez(other, x=np.zeros(3))
    with pytest.raises(DataError, match="not a drive-predictions file"):
        load_predictions(other)
    unknown = tmp_path / "preds.csv"
    unknown.write_text("1,2\n")
    with pytest.raises(DataError, match="unknown predictions format"):
        load_predictions(unknown)
    with pytest.raises(DataError, match="no such predictions file"):
        load_predictions(tmp_path / "absent.npz")


def test_npz_keeps_raw_confidence(tmp_path):
    base = _prediction("a", heading=False)
    raw = base.probability * 7.0
    original = ScenarioPrediction("a", base.agent_ids, base.trajectory, base.probability, confidence=raw)
    save_predictions(tmp_path / "p.npz", [original])
    (loaded,) = load_predictions(tmp_path / "p.npz")
    np.testing.assert_array_equal(loaded.confidence, raw)
    with pytest.raises(DataError, match="confidence must be given for all scenarios or none"):
        save_predictions(tmp_path / "q.npz", [original, _prediction("b", heading=False)])
    with pytest.raises(DataError, match="'confidence'"):
        ScenarioPrediction("a", base.agent_ids, base.trajectory, base.probability, confidence=raw[:, :2])


def test_nan_heading_is_refused():
    good = _prediction("s")
    heading = good.heading.copy()
    heading[1, 2, 3] = np.nan
    with pytest.raises(DataError, match="'s'.*field 'heading': non-finite"):
        ScenarioPrediction("s", good.agent_ids, good.trajectory, good.probability, heading)


def _damaged(arrays: dict, name: str, how: str) -> dict:
    out = dict(arrays)
    if how == "drop":
        out.pop(name)
    elif how == "scalar":
        out[name] = np.array("x")
    elif how == "one_row_more":
        out[name] = np.concatenate([arrays[name], arrays[name][:1]])
    return out


ENTRIES = ["version", "scenario_ids", "agent_offsets", "agent_ids", "trajectory", "probability", "heading"]


@pytest.mark.parametrize("how", ["drop", "scalar", "one_row_more"])
@pytest.mark.parametrize("name", ENTRIES)
def test_damaged_npz_entries_are_data_errors(tmp_path, name, how):
    path = tmp_path / "preds.npz"
    save_predictions(path, [_prediction("a"), _prediction("b", n=2, seed=1)])
    with np.load(path, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    if how == "one_row_more" and arrays[name].ndim == 0:
        pytest.skip("a 0-d entry has no rows")
    damaged = tmp_path / "damaged.npz"
    np.savez(damaged, **_damaged(arrays, name, how))
    if how == "drop" and name == "heading":
        assert load_predictions(damaged)[0].heading is None  # heading is optional
        return
    with pytest.raises(DataError, match=str(damaged)):
        load_predictions(damaged)
