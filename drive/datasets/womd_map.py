"""WOMD map features and traffic-light states -> :class:`MapFeatures` and :class:`TrafficLights`.

See :mod:`drive.datasets.womd` for what is kept and dropped.
"""

from __future__ import annotations

import numpy as np

from drive.data.schema import MapFeatures, MapType, TrafficLights
from drive.datasets import womd_wire
from drive.errors import DataError

# map feature oneof name -> (MapType, repeated MapPoint field number, has a subtype ``type`` field)
MAP_KINDS = {
    "lane": (MapType.LANE, 8, True),
    "road_line": (MapType.ROAD_LINE, 2, True),
    "road_edge": (MapType.ROAD_EDGE, 2, True),
    "stop_sign": (MapType.STOP_SIGN, None, False),
    "crosswalk": (MapType.CROSSWALK, 1, False),
    "speed_bump": (MapType.SPEED_BUMP, 1, False),
    "driveway": (MapType.DRIVEWAY, 1, False),
}
_POLYGONS = (MapType.CROSSWALK, MapType.SPEED_BUMP, MapType.DRIVEWAY)


def _to_float32(values: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):  # inf is reported by validation, with context
        return values.astype(np.float32)


def map_features(proto) -> tuple[MapFeatures, int]:
    ids, types, subtypes, messages, fields, stop_xy = [], [], [], [], [], []
    num_empty = 0
    for feature in proto.map_features:
        kind = feature.WhichOneof("feature_data")
        if kind is None:
            num_empty += 1
            continue
        map_type, field_number, has_subtype = MAP_KINDS[kind]
        message = getattr(feature, kind)
        ids.append(feature.id)
        types.append(map_type)
        subtypes.append(message.type if has_subtype else 0)
        if field_number is None:
            stop_xy.append((message.position.x, message.position.y))
        else:
            messages.append(message)
            fields.append(field_number)
    types_arr = np.asarray(types, np.int8)
    points, counts = womd_wire.polyline_points(messages, fields)
    is_stop = types_arr == MapType.STOP_SIGN
    all_counts = np.ones(len(types), np.int64)
    all_counts[~is_stop] = counts
    offsets = np.concatenate([[0], np.cumsum(all_counts)])
    all_points = np.zeros((int(offsets[-1]), 2), np.float64)
    all_points[np.repeat(offsets[:-1][~is_stop], counts) + womd_wire.ragged_arange(counts)] = points
    all_points[offsets[:-1][is_stop]] = np.asarray(stop_xy, np.float64).reshape(-1, 2)

    keep = all_counts > 0
    num_empty += int((~keep).sum())
    ids_arr = np.asarray(ids, np.int64)[keep]
    types_arr, all_counts = types_arr[keep], all_counts[keep]
    subtypes_arr = np.asarray(subtypes, np.int16)[keep]
    offsets = np.concatenate([[0], np.cumsum(all_counts)])
    all_points, offsets = _close_polygons(all_points, offsets, np.isin(types_arr, _POLYGONS))
    road = MapFeatures(
        ids=ids_arr,
        types=types_arr,
        subtypes=subtypes_arr,
        points=_to_float32(all_points),
        offsets=offsets.astype(np.int64),
    )
    return road, num_empty


def _close_polygons(points: np.ndarray, offsets: np.ndarray, polygon: np.ndarray) -> tuple[np.ndarray, ...]:
    """Append each polygon's first point where its last point differs (``points [P, 2]``)."""
    first = offsets[:-1]
    last = offsets[1:] - 1
    open_ = polygon & (last > first)
    open_[open_] = np.any(points[first[open_]] != points[last[open_]], axis=1)
    if not open_.any():
        return points, offsets
    closed = np.insert(points, offsets[1:][open_], points[first[open_]], axis=0)
    counts = np.diff(offsets) + open_
    return closed, np.concatenate([[0], np.cumsum(counts)])


def traffic_lights(proto, num_steps: int, where: str) -> TrafficLights | None:
    steps = proto.dynamic_map_states
    if len(steps) == 0:
        return None
    if len(steps) != num_steps:
        raise DataError(
            f"{where}: field 'dynamic_map_states': {len(steps)} entries, expected one per timestamp "
            f"({num_steps})"
        )
    lanes = [(t, s.lane, s.state) for t, step in enumerate(steps) for s in step.lane_states]
    table = np.asarray(lanes, np.int64).reshape(-1, 3)  # (N, 3) step, lane id, state code
    xy = [(s.stop_point.x, s.stop_point.y) for step in steps for s in step.lane_states]
    lane_ids = np.unique(table[:, 1])
    step_idx = table[:, 0]
    lane_idx = np.searchsorted(lane_ids, table[:, 1])
    states = np.zeros((num_steps, lane_ids.size), np.int8)
    stop_point = np.zeros((num_steps, lane_ids.size, 2), np.float32)
    valid = np.zeros((num_steps, lane_ids.size), bool)
    states[step_idx, lane_idx] = table[:, 2].astype(np.int8)
    stop_point[step_idx, lane_idx] = _to_float32(np.asarray(xy, np.float64).reshape(-1, 2))
    valid[step_idx, lane_idx] = True
    if not np.all(np.isfinite(stop_point)):
        raise DataError(f"{where}: field 'dynamic_map_states.stop_point': non-finite coordinate")
    return TrafficLights(lane_ids=lane_ids, states=states, stop_point=stop_point, valid=valid)
