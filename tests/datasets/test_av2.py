"""Argoverse 2 reader: exact counts and values on the real sample, map geometry, bad input."""

from __future__ import annotations

import json
import math
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drive.data.schema import AgentType, MapType
from drive.datasets import av2, detect_source, iter_scenarios
from drive.datasets.av2_map import (
    LANE_MARK_TYPES,
    map_from_json,
    midpoint_line,
    read_map,
    resample_polyline,
    resample_polylines,
)
from drive.datasets.base import LoadReport
from drive.errors import ConfigError, DataError
from tests.conftest import shared_path

SCENARIO_ID = "0a1e6f0a-1817-4a98-b02e-db8c9327d151"


def sample_dir() -> Path:
    return shared_path("av2", "forecasting_scenarios", SCENARIO_ID)


def parquet_of(directory: Path) -> Path:
    return directory / f"scenario_{SCENARIO_ID}.parquet"


def map_of(directory: Path) -> Path:
    return directory / f"log_map_archive_{SCENARIO_ID}.json"


@pytest.fixture(scope="module")
def scenario():
    return av2.read_scenario(sample_dir())


@pytest.fixture(scope="module")
def raw_rows() -> list[dict]:
    return pq.read_table(parquet_of(sample_dir())).to_pylist()


def test_exact_track_counts(scenario, raw_rows):
    assert scenario.scenario_id == SCENARIO_ID and scenario.source == "av2"
    assert scenario.num_steps == 110 and scenario.current_step == 49 and scenario.dt_s == 0.1
    assert scenario.agents.num_agents == 58
    raw_types = Counter({row["track_id"]: row["object_type"] for row in raw_rows}.values())
    assert raw_types == {
        "vehicle": 32,
        "pedestrian": 12,
        "static": 8,
        "riderless_bicycle": 4,
        "background": 2,
    }
    # riderless bicycles count as cyclists; static and background as other
    assert scenario.agents_by_type() == {"vehicle": 32, "pedestrian": 12, "cyclist": 4, "other": 10}
    assert int(scenario.agents.valid.sum()) == len(raw_rows) == 2434


def test_observed_steps_are_0_to_49(scenario, raw_rows):
    observed_steps = {row["timestep"] for row in raw_rows if row["observed"]}
    future_steps = {row["timestep"] for row in raw_rows if not row["observed"]}
    assert observed_steps == set(range(50)) and future_steps == set(range(50, 110))
    assert max(observed_steps) == scenario.current_step


def test_targets_focal_first_then_scored(scenario, raw_rows):
    category = {row["track_id"]: row["object_category"] for row in raw_rows}
    assert Counter(category.values()) == {0: 51, 1: 5, 2: 1, 3: 1}
    ids = scenario.agents.ids[scenario.target_idx].tolist()
    assert ids[0] == 138951 == scenario.extras["focal_track_id"]
    assert sorted(ids) == sorted(int(t) for t, c in category.items() if c in (2, 3))
    focal = scenario.target_idx[0]
    assert scenario.agents.valid[focal].all() and scenario.agents.types[focal] == AgentType.VEHICLE
    assert scenario.extras["city"] == "austin"
    assert scenario.agents.ids[scenario.sdc_idx] == av2.AV_AGENT_ID


def test_states_equal_raw_parquet_values(scenario, raw_rows):
    index = {int(i): a for a, i in enumerate(scenario.agents.ids)}
    agents = scenario.agents
    for row in raw_rows:
        track = av2.AV_AGENT_ID if row["track_id"] == "AV" else int(row["track_id"])
        a, t = index[track], row["timestep"]
        assert agents.valid[a, t]
        np.testing.assert_allclose(agents.position[a, t], (row["position_x"], row["position_y"]), atol=2e-4)
        np.testing.assert_allclose(agents.velocity[a, t], (row["velocity_x"], row["velocity_y"]), atol=1e-5)
        dh = (agents.heading[a, t] - row["heading"] + math.pi) % (2 * math.pi) - math.pi
        assert abs(dh) < 1e-5 and -math.pi <= agents.heading[a, t] < math.pi
        size = av2.NOMINAL_SIZE_M[row["object_type"]]
        np.testing.assert_allclose(agents.size[a], size)
    assert not agents.position[~agents.valid].any() and not agents.heading[~agents.valid].any()


