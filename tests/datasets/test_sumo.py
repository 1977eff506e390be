"""Simulated traffic: geometry helpers on hand-computed cases, FCD conversion, and tiny end-to-end runs
(valid scenes for several seeds, byte-identical files for one seed, read back by the WOMD reader)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from drive.data.schema import AgentType, MapFeatures, MapType
from drive.datasets import iter_scenarios
from drive.datasets import sumo as sumo_sim
from drive.datasets.sumo_network import SignalProgram, crosswalk_polygon, offset_polyline, resample_polyline
from drive.datasets.sumo_scenes import VEHICLE_TYPES, crop_map, read_fcd, sumo_angle_to_heading
from drive.errors import ConfigError
from drive.geometry.se2 import wrap_angle

TINY = {"num_scenes": 6, "scenes_per_run": 2}


def _simulate(out: Path, seed: int, workers: int = 1) -> dict:
    return sumo_sim.simulate(out, sumo_sim.SimulationConfig(seed=seed, **TINY), workers=workers)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Seed 0 twice (one and two worker processes), seeds 1 and 2 once."""
    out = {}
    for name, seed, workers in (("a", 0, 1), ("b", 0, 2), ("s1", 1, 1), ("s2", 2, 1)):
        out[name] = tmp_path_factory.mktemp(f"sim_{name}")
        _simulate(out[name], seed, workers)
    return out


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_sumo_angle_to_heading_hand_values():
    # SUMO: degrees clockwise from north. Ours: radians counter-clockwise from +x, in [-pi, pi).
    got = sumo_angle_to_heading(np.array([0.0, 90.0, 180.0, 270.0, 45.0, 360.0]))
    want = np.array([math.pi / 2, 0.0, -math.pi / 2, -math.pi, math.pi / 4, math.pi / 2])
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_offset_polyline_left_and_right_of_travel():
    line = np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 10.0]])  # east, then north
    left = offset_polyline(line, 1.5)
    np.testing.assert_allclose(left[0], [0.0, 1.5])
    np.testing.assert_allclose(left[-1], [8.5, 10.0])
    np.testing.assert_allclose(left[1], [8.5, 1.5])  # the mitred corner keeps 1.5 m from both legs
    np.testing.assert_allclose(offset_polyline(line, -2.0)[0], [0.0, -2.0])


def test_resample_keeps_vertices_and_bounds_spacing():
    line = np.array([[0.0, 0.0], [3.3, 0.0], [3.3, 0.2]])
    out = resample_polyline(line, 1.0)
    assert np.linalg.norm(np.diff(out, axis=0), axis=-1).max() <= 1.0 + 1e-9
    for vertex in line:
        assert np.min(np.linalg.norm(out - vertex, axis=-1)) < 1e-12


def test_crosswalk_polygon_is_closed_rectangle():
    polygon = crosswalk_polygon(np.array([[0.0, 0.0], [8.0, 0.0]]), 4.0)
    np.testing.assert_allclose(polygon, [[0, 2], [8, 2], [8, -2], [0, -2], [0, 2]])


def test_signal_program_phases_by_time():
    program = SignalProgram(offset_s=0.0, durations_s=np.array([30.0, 3.0, 27.0]), states=("Gr", "yr", "rG"))
    times = np.array([0.0, 29.9, 30.0, 32.9, 33.0, 59.9, 60.0, 92.0])
    np.testing.assert_array_equal(program.state_index(times), [0, 0, 1, 1, 2, 2, 0, 1])


def test_crop_map_trims_to_radius():
    points = np.array([[x, 0.0] for x in range(-50, 51)], np.float32)  # one 100 m lane, 1 m spacing
    road = MapFeatures(
        ids=np.array([7], np.int64),
        types=np.array([MapType.LANE], np.int8),
        subtypes=np.zeros(1, np.int16),
        points=points,
        offsets=np.array([0, len(points)], np.int64),
    )
    cropped = crop_map(road, np.array([20.0, 0.0]), 10.0)
    np.testing.assert_array_equal(cropped.points[:, 0], np.arange(10, 31))
    assert crop_map(road, np.array([0.0, 30.0]), 10.0).num_polylines == 0


