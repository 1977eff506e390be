"""Rigid motions of whole scenes, for testing what a model's rotation invariance buys.

``rigid_motion`` rotates a scene by ``angle_rad`` about ``pivot_m``: every position ``p`` (agent
tracks, map points, traffic-light stop points) becomes ``R (p - pivot) + pivot``, velocities rotate,
headings shift by the angle (wrapped to [-pi, pi)). Invalid agent steps stay zero. Distances between any
two points and headings relative to each other are unchanged, so a scene-invariant predictor gives the
same predictions up to the same motion, and every displacement metric is unchanged.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from drive.data.schema import Scenario
from drive.errors import ConfigError
from drive.geometry.se2 import rotate_vectors, wrap_angle


def _move_points(points: np.ndarray, angle_rad: float, pivot_m: np.ndarray) -> np.ndarray:
    """``points [..., 2]`` -> ``R (points - pivot) + pivot`` computed in float64, cast back."""
    moved = rotate_vectors(points.astype(np.float64) - pivot_m, angle_rad) + pivot_m
    return moved.astype(points.dtype)


def rigid_motion(scenario: Scenario, angle_rad: float, pivot_m: tuple[float, float] | np.ndarray) -> Scenario:
    """The scene rotated by ``angle_rad`` (counter-clockwise) about the point ``pivot_m`` (x, y) m."""
    pivot = np.asarray(pivot_m, dtype=np.float64)
    if not math.isfinite(angle_rad) or pivot.shape != (2,) or not np.isfinite(pivot).all():
        raise ConfigError(
            f"rigid_motion: need a finite angle and a finite (x, y) pivot, got {angle_rad}, {pivot}"
        )
    agents = scenario.agents
    valid = agents.valid  # (A, T)
    position = np.where(valid[..., None], _move_points(agents.position, angle_rad, pivot), 0)
    velocity = np.where(valid[..., None], rotate_vectors(agents.velocity.astype(np.float64), angle_rad), 0)
    heading = np.where(valid, wrap_angle(agents.heading.astype(np.float64) + angle_rad), 0)
    moved_agents = dataclasses.replace(
        agents,
        position=position.astype(agents.position.dtype),
        velocity=velocity.astype(agents.velocity.dtype),
        heading=heading.astype(agents.heading.dtype),
    )
    road = dataclasses.replace(scenario.map, points=_move_points(scenario.map.points, angle_rad, pivot))
    lights = scenario.traffic_lights
    if lights is not None:
        lights = dataclasses.replace(lights, stop_point=_move_points(lights.stop_point, angle_rad, pivot))
    return dataclasses.replace(scenario, agents=moved_agents, map=road, traffic_lights=lights)


def scene_centre(scenario: Scenario) -> np.ndarray:
    """Mean position ``[2]`` m of the agents observed at the current step (the scene's middle)."""
    agents, c = scenario.agents, scenario.current_step
    now = agents.valid[:, c]
    if not now.any():
        return np.zeros(2)
    return agents.position[now, c].astype(np.float64).mean(0)


def random_rigid_motion(
    scenario: Scenario, rng: np.random.Generator, max_pivot_offset_m: float = 100.0
) -> tuple[Scenario, float, np.ndarray]:
    """The scene under a rotation by an angle uniform in [-pi, pi) about a point uniform in the square of
    half-side ``max_pivot_offset_m`` around :func:`scene_centre`. Returns ``(scene, angle_rad, pivot_m)``."""
    angle = float(rng.uniform(-math.pi, math.pi))
    pivot = scene_centre(scenario) + rng.uniform(-max_pivot_offset_m, max_pivot_offset_m, size=2)
    return rigid_motion(scenario, angle, pivot), angle, pivot
