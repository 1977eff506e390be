"""Argoverse 2 local map (``log_map_archive_<id>.json``) -> :class:`MapFeatures`, with json + numpy only.

What becomes what (AV2 kind -> :class:`MapType`, subtype):

- ``lane_segment`` -> ``LANE``: the centre line computed from the left and right boundaries the way
  av2's ``compute_midpoint_line`` does (both resampled to ``NUM_CENTERLINE_POINTS`` points equally
  spaced in arc length, then averaged); subtype = ``LANE_TYPES`` index (vehicle / bike / bus).
- lane boundaries (``lane_boundary``) -> ``ROAD_LINE``: each lane segment's left and right boundary,
  a boundary shared by two neighbouring segments kept once; subtype = ``LANE_MARK_TYPES`` index.
- ``pedestrian_crossing`` -> ``CROSSWALK``: the closed polygon ``edge1[0], edge1[1], edge2[1],
  edge2[0], edge1[0]`` (av2's ``PedestrianCrossing.polygon``).
- ``drivable_area`` -> ``ROAD_EDGE``: the area boundary, closed.

Ids: AV2's own ids for segments, crossings and areas; a boundary gets ``10 * lane_id + 1`` (left) or
``+ 2`` (right) of the first segment that owns it. Heights (z) are dropped.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from drive.data.schema import MapFeatures, MapType
from drive.errors import DataError

NUM_CENTERLINE_POINTS = 10  # av2.geometry.interpolate.NUM_CENTERLINE_INTERP_PTS

LANE_TYPES: tuple[str, ...] = ("UNKNOWN", "VEHICLE", "BIKE", "BUS")
LANE_MARK_TYPES: tuple[str, ...] = (
    "UNKNOWN",
    "NONE",
    "DASH_SOLID_YELLOW",
    "DASH_SOLID_WHITE",
    "DASHED_WHITE",
    "DASHED_YELLOW",
    "DOUBLE_SOLID_YELLOW",
    "DOUBLE_SOLID_WHITE",
    "DOUBLE_DASH_YELLOW",
    "DOUBLE_DASH_WHITE",
    "SOLID_YELLOW",
    "SOLID_WHITE",
    "SOLID_DASH_WHITE",
    "SOLID_DASH_YELLOW",
    "SOLID_BLUE",
)

# Each AV2 kind maps to exactly one MapType, so the source's own kind names follow from the type.
MAP_KIND_NAMES: dict[MapType, str] = {
    MapType.LANE: "lane_segment",
    MapType.ROAD_LINE: "lane_boundary",
    MapType.CROSSWALK: "pedestrian_crossing",
    MapType.ROAD_EDGE: "drivable_area",
}


def resample_polyline(points: np.ndarray, num_points: int) -> np.ndarray:
    """``num_points`` points ``[num_points, 2]`` equally spaced in arc length along ``points [P, 2]``
    (P >= 1), from its first to its last point. Repeated points are harmless; a zero-length polyline
    gives its single location repeated."""
    chord = np.linalg.norm(np.diff(points, axis=0), axis=1)  # (P-1,)
    arc = np.concatenate([[0.0], np.cumsum(chord)])  # (P,)
    if arc[-1] <= 0.0:
        return np.repeat(points[:1], num_points, axis=0)
    target = np.linspace(0.0, arc[-1], num_points)
    return np.stack([np.interp(target, arc, points[:, d]) for d in range(points.shape[1])], -1)


def resample_polylines(polylines: list[np.ndarray], num_points: int) -> np.ndarray:
    """:func:`resample_polyline` of many polylines ``[P_i, 2]`` (each P_i >= 2) at once ->
    ``[len(polylines), num_points, 2]``, with one ``np.interp`` per coordinate."""
    lengths = np.array([len(p) for p in polylines])
    points = np.concatenate(polylines)  # (P_total, 2)
    owner = np.repeat(np.arange(len(polylines)), lengths)  # (P_total,)
    chord = np.linalg.norm(np.diff(points, axis=0), axis=1)  # (P_total-1,)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    chord[starts[1:] - 1] = 0.0  # no chord between the end of one polyline and the next
    arc = np.concatenate([[0.0], np.cumsum(chord)])
    arc -= arc[starts][owner]  # (P_total,) arc length from each polyline's start
    total = arc[starts + lengths - 1]  # (L,)
    index = np.arange(len(points)) - starts[owner]
    # normalise each polyline to [0, 1] (a zero-length one by vertex index), then shift polyline i to
    # [2i, 2i + 1] so a single interpolation never mixes two polylines
    fraction = np.where(
        total[owner] > 0, arc / np.maximum(total[owner], 1e-300), index / (lengths[owner] - 1)
    )
    key = 2.0 * owner + fraction
    target = (2.0 * np.arange(len(polylines))[:, None] + np.linspace(0.0, 1.0, num_points)).ravel()
    out = np.stack([np.interp(target, key, points[:, d]) for d in range(2)], -1)
    return out.reshape(len(polylines), num_points, 2)  # (L, N, 2)


def midpoint_line(left: np.ndarray, right: np.ndarray, num_points: int = NUM_CENTERLINE_POINTS) -> np.ndarray:
    """Centre line ``[N, 2]`` between lane boundaries ``left [P_l, 2]`` and ``right [P_r, 2]``.

    As av2's ``compute_midpoint_line``: a one-point boundary (a cul-de-sac) pivots, i.e. the centre is
    the midpoint of that point and every point of the other boundary; otherwise both boundaries are
    resampled to ``num_points`` arc-length-equidistant points and averaged.
    """
    if len(left) == 1 or len(right) == 1:
        return (left + right) / 2.0  # (P, 2) by broadcasting the single point
    return (resample_polyline(left, num_points) + resample_polyline(right, num_points)) / 2.0


def _xy(where: str, value) -> np.ndarray:
    try:
        points = np.array([(float(p["x"]), float(p["y"])) for p in value], dtype=np.float64)
    except (TypeError, KeyError, ValueError) as err:
        raise DataError(f"{where}: expected a list of {{'x', 'y', 'z'}} points ({err})") from err
    if len(points) == 0:
        raise DataError(f"{where}: empty point list")
    if not np.all(np.isfinite(points)):
        raise DataError(f"{where}: non-finite coordinate")
    return points.reshape(-1, 2)


def _code(where: str, table: tuple[str, ...], value) -> int:
    if value not in table:
        raise DataError(f"{where}: unknown value {value!r}; known: {', '.join(table)}")
    return table.index(value)


def _closed(points: np.ndarray) -> np.ndarray:
    return points if np.array_equal(points[0], points[-1]) else np.concatenate([points, points[:1]])


def _boundary_key(points: np.ndarray) -> tuple:
    # Neighbouring segments store their shared boundary with the same vertices, possibly reversed.
    forward = tuple(np.round(points, 3).ravel().tolist())
    backward = tuple(np.round(points[::-1], 3).ravel().tolist())
    return min(forward, backward)


def map_from_json(data: dict, where: str) -> MapFeatures:
    """The map of one AV2 ``log_map_archive`` JSON object; ``where`` names the file in errors."""
    if not isinstance(data, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(data).__name__}")
    ids: list[int] = []
    types: list[int] = []
    subtypes: list[int] = []
    polylines: list[np.ndarray] = []

    def add(feature_id: int, map_type: MapType, subtype: int, points: np.ndarray) -> None:
        ids.append(feature_id)
        types.append(int(map_type))
        subtypes.append(subtype)
        polylines.append(points)

    try:
        segments = list(data["lane_segments"].values())
        crossings = list(data["pedestrian_crossings"].values())
        areas = list(data["drivable_areas"].values())
    except (KeyError, AttributeError) as err:
        raise DataError(
            f"{where}: field {err.args[0] if isinstance(err, KeyError) else 'map'!r}: expected "
            "objects 'lane_segments', 'pedestrian_crossings' and 'drivable_areas'"
        ) from err
    seen_boundaries: set[tuple] = set()
    boundaries = []
    lanes = []
    for segment in segments:
        lane_id = _feature_id(where, "lane_segments", segment)
        at = f"{where}: lane_segments[{lane_id}]"
        try:
            left = _xy(f"{at}.left_lane_boundary", segment["left_lane_boundary"])
            right = _xy(f"{at}.right_lane_boundary", segment["right_lane_boundary"])
            lane_type = _code(f"{at}.lane_type", LANE_TYPES, segment["lane_type"])
            marks = [
                _code(f"{at}.{side}_lane_mark_type", LANE_MARK_TYPES, segment[f"{side}_lane_mark_type"])
                for side in ("left", "right")
            ]
        except KeyError as err:
            raise DataError(f"{at}: field {err.args[0]!r} missing") from err
        lanes.append((lane_id, lane_type, left, right))
        for side, (points, mark) in enumerate(zip((left, right), marks), start=1):
            key = _boundary_key(points)
            if key not in seen_boundaries:
                seen_boundaries.add(key)
                boundaries.append((10 * lane_id + side, mark, points))
    for (lane_id, lane_type, _, _), centre in zip(lanes, _centre_lines(lanes)):
        add(lane_id, MapType.LANE, lane_type, centre)
    for boundary_id, mark, points in boundaries:
        add(boundary_id, MapType.ROAD_LINE, mark, points)
    for crossing in crossings:
        crossing_id = _feature_id(where, "pedestrian_crossings", crossing)
        at = f"{where}: pedestrian_crossings[{crossing_id}]"
        try:
            edge1, edge2 = _xy(f"{at}.edge1", crossing["edge1"]), _xy(f"{at}.edge2", crossing["edge2"])
        except KeyError as err:
            raise DataError(f"{at}: field {err.args[0]!r} missing") from err
        if len(edge1) != 2 or len(edge2) != 2:
            raise DataError(f"{at}: edges must have 2 points each, got {len(edge1)} and {len(edge2)}")
        add(crossing_id, MapType.CROSSWALK, 0, np.stack([edge1[0], edge1[1], edge2[1], edge2[0], edge1[0]]))
    for area in areas:
        area_id = _feature_id(where, "drivable_areas", area)
        at = f"{where}: drivable_areas[{area_id}]"
        if "area_boundary" not in area:
            raise DataError(f"{at}: field 'area_boundary' missing")
        add(area_id, MapType.ROAD_EDGE, 0, _closed(_xy(f"{at}.area_boundary", area["area_boundary"])))
    if not polylines:
        return MapFeatures.empty()
    lengths = np.array([len(p) for p in polylines], np.int64)
    return MapFeatures(
        ids=np.array(ids, np.int64),
        types=np.array(types, np.int8),
        subtypes=np.array(subtypes, np.int16),
        points=np.concatenate(polylines).astype(np.float32),
        offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
    )


def _centre_lines(lanes: list[tuple]) -> list[np.ndarray]:
    """:func:`midpoint_line` of every ``(id, type, left, right)``, the common case batched."""
    regular = [i for i, (_, _, left, right) in enumerate(lanes) if len(left) > 1 and len(right) > 1]
    # cul-de-sacs (a one-point side) take the slow path; the rest are filled in below
    centres = [
        left if len(left) > 1 and len(right) > 1 else midpoint_line(left, right)
        for _, _, left, right in lanes
    ]
    if regular:
        sides = [lanes[i][2] for i in regular] + [lanes[i][3] for i in regular]
        resampled = resample_polylines(sides, NUM_CENTERLINE_POINTS)  # (2 * L, N, 2)
        for i, centre in zip(regular, (resampled[: len(regular)] + resampled[len(regular) :]) / 2.0):
            centres[i] = centre
    return centres


def _feature_id(where: str, kind: str, feature) -> int:
    try:
        return int(feature["id"])
    except (TypeError, KeyError, ValueError) as err:
        raise DataError(f"{where}: {kind}: a feature without an integer 'id' ({err!r})") from err


def read_map(path: Path) -> MapFeatures:
    """Read ``log_map_archive_<id>.json``; raises :class:`DataError` naming the file on bad content."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: cannot read the AV2 map JSON ({err})") from err
    return map_from_json(data, str(path))
