"""Scene visualisation: static figures (PNG/SVG), replays (GIF/MP4) and a self-contained HTML viewer.

Everything takes a :class:`~drive.data.schema.Scenario` and, optionally, a :class:`SceneForecast`
(predictions matched to the scene's agents) in the scene's own frame. Batch elements are drawn through
:mod:`drive.viz.batch_view` (kept out of this namespace: it imports torch).
"""

from drive.viz.animation import AnimationSummary, render_frames, save_animation
from drive.viz.figure import RenderSummary, draw_scene, figure_pixels, render_figure, save_figure
from drive.viz.forecast import SceneForecast, find_prediction, forecast_errors, match_prediction
from drive.viz.layers import AgentAttention
from drive.viz.run import read_scene_errors, write_run_viewer
from drive.viz.viewer import viewer_html, write_viewer
from drive.viz.viewer_data import scene_payload
from drive.viz.window import ViewWindow, default_window, focus_indices

__all__ = [
    "AgentAttention",
    "AnimationSummary",
    "RenderSummary",
    "SceneForecast",
    "ViewWindow",
    "default_window",
    "draw_scene",
    "figure_pixels",
    "find_prediction",
    "focus_indices",
    "forecast_errors",
    "match_prediction",
    "read_scene_errors",
    "render_figure",
    "render_frames",
    "save_animation",
    "save_figure",
    "scene_payload",
    "viewer_html",
    "write_run_viewer",
    "write_viewer",
]
