"""Small hand-built scenes for the visualisation tests (no data files needed)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from drive.data.schema import AgentTracks, MapFeatures, Scenario


def straight_map() -> MapFeatures:
    """Two lane centres, two road edges and a crosswalk around the x axis, 100 m long."""
    x = np.linspace(-50, 50, 21, dtype=np.float32)
    lines = [
        np.stack([x, np.full_like(x, -1.75)], 1),
        np.stack([x, np.full_like(x, 1.75)], 1),
        np.stack([x, np.full_like(x, -3.5)], 1),
        np.stack([x, np.full_like(x, 3.5)], 1),
        np.array([[10, -3.5], [14, -3.5], [14, 3.5], [10, 3.5], [10, -3.5]], np.float32),
        np.array([[20, 4.0]], np.float32),
    ]
    types = np.array([0, 0, 2, 2, 4, 3], np.int8)
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in lines])]).astype(np.int64)
    return MapFeatures(
        ids=np.arange(len(lines), dtype=np.int64),
        types=types,
        subtypes=np.zeros(len(lines), np.int16),
        points=np.concatenate(lines).astype(np.float32),
        offsets=offsets,
    )


def make_scene(
    num_agents: int = 4, *, with_map: bool = True, num_steps: int = 20, current_step: int = 8,
    scenario_id: str = "synthetic-1", invalid_agent: bool = False,
) -> Scenario:  # fmt: skip
    """Agents driving along +x at different speeds and lateral offsets; agent 0 is the target.
    With ``invalid_agent`` the last agent is only observed for the first two steps."""
    t = np.arange(num_steps, dtype=np.float32) * 0.1
    speed = 5.0 + 2.0 * np.arange(num_agents, dtype=np.float32)
    lateral = np.where(np.arange(num_agents) % 2 == 0, -1.75, 1.75).astype(np.float32)
    start = -20.0 + 6.0 * np.arange(num_agents, dtype=np.float32)
    position = np.stack(
        [start[:, None] + speed[:, None] * t[None], np.repeat(lateral[:, None], num_steps, 1)], -1
    ).astype(np.float32)
    valid = np.ones((num_agents, num_steps), bool)
    if invalid_agent and num_agents > 1:
        valid[-1, 2:] = False
        position[-1, 2:] = 0.0
    velocity = np.zeros_like(position)
    velocity[..., 0] = speed[:, None] * valid
    types = (np.arange(num_agents) % 4).astype(np.int8)
    agents = AgentTracks(
        ids=np.arange(100, 100 + num_agents, dtype=np.int64),
        types=types,
        position=position,
        heading=np.zeros((num_agents, num_steps), np.float32),
        velocity=velocity,
        size=np.tile(np.array([[4.5, 2.0, 1.5]], np.float32), (num_agents, 1)),
        valid=valid,
    )
    return Scenario(
        scenario_id=scenario_id,
        source="synthetic",
        dt_s=0.1,
        current_step=current_step,
        agents=agents,
        target_idx=np.array([0], np.int64),
        map=straight_map() if with_map else MapFeatures.empty(),
    )


def make_prediction(scenario: Scenario, num_modes: int = 3, offset_m: float = 0.0):
    """A ScenarioPrediction-like object for the targets: mode k is the ground truth shifted by
    ``offset_m + k`` metres along y; probabilities decrease with k."""
    first = scenario.current_step + 1
    truth = scenario.agents.position[scenario.target_idx, first:]  # (N, Tf, 2)
    shift = np.zeros((num_modes, 1, 2), np.float32)
    shift[:, 0, 1] = offset_m + np.arange(num_modes)
    trajectory = truth[:, None] + shift[None]  # (N, K, Tf, 2)
    probability = np.tile(np.linspace(num_modes, 1, num_modes, dtype=np.float32), (len(truth), 1))
    probability /= probability.sum(axis=1, keepdims=True)
    return SimpleNamespace(
        scenario_id=scenario.scenario_id,
        agent_ids=scenario.agents.ids[scenario.target_idx],
        trajectory=trajectory.astype(np.float32),
        probability=probability,
        heading=None,
    )
