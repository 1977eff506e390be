"""Ground truth for the predicted agents of one scenario, on the prediction's own time grid.

Glossary: N predicted target agents, K modes, Tf prediction steps, M other agents, P = 16 WOMD samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drive.data.schema import Scenario
from drive.evaluation.predictions import ScenarioPrediction

WOMD_DT_S = 0.1
WOMD_NUM_SAMPLES = 16
WOMD_STRIDE = 5


def is_womd_grid(scenario: Scenario) -> bool:
    """Whether the scenario has the WOMD layout: 10 Hz and at least 8 s after the current step."""
    future_steps = scenario.num_steps - 1 - scenario.current_step
    return abs(scenario.dt_s - WOMD_DT_S) < 1e-6 and future_steps >= WOMD_NUM_SAMPLES * WOMD_STRIDE


def prediction_stride(scenario: Scenario, num_future_steps: int) -> int:
    """Track steps between prediction steps: 5 for a 16-step (2 Hz) prediction on a WOMD-layout scenario,
    else 1 (one prediction step per dataset step)."""
    return WOMD_STRIDE if num_future_steps == WOMD_NUM_SAMPLES and is_womd_grid(scenario) else 1


def future_steps(scenario: Scenario, num_steps: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Track-step indices ``[num_steps]`` (clipped to the scenario) and whether each exists."""
    steps = scenario.current_step + stride * np.arange(1, num_steps + 1)
    inside = steps < scenario.num_steps
    return np.minimum(steps, scenario.num_steps - 1), inside


@dataclass(frozen=True)
class Targets:
    """Predicted target agents of one scenario matched to their prediction rows.

    agent_idx ``[N]`` scenario agent indices; row ``[N]`` rows of the prediction; types ``[N]``;
    missing_ids: target agent ids with no prediction row.
    """

    agent_idx: np.ndarray
    row: np.ndarray
    types: np.ndarray
    missing_ids: tuple[int, ...]


def match_targets(scenario: Scenario, prediction: ScenarioPrediction) -> Targets:
    """Rows of ``prediction`` for the scenario's targets, by agent id."""
    row_of = {int(a): r for r, a in enumerate(prediction.agent_ids)}
    agent_idx, rows, missing = [], [], []
    for idx in scenario.target_idx:
        agent_id = int(scenario.agents.ids[idx])
        if agent_id in row_of:
            agent_idx.append(int(idx))
            rows.append(row_of[agent_id])
        elif scenario.agents.valid[idx, : scenario.current_step + 1].any():
            missing.append(agent_id)  # a target never observed cannot be predicted and is not required
    agent_idx = np.asarray(agent_idx, np.int64)
    return Targets(
        agent_idx,
        np.asarray(rows, np.int64),
        scenario.agents.types[agent_idx].astype(np.int64),
        tuple(missing),
    )


def target_future(scenario: Scenario, agent_idx: np.ndarray, num_steps: int, stride: int):
    """Ground truth of agents ``agent_idx`` at the prediction steps: position ``[N, T, 2]``, heading
    ``[N, T]``, valid ``[N, T]``."""
    steps, inside = future_steps(scenario, num_steps, stride)
    agents = scenario.agents
    position = agents.position[agent_idx][:, steps].astype(np.float64)
    heading = agents.heading[agent_idx][:, steps].astype(np.float64)
    valid = agents.valid[agent_idx][:, steps] & inside[None]
    return position, heading, valid


def others_at_samples(scenario: Scenario, agent_index: int):
    """The other agents valid at the current step, at the 16 WOMD samples: xy ``[M, P, 2]``, heading
    ``[M, P]``, size ``[M, 2]`` (length, width), valid ``[M, P]``."""
    agents = scenario.agents
    others = np.flatnonzero(agents.valid[:, scenario.current_step])
    others = others[others != agent_index]
    steps, inside = future_steps(scenario, WOMD_NUM_SAMPLES, WOMD_STRIDE)
    return (
        agents.position[others][:, steps].astype(np.float64),
        agents.heading[others][:, steps].astype(np.float64),
        agents.size[others, :2].astype(np.float64),
        agents.valid[others][:, steps] & inside[None],
    )
