"""SUMO floating-car data (FCD) -> dense tracks -> WOMD-like :class:`Scenario` windows.

Glossary: N objects in a simulation run, S recorded steps, A agents in a scene, T = 91 steps per scene.
SUMO reports a vehicle's front-bumper centre and its angle in degrees clockwise from north; tracks
hold the box centre and the heading in radians counter-clockwise from +x, wrapped to [-pi, pi).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drive.data.schema import AgentTracks, AgentType, MapFeatures, MapType, Scenario, TrafficLights
from drive.datasets.sumo_network import RoadNetwork
from drive.errors import ConfigError, DataError

# SUMO vType id -> (agent type, length, width, height in m). sumo.py writes the same sizes into the
# vType definitions, so boxes here match what SUMO simulated.
VEHICLE_TYPES: dict[str, tuple[AgentType, float, float, float]] = {
    "car": (AgentType.VEHICLE, 4.6, 1.8, 1.5),
    "truck": (AgentType.VEHICLE, 7.5, 2.4, 3.2),
    "bus": (AgentType.VEHICLE, 12.0, 2.5, 3.4),
    "bike": (AgentType.CYCLIST, 1.7, 0.65, 1.7),
}
PEDESTRIAN_SIZE_M = (0.4, 0.5, 1.75)
# The self-driving car is a car, as in recorded data, not a truck or bus.
SDC_MAX_LENGTH_M = 6.0
JUMP_TOLERANCE_M = 1.5


@dataclass(frozen=True)
class SceneConfig:
    """How scenes are cut from a run. Defaults follow WOMD: 10 Hz, 11 history steps (incl. current), 80
    future steps."""

    dt_s: float = 0.1
    history_steps: int = 11
    future_steps: int = 80
    agent_radius_m: float = 75.0
    map_radius_m: float = 80.0
    max_agents: int = 128
    max_targets: int = 8
    window_stride_s: float = 5.0
    scenes_per_window: int = 3
    sdc_separation_m: float = 60.0
    min_travel_m: float = 2.0

    def __post_init__(self) -> None:
        positive = ("dt_s", "agent_radius_m", "map_radius_m", "window_stride_s")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ConfigError(f"SceneConfig.{name} must be > 0, got {getattr(self, name)}")
        for name in ("sdc_separation_m", "min_travel_m"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"SceneConfig.{name} must be >= 0, got {getattr(self, name)}")
        at_least_one = ("history_steps", "future_steps", "max_agents", "max_targets", "scenes_per_window")
        for name in at_least_one:
            if getattr(self, name) < 1:
                raise ConfigError(f"SceneConfig.{name} must be >= 1, got {getattr(self, name)}")

    @property
    def num_steps(self) -> int:
        return self.history_steps + self.future_steps


@dataclass(frozen=True)
class RunTracks:
    """All objects of one run on the recording grid: times_s ``[S]``; types ``[N]`` int8; size
    ``[N, 3]``; position ``[N, S, 2]``; heading ``[N, S]``; speed ``[N, S]``; valid ``[N, S]``."""

    times_s: np.ndarray
    types: np.ndarray
    size: np.ndarray
    position: np.ndarray
    heading: np.ndarray
    speed: np.ndarray
    valid: np.ndarray


def sumo_angle_to_heading(angle_deg: np.ndarray) -> np.ndarray:
    """SUMO angle (degrees clockwise from north) -> heading (radians counter-clockwise from +x) in
    [-pi, pi)."""
    # numpy here rather than drive.geometry: simulation workers should not pay for importing torch.
    return np.remainder(np.deg2rad(90.0 - np.asarray(angle_deg, np.float64)) + np.pi, 2 * np.pi) - np.pi


def _read_table(path: Path, prefix: str) -> dict[str, np.ndarray] | None:
    """One FCD parquet file (``vehicle_*`` or ``person_*`` columns) as arrays over its R rows: ``time``,
    ``x``, ``y``, ``angle``, ``speed`` ``[R]``; ``id`` and ``type`` as integer codes ``[R]`` into
    ``id_names`` / ``type_names`` (dictionary encoding: much faster than comparing strings)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    if not path.exists() or path.stat().st_size == 0:
        return None
    table = pq.read_table(path)
    out = {"time": table.column("timestep_time").to_numpy()}
    for name in ("x", "y", "angle", "speed"):
        out[name] = table.column(f"{prefix}_{name}").to_numpy().astype(np.float64)
    for name in ("id", "type"):
        encoded = pc.dictionary_encode(table.column(f"{prefix}_{name}")).combine_chunks()
        out[name] = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        out[f"{name}_names"] = np.array(encoded.dictionary.to_pylist(), dtype=object)
    return out


