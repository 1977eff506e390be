"""Static scene figures (PNG, SVG): map, agents, history, ground truth, forecasts, scale bar, legend.

Uses matplotlib's object API with the Agg canvas (no pyplot, no global state), so it runs headless.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

from drive.data.schema import AgentType, MapType, Scenario
from drive.errors import ConfigError
from drive.viz.forecast import SceneForecast
from drive.viz.layers import (
    AgentAttention,
    draw_agents,
    draw_attention,
    draw_forecast,
    draw_map,
    draw_tracks,
    draw_traffic_lights,
    forecast_start,
)
from drive.viz.style import (
    BACKGROUND_COLOUR,
    GROUND_TRUTH_COLOUR,
    PREDICTION_COLOUR,
    agent_colour,
    map_style,
    signal_style,
)
from drive.viz.window import ViewWindow, default_window

FIGURE_SUFFIXES = (".png", ".svg")


@dataclass(frozen=True)
class RenderSummary:
    """What a render drew: boxes of agents valid at ``step``, map features in view, predicted mode
    trajectories (K per focus agent with a forecast), the window shown, and traffic signals."""

    step: int
    num_agents_drawn: int
    num_focus_agents: int
    num_map_features_drawn: int
    num_modes_drawn: int
    window: ViewWindow
    num_signals_drawn: int = 0


def scale_bar_length_m(half_width_m: float) -> float:
    """A round length (1, 2 or 5 times a power of ten) near a fifth of the window's width."""
    target = 2 * half_width_m / 5
    power = 10 ** np.floor(np.log10(target))
    return float(max(m * power for m in (1, 2, 5) if m * power <= target))


def _legend(ax: Axes, scenario: Scenario, step: int, has_forecast: bool, has_future: bool) -> None:
    handles = [
        Patch(color=agent_colour(t), label=t.name.lower())
        for t in AgentType
        if np.any(scenario.agents.types == t)
    ]
    for map_type in MapType:
        if np.any(scenario.map.types == map_type):
            colour, width, style, _, fill = map_style(map_type)
            name = map_type.name.lower().replace("_", " ")
            if fill:
                handles.append(Patch(color=colour, label=name))
            elif map_type == MapType.STOP_SIGN:
                handles.append(Line2D([], [], color=colour, marker="8", ls="", label=name))
            else:
                handles.append(Line2D([], [], color=colour, lw=max(width, 1.2), ls=style, label=name))
    lights = scenario.traffic_lights
    if lights is not None:
        signals = {signal_style(c) for c in lights.states[step][lights.valid[step]]}
        for colour, name in sorted(signals, key=lambda pair: pair[1]):
            handles.append(Line2D([], [], color=colour, marker="o", ls="", label=name))
    if has_future:
        handles.append(Line2D([], [], color=GROUND_TRUTH_COLOUR, ls=(0, (3, 2)), label="ground truth"))
    if has_forecast:
        handles.append(Line2D([], [], color=PREDICTION_COLOUR, label="predicted (opacity = prob.)"))
    # Below the axes, so the legend never hides part of the scene.
    ax.legend(
        handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.005), ncol=min(6, len(handles)),
        fontsize=7, frameon=False, handlelength=1.8, columnspacing=1.2,
    )  # fmt: skip


def decorate_axes(ax: Axes, window: ViewWindow) -> None:
    ax.set_xlim(*window.xlim)
    ax.set_ylim(*window.ylim)
    ax.set_aspect("equal")
    ax.set_facecolor(BACKGROUND_COLOUR)
    ax.set_xticks([])
    ax.set_yticks([])
    length = scale_bar_length_m(window.half_width_m)
    ax.add_artist(
        AnchoredSizeBar(ax.transData, length, f"{length:g} m", "lower left", pad=0.6, frameon=False,
                        size_vertical=window.half_width_m / 200, fontproperties={"size": 8})
    )  # fmt: skip


def title_for(scenario: Scenario, step: int) -> str:
    seconds = (step - scenario.current_step) * scenario.dt_s
    return f"{scenario.scenario_id} ({scenario.source})  t = {seconds:+.1f} s"


def draw_scene(
    ax: Axes,
    scenario: Scenario,
    forecast: SceneForecast | None = None,
    *,
    step: int | None = None,
    focus_idx: np.ndarray | None = None,
    window: ViewWindow | None = None,
    attention: AgentAttention | None = None,
    legend: bool = True,
) -> RenderSummary:
    """Draw one scene at ``step`` (default: the current step) onto ``ax``.

    Focus agents (default: the targets) get their ground-truth future and forecast drawn; every agent
    valid at ``step`` gets a box and its history trail.
    """
    step = scenario.current_step if step is None else int(step)
    if not 0 <= step < scenario.num_steps:
        raise ConfigError(f"step: must be in 0..{scenario.num_steps - 1}, got {step}")
    focus_idx = np.asarray(scenario.target_idx if focus_idx is None else focus_idx, np.int64)
    window = window or default_window(scenario, focus_idx, forecast)
    map_drawn = draw_map(ax, scenario.map, window)
    _, signals_drawn = draw_traffic_lights(ax, scenario, step)
    valid_now = np.flatnonzero(scenario.agents.valid[:, step])
    draw_tracks(ax, scenario, step, valid_now)
    has_future = bool(draw_tracks(ax, scenario, step, focus_idx, future=True))
    if attention is not None:
        draw_attention(ax, scenario, step, attention)
    _, agents_drawn = draw_agents(ax, scenario, step, focus_idx)
    modes_drawn = 0
    if forecast is not None:
        start = forecast_start(scenario, forecast)
        _, modes_drawn = draw_forecast(
            ax, forecast, focus_idx, start_xy=start, label_modes=len(focus_idx) <= 2
        )
    decorate_axes(ax, window)
    ax.set_title(title_for(scenario, step), fontsize=9)
    if legend:
        _legend(ax, scenario, step, forecast is not None and modes_drawn > 0, has_future)
    return RenderSummary(step, agents_drawn, len(focus_idx), map_drawn, modes_drawn, window, signals_drawn)


def new_figure(size_px: int = 800, dpi: int = 100) -> tuple[Figure, Axes]:
    """A square Agg-backed figure with one axes filling most of it."""
    if not 100 <= size_px <= 4000:
        raise ConfigError(f"size_px: must be in 100..4000, got {size_px}")
    figure = Figure(figsize=(size_px / dpi, size_px / dpi), dpi=dpi)
    FigureCanvasAgg(figure)
    ax = figure.add_axes((0.06, 0.08, 0.88, 0.87))  # room for the legend below
    return figure, ax


def render_figure(
    scenario: Scenario, forecast: SceneForecast | None = None, *, size_px: int = 800, **options
) -> tuple[Figure, RenderSummary]:
    """A new figure of one scene; ``options`` go to :func:`draw_scene`."""
    figure, ax = new_figure(size_px)
    return figure, draw_scene(ax, scenario, forecast, **options)


def save_figure(path: str | Path, scenario: Scenario, forecast: SceneForecast | None = None, **options):
    """Render one scene to ``path`` (.png or .svg); returns the :class:`RenderSummary`."""
    path = Path(path)
    if path.suffix.lower() not in FIGURE_SUFFIXES:
        raise ConfigError(f"figure path: suffix must be one of {FIGURE_SUFFIXES}, got {path.suffix!r}")
    figure, summary = render_figure(scenario, forecast, **options)
    figure.savefig(path, facecolor="white")
    return summary


def figure_pixels(figure: Figure) -> np.ndarray:
    """The rendered figure as RGB ``[H, W, 3]`` uint8."""
    figure.canvas.draw()
    return np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()
