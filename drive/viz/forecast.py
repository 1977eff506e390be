"""Predicted trajectories attached to one scene's agents, and the per-scene errors the viewer sorts by.

Glossary: N predicted agents, K modes, Tf future steps. Positions are world (scene-frame) metres, the
frame of the :class:`~drive.data.schema.Scenario` they belong to.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from drive.data.schema import Scenario
from drive.errors import DataError


@dataclass(frozen=True)
class SceneForecast:
    """K predicted futures for N agents of one scene.

    agent_idx ``[N]`` int64 indexes the scenario's agents; trajectory ``[N, K, Tf, 2]`` world m, row
    ``j`` at track step ``current_step + stride * (j + 1)`` (stride 5 for a WOMD 2 Hz submission, else
    1); probability ``[N, K]`` (each row sums to 1).
    """

    agent_idx: np.ndarray
    trajectory: np.ndarray
    probability: np.ndarray
    stride: int = 1

    def __post_init__(self) -> None:
        n = self.agent_idx.shape[0]
        if self.agent_idx.ndim != 1:
            raise DataError(f"forecast: field 'agent_idx': expected shape [N], got {self.agent_idx.shape}")
        if self.trajectory.ndim != 4 or self.trajectory.shape[0] != n or self.trajectory.shape[-1] != 2:
            raise DataError(
                f"forecast: field 'trajectory': expected shape [{n}, K, Tf, 2], got {self.trajectory.shape}"
            )
        if self.probability.shape != self.trajectory.shape[:2]:
            raise DataError(
                f"forecast: field 'probability': expected shape {self.trajectory.shape[:2]}, "
                f"got {self.probability.shape}"
            )
        if not (np.all(np.isfinite(self.trajectory)) and np.all(np.isfinite(self.probability))):
            raise DataError("forecast: non-finite trajectory or probability")
        if self.stride < 1:
            raise DataError(f"forecast: field 'stride': must be >= 1, got {self.stride}")

    @property
    def num_modes(self) -> int:
        return int(self.trajectory.shape[1])


def match_prediction(scenario: Scenario, prediction) -> SceneForecast:
    """A :class:`~drive.evaluation.predictions.ScenarioPrediction` (any object with ``scenario_id``,
    ``agent_ids [N]``, ``trajectory [N, K, Tf, 2]``, ``probability [N, K]``) -> a forecast indexed by
    the scenario's agents. Agent ids the scenario lacks are an error naming them."""
    if str(prediction.scenario_id) != scenario.scenario_id:
        raise DataError(
            f"{scenario.where}: predictions are for scenario {prediction.scenario_id!r}, not this one"
        )
    index_of = {int(agent_id): i for i, agent_id in enumerate(scenario.agents.ids)}
    ids = np.asarray(prediction.agent_ids, np.int64).reshape(-1)
    missing = [int(i) for i in ids if int(i) not in index_of]
    if missing:
        raise DataError(f"{scenario.where}: predicted agent ids {missing[:5]} are not in the scene")
    # Imported here: the evaluation package pulls in torch, which drawing a scene does not need.
    from drive.evaluation.ground_truth import prediction_stride

    trajectory = np.asarray(prediction.trajectory, np.float32)
    return SceneForecast(
        agent_idx=np.asarray([index_of[int(i)] for i in ids], np.int64),
        trajectory=trajectory,
        probability=np.asarray(prediction.probability, np.float32),
        stride=prediction_stride(scenario, trajectory.shape[2]),
    )


def find_prediction(scenario: Scenario, predictions: Iterable) -> SceneForecast | None:
    """The forecast for ``scenario`` among ``predictions`` (ScenarioPrediction-like), or None."""
    for prediction in predictions:
        if str(prediction.scenario_id) == scenario.scenario_id:
            return match_prediction(scenario, prediction)
    return None


def forecast_errors(scenario: Scenario, forecast: SceneForecast) -> dict[str, float] | None:
    """Per-scene ``minADE`` and ``minFDE`` in metres, averaged over predicted agents.

    Ground truth is taken at the forecast's steps (every ``stride``-th track step). For each agent
    and mode, ADE averages the displacement over future steps where the ground truth is
    valid and FDE takes the last such step; the minimum over modes is kept. Agents with no valid future
    step are left out; None when no agent is left.
    """
    agents = scenario.agents
    steps = scenario.current_step + forecast.stride * np.arange(1, forecast.trajectory.shape[2] + 1)  # (Tf,)
    horizon = int((steps < scenario.num_steps).sum())
    steps = steps[:horizon]
    min_ade: list[float] = []
    min_fde: list[float] = []
    for row, agent in enumerate(forecast.agent_idx):
        valid = agents.valid[agent, steps]  # (Tf',)
        if horizon == 0 or not valid.any():
            continue
        truth = agents.position[agent, steps]  # (Tf', 2)
        distance = np.linalg.norm(forecast.trajectory[row, :, :horizon] - truth[None], axis=-1)  # (K, Tf')
        last = int(np.flatnonzero(valid)[-1])
        min_ade.append(float(distance[:, valid].mean(axis=1).min()))
        min_fde.append(float(distance[:, last].min()))
    if not min_ade:
        return None
    return {"minADE": float(np.mean(min_ade)), "minFDE": float(np.mean(min_fde))}