def _concatenate(tables: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Rows of several tables; id and type codes shifted so each table's codes stay distinct."""
    out = {key: np.concatenate([t[key] for t in tables]) for key in ("time", "x", "y", "angle", "speed")}
    for name in ("id", "type"):
        base = np.cumsum([0] + [len(t[f"{name}_names"]) for t in tables[:-1]])
        out[name] = np.concatenate([t[name] + shift for t, shift in zip(tables, base)])
        out[f"{name}_names"] = np.concatenate([t[f"{name}_names"] for t in tables])
    return out


def read_fcd(vehicle_path: Path, person_path: Path, begin_s: float, end_s: float, dt_s: float) -> RunTracks:
    """Dense tracks from SUMO's parquet FCD outputs for steps in [begin_s, end_s)."""
    num_steps = int(round((end_s - begin_s) / dt_s))
    tables = [_read_table(vehicle_path, "vehicle"), _read_table(person_path, "person")]
    tables = [t for t in tables if t is not None]
    if not tables:
        raise DataError(f"{vehicle_path}: the simulation recorded no vehicle or person")
    rows = _concatenate(tables)
    step = np.rint((rows["time"] - begin_s) / dt_s).astype(np.int64)
    keep = (step >= 0) & (step < num_steps)
    step = step[keep]
    names, kinds = rows["id"][keep], rows["type"][keep]
    xy = np.stack([rows["x"][keep], rows["y"][keep]], -1)
    angle, speed = rows["angle"][keep], rows["speed"][keep]
    num_names = len(rows["id_names"])
    # Objects numbered by the step they first appear at, then by SUMO's (fixed) output order.
    first_row = np.full(num_names, np.iinfo(np.int64).max)
    np.minimum.at(first_row, names, np.arange(len(names)))
    seen = np.flatnonzero(first_row < np.iinfo(np.int64).max)
    order = seen[np.lexsort((first_row[seen], step[first_row[seen]]))]
    rank = np.zeros(num_names, np.int64)
    rank[order] = np.arange(len(order))
    object_idx = rank[names]
    num_objects = len(order)
    types = np.full(num_objects, int(AgentType.PEDESTRIAN), np.int8)
    size = np.tile(np.array(PEDESTRIAN_SIZE_M, np.float64), (num_objects, 1))
    for code, name in enumerate(rows["type_names"]):
        if name in VEHICLE_TYPES:
            agent_type, length, width, height = VEHICLE_TYPES[name]
            members = np.unique(object_idx[kinds == code])
            types[members] = int(agent_type)
            size[members] = (length, width, height)
    heading = sumo_angle_to_heading(angle)
    centre = xy - size[object_idx, :1] / 2 * np.stack([np.cos(heading), np.sin(heading)], -1)
    is_person = types[object_idx] == AgentType.PEDESTRIAN
    centre[is_person] = xy[is_person]  # a person's reported position is already its centre
    position = np.zeros((num_objects, num_steps, 2))
    heading_grid = np.zeros((num_objects, num_steps))
    speed_grid = np.zeros((num_objects, num_steps))
    valid = np.zeros((num_objects, num_steps), bool)
    position[object_idx, step] = centre
    heading_grid[object_idx, step] = heading
    speed_grid[object_idx, step] = speed
    valid[object_idx, step] = True
    times_s = begin_s + dt_s * np.arange(num_steps)
    return RunTracks(times_s, types, size, position, heading_grid, speed_grid, valid)


def _predictable(position: np.ndarray, speed: np.ndarray, dt_s: float, min_travel_m: float) -> np.ndarray:
    """Which fully observed tracks (``position [N, T, 2]``, ``speed [N, T]``) make sensible targets
    ``[N]``: they move at least ``min_travel_m`` from their first point and never jump, i.e. no step
    is longer than the reported speed allows (plus ``JUMP_TOLERANCE_M``). Jumps come from SUMO
    teleporting stuck pedestrians and from abrupt body-angle changes at sharp junction corners."""
    travel = np.linalg.norm(position - position[:, :1], axis=-1).max(axis=-1)  # (N,)
    step = np.linalg.norm(np.diff(position, axis=1), axis=-1)  # (N, T-1)
    allowed = np.maximum(speed[:, 1:], speed[:, :-1]) * dt_s + JUMP_TOLERANCE_M
    return (travel >= min_travel_m) & (step <= allowed).all(axis=1)


def pick_sdcs(tracks: RunTracks, window: slice, config: SceneConfig, rng: np.random.Generator) -> list[int]:
    """Up to ``scenes_per_window`` cars (vehicles shorter than ``SDC_MAX_LENGTH_M``) valid over the whole
    window, moving without jumps, and at least ``sdc_separation_m`` apart at the current step."""
    full = tracks.valid[:, window].all(axis=1)
    is_car = (tracks.types == AgentType.VEHICLE) & (tracks.size[:, 0] < SDC_MAX_LENGTH_M)
    candidates = np.flatnonzero(full & is_car)
    position, speed = tracks.position[candidates, window], tracks.speed[candidates, window]
    candidates = candidates[_predictable(position, speed, config.dt_s, config.min_travel_m)]
    current = window.start + config.history_steps - 1
    chosen: list[int] = []
    for index in rng.permutation(candidates):
        here = tracks.position[index, current]
        if all(np.linalg.norm(here - tracks.position[c, current]) >= config.sdc_separation_m for c in chosen):
            chosen.append(int(index))
            if len(chosen) == config.scenes_per_window:
                break
    return chosen


def crop_map(road_map: MapFeatures, centre: np.ndarray, radius_m: float) -> MapFeatures:
    """Polylines reaching within ``radius_m`` of ``centre [2]``, each trimmed to the stretch from its
    first to its last point inside that radius; crosswalk polygons are kept whole."""
    inside = np.linalg.norm(road_map.points - centre.astype(np.float32), axis=-1) <= radius_m  # (P_total,)
    begin, end = road_map.offsets[:-1], road_map.offsets[1:]  # (M,)
    index = np.arange(len(inside))
    first = np.minimum.reduceat(np.where(inside, index, len(inside)), begin)  # (M,)
    last = np.maximum.reduceat(np.where(inside, index, -1), begin)  # (M,)
    keep = first < end
    whole = road_map.types == MapType.CROSSWALK
    first = np.where(whole, begin, first)[keep]
    last = np.where(whole, end - 1, last)[keep]
    lengths = last - first + 1
    rows = np.repeat(first - np.cumsum(np.concatenate([[0], lengths[:-1]])), lengths) + np.arange(
        lengths.sum()
    )
    return MapFeatures(
        ids=road_map.ids[keep],
        types=road_map.types[keep],
        subtypes=road_map.subtypes[keep],
        points=road_map.points[rows],
        offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
    )


def _signals(network: RoadNetwork, road_map: MapFeatures, times_s: np.ndarray) -> TrafficLights | None:
    lanes = np.flatnonzero(np.isin(network.signal_lane_ids, road_map.ids))
    if lanes.size == 0:
        return None
    num_steps = len(times_s)
    states = network.signal_states(times_s)[:, lanes]
    return TrafficLights(
        lane_ids=network.signal_lane_ids[lanes],
        states=states,
        stop_point=np.broadcast_to(network.signal_stop_points[lanes], (num_steps, lanes.size, 2)).copy(),
        valid=np.ones((num_steps, lanes.size), bool),
    )


def make_scene(
    tracks: RunTracks,
    network: RoadNetwork,
    window: slice,
    sdc: int,
    config: SceneConfig,
    rng: np.random.Generator,
    scenario_id: str,
    extras: dict,
) -> Scenario:
    """The scene around vehicle ``sdc`` over ``window`` (``config.num_steps`` recorded steps)."""
    current = config.history_steps - 1
    valid = tracks.valid[:, window]  # (N, T)
    position = tracks.position[:, window]  # (N, T, 2)
    centre = position[sdc, current]
    distance = np.where(valid, np.linalg.norm(position - centre, axis=-1), np.inf).min(axis=1)  # (N,)
    members = np.flatnonzero(distance <= config.agent_radius_m)
    members = members[np.lexsort((members, distance[members]))][: config.max_agents]  # nearest first
    valid = valid[members]
    heading = np.where(valid, tracks.heading[members, window], 0.0)
    speed = np.where(valid, tracks.speed[members, window], 0.0)
    velocity = speed[..., None] * np.stack([np.cos(heading), np.sin(heading)], -1)
    agents = AgentTracks(
        ids=members.astype(np.int64),
        types=tracks.types[members],
        position=np.where(valid[..., None], position[members], 0.0).astype(np.float32),
        heading=heading.astype(np.float32),
        velocity=velocity.astype(np.float32),
        size=tracks.size[members].astype(np.float32),
        valid=valid,
    )
    sdc_idx = int(np.flatnonzero(members == sdc)[0])
    full = np.flatnonzero(valid.all(axis=1))
    candidates = full[_predictable(agents.position[full], speed[full], config.dt_s, config.min_travel_m)]
    # pick_sdcs judged the SDC on float64 positions; keep it a candidate whatever float32 rounding says.
    candidates = np.union1d(candidates, [sdc_idx])
    targets = np.sort(rng.permutation(candidates)[: config.max_targets])
    road_map = crop_map(network.map, centre, config.map_radius_m)
    return Scenario(
        scenario_id=scenario_id,
        source="sumo",
        dt_s=config.dt_s,
        current_step=current,
        agents=agents,
        target_idx=targets.astype(np.int64),
        map=road_map,
        sdc_idx=sdc_idx,
        traffic_lights=_signals(network, road_map, tracks.times_s[window]),
        extras=extras,
    )


def cut_scenes(
    tracks: RunTracks,
    network: RoadNetwork,
    config: SceneConfig,
    rng: np.random.Generator,
    max_scenes: int,
    id_prefix: str,
    extras: dict,
) -> list[Scenario]:
    """Up to ``max_scenes`` scenes from consecutive windows ``window_stride_s`` apart."""
    stride = max(1, int(round(config.window_stride_s / config.dt_s)))
    scenes: list[Scenario] = []
    for start in range(0, tracks.valid.shape[1] - config.num_steps + 1, stride):
        window = slice(start, start + config.num_steps)
        for sdc in pick_sdcs(tracks, window, config, rng):
            if len(scenes) == max_scenes:
                return scenes
            scene_extras = {**extras, "start_time_s": round(float(tracks.times_s[start]), 3)}
            scene_id = f"{id_prefix}-t{start:05d}-a{sdc:04d}"
            scenes.append(make_scene(tracks, network, window, sdc, config, rng, scene_id, scene_extras))
    return scenes