def test_crop_map_matches_slow_reference():
    rng = np.random.default_rng(0)
    starts = rng.uniform(-80, 80, (60, 2))
    polylines = [
        s + np.cumsum(rng.normal(0, 4, (int(n), 2)), axis=0) for s, n in zip(starts, rng.integers(1, 30, 60))
    ]
    types = rng.choice([MapType.LANE, MapType.ROAD_LINE, MapType.CROSSWALK], 60).astype(np.int8)
    road = MapFeatures(
        ids=np.arange(100, 160, dtype=np.int64),
        types=types,
        subtypes=np.zeros(60, np.int16),
        points=np.concatenate(polylines).astype(np.float32),
        offsets=np.concatenate([[0], np.cumsum([len(p) for p in polylines])]).astype(np.int64),
    )
    centre, radius = np.array([5.0, -3.0]), 25.0
    want = []
    for m in range(road.num_polylines):
        points = road.polyline(m)
        hits = np.flatnonzero(np.linalg.norm(points - centre.astype(np.float32), axis=-1) <= radius)
        if hits.size:
            whole = road.types[m] == MapType.CROSSWALK
            want.append((road.ids[m], points if whole else points[hits[0] : hits[-1] + 1]))
    got = crop_map(road, centre, radius)
    assert 0 < len(want) < 60 and got.ids.tolist() == [i for i, _ in want]
    for m, (_, points) in enumerate(want):
        np.testing.assert_array_equal(got.polyline(m), points)


