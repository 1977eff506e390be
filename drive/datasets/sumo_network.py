"""A SUMO road network (``.net.xml``) as WOMD-like map polylines and fixed-time traffic-signal programs.

Lane centre lines (normal and junction-internal lanes) become ``LANE`` polylines; the borders between
lanes of one road become ``ROAD_LINE`` (broken white between same-direction lanes, double yellow
between opposite directions); the curb side of the outermost driving lane, and the far side of one-way
roads, become ``ROAD_EDGE``; pedestrian crossings become closed ``CROSSWALK`` polygons. Sidewalks and
walking areas are not map features (WOMD has none). All polylines are resampled to at most
``spacing_m`` between points. Coordinates stay in the network's own frame (metres, x east, y north).
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drive.data.schema import MapFeatures, MapType
from drive.errors import DataError

# WOMD sub-kinds (map.proto): LaneCenter.type, RoadLine.type, RoadEdge.type.
LANE_SURFACE_STREET, LANE_BIKE = 2, 3
LINE_BROKEN_SINGLE_WHITE, LINE_SOLID_DOUBLE_YELLOW = 1, 7
EDGE_BOUNDARY, EDGE_MEDIAN = 1, 2
SUMO_DEFAULT_LANE_WIDTH_M = 3.2

# SUMO link-state letters -> WOMD TrafficSignalLaneState codes (4 stop, 5 caution, 6 go, 8 flashing
# caution, 0 unknown). 's' (stop, then go: right-turn-on-red) counts as stop; 'u' (red+yellow) as caution.
SIGNAL_CODES = {"r": 4, "s": 4, "y": 5, "u": 5, "G": 6, "g": 6, "o": 8, "O": 0}


@dataclass(frozen=True)
class SignalProgram:
    """A fixed-time signal plan: phase ``durations_s [F]`` and one state string per phase."""

    offset_s: float
    durations_s: np.ndarray
    states: tuple[str, ...]

    def state_index(self, times_s: np.ndarray) -> np.ndarray:
        """Phase index ``[T]`` in force at each simulation time ``times_s [T]``."""
        cycle_s = float(self.durations_s.sum())
        ends = np.cumsum(self.durations_s)
        # A positive SUMO offset delays every phase; phase switches land on step boundaries, so a small
        # tolerance keeps float round-off from picking the previous phase.
        position = np.mod(times_s - self.offset_s + 1e-6, cycle_s)
        return np.searchsorted(ends, position, side="right")


@dataclass(frozen=True)
class RoadNetwork:
    """The whole network's map and signals.

    ``map`` holds every polyline (ids unique within the network); ``signal_lane_ids [L]`` are the
    ``LANE`` ids of the junction lanes a signal controls, ``signal_stop_points [L, 2]`` where each
    starts, ``signal_program [L]`` and ``signal_link [L]`` index ``programs`` and the link in its state
    strings.
    """

    map: MapFeatures
    programs: tuple[SignalProgram, ...]
    signal_lane_ids: np.ndarray
    signal_stop_points: np.ndarray
    signal_program: np.ndarray
    signal_link: np.ndarray

    def signal_states(self, times_s: np.ndarray) -> np.ndarray:
        """WOMD signal codes ``[T, L]`` int8 at simulation times ``times_s [T]``."""
        states = np.zeros((len(times_s), len(self.signal_lane_ids)), np.int8)
        for p, program in enumerate(self.programs):
            lanes = np.flatnonzero(self.signal_program == p)
            if lanes.size == 0:
                continue
            table = np.array(
                [[SIGNAL_CODES.get(s[i], 0) for i in self.signal_link[lanes]] for s in program.states],
                np.int8,
            )  # (F, L_p)
            states[:, lanes] = table[program.state_index(times_s)]
        return states


def parse_shape(text: str) -> np.ndarray:
    """A SUMO ``shape`` attribute ("x,y x,y ...") as points ``[P, 2]`` float64."""
    return np.array([[float(v) for v in pair.split(",")[:2]] for pair in text.split()], np.float64)


def offset_polyline(points: np.ndarray, distance_m: float) -> np.ndarray:
    """Points ``[P, 2]`` shifted ``distance_m`` to the left of the direction of travel (right if < 0).

    Each vertex moves along the mean of its neighbouring segments' normals, scaled so the offset
    segments stay ``distance_m`` from the originals at moderate bends.
    """
    segment = np.diff(points, axis=0)
    length = np.linalg.norm(segment, axis=-1, keepdims=True)
    normal = np.stack([-segment[:, 1], segment[:, 0]], -1) / np.maximum(length, 1e-9)  # (P-1, 2)
    vertex = np.concatenate([normal[:1], normal[:-1] + normal[1:], normal[-1:]])  # (P, 2)
    vertex /= np.maximum(np.linalg.norm(vertex, axis=-1, keepdims=True), 1e-9)
    cos_half = np.ones(len(points))
    if len(points) > 2:
        cos_half[1:-1] = np.clip(np.sum(vertex[1:-1] * normal[:-1], axis=-1), 0.5, 1.0)
    return points + vertex * (distance_m / cos_half)[:, None]


def resample_polyline(points: np.ndarray, spacing_m: float) -> np.ndarray:
    """Points ``[P', 2]``: the original vertices plus evenly spaced ones so no gap exceeds ``spacing_m``."""
    if len(points) < 2:
        return points
    pieces = [points[:1]]
    for start, end in zip(points[:-1], points[1:]):
        count = max(1, math.ceil(float(np.linalg.norm(end - start)) / spacing_m))
        fraction = np.arange(1, count + 1)[:, None] / count
        pieces.append(start + (end - start) * fraction)
    return np.concatenate(pieces)


def crosswalk_polygon(centre: np.ndarray, width_m: float) -> np.ndarray:
    """Closed polygon ``[2P + 1, 2]`` of a crossing of ``width_m`` around its centre line ``[P, 2]``."""
    left = offset_polyline(centre, width_m / 2)
    right = offset_polyline(centre, -width_m / 2)
    return np.concatenate([left, right[::-1], left[:1]])


def _is_pedestrian_only(lane: ET.Element) -> bool:
    return lane.get("allow", "") == "pedestrian"


class _MapBuilder:
    def __init__(self, spacing_m: float) -> None:
        self.spacing_m = spacing_m
        self.types: list[int] = []
        self.subtypes: list[int] = []
        self.polylines: list[np.ndarray] = []

    def add(self, map_type: MapType, subtype: int, points: np.ndarray) -> int:
        if map_type != MapType.CROSSWALK:
            points = resample_polyline(points, self.spacing_m)
        self.types.append(int(map_type))
        self.subtypes.append(subtype)
        self.polylines.append(points)
        return len(self.types)  # ids start at 1

    def build(self) -> MapFeatures:
        lengths = [len(p) for p in self.polylines]
        return MapFeatures(
            ids=np.arange(1, len(lengths) + 1, dtype=np.int64),
            types=np.array(self.types, np.int8),
            subtypes=np.array(self.subtypes, np.int16),
            points=np.concatenate(self.polylines).astype(np.float32),
            offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        )


def _add_road(builder: _MapBuilder, edge: ET.Element, has_reverse: bool, lane_ids: dict[str, int]) -> None:
    lanes = sorted(edge.findall("lane"), key=lambda lane: int(lane.get("index")))
    driving = [lane for lane in lanes if not _is_pedestrian_only(lane)]
    for lane in driving:
        subtype = LANE_BIKE if lane.get("allow", "") == "bicycle" else LANE_SURFACE_STREET
        lane_ids[lane.get("id")] = builder.add(MapType.LANE, subtype, parse_shape(lane.get("shape")))
    if not driving:
        return
    for k, lane in enumerate(driving):  # index 0 is the rightmost lane
        shape = parse_shape(lane.get("shape"))
        half_width = float(lane.get("width", SUMO_DEFAULT_LANE_WIDTH_M)) / 2
        if k == 0:
            builder.add(MapType.ROAD_EDGE, EDGE_BOUNDARY, offset_polyline(shape, -half_width))
        left = offset_polyline(shape, half_width)
        if k < len(driving) - 1:
            builder.add(MapType.ROAD_LINE, LINE_BROKEN_SINGLE_WHITE, left)
        elif has_reverse:
            # Opposite directions share this border; each direction draws its own copy, as WOMD does
            # for the two lanes either side of a centre line.
            builder.add(MapType.ROAD_LINE, LINE_SOLID_DOUBLE_YELLOW, left)
        else:
            builder.add(MapType.ROAD_EDGE, EDGE_MEDIAN, left)


def read_network(path: Path, spacing_m: float = 1.0) -> RoadNetwork:
    """Parse a SUMO ``.net.xml`` into a :class:`RoadNetwork` (see the module docstring)."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as err:
        raise DataError(f"{path}: cannot read the SUMO network: {err}") from err
    builder = _MapBuilder(spacing_m)
    lane_ids: dict[str, int] = {}
    edges = root.findall("edge")
    pairs = {(e.get("from"), e.get("to")) for e in edges if e.get("function") is None}
    for edge in edges:
        function = edge.get("function")
        if function is None:
            _add_road(builder, edge, (edge.get("to"), edge.get("from")) in pairs, lane_ids)
        elif function == "internal":
            for lane in edge.findall("lane"):
                if not _is_pedestrian_only(lane):
                    lane_ids[lane.get("id")] = builder.add(
                        MapType.LANE, LANE_SURFACE_STREET, parse_shape(lane.get("shape"))
                    )
        elif function == "crossing":
            for lane in edge.findall("lane"):
                width = float(lane.get("width", SUMO_DEFAULT_LANE_WIDTH_M))
                builder.add(MapType.CROSSWALK, 0, crosswalk_polygon(parse_shape(lane.get("shape")), width))
    return _with_signals(root, builder.build(), lane_ids)


def _with_signals(root: ET.Element, road_map: MapFeatures, lane_ids: dict[str, int]) -> RoadNetwork:
    programs: list[SignalProgram] = []
    program_index: dict[str, int] = {}
    for logic in root.findall("tlLogic"):
        if logic.get("type", "static") != "static":
            # Only fixed-time plans can be evaluated from the file alone.
            raise DataError(
                f"traffic light {logic.get('id')!r}: type {logic.get('type')!r} unsupported, only 'static'"
            )
        phases = logic.findall("phase")
        program_index[logic.get("id")] = len(programs)
        programs.append(
            SignalProgram(
                offset_s=float(logic.get("offset", 0)),
                durations_s=np.array([float(p.get("duration")) for p in phases]),
                states=tuple(p.get("state") for p in phases),
            )
        )
    lane_id, program, link = [], [], []
    for connection in root.findall("connection"):
        via, tl = connection.get("via"), connection.get("tl")
        if tl is None or via not in lane_ids:
            continue  # unsignalled, or a pedestrian crossing's signal
        lane_id.append(lane_ids[via])
        program.append(program_index[tl])
        link.append(int(connection.get("linkIndex")))
    order = np.argsort(np.array(lane_id, np.int64), kind="stable")
    lane_id_array = np.array(lane_id, np.int64)[order]
    stop_points = np.zeros((len(order), 2), np.float32)
    for k, feature_id in enumerate(lane_id_array):
        stop_points[k] = road_map.polyline(int(feature_id) - 1)[0]
    return RoadNetwork(
        map=road_map,
        programs=tuple(programs),
        signal_lane_ids=lane_id_array,
        signal_stop_points=stop_points,
        signal_program=np.array(program, np.int64)[order],
        signal_link=np.array(link, np.int64)[order],
    )
