"""Baselines scored by the same evaluator as the models.

``constant_velocity``: every target agent keeps the velocity of its last two observed positions.
The velocity is a finite difference of observed positions only (steps <= ``current_step``), never the
dataset's velocity field, which some sources estimate with a central difference that looks one step
into the future. An agent observed at a single step stands still. The heading stays at the last
observed heading. With ``num_modes`` K > 1 the same trajectory is repeated K times with probability
1/K each, for consumers that expect K modes: min-over-modes metrics then equal K = 1, while mAP counts
the repeats as duplicate (false-positive) matches.

``velocity_fan``: K straight lines per agent instead of one: the same velocity turned by each angle and
scaled by each speed factor of :func:`drive.models.predictor.fan_grid` (the initial fan of the model's
``velocity_fan`` anchor), equal probabilities. With K > 1 it is a multi-modal baseline in the spirit of
the sampled constant-velocity model of Schöller et al. (2020), deterministic rather than sampled.
"""

from __future__ import annotations

import math

import numpy as np

from drive.data.schema import Scenario
from drive.errors import ConfigError
from drive.evaluation.predictions import ScenarioPrediction
from drive.models.predictor import fan_grid


def constant_velocity(scenario: Scenario, num_future_steps: int, num_modes: int = 1) -> ScenarioPrediction:
    """Constant-velocity predictions ``[N, K, num_future_steps, 2]`` for the scenario's target agents that
    have at least one observed position (world frame, metres, at the scenario's step ``dt_s``)."""
    _check("constant_velocity", num_future_steps, num_modes)
    return _lines(scenario, num_future_steps, np.zeros(num_modes), np.ones(num_modes))


def velocity_fan(
    scenario: Scenario,
    num_future_steps: int,
    num_modes: int = 6,
    max_angle_deg: float = 30.0,
    speed_spread: float = 0.3,
) -> ScenarioPrediction:
    """K constant-velocity lines per target agent, turned by the fan's angles (within ±``max_angle_deg``)
    and scaled by its speed factors (within ``1 ± speed_spread``): ``[N, K, num_future_steps, 2]``."""
    _check("velocity_fan", num_future_steps, num_modes)
    if not 0.0 <= max_angle_deg <= 180.0 or not 0.0 <= speed_spread < 1.0:
        raise ConfigError(
            f"velocity_fan: need 0 <= max_angle_deg <= 180 and 0 <= speed_spread < 1, got {max_angle_deg}, "
            f"{speed_spread}"
        )
    angle, speed = fan_grid(num_modes, math.radians(max_angle_deg), speed_spread)
    return _lines(scenario, num_future_steps, angle.double().numpy(), speed.double().numpy())


def _check(name: str, num_future_steps: int, num_modes: int) -> None:
    if num_future_steps < 1:
        raise ConfigError(f"{name}: num_future_steps must be >= 1, got {num_future_steps}")
    if num_modes < 1:
        raise ConfigError(f"{name}: num_modes must be >= 1, got {num_modes}")


def _lines(
    scenario: Scenario, num_future_steps: int, turn: np.ndarray, speed: np.ndarray
) -> ScenarioPrediction:
    """One straight line per mode k: the observed velocity turned by ``turn[k]`` rad and scaled by
    ``speed[k]``, from the last observed position; equal probabilities."""
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
    cos, sin = np.cos(turn) * speed, np.sin(turn) * speed  # (K,)
    vx, vy = velocity_per_step[:, None, 0], velocity_per_step[:, None, 1]  # (N, 1)
    turned = np.stack([cos * vx - sin * vy, sin * vx + cos * vy], axis=-1)  # (N, K, 2)
    ahead = (c - last)[:, None] + np.arange(1, num_future_steps + 1)[None]  # (N, Tf) steps since last seen
    trajectory = last_xy[:, None, None] + ahead[:, None, :, None] * turned[:, :, None]  # (N, K, Tf, 2)
    heading = agents.heading[rows, last][:, None] + turn[None]  # (N, K)
    num_modes = len(turn)
    return ScenarioPrediction(
        scenario_id=scenario.scenario_id,
        agent_ids=agents.ids[rows].astype(np.int64),
        trajectory=trajectory.astype(np.float32),
        probability=np.full((len(rows), num_modes), 1.0 / num_modes, np.float32),
        heading=np.repeat(heading[:, :, None], num_future_steps, 2).astype(np.float32),
    )
