"""Which part of the scene to show: a square window in world metres, and which agents are in focus."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from drive.data.schema import Scenario
from drive.errors import ConfigError, DataError
from drive.viz.forecast import SceneForecast


@dataclass(frozen=True)
class ViewWindow:
    """A square view: centre ``(center_x_m, center_y_m)`` and half its side ``half_width_m``."""

    center_x_m: float
    center_y_m: float
    half_width_m: float

    def __post_init__(self) -> None:
        for name in ("center_x_m", "center_y_m", "half_width_m"):
            if not math.isfinite(getattr(self, name)):
                raise ConfigError(f"ViewWindow.{name}: must be finite, got {getattr(self, name)}")
        if self.half_width_m <= 0:
            raise ConfigError(f"ViewWindow.half_width_m: must be > 0 m, got {self.half_width_m}")

    @property
    def xlim(self) -> tuple[float, float]:
        return (self.center_x_m - self.half_width_m, self.center_x_m + self.half_width_m)

    @property
    def ylim(self) -> tuple[float, float]:
        return (self.center_y_m - self.half_width_m, self.center_y_m + self.half_width_m)

    def contains(self, points: np.ndarray) -> np.ndarray:
        """Bool ``[...]`` for points ``[..., 2]`` inside the window."""
        offset = np.abs(points - np.array([self.center_x_m, self.center_y_m]))
        return np.all(offset <= self.half_width_m, axis=-1)

    @staticmethod
    def parse(text: str) -> ViewWindow:
        """``"X,Y,HALF_WIDTH"`` in metres -> a window (the CLI's ``--window``)."""
        try:
            x, y, half = (float(v) for v in text.split(","))
        except ValueError as err:
            raise ConfigError(f"--window: expected 'X,Y,HALF_WIDTH' in metres, got {text!r}") from err
        return ViewWindow(x, y, half)


def focus_indices(scenario: Scenario, agent_ids: Sequence[int] | None = None) -> np.ndarray:
    """Agent indices ``[F]`` in focus: the agents with ``agent_ids``, or the scenario's targets."""
    if not agent_ids:
        return np.asarray(scenario.target_idx, np.int64)
    index_of = {int(agent_id): i for i, agent_id in enumerate(scenario.agents.ids)}
    missing = [int(a) for a in agent_ids if int(a) not in index_of]
    if missing:
        some = ", ".join(str(int(i)) for i in scenario.agents.ids[:10])
        raise DataError(f"{scenario.where}: no agent with id {missing}; ids include {some}")
    return np.asarray([index_of[int(a)] for a in agent_ids], np.int64)


def default_window(
    scenario: Scenario,
    focus_idx: np.ndarray,
    forecast: SceneForecast | None = None,
    *,
    margin_m: float = 8.0,
    min_half_width_m: float = 10.0,
) -> ViewWindow:
    """The smallest square holding the focus agents' whole valid tracks (and their predictions, if
    any), grown by ``margin_m`` and at least ``2 * min_half_width_m`` wide."""
    agents = scenario.agents
    points = [agents.position[i][agents.valid[i]] for i in focus_idx]  # each (T_valid, 2)
    if forecast is not None:
        shown = np.isin(forecast.agent_idx, focus_idx)
        points.append(forecast.trajectory[shown].reshape(-1, 2))
    stacked = np.concatenate([p.reshape(-1, 2) for p in points]) if points else np.zeros((0, 2))
    if len(stacked) == 0:
        stacked = agents.position[agents.valid].reshape(-1, 2)
    low, high = stacked.min(axis=0), stacked.max(axis=0)
    centre = (low + high) / 2
    half = max(float((high - low).max()) / 2 + margin_m, min_half_width_m)
    return ViewWindow(float(centre[0]), float(centre[1]), half)
