"""Bad WOMD input: every failure is a DataError naming file, record, scenario and field; skip mode
loads the rest and lists what it skipped; corrupted bytes let nothing but DataError escape."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drive.datasets import LoadReport, iter_scenarios, womd, womd_wire
from drive.datasets.tfrecord import frame_record, write_records
from drive.errors import ConfigError, DataError
from tests.conftest import shared_path
from tests.datasets.test_womd import make_scenario


def _proto(seed: int = 0):
    return womd.scenario_to_proto(make_scenario(seed))


def _write(tmp_path, *payloads: bytes, name: str = "scenes.tfrecord"):
    path = tmp_path / name
    write_records(path, payloads)
    return path


def _error(path) -> str:
    with pytest.raises(DataError) as info:
        list(iter_scenarios(path))
    return str(info.value)


def test_unknown_option_is_a_config_error():
    with pytest.raises(ConfigError, match=r"womd reader options: got \['scene'\]; allowed: none"):
        list(womd.iter_scenarios(shared_path("womd", "motion_data_one_scenario.tfrecord"), scene="eth"))


def test_tf_example_record_is_not_a_scenario():
    path = shared_path("womd", "motion_data_one_example.tfrecord")
    message = _error(path)
    assert message.startswith(f"{path}: record 0: not a waymo.open_dataset.Scenario")
    assert "scenario/ shards" in message


def test_truncated_real_file(tmp_path):
    raw = shared_path("womd", "motion_data_one_scenario.tfrecord").read_bytes()
    path = tmp_path / "cut.tfrecord"
    path.write_bytes(raw[: len(raw) // 2])
    assert _error(path) == (
        f"{path}: record 0: truncated payload at byte 0: header says {len(raw) - 16} bytes + 4-byte "
        f"checksum, only {len(raw) // 2 - 12} left in the file"
    )


def test_flipped_byte_is_a_bad_checksum(tmp_path):
    raw = bytearray(shared_path("womd", "motion_data_one_scenario.tfrecord").read_bytes())
    raw[len(raw) // 3] ^= 0x10
    path = tmp_path / "flipped.tfrecord"
    path.write_bytes(bytes(raw))
    assert "record 0: bad data checksum" in _error(path)


def test_nan_coordinate_names_scenario_agent_and_field(tmp_path):
    proto = _proto()
    proto.tracks[0].states[3].center_x = math.nan  # agent 0 is valid at every step
    message = _error(_write(tmp_path, proto.SerializeToString()))
    assert "scenes.tfrecord: record 0 (scenario 'built0')" in message
    assert "'agents.position'" in message and "agent index 0 (id 100), step 3" in message


def test_infinite_map_point(tmp_path):
    proto = _proto()
    proto.map_features[0].lane.polyline[1].y = math.inf
    message = _error(_write(tmp_path, proto.SerializeToString()))
    assert "'map.points'" in message and "polyline index 0 (id 10)" in message


def test_nan_in_invalid_step_is_ignored(tmp_path):
    proto = _proto()
    invalid = [s for s in proto.tracks[1].states if not s.valid]
    invalid[0].center_x = math.nan
    (scenario,) = list(iter_scenarios(_write(tmp_path, proto.SerializeToString())))
    assert np.all(np.isfinite(scenario.agents.position))


def test_empty_scene(tmp_path):
    proto = _proto()
    del proto.tracks[:]
    del proto.tracks_to_predict[:]
    proto.ClearField("sdc_track_index")
    message = _error(_write(tmp_path, proto.SerializeToString()))
    assert "record 0 (scenario 'built0')" in message and "empty scene" in message


@pytest.mark.parametrize("how", ["none listed", "not valid now", "out of range"])
def test_no_valid_target(tmp_path, how):
    proto = _proto()
    del proto.tracks_to_predict[:]
    if how == "not valid now":
        track = proto.tracks[2]
        track.states[proto.current_time_index].Clear()
        track.states[proto.current_time_index].valid = False
        proto.tracks_to_predict.add(track_index=2)
    elif how == "out of range":
        proto.tracks_to_predict.add(track_index=99)
    message = _error(_write(tmp_path, proto.SerializeToString()))
    assert "record 0 (scenario 'built0')" in message and "'target_idx'" in message


def test_state_count_mismatch(tmp_path):
    proto = _proto()
    del proto.tracks[2].states[-1]
    message = _error(_write(tmp_path, proto.SerializeToString()))
    assert "'tracks[2].states' (track id 102)" in message


def test_non_uniform_timestamps(tmp_path):
    proto = _proto()
    proto.timestamps_seconds[5] += 0.05
    assert "'timestamps_seconds'" in _error(_write(tmp_path, proto.SerializeToString()))


def test_skip_mode_loads_the_rest_and_lists_skipped(tmp_path):
    good = [_proto(seed).SerializeToString() for seed in range(3)]
    nan = _proto(7)
    nan.tracks[0].states[0].velocity_y = math.nan
    body = frame_record(good[0]) + frame_record(b"\xff\xff not a scenario") + frame_record(good[1])
    corrupt = bytearray(frame_record(good[2]))
    corrupt[40] ^= 0x01
    path = tmp_path / "mixed.tfrecord"
    path.write_bytes(body + bytes(corrupt) + frame_record(nan.SerializeToString()) + frame_record(good[0]))
    report = LoadReport()
    loaded = list(iter_scenarios(path, skip_errors=True, report=report))
    assert [s.scenario_id for s in loaded] == ["built0", "built1", "built0"]
    assert report.loaded == 3
    assert [(s.record, s.path) for s in report.skipped] == [
        ("1", str(path)),
        ("3", str(path)),
        ("4", str(path)),
    ]
    reasons = [s.reason for s in report.skipped]
    assert "not a waymo.open_dataset.Scenario" in reasons[0]
    assert "bad data checksum" in reasons[1]
    assert "'agents.velocity'" in reasons[2]
    assert "skipped 3" in report.summary()


def test_skip_mode_over_a_directory(tmp_path):
    _write(tmp_path, _proto(0).SerializeToString(), name="a.tfrecord")
    (tmp_path / "b.tfrecord").write_bytes(frame_record(_proto(1).SerializeToString())[:-9])
    _write(tmp_path, _proto(2).SerializeToString(), name="c.tfrecord")
    report = LoadReport()
    ids = [s.scenario_id for s in iter_scenarios(tmp_path, skip_errors=True, report=report)]
    assert ids == ["built0", "built2"]
    assert len(report.skipped) == 1 and report.skipped[0].path.endswith("b.tfrecord")


def test_map_points_without_z_use_the_reference_path(tmp_path):
    proto = _proto()
    for point in proto.map_features[0].lane.polyline:
        point.ClearField("z")
    (scenario,) = list(iter_scenarios(_write(tmp_path, proto.SerializeToString())))
    assert np.array_equal(scenario.map.polyline(0), make_scenario(0).map.polyline(0))


_BASE = None


def _base_payload() -> bytes:
    global _BASE
    if _BASE is None:
        _BASE = womd.scenario_to_proto(make_scenario(5, num_agents=3, num_steps=6)).SerializeToString()
    return _BASE


def _read_all(data: bytes, tmp_path) -> None:
    path = tmp_path / "fuzz.tfrecord"
    path.write_bytes(data)
    try:
        for scenario in iter_scenarios(path):
            scenario.validate()
    except DataError:
        pass


_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_SETTINGS
@given(edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=8))
def test_fuzz_payload_bytes_behind_valid_checksums(edits, tmp_path):
    """Checksums recomputed, so the damage reaches the protobuf parser and the converter."""
    payload = bytearray(_base_payload())
    for position, value in edits:
        payload[position % len(payload)] = value
    _read_all(frame_record(bytes(payload)), tmp_path)


@_SETTINGS
@given(cut=st.integers(0, 10**6), insert=st.binary(max_size=16), flip=st.integers(0, 10**6))
def test_fuzz_framed_file(cut, insert, flip, tmp_path):
    data = bytearray(frame_record(_base_payload()) * 2)
    data[flip % len(data)] ^= 0xFF
    position = cut % len(data)
    _read_all(bytes(data[:position]) + insert + bytes(data[position:]), tmp_path)


@_SETTINGS
@given(data=st.binary(max_size=300))
def test_fuzz_arbitrary_payload(data, tmp_path):
    _read_all(frame_record(data), tmp_path)


def test_fuzz_track_and_point_layout_detection_against_reference():
    """Random single-byte damage to serialized tracks: the fast extractor equals the reference."""
    from waymo_open_dataset.protos import scenario_pb2

    rng = np.random.default_rng(0)
    base = _base_payload()
    checked = 0
    for _ in range(300):
        payload = bytearray(base)
        payload[int(rng.integers(len(payload)))] = int(rng.integers(256))
        try:
            proto = scenario_pb2.Scenario.FromString(bytes(payload))
        except Exception:
            continue
        steps = {len(t.states) for t in proto.tracks}
        if len(steps) != 1:
            continue
        got = womd_wire.track_arrays(proto.tracks, steps.pop())
        expected = womd_wire.track_arrays_reference(proto.tracks)
        for name, values in expected.items():
            assert np.array_equal(got[name], values.astype(got[name].dtype), equal_nan=True), name
        checked += 1
    assert checked > 50
