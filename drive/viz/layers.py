"""Scene layers drawn on a matplotlib ``Axes``: map, agent boxes, tracks, forecasts, attention.

Each ``draw_*`` function adds artists for one layer and returns them, so an animation can remove the
moving layers and redraw them per frame while the map stays. Glossary: A agents, T steps, K modes,
Tf future steps; positions in world metres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.colors import to_rgba

from drive.data.schema import AgentType, MapFeatures, MapType, Scenario
from drive.errors import ConfigError
from drive.viz.forecast import SceneForecast
from drive.viz.style import (
    ATTENTION_COLOUR,
    DEFAULT_SIZE_M,
    GROUND_TRUTH_COLOUR,
    PREDICTION_COLOUR,
    TARGET_EDGE_COLOUR,
    agent_colour,
    map_style,
    signal_style,
)
from drive.viz.window import ViewWindow

AGENT_BOXES_GID = "agent-boxes"


@dataclass(frozen=True)
class AgentAttention:
    """Where one agent attends: ``agent_idx`` is the attending agent, ``weights`` its non-negative
    attention over the scene's A agents, ``[A]`` or per head ``[H, A]`` (e.g. the
    ``return_weights`` output of an interaction layer's rotary attention for that query)."""

    agent_idx: int
    weights: np.ndarray

    def __post_init__(self) -> None:
        weights = np.asarray(self.weights)
        if weights.ndim not in (1, 2) or not np.all(np.isfinite(weights)) or np.any(weights < 0):
            raise ConfigError(
                f"AgentAttention.weights: expected finite non-negative [A] or [H, A], got shape "
                f"{weights.shape}"
            )

    def checked_weights(self, num_agents: int) -> np.ndarray:
        """:meth:`agent_weights` after checking they cover the scene's ``num_agents`` agents."""
        weights = self.agent_weights()
        if weights.shape != (num_agents,) or not 0 <= self.agent_idx < num_agents:
            raise ConfigError(
                f"AgentAttention: weights over {weights.shape[0]} agents from agent index {self.agent_idx}, "
                f"but the scene has {num_agents} agents"
            )
        return weights

    def agent_weights(self) -> np.ndarray:
        """Weights ``[A]``, averaged over heads when given per head."""
        weights = np.asarray(self.weights, np.float64)
        return weights.mean(axis=0) if weights.ndim == 2 else weights


def box_corners(position: np.ndarray, heading_rad: np.ndarray, length_m, width_m) -> np.ndarray:
    """Corners ``[A, 4, 2]`` of boxes centred at ``position [A, 2]`` facing ``heading_rad [A]``
    (rear-left, rear-right, front-right, front-left, counter-clockwise)."""
    half = np.stack([np.asarray(length_m) / 2, np.asarray(width_m) / 2], -1)  # (A, 2)
    unit = np.array([[-1, 1], [-1, -1], [1, -1], [1, 1]], np.float64)  # (4, 2)
    local = unit[None] * half[:, None]  # (A, 4, 2)
    cos, sin = np.cos(heading_rad)[:, None], np.sin(heading_rad)[:, None]  # (A, 1)
    x = cos * local[..., 0] - sin * local[..., 1]
    y = sin * local[..., 0] + cos * local[..., 1]
    return np.stack([x, y], -1) + position[:, None]  # (A, 4, 2)


def agent_box_size(scenario: Scenario) -> np.ndarray:
    """Length and width ``[A, 2]`` m; sources without sizes get a per-type default."""
    size = scenario.agents.size[:, :2].astype(np.float64).copy()
    missing = ~(size > 0.05).all(axis=1)
    for i in np.flatnonzero(missing):
        size[i] = DEFAULT_SIZE_M[AgentType(int(scenario.agents.types[i]))]
    return size


def _in_window(points: np.ndarray, window: ViewWindow | None) -> bool:
    if window is None:
        return True
    low, high = points.min(axis=0), points.max(axis=0)
    (x0, x1), (y0, y1) = window.xlim, window.ylim
    return bool(high[0] >= x0 and low[0] <= x1 and high[1] >= y0 and low[1] <= y1)


