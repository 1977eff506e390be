"""WOMD reader and writer on the real sample and on built scenarios."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drive.data.schema import AgentTracks, MapFeatures, MapType, Scenario, TrafficLights
from drive.datasets import detect_source, iter_scenarios, womd, womd_map, womd_wire
from drive.datasets.tfrecord import iter_records
from tests.conftest import shared_path


def _sample_path():
    return shared_path("womd", "motion_data_one_scenario.tfrecord")


@pytest.fixture(scope="module")
def sample() -> Scenario:
    (scenario,) = list(iter_scenarios(_sample_path()))
    return scenario


@pytest.fixture(scope="module")
def sample_proto():
    from waymo_open_dataset.protos import scenario_pb2

    (payload,) = list(iter_records(_sample_path()))
    return scenario_pb2.Scenario.FromString(payload)


def make_scenario(seed: int = 0, num_agents: int = 5, num_steps: int = 12) -> Scenario:
    """A small valid scenario with every map type, some invalid steps and traffic lights."""
    rng = np.random.default_rng(seed)
    valid = rng.random((num_agents, num_steps)) > 0.3
    valid[0] = True
    position = np.where(valid[..., None], rng.normal(0, 50, (num_agents, num_steps, 2)), 0).astype(np.float32)
    heading = np.where(valid, rng.uniform(-math.pi, math.pi, (num_agents, num_steps)), 0).astype(np.float32)
    velocity = np.where(valid[..., None], rng.normal(0, 5, (num_agents, num_steps, 2)), 0).astype(np.float32)
    agents = AgentTracks(
        ids=np.arange(100, 100 + num_agents, dtype=np.int64),
        types=(np.arange(num_agents) % 4).astype(np.int8),
        position=position,
        heading=heading,
        velocity=velocity,
        size=rng.uniform(0.5, 5, (num_agents, 3)).astype(np.float32),
        valid=valid,
    )
    polylines, types, subtypes = [], [], []
    for map_type in MapType:
        count = 1 if map_type == MapType.STOP_SIGN else int(rng.integers(3, 7))
        points = rng.normal(0, 30, (count, 2))
        if map_type in (MapType.CROSSWALK, MapType.SPEED_BUMP, MapType.DRIVEWAY):
            points = np.concatenate([points, points[:1]])  # the reader's convention: closed
        polylines.append(points)
        types.append(int(map_type))
        subtypes.append(int(rng.integers(0, 3)) if map_type <= MapType.ROAD_EDGE else 0)
    road = MapFeatures(
        ids=np.arange(10, 10 + len(polylines), dtype=np.int64),
        types=np.asarray(types, np.int8),
        subtypes=np.asarray(subtypes, np.int16),
        points=np.concatenate(polylines).astype(np.float32),
        offsets=np.concatenate([[0], np.cumsum([len(p) for p in polylines])]).astype(np.int64),
    )
    light_valid = rng.random((num_steps, 2)) > 0.2
    light_valid[0] = True  # a lane with no state at any step is not stored in WOMD at all
    lights = TrafficLights(
        lane_ids=np.array([10, 11], np.int64),
        states=np.where(light_valid, rng.integers(0, 9, (num_steps, 2)), 0).astype(np.int8),
        stop_point=np.where(light_valid[..., None], rng.normal(0, 9, (num_steps, 2, 2)), 0).astype(
            np.float32
        ),
        valid=light_valid,
    )
    return Scenario(
        scenario_id=f"built{seed}",
        source="womd",
        dt_s=0.1,
        current_step=num_steps // 2,
        agents=agents,
        target_idx=np.array([0, num_agents - 1], np.int64),
        map=road,
        sdc_idx=min(1, num_agents - 1),
        traffic_lights=lights,
    )


def assert_scenarios_equal(a: Scenario, b: Scenario) -> None:
    """Field by field, arrays with equal dtype and values (bit for bit)."""
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if dataclasses.is_dataclass(x):
            assert dataclasses.is_dataclass(y), f.name
            assert_scenarios_equal(x, y)
        elif isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and x.shape == y.shape, (f.name, x.dtype, y.dtype, x.shape, y.shape)
            assert np.array_equal(x, y), f.name
        else:
            assert x == y, (f.name, x, y)


def test_sample_counts(sample):
    assert sample.scenario_id == "637f20cafde22ff8"
    assert sample.num_steps == 91 and sample.current_step == 10
    assert sample.dt_s == pytest.approx(0.1)
    assert sample.agents_by_type() == {"vehicle": 70, "pedestrian": 10, "cyclist": 3, "other": 0}
    assert womd.map_features_by_type(sample) == {
        "lane": 199,
        "road_line": 59,
        "road_edge": 28,
        "stop_sign": 8,
        "crosswalk": 4,
        "speed_bump": 3,
        "driveway": 0,
    }
    assert sample.target_idx.size == 3 and sample.sdc_idx == 82
    assert int(sample.agents.valid.sum()) == 4596  # valid object states listed in the data README


def test_sample_fields_match_proto(sample, sample_proto):
    agents = sample.agents
    track = sample_proto.tracks[int(sample.target_idx[0])]
    a = int(sample.target_idx[0])
    assert agents.ids[a] == track.id
    for t, state in enumerate(track.states):
        assert agents.valid[a, t] == state.valid
        if state.valid:
            assert agents.position[a, t, 0] == np.float32(state.center_x)
            assert agents.velocity[a, t, 1] == np.float32(state.velocity_y)
            assert math.isclose(
                math.remainder(float(agents.heading[a, t]) - state.heading, 2 * math.pi), 0, abs_tol=1e-6
            )
        else:
            assert not agents.position[a, t].any() and agents.heading[a, t] == 0
    current = track.states[sample.current_step]
    assert agents.size[a].tolist() == pytest.approx([current.length, current.width, current.height])
    assert sample.target_idx.tolist() == [r.track_index for r in sample_proto.tracks_to_predict]


def test_headings_wrapped(sample):
    heading = sample.agents.heading
    assert heading.dtype == np.float32
    assert heading.min() >= np.float32(-math.pi) and heading.max() < np.float32(math.pi)


def test_map_geometry(sample, sample_proto):
    road = sample.map
    stop = np.flatnonzero(road.types == MapType.STOP_SIGN)
    assert np.all(np.diff(road.offsets)[stop] == 1)
    for m in np.flatnonzero(np.isin(road.types, [MapType.CROSSWALK, MapType.SPEED_BUMP])):
        polygon = road.polyline(m)
        assert np.array_equal(polygon[0], polygon[-1]) and len(polygon) >= 4
    lanes = {f.id: f.lane for f in sample_proto.map_features if f.WhichOneof("feature_data") == "lane"}
    m = int(np.flatnonzero(road.types == MapType.LANE)[0])
    lane = lanes[int(road.ids[m])]
    assert road.subtypes[m] == lane.type
    expected = np.asarray([(p.x, p.y) for p in lane.polyline], np.float32)
    assert np.array_equal(road.polyline(m), expected)


def test_traffic_lights(sample, sample_proto):
    lights = sample.traffic_lights
    assert lights is not None and lights.states.shape[0] == 91
    step = sample_proto.dynamic_map_states[10]
    assert int(lights.valid[10].sum()) == len(step.lane_states)
    for lane_state in step.lane_states:
        col = int(np.searchsorted(lights.lane_ids, lane_state.lane))
        assert lights.lane_ids[col] == lane_state.lane
        assert lights.states[10, col] == lane_state.state
        assert lights.stop_point[10, col, 0] == np.float32(lane_state.stop_point.x)


def test_fast_path_equals_reference_and_covers_real_data(sample_proto, monkeypatch):
    expected = womd_wire.track_arrays_reference(sample_proto.tracks)
    kinds = [f.WhichOneof("feature_data") for f in sample_proto.map_features]
    features = [(f, k) for f, k in zip(sample_proto.map_features, kinds) if k != "stop_sign"]
    assert {k for _, k in features} == {"lane", "road_line", "road_edge", "crosswalk", "speed_bump"}
    messages = [getattr(f, k) for f, k in features]
    numbers = [womd_map.MAP_KINDS[k][1] for _, k in features]
    ref_points, ref_counts = womd_wire.polyline_points_reference(
        [m.polyline if hasattr(m, "polyline") else m.polygon for m in messages]
    )

    def no_fallback(*args):
        raise AssertionError("the fast path fell back on real data")

    monkeypatch.setattr(womd_wire, "track_arrays_reference", no_fallback)
    monkeypatch.setattr(womd_wire, "polyline_points_reference", no_fallback)
    got = womd_wire.track_arrays(sample_proto.tracks, 91)
    for name, values in expected.items():
        assert np.array_equal(got[name], values.astype(got[name].dtype)), name
    points, counts = womd_wire.polyline_points(messages, numbers)
    assert np.array_equal(points, ref_points) and np.array_equal(counts, ref_counts)


def test_fallback_path_on_unusual_layout(sample_proto):
    from waymo_open_dataset.protos import scenario_pb2

    tracks = scenario_pb2.Scenario()
    tracks.CopyFrom(sample_proto)
    tracks.tracks[3].states[5].ClearField("center_z")  # a layout the fast path does not know
    tracks.tracks[3].states[5].center_x = 12.5
    got = womd_wire.track_arrays(tracks.tracks, 91)
    expected = womd_wire.track_arrays_reference(tracks.tracks)
    for name, values in expected.items():
        assert np.array_equal(got[name], values.astype(got[name].dtype)), name
    assert got["x"][3, 5] == 12.5


def test_round_trip_real_sample(sample, tmp_path):
    path = tmp_path / "copy.tfrecord"
    assert womd.write_scenarios(path, [sample]) == 1
    (again,) = list(iter_scenarios(path))
    assert_scenarios_equal(sample, again)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_round_trip_built(seed, tmp_path):
    scenarios = [make_scenario(seed), make_scenario(seed + 10, num_agents=3, num_steps=91)]
    path = tmp_path / "built.tfrecord"
    womd.write_scenarios(path, scenarios)
    for expected, got in zip(scenarios, iter_scenarios(path), strict=True):
        assert_scenarios_equal(expected, got)


def test_round_trip_through_proto_without_optional_parts():
    scenario = dataclasses.replace(make_scenario(3), sdc_idx=None, traffic_lights=None)
    proto = womd.scenario_to_proto(scenario)
    assert_scenarios_equal(scenario, womd.scenario_from_proto(proto, "memory"))


def test_heading_wrapping_is_idempotent_and_in_range():
    raw = np.array([-10.0, -math.pi, math.pi, 3.0, 7.0, np.float32(math.pi), 100.0], np.float64)
    wrapped = womd.wrap_heading_f32(raw)
    assert np.all(wrapped >= np.float32(-math.pi)) and np.all(wrapped < np.float32(math.pi))
    assert np.allclose(np.cos(wrapped), np.cos(raw), atol=1e-5)
    assert np.array_equal(womd.wrap_heading_f32(wrapped), wrapped)


def test_detect(tmp_path):
    assert womd.detect(_sample_path())
    assert detect_source(_sample_path().parent) == "womd"
    odd_name = tmp_path / "scenes.bin"
    womd.write_scenarios(odd_name, [make_scenario()])
    assert womd.detect(odd_name)
    text = tmp_path / "notes.txt"
    text.write_text("1 2 3 4\n")
    assert not womd.detect(text)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    num_agents=st.integers(1, 6),
    num_steps=st.integers(2, 30),
    with_lights=st.booleans(),
)
def test_round_trip_property(seed, num_agents, num_steps, with_lights):
    scenario = make_scenario(seed, num_agents=num_agents, num_steps=num_steps)
    if not with_lights:
        scenario = dataclasses.replace(scenario, traffic_lights=None)
    # An agent never valid has no state to carry its box; the reader gives it a zero box.
    never_valid = ~scenario.agents.valid.any(axis=1)
    size = np.where(never_valid[:, None], 0, scenario.agents.size).astype(np.float32)
    scenario = dataclasses.replace(scenario, agents=dataclasses.replace(scenario.agents, size=size))
    proto = womd.scenario_to_proto(scenario)
    again = womd.scenario_from_bytes(proto.SerializeToString(), "memory")
    assert_scenarios_equal(scenario, again)