def test_map_counts_and_geometry(scenario):
    raw = json.loads(map_of(sample_dir()).read_text())
    road = scenario.map
    counts = Counter(MapType(t) for t in road.types)
    assert counts[MapType.LANE] == 71 and counts[MapType.CROSSWALK] == 6 and counts[MapType.ROAD_EDGE] == 2
    assert av2.map_features_by_type(scenario) == {
        "lane_segment": 71,
        "lane_boundary": counts[MapType.ROAD_LINE],
        "pedestrian_crossing": 6,
        "drivable_area": 2,
    }
    lanes = {int(road.ids[m]): road.polyline(m) for m in range(road.num_polylines) if road.types[m] == 0}
    assert set(lanes) == {int(k) for k in raw["lane_segments"]}
    for m in range(road.num_polylines):
        if road.types[m] in (MapType.CROSSWALK, MapType.ROAD_EDGE):
            points = road.polyline(m)
            assert np.array_equal(points[0], points[-1]) and len(points) >= 4
    crossing = raw["pedestrian_crossings"]["13294505"]
    m = int(np.flatnonzero(road.ids == 13294505)[0])
    corners = [crossing["edge1"][0], crossing["edge1"][1], crossing["edge2"][1], crossing["edge2"][0]]
    np.testing.assert_allclose(road.polyline(m)[:4], [(p["x"], p["y"]) for p in corners], atol=1e-4)


def test_centre_lines_equal_av2_reference(scenario):
    interpolate = pytest.importorskip("av2.geometry.interpolate")
    raw = json.loads(map_of(sample_dir()).read_text())
    road = scenario.map
    for key, segment in raw["lane_segments"].items():
        left = np.array([(p["x"], p["y"]) for p in segment["left_lane_boundary"]])
        right = np.array([(p["x"], p["y"]) for p in segment["right_lane_boundary"]])
        expected, _ = interpolate.compute_midpoint_line(left, right, num_interp_pts=10)
        m = int(np.flatnonzero((road.ids == int(key)) & (road.types == MapType.LANE))[0])
        np.testing.assert_allclose(road.polyline(m), expected, atol=1e-3)


def test_lane_boundaries_are_kept_once_with_their_mark_type(scenario):
    raw = json.loads(map_of(sample_dir()).read_text())
    road = scenario.map
    lines = [road.polyline(m) for m in range(road.num_polylines) if road.types[m] == MapType.ROAD_LINE]
    marks = [int(road.subtypes[m]) for m in range(road.num_polylines) if road.types[m] == MapType.ROAD_LINE]

    def find(points: np.ndarray) -> list[int]:
        return [
            i
            for i, line in enumerate(lines)
            if line.shape == points.shape
            and (np.allclose(line, points, atol=1e-3) or np.allclose(line, points[::-1], atol=1e-3))
        ]

    owners: dict[int, set[str]] = {}
    for segment in raw["lane_segments"].values():
        for side in ("left", "right"):
            points = np.array([(p["x"], p["y"]) for p in segment[f"{side}_lane_boundary"]])
            found = find(points)
            assert len(found) == 1  # present, and never twice
            owners.setdefault(found[0], set()).add(segment[f"{side}_lane_mark_type"])
    assert sorted(owners) == list(range(len(lines)))  # no boundary without an owning segment
    for i, mark in enumerate(marks):
        assert LANE_MARK_TYPES[mark] in owners[i]
    assert len(lines) < 2 * len(raw["lane_segments"])  # shared boundaries were merged


def test_resample_and_midpoint_hand_computed():
    corner = np.array([(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)])
    np.testing.assert_allclose(resample_polyline(corner, 3), corner)
    np.testing.assert_allclose(
        resample_polyline(corner, 5), [(0, 0), (0.5, 0), (1, 0), (1, 0.5), (1, 1)], atol=1e-12
    )
    # vertex counts differ, arc lengths agree: the midline of y=2 and y=0 is y=1
    left = np.array([(0.0, 2.0), (4.0, 2.0), (10.0, 2.0)])
    right = np.array([(0.0, 0.0), (10.0, 0.0)])
    np.testing.assert_allclose(midpoint_line(left, right, 11), np.stack([np.arange(11.0), np.ones(11)], -1))
    # a one-point boundary pivots (cul-de-sac)
    pivot = midpoint_line(np.array([(0.0, 0.0)]), np.array([(2.0, 0.0), (0.0, 2.0)]))
    np.testing.assert_allclose(pivot, [(1.0, 0.0), (0.0, 1.0)])
    np.testing.assert_allclose(resample_polyline(np.array([(3.0, 4.0)] * 2), 4), [(3.0, 4.0)] * 4)


