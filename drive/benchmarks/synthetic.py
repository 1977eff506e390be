"""A synthetic scene of a chosen size, for timing the model where real scenes are too small.

Agents drive along a grid of straight lanes at 5-15 m/s (10 Hz, ``num_steps`` steps, all observed), the
map holds ``num_map_chunks`` straight lane polylines of ``points_per_chunk`` points at 1 m spacing, so it
collates into exactly that many map chunks. Sizes are what matters for timing, not realism.
"""

from __future__ import annotations

import numpy as np

from drive.data.schema import AgentTracks, AgentType, MapFeatures, MapType, Scenario
from drive.errors import ConfigError


def _lanes(num_chunks: int, points_per_chunk: int, rng: np.random.Generator) -> MapFeatures:
    starts = rng.uniform(-100.0, 100.0, size=(num_chunks, 2))  # (M, 2)
    angles = rng.choice([0.0, np.pi / 2, np.pi, -np.pi / 2], size=num_chunks)  # (M,)
    steps = np.arange(points_per_chunk, dtype=np.float64)  # (P,) 1 m apart
    direction = np.stack([np.cos(angles), np.sin(angles)], -1)  # (M, 2)
    points = starts[:, None] + steps[None, :, None] * direction[:, None]  # (M, P, 2)
    return MapFeatures(
        ids=np.arange(num_chunks, dtype=np.int64),
        types=np.full(num_chunks, int(MapType.LANE), np.int8),
        subtypes=np.zeros(num_chunks, np.int16),
        points=points.reshape(-1, 2).astype(np.float32),
        offsets=(np.arange(num_chunks + 1) * points_per_chunk).astype(np.int64),
    )


def synthetic_scene(
    num_agents: int,
    num_map_chunks: int = 1000,
    *,
    num_steps: int = 91,
    current_step: int = 10,
    points_per_chunk: int = 20,
    seed: int = 0,
) -> Scenario:
    """A WOMD-layout scene (``source="sumo"``, dt 0.1 s) with ``num_agents`` vehicles, all of them
    targets, and ``num_map_chunks`` lane polylines of ``points_per_chunk`` points."""
    if num_agents < 1 or num_map_chunks < 0 or not 0 <= current_step < num_steps:
        raise ConfigError(
            f"synthetic_scene: need num_agents >= 1, num_map_chunks >= 0, 0 <= current_step < num_steps; "
            f"got {num_agents}, {num_map_chunks}, {current_step}, {num_steps}"
        )
    rng = np.random.default_rng(seed)
    heading = rng.choice([0.0, np.pi / 2, -np.pi, -np.pi / 2], size=num_agents)  # (A,)
    speed = rng.uniform(5.0, 15.0, size=num_agents)  # (A,) m/s
    velocity = speed[:, None] * np.stack([np.cos(heading), np.sin(heading)], -1)  # (A, 2)
    start = rng.uniform(-80.0, 80.0, size=(num_agents, 2))  # (A, 2)
    time_s = 0.1 * (np.arange(num_steps) - current_step)  # (T,)
    position = start[:, None] + time_s[None, :, None] * velocity[:, None]  # (A, T, 2)
    agents = AgentTracks(
        ids=np.arange(num_agents, dtype=np.int64),
        types=np.full(num_agents, int(AgentType.VEHICLE), np.int8),
        position=position.astype(np.float32),
        heading=np.repeat(heading[:, None], num_steps, 1).astype(np.float32),
        velocity=np.repeat(velocity[:, None], num_steps, 1).astype(np.float32),
        size=np.tile(np.array([4.5, 2.0, 1.6], np.float32), (num_agents, 1)),
        valid=np.ones((num_agents, num_steps), bool),
    )
    return Scenario(
        scenario_id=f"synthetic-{num_agents}a-{num_map_chunks}m-{seed}",
        source="sumo",
        dt_s=0.1,
        current_step=current_step,
        agents=agents,
        map=_lanes(num_map_chunks, points_per_chunk, rng) if num_map_chunks else MapFeatures.empty(),
        target_idx=np.arange(num_agents, dtype=np.int64),
    )
