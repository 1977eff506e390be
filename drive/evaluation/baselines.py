"""Baselines scored by the same evaluator as the models.

``constant_velocity``: every target agent keeps the velocity of its last two observed positions.
The velocity is a finite difference of observed positions only (steps <= ``current_step``), never the
dataset's velocity field, which some sources estimate with a central difference that looks one step
into the future. An agent observed at a single step stands still. The heading stays at the last
observed heading. With ``num_modes`` K > 1 the same trajectory is repeated K times with probability
1/K each, for consumers that expect K modes: min-over-modes metrics then equal K = 1, while mAP counts
the repeats as duplicate (false-positive) matches.
"""

from __future__ import annotations

import numpy as np

from drive.data.schema import Scenario
from drive.errors import ConfigError
from drive.evaluation.predictions import ScenarioPrediction


def constant_velocity(scenario: Scenario, num_future_steps: int, num_modes: int = 1) -> ScenarioPrediction:
    """Constant-velocity predictions ``[N, K, num_future_steps, 2]`` for the scenario's target agents that
    have at least one observed position (world frame, metres, at the scenario's step ``dt_s``)."""
    if num_future_steps < 1:
        raise ConfigError(f"constant_velocity: num_future_steps must be >= 1, got {num_future_steps}")
    if num_modes < 1:
        raise ConfigError(f"constant_velocity: num_modes must be >= 1, got {num_modes}")
    agents, c = scenario.agents, scenario.current_step
    targets = [int(i) for i in scenario.target_idx if agents.valid[i, : c + 1].any()]
    observed = agents.valid[targets, : c + 1]  # (N, c+1)
    steps = np.arange(c + 1)
    last = np.where(observed, steps, -1).max(-1)  # (N,)
    prev = np.where(observed & (steps < last[:, None]), steps, -1).max(-1)  # (N,) -1: single observation
    rows = np.asarray(targets, dtype=np.int64)
    last_xy = agents.position[rows, last].astype(np.float64)  # (N, 2)
    prev_xy = agents.position[rows, np.maximum(prev, 0)].astype(np.float64)
    gap = np.maximum(last - prev, 1)[:, None]
    velocity_per_step = np.where((prev >= 0)[:, None], (last_xy - prev_xy) / gap, 0.0)  # (N, 2) m per step
    ahead = (c - last)[:, None] + np.arange(1, num_future_steps + 1)[None]  # (N, Tf) steps since last seen
    trajectory = last_xy[:, None] + ahead[..., None] * velocity_per_step[:, None]  # (N, Tf, 2)
    heading = np.repeat(agents.heading[rows, last][:, None], num_future_steps, 1)  # (N, Tf)
    return ScenarioPrediction(
        scenario_id=scenario.scenario_id,
        agent_ids=agents.ids[rows].astype(np.int64),
        trajectory=np.repeat(trajectory[:, None], num_modes, 1).astype(np.float32),
        probability=np.full((len(rows), num_modes), 1.0 / num_modes, np.float32),
        heading=np.repeat(heading[:, None], num_modes, 1).astype(np.float32),
    )