def test_batched_resampling_equals_one_at_a_time():
    rng = np.random.default_rng(0)
    polylines = [rng.normal(0.0, 5.0, (int(k), 2)) for k in rng.integers(2, 20, 30)]
    polylines += [np.zeros((4, 2)), np.array([(0.0, 0.0), (0.0, 0.0), (1.0, 0.0), (1.0, 0.0), (2.0, 2.0)])]
    batched = resample_polylines(polylines, 10)
    np.testing.assert_allclose(batched, np.stack([resample_polyline(p, 10) for p in polylines]), atol=1e-9)


def test_detect_and_dispatch():
    directory = sample_dir()
    assert av2.detect(directory) and av2.detect(directory.parent) and av2.detect(parquet_of(directory))
    assert not av2.detect(map_of(directory)) and not av2.detect(directory / "missing")
    assert detect_source(directory) == detect_source(directory.parent) == "av2"
    scenarios = list(iter_scenarios(directory.parent))
    assert [s.scenario_id for s in scenarios] == [SCENARIO_ID]
    with pytest.raises(ConfigError, match="min_peds"):
        list(iter_scenarios(directory, min_peds=2))


def copy_sample(tmp_path: Path, name: str = SCENARIO_ID) -> Path:
    target = tmp_path / name
    shutil.copytree(sample_dir(), target)
    return target


def rewrite(directory: Path, change) -> Path:
    path = parquet_of(directory)
    table = change(pq.read_table(path))
    pq.write_table(table, path)
    return path


def set_value(table: pa.Table, column: str, row: int | None, value) -> pa.Table:
    """``column`` set to ``value`` at ``row``, or along the whole track of row 0 when ``row`` is None."""
    values = table.column(column).to_pylist()
    tracks = table.column("track_id").to_pylist()
    for r in [row] if row is not None else [r for r, t in enumerate(tracks) if t == tracks[0]]:
        values[r] = value
    index = table.schema.get_field_index(column)
    return table.set_column(index, column, pa.array(values, table.schema.field(column).type))


def test_missing_column_names_file_and_column(tmp_path):
    path = rewrite(copy_sample(tmp_path), lambda t: t.drop_columns(["heading"]))
    with pytest.raises(DataError, match=r"scenario_.*\.parquet.*'heading'"):
        av2.read_scenario(path.parent)


@pytest.mark.parametrize(
    ("column", "value", "what"),
    [
        ("position_x", float("nan"), "non-finite"),
        ("position_y", float("-inf"), "non-finite"),
        ("heading", float("nan"), "non-finite"),
        ("velocity_x", 1e300, "out-of-range"),
    ],
)
def test_non_finite_or_absurd_state(tmp_path, column, value, what):
    path = rewrite(copy_sample(tmp_path), lambda t: set_value(t, column, 7, value))
    with pytest.raises(DataError, match=rf"\.parquet.*'{column}': {what}.*track '138902', timestep 7"):
        av2.read_scenario(path.parent)


@pytest.mark.parametrize(
    ("column", "row", "value", "message"),
    [
        ("object_type", None, "hovercraft", "'object_type': unknown value"),
        ("object_type", 3, "pedestrian", "'object_type': value changes along a track"),
        ("object_category", None, 7, "'object_category': unknown value"),
        ("timestep", 3, 110, "'timestep': value 110 outside 0..109"),
        ("track_id", None, "X1", "non-numeric track id 'X1'"),
        ("observed", 3, False, "'observed'"),
        ("city", 3, "pittsburgh", "'city': value differs"),
    ],
)
def test_bad_values(tmp_path, column, row, value, message):
    directory = copy_sample(tmp_path)
    rewrite(directory, lambda t: set_value(t, column, row, value))
    with pytest.raises(DataError, match=message):
        av2.read_scenario(directory)


def test_duplicate_rows(tmp_path):
    directory = copy_sample(tmp_path)
    rewrite(directory, lambda t: pa.concat_tables([t, t.slice(0, 1)]))
    with pytest.raises(DataError, match="duplicate"):
        av2.read_scenario(directory)


