"""The one scenario representation every source converts to.

Glossary: A agents, T steps, M map polylines, P_total map points (all polylines concatenated),
L traffic-light lanes. Positions in metres in the scenario's own frame, headings in radians wrapped
to [-pi, pi), velocities in m/s. Invalid entries are zero-filled and marked by ``valid`` masks; no
sentinel values. Every class validates at construction and raises :class:`DataError` naming the
scenario and field.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

import numpy as np

from drive.errors import DataError


class AgentType(enum.IntEnum):
    VEHICLE = 0
    PEDESTRIAN = 1
    CYCLIST = 2
    OTHER = 3


class MapType(enum.IntEnum):
    """Map polyline kinds; the lower-case names are the keys used in summaries (WOMD names)."""

    LANE = 0
    ROAD_LINE = 1
    ROAD_EDGE = 2
    STOP_SIGN = 3
    CROSSWALK = 4
    SPEED_BUMP = 5
    DRIVEWAY = 6


AGENT_TYPE_NAMES = tuple(t.name.lower() for t in AgentType)
MAP_TYPE_NAMES = tuple(t.name.lower() for t in MapType)


def _fail(where: str, field_name: str, message: str) -> DataError:
    return DataError(f"{where}: field {field_name!r}: {message}")


def _check_shape(
    where: str, name: str, array: np.ndarray, shape: tuple, dtype_kind: str | None = None
) -> None:
    if array.ndim != len(shape) or any(s is not None and a != s for a, s in zip(array.shape, shape)):
        raise _fail(where, name, f"expected shape {shape}, got {array.shape}")
    if dtype_kind is not None and array.dtype.kind not in dtype_kind:
        raise _fail(where, name, f"expected dtype kind {dtype_kind!r}, got {array.dtype}")


@dataclass(frozen=True)
class AgentTracks:
    """Per-agent states over T steps.

    ids ``[A]`` int64; types ``[A]`` int8 (:class:`AgentType`); position ``[A, T, 2]`` m;
    heading ``[A, T]`` rad in [-pi, pi); velocity ``[A, T, 2]`` m/s; size ``[A, 3]`` length, width,
    height in m; valid ``[A, T]`` bool. Invalid steps hold zeros.
    """

    ids: np.ndarray
    types: np.ndarray
    position: np.ndarray
    heading: np.ndarray
    velocity: np.ndarray
    size: np.ndarray
    valid: np.ndarray

    @property
    def num_agents(self) -> int:
        return int(self.ids.shape[0])

    @property
    def num_steps(self) -> int:
        return int(self.valid.shape[1])

    def validate(self, where: str) -> None:
        a, t = self.ids.shape[0], self.valid.shape[1] if self.valid.ndim == 2 else -1
        _check_shape(where, "agents.ids", self.ids, (a,), "iu")
        _check_shape(where, "agents.types", self.types, (a,), "iu")
        _check_shape(where, "agents.valid", self.valid, (a, None), "b")
        _check_shape(where, "agents.position", self.position, (a, t, 2), "f")
        _check_shape(where, "agents.heading", self.heading, (a, t), "f")
        _check_shape(where, "agents.velocity", self.velocity, (a, t, 2), "f")
        _check_shape(where, "agents.size", self.size, (a, 3), "f")
        if a and (self.types.min() < 0 or self.types.max() >= len(AgentType)):
            raise _fail(where, "agents.types", f"values must be in 0..{len(AgentType) - 1}")
        if len(np.unique(self.ids)) != a:
            raise _fail(where, "agents.ids", "agent ids must be unique")
        for name in ("position", "heading", "velocity"):
            values = getattr(self, name)
            mask = self.valid if values.ndim == 2 else np.repeat(self.valid[..., None], values.shape[-1], -1)
            if not np.all(np.isfinite(values[mask])):
                agent, step = np.argwhere(mask & ~np.isfinite(values))[0][:2]
                raise _fail(
                    where,
                    f"agents.{name}",
                    f"non-finite value at agent index {agent} (id {self.ids[agent]}), step {step}",
                )
        if not np.all(np.isfinite(self.size)):
            raise _fail(where, "agents.size", "non-finite value")
        heading = self.heading[self.valid]
        if heading.size and (heading.min() < -math.pi - 1e-6 or heading.max() >= math.pi + 1e-6):
            raise _fail(where, "agents.heading", "headings must be wrapped to [-pi, pi)")


@dataclass(frozen=True)
class MapFeatures:
    """Road map polylines, ragged: polyline ``m`` owns ``points[offsets[m]:offsets[m + 1]]``.

    ids ``[M]`` int64; types ``[M]`` int8 (:class:`MapType`); subtypes ``[M]`` int16 (the source's own
    sub-kind, e.g. WOMD lane type or road-line type, 0 when unknown); points ``[P_total, 2]`` m;
    offsets ``[M + 1]`` int64. A stop sign is a one-point polyline; a crosswalk polygon is closed.
    """

    ids: np.ndarray
    types: np.ndarray
    subtypes: np.ndarray
    points: np.ndarray
    offsets: np.ndarray

    @property
    def num_polylines(self) -> int:
        return int(self.ids.shape[0])

    @staticmethod
    def empty() -> MapFeatures:
        return MapFeatures(
            ids=np.zeros(0, np.int64),
            types=np.zeros(0, np.int8),
            subtypes=np.zeros(0, np.int16),
            points=np.zeros((0, 2), np.float32),
            offsets=np.zeros(1, np.int64),
        )

    def polyline(self, index: int) -> np.ndarray:
        """Points ``[P_m, 2]`` of polyline ``index``."""
        return self.points[self.offsets[index] : self.offsets[index + 1]]

    def directions(self) -> np.ndarray:
        """Unit direction ``[P_total, 2]`` of each point towards the next one of its polyline (the
        last point repeats its predecessor's; a one-point polyline gets (0, 0))."""
        delta = np.zeros_like(self.points)
        if len(self.points) > 1:
            delta[:-1] = self.points[1:] - self.points[:-1]
        last = self.offsets[1:] - 1
        has_prev = (self.offsets[1:] - self.offsets[:-1]) > 1
        delta[last[has_prev]] = delta[last[has_prev] - 1]
        delta[last[~has_prev]] = 0.0
        norm = np.linalg.norm(delta, axis=-1, keepdims=True)
        return np.where(norm > 1e-9, delta / np.maximum(norm, 1e-9), 0.0).astype(np.float32)

    def validate(self, where: str) -> None:
        m = self.ids.shape[0]
        _check_shape(where, "map.ids", self.ids, (m,), "iu")
        _check_shape(where, "map.types", self.types, (m,), "iu")
        _check_shape(where, "map.subtypes", self.subtypes, (m,), "iu")
        _check_shape(where, "map.offsets", self.offsets, (m + 1,), "iu")
        _check_shape(where, "map.points", self.points, (None, 2), "f")
        if self.offsets[0] != 0 or self.offsets[-1] != len(self.points) or np.any(np.diff(self.offsets) < 1):
            raise _fail(
                where, "map.offsets", "must start at 0, end at len(points) and give every polyline >= 1 point"
            )
        if m and (self.types.min() < 0 or self.types.max() >= len(MapType)):
            raise _fail(where, "map.types", f"values must be in 0..{len(MapType) - 1}")
        if not np.all(np.isfinite(self.points)):
            point = int(np.argwhere(~np.isfinite(self.points))[0][0])
            polyline = int(np.searchsorted(self.offsets, point, side="right") - 1)
            raise _fail(
                where,
                "map.points",
                f"non-finite coordinate in polyline index {polyline} (id {self.ids[polyline]})",
            )


@dataclass(frozen=True)
class TrafficLights:
    """Traffic-signal states over T steps for L controlled lanes.

    lane_ids ``[L]`` int64; states ``[T, L]`` int8 (the WOMD ``TrafficSignalLaneState.State`` codes:
    0 unknown, 1-3 arrow stop/caution/go, 4-6 stop/caution/go, 7-8 flashing); stop_point ``[T, L, 2]`` m;
    valid ``[T, L]`` bool.
    """

    lane_ids: np.ndarray
    states: np.ndarray
    stop_point: np.ndarray
    valid: np.ndarray

    def validate(self, where: str, num_steps: int) -> None:
        n = self.lane_ids.shape[0]
        _check_shape(where, "traffic_lights.lane_ids", self.lane_ids, (n,), "iu")
        _check_shape(where, "traffic_lights.states", self.states, (num_steps, n), "iu")
        _check_shape(where, "traffic_lights.stop_point", self.stop_point, (num_steps, n, 2), "f")
        _check_shape(where, "traffic_lights.valid", self.valid, (num_steps, n), "b")


@dataclass(frozen=True)
class Scenario:
    """One scene: agent tracks, which to predict, the road map and optional traffic lights.

    ``current_step`` indexes the last observed step: steps ``0..current_step`` are history, the rest
    future. ``target_idx`` ``[N_targets]`` indexes agents to predict; ``sdc_idx`` is the
    self-driving car's agent index or None. ``source`` names the loader (``womd``, ``av2``,
    ``eth_ucy``, ``sumo``); ``extras`` holds small source-specific metadata (strings and numbers).
    """

    scenario_id: str
    source: str
    dt_s: float
    current_step: int
    agents: AgentTracks
    target_idx: np.ndarray
    map: MapFeatures
    sdc_idx: int | None = None
    traffic_lights: TrafficLights | None = None
    extras: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    @property
    def num_steps(self) -> int:
        return self.agents.num_steps

    @property
    def where(self) -> str:
        return f"scenario {self.scenario_id!r} ({self.source})"

    def validate(self) -> None:
        where = self.where
        if not self.scenario_id:
            raise DataError(f"{self.source}: field 'scenario_id': empty")
        if not (self.dt_s > 0 and math.isfinite(self.dt_s)):
            raise _fail(where, "dt_s", f"must be a positive number, got {self.dt_s}")
        self.agents.validate(where)
        self.map.validate(where)
        if self.agents.num_agents == 0:
            raise _fail(where, "agents", "empty scene: no agents")
        if not 0 <= self.current_step < self.num_steps:
            raise _fail(where, "current_step", f"must be in 0..{self.num_steps - 1}, got {self.current_step}")
        _check_shape(where, "target_idx", self.target_idx, (None,), "iu")
        if self.target_idx.size == 0:
            raise _fail(where, "target_idx", "no agent to predict")
        if self.target_idx.min() < 0 or self.target_idx.max() >= self.agents.num_agents:
            raise _fail(where, "target_idx", f"indices must be in 0..{self.agents.num_agents - 1}")
        current_valid = self.agents.valid[self.target_idx, self.current_step]
        if not current_valid.any():
            raise _fail(where, "target_idx", "no target agent is valid at the current step")
        if self.sdc_idx is not None and not 0 <= self.sdc_idx < self.agents.num_agents:
            raise _fail(where, "sdc_idx", f"must be in 0..{self.agents.num_agents - 1}, got {self.sdc_idx}")
        if self.traffic_lights is not None:
            self.traffic_lights.validate(where, self.num_steps)

    def agents_by_type(self) -> dict[str, int]:
        counts = np.bincount(self.agents.types.astype(np.int64), minlength=len(AgentType))
        return {name: int(c) for name, c in zip(AGENT_TYPE_NAMES, counts)}