def draw_map(ax: Axes, road: MapFeatures, window: ViewWindow | None = None) -> int:
    """Draw the map polylines styled by type; returns how many features were drawn (those in view)."""
    drawn = 0
    for map_type in MapType:
        colour, width, style, zorder, fill = map_style(map_type)
        lines = [
            road.polyline(m)
            for m in np.flatnonzero(road.types == map_type)
            if _in_window(road.polyline(m), window)
        ]
        if not lines:
            continue
        drawn += len(lines)
        if map_type == MapType.STOP_SIGN:
            points = np.concatenate([line[:1] for line in lines])
            ax.scatter(points[:, 0], points[:, 1], s=30, marker="8", c=colour, zorder=zorder)
        elif fill:
            polygons = [line for line in lines if len(line) >= 3]
            ax.add_collection(PolyCollection(polygons, facecolors=colour, edgecolors="none", zorder=zorder))
        else:
            ax.add_collection(
                LineCollection(lines, colors=colour, linewidths=width, linestyles=style, zorder=zorder)
            )
    return drawn


def valid_runs(points: np.ndarray, valid: np.ndarray) -> list[np.ndarray]:
    """The runs ``[L, 2]`` (L >= 2) of consecutive valid steps of one track ``points [T, 2]``; whole
    runs rather than two-point segments so that dash patterns flow along the track."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], valid.astype(np.int8), [0]])))  # run bounds
    return [points[start:end] for start, end in zip(edges[::2], edges[1::2]) if end - start >= 2]


def draw_tracks(
    ax: Axes, scenario: Scenario, step: int, agent_idx: np.ndarray, *, first_step: int = 0, future=False
) -> list:
    """History trails (steps ``first_step..step``) of ``agent_idx``, or with ``future=True`` the
    ground-truth future after ``step`` as dashed lines."""
    agents = scenario.agents
    window = slice(step, None) if future else slice(first_step, step + 1)
    segments, colours = [], []
    for i in agent_idx:
        runs = valid_runs(agents.position[i, window], agents.valid[i, window])
        segments += runs
        colours += [GROUND_TRUTH_COLOUR if future else agent_colour(agents.types[i])] * len(runs)
    if not segments:
        return []
    style = dict(linestyles=(0, (2.5, 1.5)), linewidths=1.6) if future else dict(linewidths=1.6)
    return [ax.add_collection(LineCollection(segments, colors=colours, zorder=6, **style))]


def draw_agents(ax: Axes, scenario: Scenario, step: int, focus_idx: np.ndarray) -> tuple[list, int]:
    """Oriented boxes of every agent valid at ``step``, coloured by type; focus agents get a black
    edge. Returns the artists and the number of boxes."""
    agents = scenario.agents
    shown = np.flatnonzero(agents.valid[:, step])
    if len(shown) == 0:
        return [], 0
    size = agent_box_size(scenario)[shown]
    corners = box_corners(agents.position[shown, step], agents.heading[shown, step], size[:, 0], size[:, 1])
    focus = np.isin(shown, focus_idx)
    boxes = PolyCollection(
        list(corners),
        facecolors=[agent_colour(t) for t in agents.types[shown]],
        edgecolors=[TARGET_EDGE_COLOUR if f else "white" for f in focus],
        linewidths=[1.4 if f else 0.5 for f in focus],
        alpha=0.9,
        zorder=8,
    )
    boxes.set_gid(AGENT_BOXES_GID)
    # A heading tick on boxes long enough to carry one; on a pedestrian's it would only be noise.
    long_enough = size[:, 0] >= 1.5
    front = corners[long_enough, 2:4].mean(axis=1)  # (A_long, 2)
    ticks = LineCollection(
        np.stack([agents.position[shown[long_enough], step], front], 1), colors="white", linewidths=0.8,
        zorder=9,
    )  # fmt: skip
    return [ax.add_collection(boxes), ax.add_collection(ticks)], len(shown)


def draw_forecast(
    ax: Axes, forecast: SceneForecast, focus_idx: np.ndarray, *, start_xy=None, label_modes=False
) -> tuple:
    """The K predicted futures of focus agents, opacity by probability (relative to the agent's most
    likely mode); each starts at ``start_xy [N, 2]`` (the agents' current positions) when given, so a
    coarse (2 Hz) forecast stays attached to its agent. Returns the artists and the number of mode
    trajectories drawn."""
    artists, drawn = [], 0
    for row in np.flatnonzero(np.isin(forecast.agent_idx, focus_idx)):
        prob = forecast.probability[row].astype(np.float64)  # (K,)
        alpha = np.clip(0.2 + 0.8 * prob / max(float(prob.max()), 1e-9), 0.0, 1.0)  # (K,)
        for k in np.argsort(prob):
            path = forecast.trajectory[row, k]  # (Tf, 2)
            if start_xy is not None:
                path = np.concatenate([start_xy[row][None], path])  # (Tf + 1, 2)
            (line,) = ax.plot(path[:, 0], path[:, 1], color=PREDICTION_COLOUR, alpha=float(alpha[k]), lw=1.6)
            dot = ax.scatter(path[-1:, 0], path[-1:, 1], s=12, color=PREDICTION_COLOUR, alpha=float(alpha[k]))
            line.set_zorder(7)
            dot.set_zorder(7)
            artists += [line, dot]
            if label_modes:
                text = ax.annotate(
                    f"{prob[k]:.2f}", path[-1], fontsize=6, color="#5A2D4B", zorder=10,
                    xytext=(3, 3), textcoords="offset points", clip_on=True,
                )  # fmt: skip
                artists.append(text)
            drawn += 1
    return artists, drawn


def draw_attention(ax: Axes, scenario: Scenario, step: int, attention: AgentAttention) -> list:
    """Lines from the attending agent to every agent valid at ``step``; width and opacity grow with
    the attention weight (normalised by the largest)."""
    agents = scenario.agents
    weights = attention.checked_weights(agents.num_agents)  # (A,)
    source = agents.position[attention.agent_idx, step]
    valid = agents.valid[:, step] & (np.arange(agents.num_agents) != attention.agent_idx)
    valid &= weights > 0
    if not valid.any() or not agents.valid[attention.agent_idx, step]:
        return []
    scale = weights[valid] / weights[valid].max()
    targets = agents.position[valid, step]
    segments = np.stack([np.broadcast_to(source, targets.shape), targets], 1)
    colours = [to_rgba(ATTENTION_COLOUR, 0.15 + 0.85 * float(s)) for s in scale]
    lines = LineCollection(segments, colors=colours, linewidths=0.5 + 3 * scale, zorder=5)
    return [ax.add_collection(lines)]


def draw_traffic_lights(ax: Axes, scenario: Scenario, step: int) -> tuple[list, int]:
    """A dot per controlled lane at its stop point, coloured by the signal state at ``step``.
    Returns the artists and the number of signals drawn."""
    lights = scenario.traffic_lights
    if lights is None or not lights.valid[step].any():
        return [], 0
    shown = np.flatnonzero(lights.valid[step])
    points = lights.stop_point[step, shown]  # (L_shown, 2)
    colours = [signal_style(state)[0] for state in lights.states[step, shown]]
    dots = ax.scatter(points[:, 0], points[:, 1], s=22, c=colours, edgecolors="white", linewidths=0.6)
    dots.set_zorder(5)
    return [dots], len(shown)


def forecast_start(scenario: Scenario, forecast: SceneForecast) -> np.ndarray:
    """Current positions ``[N, 2]`` of the forecast's agents (where their predicted paths begin)."""
    return scenario.agents.position[forecast.agent_idx, scenario.current_step]
