"""Scenario -> WOMD ``Scenario`` protos and TFRecord files, the inverse of :mod:`drive.datasets.womd`.

``scenario_from_proto(scenario_to_proto(s))`` equals ``s`` for any scenario the reader can produce
(float32 values, polygons closed, traffic-light lanes sorted by id). Records use WOMD's own byte
layout (valid states with all fields and ``center_z = 0``, invalid states with ``center_z`` and
``valid`` only, map points with ``z = 0``), so the reader's fast path applies to written files and
other WOMD tools read them.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from drive.data.schema import AgentType, MapType, Scenario
from drive.datasets.tfrecord import write_records
from drive.errors import DataError

# AgentType -> WOMD Track.ObjectType
_OBJECT_TYPE = {AgentType.VEHICLE: 1, AgentType.PEDESTRIAN: 2, AgentType.CYCLIST: 3, AgentType.OTHER: 4}
_MAP_FIELD = {
    MapType.LANE: ("lane", "polyline"),
    MapType.ROAD_LINE: ("road_line", "polyline"),
    MapType.ROAD_EDGE: ("road_edge", "polyline"),
    MapType.STOP_SIGN: ("stop_sign", None),
    MapType.CROSSWALK: ("crosswalk", "polygon"),
    MapType.SPEED_BUMP: ("speed_bump", "polygon"),
    MapType.DRIVEWAY: ("driveway", "polygon"),
}
_INT32 = (-(2**31), 2**31 - 1)


def scenario_to_proto(scenario: Scenario):
    """A ``waymo.open_dataset.Scenario`` proto holding ``scenario`` (see module docstring)."""
    from waymo_open_dataset.protos import scenario_pb2

    proto = scenario_pb2.Scenario(scenario_id=scenario.scenario_id)
    proto.timestamps_seconds.extend((np.arange(scenario.num_steps) * scenario.dt_s).tolist())
    proto.current_time_index = scenario.current_step
    if scenario.sdc_idx is not None:
        proto.sdc_track_index = scenario.sdc_idx
    for index in scenario.target_idx.tolist():
        proto.tracks_to_predict.add(track_index=index)
    try:
        _write_tracks(proto, scenario)
        _write_map(proto, scenario)
        _write_traffic_lights(proto, scenario)
    except DataError:
        raise
    except (ValueError, TypeError) as err:  # e.g. a subtype or light state outside WOMD's enums
        raise DataError(f"{scenario.where}: cannot be written as a WOMD Scenario: {err}") from err
    return proto


def _write_tracks(proto, scenario: Scenario) -> None:
    agents = scenario.agents
    ids = agents.ids.astype(np.int64)
    if ids.size and (ids.min() < _INT32[0] or ids.max() > _INT32[1]):
        raise DataError(f"{scenario.where}: field 'agents.ids': WOMD track ids are int32, got {ids.tolist()}")
    x, y = agents.position[..., 0].tolist(), agents.position[..., 1].tolist()
    vx, vy = agents.velocity[..., 0].tolist(), agents.velocity[..., 1].tolist()
    heading, valid = agents.heading.tolist(), agents.valid.tolist()
    for a in range(agents.num_agents):
        track = proto.tracks.add(id=int(ids[a]), object_type=_OBJECT_TYPE[AgentType(int(agents.types[a]))])
        length, width, height = agents.size[a].tolist()
        for t in range(agents.num_steps):
            if valid[a][t]:
                track.states.add(
                    center_x=x[a][t], center_y=y[a][t], center_z=0.0, length=length, width=width,
                    height=height, heading=heading[a][t], velocity_x=vx[a][t], velocity_y=vy[a][t],
                    valid=True,
                )  # fmt: skip
            else:
                track.states.add(center_z=0.0, valid=False)


def _write_map(proto, scenario: Scenario) -> None:
    road = scenario.map
    offsets = road.offsets.tolist()
    points = road.points.tolist()
    for m in range(road.num_polylines):
        map_type = MapType(int(road.types[m]))
        kind, field_name = _MAP_FIELD[map_type]
        feature = proto.map_features.add(id=int(road.ids[m]))
        message = getattr(feature, kind)
        polyline = points[offsets[m] : offsets[m + 1]]
        if field_name is None:
            if len(polyline) != 1:
                raise DataError(
                    f"{scenario.where}: field 'map.points': stop sign id {int(road.ids[m])} must be one "
                    f"point, got {len(polyline)}"
                )
            message.position.x, message.position.y, message.position.z = polyline[0][0], polyline[0][1], 0.0
            continue
        if kind in ("lane", "road_line", "road_edge"):
            message.type = int(road.subtypes[m])
        elif len(polyline) >= 3 and polyline[0] == polyline[-1]:
            polyline = polyline[:-1]  # WOMD polygons are implicitly closed; the reader closes them again
        repeated = getattr(message, field_name)
        for px, py in polyline:
            repeated.add(x=px, y=py, z=0.0)


def _write_traffic_lights(proto, scenario: Scenario) -> None:
    lights = scenario.traffic_lights
    if lights is None:
        return
    lane_ids = lights.lane_ids.tolist()
    for t in range(scenario.num_steps):
        step = proto.dynamic_map_states.add()
        for lane in np.flatnonzero(lights.valid[t]).tolist():
            state = step.lane_states.add(lane=lane_ids[lane], state=int(lights.states[t, lane]))
            sx, sy = lights.stop_point[t, lane].tolist()
            state.stop_point.x, state.stop_point.y, state.stop_point.z = sx, sy, 0.0


def write_scenarios(path: str | Path, scenarios: Iterable[Scenario]) -> int:
    """Write ``scenarios`` as one WOMD Scenario TFRecord file at ``path`` (atomic). Returns the count."""
    return write_records(path, (scenario_to_proto(s).SerializeToString() for s in scenarios))
