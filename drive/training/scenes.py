"""Per-scene transforms applied before batching: a fixed time window, and the random global rotation,
reflection and scaling that training may apply.

A batch must share one step count and current step, so every scene is cut to the same window of
``num_history_steps`` (ending at, and including, the current step) plus ``num_future_steps``. Steps the
source does not cover are padded as invalid (zeros, mask False), never extrapolated.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np

from drive.data.schema import AgentTracks, Scenario, TrafficLights
from drive.errors import ConfigError, DataError
from drive.geometry.se2 import rotate_vectors, wrap_angle


def _window(values: np.ndarray, start: int, length: int, axis: int) -> np.ndarray:
    """``values`` sliced to ``[start, start + length)`` along ``axis``; steps outside are zeros."""
    size = values.shape[axis]
    out_shape = list(values.shape)
    out_shape[axis] = length
    out = np.zeros(out_shape, values.dtype)
    lo, hi = max(start, 0), min(start + length, size)
    if hi > lo:
        src = [slice(None)] * values.ndim
        dst = [slice(None)] * values.ndim
        src[axis], dst[axis] = slice(lo, hi), slice(lo - start, hi - start)
        out[tuple(dst)] = values[tuple(src)]
    return out


def crop_scenario(scenario: Scenario, num_history_steps: int, num_future_steps: int) -> Scenario:
    """The scene cut to ``num_history_steps + num_future_steps`` steps around its current step.

    The new current step is ``num_history_steps - 1``. Agents never observed in the history window are
    dropped (nothing to condition on); targets not observed at the current step stop being targets.
    Raises :class:`DataError` naming the scene when no target remains.
    """
    if num_history_steps < 1 or num_future_steps < 1:
        raise ConfigError(
            "num_history_steps and num_future_steps must be >= 1, "
            f"got {num_history_steps}, {num_future_steps}"
        )
    start = scenario.current_step - num_history_steps + 1
    length = num_history_steps + num_future_steps
    agents = scenario.agents
    valid = _window(agents.valid, start, length, axis=1)
    keep = valid[:, :num_history_steps].any(axis=1)
    current = num_history_steps - 1
    is_target = np.zeros(agents.num_agents, bool)
    is_target[scenario.target_idx] = True
    is_target &= keep & valid[:, current]
    if not is_target.any():
        raise DataError(f"{scenario.where}: no target agent is observed at the current step")
    new_index = np.cumsum(keep) - 1
    cropped = AgentTracks(
        ids=agents.ids[keep],
        types=agents.types[keep],
        position=_window(agents.position, start, length, 1)[keep],
        heading=_window(agents.heading, start, length, 1)[keep],
        velocity=_window(agents.velocity, start, length, 1)[keep],
        size=agents.size[keep],
        valid=valid[keep],
    )
    sdc = scenario.sdc_idx
    lights = scenario.traffic_lights
    if lights is not None:
        lights = TrafficLights(
            lane_ids=lights.lane_ids,
            states=_window(lights.states, start, length, 0),
            stop_point=_window(lights.stop_point, start, length, 0),
            valid=_window(lights.valid, start, length, 0),
        )
    return dataclasses.replace(
        scenario,
        current_step=current,
        agents=cropped,
        target_idx=new_index[is_target].astype(np.int64),
        sdc_idx=int(new_index[sdc]) if sdc is not None and keep[sdc] else None,
        traffic_lights=lights,
    )


def _transform_scenario(
    scenario: Scenario,
    vectors: Callable[[np.ndarray], np.ndarray],
    headings: Callable[[np.ndarray], np.ndarray],
) -> Scenario:
    """The scene with ``vectors`` (an ``[..., 2]`` array map) applied to positions, velocities, map points
    and stop points, and ``headings`` to valid headings; invalid agent entries stay zero."""
    agents = scenario.agents
    valid = agents.valid

    def moved(values: np.ndarray) -> np.ndarray:
        return np.where(valid[..., None], vectors(values), 0.0).astype(values.dtype)

    heading = np.where(valid, wrap_angle(headings(agents.heading.astype(np.float64))), 0.0)
    moved_agents = dataclasses.replace(
        agents,
        position=moved(agents.position),
        velocity=moved(agents.velocity),
        heading=heading.astype(agents.heading.dtype),
    )
    road = dataclasses.replace(
        scenario.map, points=vectors(scenario.map.points).astype(scenario.map.points.dtype)
    )
    lights = scenario.traffic_lights
    if lights is not None:
        lights = dataclasses.replace(
            lights, stop_point=vectors(lights.stop_point).astype(lights.stop_point.dtype)
        )
    return dataclasses.replace(scenario, agents=moved_agents, map=road, traffic_lights=lights)


def rotate_scenario(scenario: Scenario, angle_rad: float) -> Scenario:
    """The whole scene rotated by ``angle_rad`` about the frame origin: positions, velocities, map
    points and stop points rotate, headings shift (invalid entries stay zero)."""
    if not math.isfinite(angle_rad):
        raise ConfigError(f"angle_rad must be finite, got {angle_rad}")
    return _transform_scenario(
        scenario, lambda v: rotate_vectors(v, angle_rad), lambda heading: heading + angle_rad
    )


def mirror_scenario(scenario: Scenario) -> Scenario:
    """The whole scene reflected across the frame's x axis (y -> -y): positions, velocities, map points
    and stop points reflect, headings change sign. With random rotations this covers every rotation
    and reflection about the origin; it suits data without handedness (pedestrians), not right-hand traffic
    with its lane rules."""
    flip = np.array([1.0, -1.0])
    return _transform_scenario(scenario, lambda v: v * flip, lambda heading: -heading)


def scale_scenario(scenario: Scenario, factor: float) -> Scenario:
    """The whole scene scaled by ``factor`` about the frame origin: positions, map points and stop points
    scale, and so do velocities (the time step is unchanged, so speeds scale with distances); headings
    and agent sizes stay. Models scenes of faster or slower movers at other spacings."""
    if not (math.isfinite(factor) and factor > 0):
        raise ConfigError(f"factor must be finite and > 0, got {factor}")
    return _transform_scenario(scenario, lambda v: v * factor, lambda heading: heading)


def thin_map(scenario: Scenario, keep_every: int) -> Scenario:
    """The scene with every ``keep_every``-th point of each map polyline kept (its first and last point
    always), e.g. 0.5 m spacing -> 5 m with 10. Fewer map tokens make training on a CPU practical."""
    if keep_every < 1:
        raise ConfigError(f"keep_every must be >= 1, got {keep_every}")
    road = scenario.map
    if keep_every == 1 or road.num_polylines == 0:
        return scenario
    lengths = np.diff(road.offsets)  # (M,)
    owner = np.repeat(np.arange(road.num_polylines), lengths)  # (P_total,)
    position = np.arange(len(road.points)) - road.offsets[owner]  # index within its polyline
    keep = (position % keep_every == 0) | (position == lengths[owner] - 1)
    counts = np.bincount(owner[keep], minlength=road.num_polylines)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(road.offsets.dtype)
    return dataclasses.replace(
        scenario, map=dataclasses.replace(road, points=road.points[keep], offsets=offsets)
    )
