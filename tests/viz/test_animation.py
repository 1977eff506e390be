"""Replays: frame selection, GIF frame count read back, MP4 when the encoder is present."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import pytest

from drive.errors import ConfigError
from drive.viz import ViewWindow, match_prediction, render_frames, save_animation
from drive.viz.animation import frame_steps
from tests.viz.scenes import make_prediction, make_scene


@pytest.mark.parametrize(
    ("num_steps", "current", "max_frames"), [(91, 10, 40), (91, 10, 30), (20, 8, 40), (50, 49, 7), (50, 1, 3)]
)
def test_frame_steps_keep_the_current_and_last_step(num_steps, current, max_frames):
    steps = frame_steps(num_steps, current, max_frames)
    assert current in steps and num_steps - 1 in steps and steps[0] == 0
    assert len(steps) == min(max_frames, num_steps) and steps == sorted(set(steps))


def test_gif_has_one_frame_per_selected_step(tmp_path):
    scenario = make_scene(num_steps=30, current_step=10)
    forecast = match_prediction(scenario, make_prediction(scenario))
    summary = save_animation(tmp_path / "a.gif", scenario, forecast, max_frames=12, size_px=160)
    frames = iio.imread(tmp_path / "a.gif", index=None)
    assert summary.num_frames == len(frames) == len(frame_steps(30, 10, 12))
    assert frames.shape[1:3] == (160, 160)
    # Agents move, so consecutive frames differ.
    assert all(np.any(frames[i] != frames[i + 1]) for i in range(len(frames) - 1))


def test_forecast_appears_from_the_current_step_on():
    scenario = make_scene(num_steps=12, current_step=6, num_agents=1, with_map=False)
    forecast = match_prediction(scenario, make_prediction(scenario, offset_m=3.0))
    # A fixed window: the default one would grow to hold the forecast.
    window_options = dict(max_frames=12, size_px=160, window=ViewWindow(-15.0, 0.0, 15.0))
    with_fc, steps = render_frames(scenario, forecast, **window_options)
    without, _ = render_frames(scenario, None, **window_options)
    differs = [bool(np.any(a != b)) for a, b in zip(with_fc, without)]
    assert differs == [step >= scenario.current_step for step in steps]


def test_mp4_is_written(tmp_path):
    pytest.importorskip("imageio_ffmpeg")
    summary = save_animation(tmp_path / "a.mp4", make_scene(num_steps=16), max_frames=8, size_px=160, fps=5)
    assert summary.num_frames == 8 and (tmp_path / "a.mp4").stat().st_size > 1000


def test_bad_suffix_and_fps_are_rejected(tmp_path):
    with pytest.raises(ConfigError, match="suffix"):
        save_animation(tmp_path / "a.avi", make_scene())
    with pytest.raises(ConfigError, match="fps"):
        save_animation(tmp_path / "a.gif", make_scene(), fps=0.0)
