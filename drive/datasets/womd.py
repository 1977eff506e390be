"""Waymo Open Motion Dataset: Scenario TFRecords -> :class:`~drive.data.schema.Scenario`.

Reads the ``waymo.open_dataset.Scenario`` records of WOMD's ``scenario/`` shards (the ``tf_example/``
shards are a different format and are refused with a message saying so). TensorFlow is not needed:
records are framed by :mod:`drive.datasets.tfrecord` and parsed with the protobuf classes that
``waymo-open-dataset-tf`` ships.

What is kept, per field of the proto:

- tracks: id, object type, ``center_x/center_y``, heading (wrapped to [-pi, pi)), ``velocity_x/y``,
  ``valid``; the box ``length/width/height`` is one size per agent (schema ``size [A, 3]``), taken at
  the current step, or at the valid step nearest to it. Invalid steps are zero-filled.
- map features: lane (subtype ``LaneCenter.type``), road_line (``RoadLine.type``), road_edge
  (``RoadEdge.type``), stop_sign (a one-point polyline at its position), crosswalk / speed_bump /
  driveway (polygons, closed by repeating the first point). Features with no points are dropped and
  counted in ``extras["womd_empty_map_features"]``.
- ``dynamic_map_states`` -> :class:`TrafficLights` (lanes sorted by id, state codes, stop points,
  valid where the lane has a state at that step); ``tracks_to_predict`` -> ``target_idx``;
  ``sdc_track_index``; ``current_time_index``; ``dt_s`` from ``timestamps_seconds`` (rounded to 1 ms:
  WOMD steps are 0.10002 s apart in the records, 0.1 s nominal).

Dropped: every ``z`` (track ``center_z``, map point ``z``), the per-step variation of box sizes,
lane speed limits, ``interpolating``, lane connectivity (entry/exit lanes, neighbours, boundaries),
the lanes a stop sign controls, ``tracks_to_predict`` difficulty, ``objects_of_interest``, and the
lidar / camera-token fields of the v1.2+ release.

Positions are stored as float32 (WOMD's global coordinates are within ~10 km of the origin, where a
float32 step is below 1 mm).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from drive.data.schema import (
    MAP_TYPE_NAMES,
    AgentTracks,
    AgentType,
    MapType,
    Scenario,
)
from drive.datasets import womd_wire
from drive.datasets.base import LoadReport
from drive.datasets.tfrecord import header_is_valid, iter_indexed_records
from drive.datasets.womd_map import map_features, traffic_lights
from drive.datasets.womd_write import scenario_to_proto, write_scenarios
from drive.errors import ConfigError, DataError

SOURCE = "womd"
# WOMD Track.ObjectType (0 unset, 1 vehicle, 2 pedestrian, 3 cyclist, 4 other) -> AgentType.
_AGENT_TYPE = np.array([AgentType.OTHER, AgentType.VEHICLE, AgentType.PEDESTRIAN, AgentType.CYCLIST,
                        AgentType.OTHER], np.int8)  # fmt: skip


def _scenario_pb2():
    try:
        from waymo_open_dataset.protos import scenario_pb2
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "reading WOMD needs the Scenario protos of waymo-open-dataset-tf; install them with "
            "`pip install --no-deps waymo-open-dataset-tf-2-12-0==1.6.7` (scripts/install.sh does)"
        ) from err
    return scenario_pb2


def tfrecord_files(path: str | Path) -> list[Path]:
    """The TFRecord files of ``path``: itself, or those under a directory (recursively, sorted)."""
    path = Path(path)
    if path.is_dir():
        return sorted(p for p in path.rglob("*.tfrecord*") if p.is_file() and not p.name.startswith("."))
    return [path]


def detect(path: Path) -> bool:
    """A ``*.tfrecord*`` file, any file that starts with a valid TFRecord header, or a directory
    holding ``*.tfrecord*`` files."""
    path = Path(path)
    if path.is_dir():
        return bool(tfrecord_files(path))
    if ".tfrecord" in path.name:
        return True
    try:
        with open(path, "rb") as handle:
            return header_is_valid(handle.read(12))
    except OSError:
        return False


def iter_scenarios(
    path: str | Path, *, skip_errors: bool = False, report: LoadReport | None = None, **options
) -> Iterator[Scenario]:
    """Scenarios of a WOMD Scenario TFRecord file or a directory of them (see module docstring)."""
    if options:
        raise ConfigError(f"womd reader options: got {sorted(options)}; allowed: none")
    for file in tfrecord_files(path):
        for index, payload in iter_indexed_records(file, skip_errors=skip_errors, report=report):
            try:
                scenario = scenario_from_bytes(payload, f"{file}: record {index}")
            except DataError as err:
                if not skip_errors:
                    raise
                if report is not None:
                    report.skip(str(file), str(index), _without_prefix(err, f"{file}: record {index}"))
                continue
            if report is not None:
                report.loaded += 1
            yield scenario


def _without_prefix(error: DataError, where: str) -> DataError:
    """The error without the file/record prefix, which the skip report lists in its own columns."""
    return DataError(str(error).removeprefix(where).lstrip(": "))


def scenario_from_bytes(payload: bytes, where: str) -> Scenario:
    """Parse one serialized ``Scenario`` record; ``where`` names it in errors (file and record)."""
    scenario_pb2 = _scenario_pb2()
    try:
        proto = scenario_pb2.Scenario.FromString(payload)
    except Exception as err:  # DecodeError in practice; caught broadly so no parser error escapes raw
        raise DataError(
            f"{where}: not a waymo.open_dataset.Scenario record ({type(err).__name__}: {err}); WOMD's "
            "tf_example/ shards are a different format, use the scenario/ shards"
        ) from err
    if not proto.scenario_id and not proto.tracks and not proto.timestamps_seconds:
        raise DataError(f"{where}: not a waymo.open_dataset.Scenario record (no id, tracks or timestamps)")
    return scenario_from_proto(proto, where)


def scenario_from_proto(proto, where: str) -> Scenario:
    """Convert a ``scenario_pb2.Scenario``; errors name ``where``, the scenario id and the field."""
    where = f"{where} (scenario {proto.scenario_id!r})" if where else f"scenario {proto.scenario_id!r}"
    timestamps = np.asarray(proto.timestamps_seconds, np.float64)
    dt_s = _step_seconds(timestamps, where)
    agents = _agent_tracks(proto, timestamps.size, where)
    road, num_empty = map_features(proto)
    extras = {"womd_empty_map_features": num_empty} if num_empty else {}
    try:
        return Scenario(
            scenario_id=proto.scenario_id,
            source=SOURCE,
            dt_s=dt_s,
            current_step=int(proto.current_time_index),
            agents=agents,
            target_idx=np.asarray([r.track_index for r in proto.tracks_to_predict], np.int64),
            map=road,
            sdc_idx=int(proto.sdc_track_index) if proto.HasField("sdc_track_index") else None,
            traffic_lights=traffic_lights(proto, timestamps.size, where),
            extras=extras,
        )
    except DataError as err:
        raise DataError(f"{where}: {err}") from None


def _step_seconds(timestamps: np.ndarray, where: str) -> float:
    if timestamps.size < 2:
        raise DataError(f"{where}: field 'timestamps_seconds': need >= 2 timestamps, got {timestamps.size}")
    step = np.diff(timestamps)
    if not np.all(np.isfinite(step)) or np.any(step <= 0):
        raise DataError(f"{where}: field 'timestamps_seconds': must be finite and strictly increasing")
    dt_s = round(float(np.median(step)), 3)
    if dt_s <= 0 or np.max(np.abs(step - dt_s)) > 0.1 * dt_s:
        raise DataError(
            f"{where}: field 'timestamps_seconds': steps must be uniform, got {step.min():.4f}.."
            f"{step.max():.4f} s"
        )
    return dt_s


def _agent_tracks(proto, num_steps: int, where: str) -> AgentTracks:
    tracks = proto.tracks
    for index, track in enumerate(tracks):
        if len(track.states) != num_steps:
            raise DataError(
                f"{where}: field 'tracks[{index}].states' (track id {track.id}): {len(track.states)} "
                f"states, expected one per timestamp ({num_steps})"
            )
    columns = womd_wire.track_arrays(tracks, num_steps)
    valid = columns["valid"]  # (A, T)
    # Values beyond float32 become inf here and are reported by Scenario.validate where they matter.
    with np.errstate(over="ignore", invalid="ignore"):
        position = np.stack([columns["x"], columns["y"]], -1).astype(np.float32)  # (A, T, 2)
        velocity = np.stack([columns["velocity_x"], columns["velocity_y"]], -1).astype(np.float32)
        heading = wrap_heading_f32(columns["heading"])  # (A, T)
        size = np.stack([columns["length"], columns["width"], columns["height"]], -1).astype(np.float32)
    return AgentTracks(
        ids=np.fromiter((t.id for t in tracks), np.int64, len(tracks)),
        types=_AGENT_TYPE[np.fromiter((t.object_type for t in tracks), np.int64, len(tracks))],
        position=np.where(valid[..., None], position, 0.0).astype(np.float32),
        heading=np.where(valid, heading, 0.0).astype(np.float32),
        velocity=np.where(valid[..., None], velocity, 0.0).astype(np.float32),
        size=_size_near_current(size, valid, int(proto.current_time_index)),
        valid=valid,
    )


def wrap_heading_f32(heading_rad: np.ndarray) -> np.ndarray:
    """Headings as float32 in [-pi, pi) (float32's own pi bounds). Values already in range are kept
    bit for bit, so reading what :func:`write_scenarios` wrote gives the same headings."""
    low, high = np.float32(-math.pi), np.float32(math.pi)
    heading = np.asarray(heading_rad, np.float32)
    wrapped = (np.remainder(np.asarray(heading_rad, np.float64) + math.pi, 2 * math.pi) - math.pi).astype(
        np.float32
    )
    wrapped = np.where(wrapped >= high, low, wrapped)
    return np.where((heading >= low) & (heading < high), heading, wrapped).astype(np.float32)


def _size_near_current(size: np.ndarray, valid: np.ndarray, current: int) -> np.ndarray:
    """Box ``[A, 3]`` from ``size [A, T, 3]`` at the valid step nearest ``current`` (zeros if none)."""
    num_agents, num_steps = valid.shape
    if num_agents == 0:
        return np.zeros((0, 3), np.float32)
    distance = np.abs(np.arange(num_steps) - current)[None, :] + np.where(valid, 0, 2 * num_steps + 1)
    step = np.argmin(distance, axis=1)  # (A,) ties go to the earlier step
    chosen = size[np.arange(num_agents), step]
    return np.where(valid.any(axis=1)[:, None], chosen, 0.0).astype(np.float32)


def map_features_by_type(scenario: Scenario) -> dict[str, int]:
    """Map feature counts keyed by WOMD's own lower-case type names (all seven, zeros included)."""
    counts = np.bincount(scenario.map.types.astype(np.int64), minlength=len(MapType))
    return {name: int(c) for name, c in zip(MAP_TYPE_NAMES, counts)}


__all__ = [
    "SOURCE",
    "detect",
    "iter_scenarios",
    "map_features_by_type",
    "scenario_from_bytes",
    "scenario_from_proto",
    "scenario_to_proto",
    "tfrecord_files",
    "write_scenarios",
]