def test_read_fcd_moves_vehicle_reference_to_box_centre(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    vehicles = pa.table(
        {
            "timestep_time": [10.0, 10.1, 10.1],
            "vehicle_id": ["v1", "v1", "v2"],
            "vehicle_x": [10.0, 11.0, 0.0],
            "vehicle_y": [0.0, 0.0, 5.0],
            "vehicle_angle": pa.array([90.0, 90.0, 0.0], pa.float32()),
            "vehicle_type": ["car", "car", "bike"],
            "vehicle_speed": pa.array([10.0, 10.0, 4.0], pa.float32()),
        }
    )
    persons = pa.table(
        {
            "timestep_time": [10.0],
            "person_id": ["p0"],
            "person_x": [3.0],
            "person_y": [4.0],
            "person_angle": pa.array([180.0], pa.float32()),
            "person_type": ["DEFAULT_PEDTYPE"],
            "person_speed": pa.array([1.2], pa.float32()),
        }
    )
    pq.write_table(vehicles, tmp_path / "fcd.parquet")
    pq.write_table(persons, tmp_path / "persons.parquet")
    tracks = read_fcd(tmp_path / "fcd.parquet", tmp_path / "persons.parquet", 10.0, 10.2, 0.1)
    car_length, bike_length = VEHICLE_TYPES["car"][1], VEHICLE_TYPES["bike"][1]
    np.testing.assert_array_equal(tracks.types, [AgentType.VEHICLE, AgentType.PEDESTRIAN, AgentType.CYCLIST])
    np.testing.assert_array_equal(tracks.valid, [[True, True], [True, False], [False, True]])
    np.testing.assert_allclose(tracks.position[0], [[10 - car_length / 2, 0], [11 - car_length / 2, 0]])
    np.testing.assert_allclose(tracks.position[2, 1], [0.0, 5 - bike_length / 2], atol=1e-9)
    np.testing.assert_allclose(tracks.position[1, 0], [3.0, 4.0])
    np.testing.assert_allclose(tracks.heading[:2, 0], [0.0, -math.pi / 2])  # east; south


def test_config_rejects_bad_values():
    with pytest.raises(ConfigError, match="num_scenes"):
        sumo_sim.SimulationConfig(num_scenes=2)
    with pytest.raises(ConfigError, match="split_fractions"):
        sumo_sim.SimulationConfig(split_fractions=(0.5, 0.5, 0.0))


def test_same_seed_writes_byte_identical_files(runs):
    a, b = _files(runs["a"]), _files(runs["b"])
    assert set(a) == set(b) and len(a) == 4  # three split files and the manifest
    assert all(a[name] == b[name] for name in a)
    assert _files(runs["s1"])["train/sumo-s1-r0000.tfrecord"] != a["train/sumo-s0-r0000.tfrecord"]


@pytest.mark.parametrize("name", ["a", "s1", "s2"])
def test_scenes_are_valid_womd_like(runs, name):
    manifest = sumo_sim.read_manifest(runs[name])
    scenes = {split: list(iter_scenarios(runs[name] / split)) for split in sumo_sim.SPLITS}
    assert all(len(s) == manifest["splits"][split]["num_scenes"] >= 1 for split, s in scenes.items())
    assert sum(len(s) for s in scenes.values()) == TINY["num_scenes"]
    ids = [s.scenario_id for split in scenes.values() for s in split]
    assert len(set(ids)) == len(ids)
    heading_error, speed_error = [], []
    for scene in (s for split in scenes.values() for s in split):
        _check_scene(scene)
        heading_error.append(_heading_error(scene))
        speed_error.append(_speed_error(scene))
    # Moving vehicles head where they go and report the speed they move at (SUMO reports the body
    # angle, so turns and lane changes leave a small share of larger differences).
    heading_error, speed_error = np.concatenate(heading_error), np.concatenate(speed_error)
    assert heading_error.size > 100
    assert np.median(heading_error) < 0.02 and np.quantile(heading_error, 0.95) < 0.2
    assert np.median(speed_error) < 0.2 and np.quantile(speed_error, 0.95) < 1.0


def _check_scene(scene) -> None:
    agents = scene.agents
    assert (scene.num_steps, scene.current_step, scene.dt_s) == (91, 10, pytest.approx(0.1))
    assert 1 <= len(scene.target_idx) <= 8
    assert agents.valid[scene.target_idx].all()  # targets are observed over the whole window
    # ... and move no further in a step than their speed allows (no teleport jumps).
    target_step = np.linalg.norm(np.diff(agents.position[scene.target_idx], axis=1), axis=-1)
    target_speed = np.linalg.norm(agents.velocity[scene.target_idx], axis=-1)
    assert (target_step <= np.maximum(target_speed[:, 1:], target_speed[:, :-1]) * scene.dt_s + 1.5).all()
    assert agents.types[scene.sdc_idx] == AgentType.VEHICLE and agents.valid[scene.sdc_idx].all()
    assert agents.size[scene.sdc_idx, 0] == VEHICLE_TYPES["car"][1]
    assert np.isfinite(agents.position).all() and np.isfinite(agents.velocity).all()
    assert not agents.position[~agents.valid].any()  # invalid steps are zero-filled
    assert scene.map.num_polylines > 0 and MapType.LANE in set(scene.map.types.tolist())
    if scene.traffic_lights is not None:
        lanes = scene.map.ids[scene.map.types == MapType.LANE]
        assert np.isin(scene.traffic_lights.lane_ids, lanes).all()
        assert set(np.unique(scene.traffic_lights.states).tolist()) <= {4, 5, 6}


def _moving_vehicle_steps(scene) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Displacement ``[A, T-1, 2]``, its speed ``[A, T-1]`` and the mask of vehicle steps above 3 m/s."""
    agents = scene.agents
    delta = agents.position[:, 1:] - agents.position[:, :-1]  # (A, T-1, 2)
    speed = np.linalg.norm(delta, axis=-1) / scene.dt_s
    both = agents.valid[:, 1:] & agents.valid[:, :-1]
    return delta, speed, both & (speed > 3.0) & (agents.types[:, None] == AgentType.VEHICLE)


def _heading_error(scene) -> np.ndarray:
    delta, _, moving = _moving_vehicle_steps(scene)
    heading = scene.agents.heading[:, :-1]
    return np.abs(wrap_angle(np.arctan2(delta[..., 1], delta[..., 0]) - heading))[moving]


def _speed_error(scene) -> np.ndarray:
    _, speed, moving = _moving_vehicle_steps(scene)
    velocity = scene.agents.velocity
    mean_speed = np.linalg.norm(velocity[:, :-1] + velocity[:, 1:], axis=-1) / 2  # (A, T-1)
    return np.abs(mean_speed - speed)[moving]


def test_ensure_simulated_reuses_complete_output(runs, monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("simulated again although the output was complete")

    before = _files(runs["s2"])
    monkeypatch.setattr(sumo_sim, "simulate", fail)
    assert sumo_sim.ensure_simulated(runs["s2"], seed=2, progress=False, **TINY) == runs["s2"]
    assert _files(runs["s2"]) == before
    # A different request is not satisfied by this output.
    assert not sumo_sim.is_complete(runs["s2"], sumo_sim.SimulationConfig(seed=3, **TINY))


def test_simulate_command_keeps_complete_output_and_rejects_bad_counts(runs, tmp_path, capsys):
    from drive.cli import main as cli_main

    args = ["simulate", "--out", str(runs["s2"]), "--seed", "2", "--quiet"]
    args += ["--num-scenes", str(TINY["num_scenes"]), "--scenes-per-run", str(TINY["scenes_per_run"])]
    assert cli_main(args) == 0
    assert "kept" in capsys.readouterr().out
    assert cli_main(["simulate", "--out", str(tmp_path), "--num-scenes", "2"]) == 1
    assert "num_scenes must be >= 3" in capsys.readouterr().err


def test_simulate_command_rejects_bad_out_and_workers(tmp_path, capsys):
    from drive.cli import main as cli_main

    a_file = tmp_path / "scenes.png"
    a_file.write_bytes(b"")
    cases = [
        (["--out", str(a_file)], f"--out: {a_file} is a file"),
        (["--out", str(a_file / "sub")], f"--out: cannot create {a_file / 'sub'}"),
        (["--out", str(tmp_path / "new"), "--workers", "0"], "--workers: must be >= 1, got 0"),
    ]
    for extra, message in cases:
        assert cli_main(["simulate", "--num-scenes", "3", "--quiet", *extra]) == 1
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "new").exists()  # refused before anything is written


def test_signal_states_match_sumo(tmp_path):
    """Signal plans evaluated from the network file equal the states SUMO itself reports."""
    import subprocess
    import xml.etree.ElementTree as ET

    from drive.datasets.sumo_network import read_network
    from drive.datasets.sumo_runs import sumo_home

    binary = sumo_home() / "bin"
    netgenerate = [str(binary / "netgenerate"), "--grid", "--grid.number=3", "--grid.length=100", "-L", "2"]
    subprocess.run(netgenerate + ["--tls.guess", "--seed=3", "-o", "net.net.xml"], cwd=tmp_path, check=True)
    network = read_network(tmp_path / "net.net.xml")
    tls_ids = [logic.get("id") for logic in ET.parse(tmp_path / "net.net.xml").getroot().findall("tlLogic")]
    assert tls_ids and len(network.programs) == len(tls_ids)
    events = "".join(f'<timedEvent type="SaveTLSStates" source="{i}" dest="tls.xml"/>' for i in tls_ids)
    (tmp_path / "tls.add.xml").write_text(f"<additional>{events}</additional>")
    sumo = [str(binary / "sumo"), "-n", "net.net.xml", "-a", "tls.add.xml", "--end", "130"]
    subprocess.run(sumo + ["--step-length", "0.1", "--no-step-log"], cwd=tmp_path, check=True)
    reported = ET.parse(tmp_path / "tls.xml").getroot().findall("tlsState")
    assert len(reported) > 1000
    for row in reported:
        program = network.programs[tls_ids.index(row.get("id"))]
        phase = program.state_index(np.array([float(row.get("time"))]))[0]
        assert program.states[phase] == row.get("state"), row.attrib


@pytest.mark.parametrize(
    ("num_scenes", "per_run", "fractions"),
    [
        (3, 100, (0.8, 0.1, 0.1)),
        (3, 1, (0.1, 0.5, 0.4)),
        (2000, 100, (0.8, 0.1, 0.1)),
        (1001, 7, (0.6, 0.2, 0.2)),
    ],
)
def test_plan_runs_covers_every_split_and_quota(num_scenes, per_run, fractions):
    config = sumo_sim.SimulationConfig(
        num_scenes=num_scenes, scenes_per_run=per_run, split_fractions=fractions
    )
    plans = sumo_sim.plan_runs(config)
    assert sum(p.num_scenes for p in plans) == num_scenes
    assert all(p.num_scenes >= 1 for p in plans)
    assert {p.split for p in plans} == set(sumo_sim.SPLITS)
    assert [p.run_index for p in plans] == list(range(len(plans)))


def test_scene_config_rejects_bad_values():
    from drive.datasets.sumo_scenes import SceneConfig

    with pytest.raises(ConfigError, match="agent_radius_m"):
        SceneConfig(agent_radius_m=0.0)
    with pytest.raises(ConfigError, match="max_targets"):
        SceneConfig(max_targets=0)
    with pytest.raises(ConfigError, match="min_travel_m"):
        SceneConfig(min_travel_m=-1.0)


def test_simulated_scene_renders_through_drive_viz(runs, tmp_path, capsys):
    from drive.cli import main as cli_main
    from drive.viz import figure_pixels, render_figure
    from tests.viz.test_figure import agent_box_count, differing_fraction

    scene = next(iter_scenarios(runs["a"] / "train"))
    figure, summary = render_figure(scene, size_px=300)
    expected = int(scene.agents.valid[:, scene.current_step].sum())
    assert summary.num_agents_drawn == expected == agent_box_count(figure) > 0
    assert summary.num_map_features_drawn > 0 and differing_fraction(figure_pixels(figure)) > 0.01
    out = tmp_path / "sim.png"
    argv = ["viz", str(runs["a"] / "train"), "--baseline", "constant_velocity", "--size", "300"]
    assert cli_main([*argv, "--out", str(out)]) == 0
    assert out.stat().st_size > 0 and f"({expected} agents" in capsys.readouterr().out


def test_simulated_scenes_hold_what_the_guide_promises(runs):
    """Across seeds: pedestrians next to vehicles, crosswalks, lane markings between lanes of one road
    (several lanes), and signalised junctions."""
    scenes = [
        s
        for name in ("a", "s1", "s2")
        for split in sumo_sim.SPLITS
        for s in iter_scenarios(runs[name] / split)
    ]
    types = np.concatenate([s.agents.types for s in scenes])
    map_types = np.concatenate([s.map.types for s in scenes])
    assert (types == AgentType.VEHICLE).any() and (types == AgentType.PEDESTRIAN).any()
    assert {MapType.LANE, MapType.ROAD_LINE, MapType.ROAD_EDGE, MapType.CROSSWALK} <= set(map_types.tolist())
    assert any(s.traffic_lights is not None and s.traffic_lights.valid.any() for s in scenes)
    # Several lanes: some lane centre has a neighbour running alongside it about one lane width away.
    assert any(_has_parallel_lanes(s) for s in scenes)


def _has_parallel_lanes(scene, lane_width_m=(2.5, 4.5)) -> bool:
    road = scene.map
    lanes = [road.polyline(i) for i in np.flatnonzero(road.types == MapType.LANE)]
    mids = [
        (p[len(p) // 2], p[min(len(p) // 2 + 1, len(p) - 1)] - p[len(p) // 2]) for p in lanes if len(p) > 2
    ]
    for i, (a, da) in enumerate(mids):
        for b, db in mids[i + 1 :]:
            cos = float(da @ db) / (np.linalg.norm(da) * np.linalg.norm(db) + 1e-9)
            gap = np.linalg.norm(b - a)
            # side by side: the gap between the lanes is across the direction of travel, not along it
            across = abs(float(da[0] * (b - a)[1] - da[1] * (b - a)[0])) / (np.linalg.norm(da) * gap + 1e-9)
            if cos > 0.99 and across > 0.95 and lane_width_m[0] < gap < lane_width_m[1]:
                return True
    return False
