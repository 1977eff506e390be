"""Scene replays as GIF (Pillow) or MP4 (imageio-ffmpeg): the map is drawn once, agents move with a
short trail, focus agents show their ground-truth future dashed, and the forecast appears when the
replay reaches the current step."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drive.data.schema import Scenario
from drive.errors import ConfigError, missing_extra
from drive.viz.figure import decorate_axes, figure_pixels, new_figure, title_for
from drive.viz.forecast import SceneForecast
from drive.viz.layers import (
    draw_agents,
    draw_forecast,
    draw_map,
    draw_tracks,
    draw_traffic_lights,
    forecast_start,
)
from drive.viz.window import ViewWindow, default_window

ANIMATION_SUFFIXES = (".gif", ".mp4")


@dataclass(frozen=True)
class AnimationSummary:
    """Frames written (one per shown step), the steps they show, and the frame size in pixels."""

    num_frames: int
    steps: tuple[int, ...]
    frame_size_px: tuple[int, int]


def frame_steps(num_steps: int, current_step: int, max_frames: int) -> list[int]:
    """``min(max_frames, num_steps)`` evenly spaced steps over ``0..num_steps-1``, always including the
    first and last step and ``current_step`` (where the forecast appears)."""
    if max_frames < 3:
        raise ConfigError(f"max_frames: must be >= 3, got {max_frames}")
    count = min(max_frames, num_steps)
    # Spacing (num_steps - 1) / (count - 1) >= 1, so the rounded steps are distinct.
    steps = np.round(np.linspace(0, num_steps - 1, count)).astype(int)
    if current_step not in steps:
        interior = np.arange(1, count - 1)
        steps[interior[np.argmin(np.abs(steps[interior] - current_step))]] = current_step
    return sorted(int(s) for s in steps)


def render_frames(
    scenario: Scenario,
    forecast: SceneForecast | None = None,
    *,
    focus_idx: np.ndarray | None = None,
    window: ViewWindow | None = None,
    max_frames: int = 40,
    size_px: int = 480,
    trail_steps: int = 10,
) -> tuple[list[np.ndarray], list[int]]:
    """RGB frames ``[H, W, 3]`` uint8 and the step each shows."""
    focus_idx = np.asarray(scenario.target_idx if focus_idx is None else focus_idx, np.int64)
    window = window or default_window(scenario, focus_idx, forecast)
    figure, ax = new_figure(size_px, dpi=80)
    draw_map(ax, scenario.map, window)
    decorate_axes(ax, window)
    steps = frame_steps(scenario.num_steps, scenario.current_step, max_frames)
    frames = []
    for step in steps:
        valid_now = np.flatnonzero(scenario.agents.valid[:, step])
        moving = draw_tracks(ax, scenario, step, valid_now, first_step=max(0, step - trail_steps))
        moving += draw_traffic_lights(ax, scenario, step)[0]
        moving += draw_tracks(ax, scenario, step, focus_idx, future=True)
        moving += draw_agents(ax, scenario, step, focus_idx)[0]
        if forecast is not None and step >= scenario.current_step:
            moving += draw_forecast(ax, forecast, focus_idx, start_xy=forecast_start(scenario, forecast))[0]
        ax.set_title(title_for(scenario, step), fontsize=9)
        frames.append(figure_pixels(figure))
        for artist in moving:
            artist.remove()
    return frames, steps


def save_animation(
    path: str | Path,
    scenario: Scenario,
    forecast: SceneForecast | None = None,
    *,
    fps: float = 10.0,
    **options,
) -> AnimationSummary:
    """Write a replay to ``path`` (.gif or .mp4); ``options`` go to :func:`render_frames`."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in ANIMATION_SUFFIXES:
        raise ConfigError(f"animation path: suffix must be one of {ANIMATION_SUFFIXES}, got {suffix!r}")
    if not 0.5 <= fps <= 60:
        raise ConfigError(f"fps: must be in 0.5..60, got {fps}")
    import imageio.v3 as iio

    if suffix == ".mp4":
        try:
            import imageio_ffmpeg  # noqa: F401
        except ImportError as err:
            raise missing_extra("imageio-ffmpeg", "viz") from err
    frames, steps = render_frames(scenario, forecast, **options)
    if suffix == ".gif":
        # Pillow's GIF writer takes the per-frame duration in milliseconds; loop=0 repeats forever.
        iio.imwrite(path, np.stack(frames), extension=".gif", duration=1000.0 / fps, loop=0)
    else:
        import imageio

        with imageio.get_writer(path, fps=fps, codec="libx264", quality=6, macro_block_size=16) as writer:
            for frame in frames:
                writer.append_data(frame)
    height, width = frames[0].shape[:2]
    return AnimationSummary(len(frames), tuple(steps), (width, height))
