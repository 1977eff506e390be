"""Small hand-built scenarios for evaluation tests."""

from __future__ import annotations

import numpy as np

from drive.data.schema import AgentTracks, AgentType, MapFeatures, Scenario


def moving_scene(
    scenario_id: str = "scene-0",
    *,
    velocities=((10.0, 0.0), (0.0, 1.0), (-4.0, 3.0)),
    types=(AgentType.VEHICLE, AgentType.PEDESTRIAN, AgentType.CYCLIST),
    num_steps: int = 91,
    current_step: int = 10,
    dt_s: float = 0.1,
    source: str = "womd",
    spacing_m: float = 50.0,
) -> Scenario:
    """Agents moving at constant velocity, far apart (no overlaps), all targets, all steps valid."""
    a = len(velocities)
    t = np.arange(num_steps) * dt_s
    vel = np.asarray(velocities, np.float64)  # (A, 2)
    start = np.stack([np.arange(a) * spacing_m, np.zeros(a)], -1)
    position = start[:, None] + t[None, :, None] * vel[:, None]  # (A, T, 2)
    heading = np.arctan2(vel[:, 1], vel[:, 0])
    agents = AgentTracks(
        ids=np.arange(100, 100 + a, dtype=np.int64),
        types=np.asarray(types, np.int8),
        position=position.astype(np.float32),
        heading=np.repeat(heading[:, None], num_steps, 1).astype(np.float32),
        velocity=np.repeat(vel[:, None], num_steps, 1).astype(np.float32),
        size=np.tile(np.array([[4.0, 2.0, 1.5]], np.float32), (a, 1)),
        valid=np.ones((a, num_steps), dtype=bool),
    )
    return Scenario(
        scenario_id=scenario_id,
        source=source,
        dt_s=dt_s,
        current_step=current_step,
        agents=agents,
        target_idx=np.arange(a, dtype=np.int64),
        map=MapFeatures.empty(),
    )