def test_truncated_parquet(tmp_path):
    path = parquet_of(copy_sample(tmp_path))
    data = path.read_bytes()
    for size in (0, 4, len(data) // 2, len(data) - 9):
        path.write_bytes(data[:size])
        with pytest.raises(DataError, match=r"\.parquet"):
            av2.read_scenario(path.parent)


def test_corrupted_bytes_raise_only_data_error(tmp_path):
    path = parquet_of(copy_sample(tmp_path))
    data = path.read_bytes()
    rng = np.random.default_rng(0)
    rejected = 0
    for _ in range(40):
        corrupted = bytearray(data)
        start = int(rng.integers(0, len(data) - 64))
        corrupted[start : start + 64] = rng.integers(0, 256, 64, dtype=np.uint8).tobytes()
        path.write_bytes(bytes(corrupted))
        try:
            av2.read_scenario(path.parent)
        except DataError:
            rejected += 1
    assert rejected > 0  # the corruption is not all in ignored bytes


def test_bad_map_json(tmp_path):
    directory = copy_sample(tmp_path)
    map_of(directory).write_text('{"lane_segments": {}')
    with pytest.raises(DataError, match="log_map_archive"):
        av2.read_scenario(directory)
    map_of(directory).write_text(json.dumps({"lane_segments": {}, "pedestrian_crossings": {}}))
    with pytest.raises(DataError, match="drivable_areas"):
        read_map(map_of(directory))


def test_skip_mode_over_a_root_with_one_bad_scenario(tmp_path):
    copy_sample(tmp_path, "a_good")
    bad = copy_sample(tmp_path, "b_bad")
    parquet_of(bad).write_bytes(parquet_of(bad).read_bytes()[:1000])
    with pytest.raises(DataError):
        list(av2.iter_scenarios(tmp_path))
    report = LoadReport()
    scenarios = list(av2.iter_scenarios(tmp_path, skip_errors=True, report=report))
    assert [s.scenario_id for s in scenarios] == [SCENARIO_ID] and report.loaded == 1
    assert len(report.skipped) == 1 and report.skipped[0].record == "b_bad"
    assert "parquet" in report.skipped[0].reason


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
feature_keys = st.sampled_from(
    [
        "id",
        "left_lane_boundary",
        "right_lane_boundary",
        "lane_type",
        "left_lane_mark_type",
        "right_lane_mark_type",
        "edge1",
        "edge2",
        "area_boundary",
        "x",
        "y",
    ]
)
features = st.dictionaries(
    feature_keys,
    json_values | st.lists(st.fixed_dictionaries({"x": json_values, "y": json_values}), max_size=3),
    max_size=8,
)


@settings(max_examples=60, deadline=None)
@given(
    st.fixed_dictionaries(
        {
            "lane_segments": st.dictionaries(st.text(max_size=3), features, max_size=2) | json_values,
            "pedestrian_crossings": st.dictionaries(st.text(max_size=3), features, max_size=2) | json_values,
            "drivable_areas": st.dictionaries(st.text(max_size=3), features, max_size=2) | json_values,
        }
    )
    | json_values
)
def test_malformed_map_json_raises_only_data_error(data):
    try:
        road = map_from_json(data, "fuzz.json")
    except DataError as err:
        assert str(err).startswith("fuzz.json")
    else:
        road.validate("fuzz.json")


def test_mutated_real_map_raises_only_data_error():
    raw = json.loads(map_of(sample_dir()).read_text())
    rng = np.random.default_rng(1)
    replacements = [None, 3, "x", [], {}, [{"x": 1}], float("nan"), [{"x": "a", "y": 0}], {"id": 1}]
    rejected = 0
    for _ in range(100):
        data = json.loads(json.dumps(raw))
        node, path = data, []
        while isinstance(node, dict | list) and node and (not path or rng.random() < 0.8):
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            key = keys[int(rng.integers(len(keys)))]
            path.append((node, key))
            node = node[key]
        parent, key = path[-1]
        if rng.random() < 0.3 and isinstance(parent, dict):
            del parent[key]
        else:
            parent[key] = replacements[int(rng.integers(len(replacements)))]
        try:
            map_from_json(data, "mutated.json").validate("mutated.json")
        except DataError as err:
            assert "mutated.json" in str(err)
            rejected += 1
    assert rejected > 10
