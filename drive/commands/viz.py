"""`drive viz`: render a scene as PNG, SVG, GIF, MP4 or an interactive HTML viewer; the format follows
the suffix of ``--out``. Reads every source `drive inspect` reads (WOMD / simulated TFRecords, Argoverse 2
scenario directories, ETH/UCY text files).

An .html output without --scenario-id / --index holds every scene of PATH (up to --max-scenes) with a
scene list sortable by minADE / minFDE; the other formats draw one scene (the first by default).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from drive.data.schema import Scenario
from drive.errors import ConfigError, DataError

SUFFIXES = (".png", ".svg", ".gif", ".mp4", ".html")


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument("path", help="a dataset file or directory")
    parser.add_argument("--out", required=True, help=f"output file; suffix one of {' '.join(SUFFIXES)}")
    parser.add_argument("--scenario-id", help="the scene to draw (default: the first)")
    parser.add_argument("--index", type=int, help="draw the N-th scene of PATH (0-based)")
    parser.add_argument("--source", help="data source, overriding detection (womd, av2, eth_ucy)")
    parser.add_argument("--predictions", help="predictions file (.npz of ScenarioPrediction, or official)")
    parser.add_argument(
        "--baseline", choices=("constant_velocity",), help="draw this baseline's forecast (no file needed)"
    )
    parser.add_argument("--evaluation", help="evaluation JSON with per-scenario minADE/minFDE (html runs)")
    parser.add_argument(
        "--agent", type=int, action="append", help="agent id to focus on (repeatable; default: the targets)"
    )
    parser.add_argument("--window", help="fixed view 'X,Y,HALF_WIDTH' in metres (scene frame)")
    parser.add_argument("--half-width", type=float, help="view half-width in metres around the focus agents")
    parser.add_argument("--step", type=int, help="step to draw in a figure (default: the current step)")
    parser.add_argument("--attention", help=".npy: attention weights [A] or [H, A] of the first focus agent")
    parser.add_argument("--size", type=int, help="image side in pixels (default 800 figure, 480 replay)")
    parser.add_argument("--fps", type=float, default=10.0, help="replay frames per second (default 10)")
    parser.add_argument("--max-frames", type=int, default=40, help="most frames in a replay (default 40)")
    parser.add_argument("--max-scenes", type=int, default=50, help="most scenes in an html run (default 50)")
    parser.add_argument(
        "--skip-errors",
        action="store_true",
        help="skip unreadable scenarios (listed on stderr), draw the rest",
    )
    return parser


def _scenarios(args) -> Iterator[Scenario]:
    from drive.datasets import iter_scenarios

    return iter_scenarios(
        Path(args.path), source=args.source, skip_errors=args.skip_errors, report=args.report
    )


def _nonempty(args, scenarios: Iterator[Scenario]) -> Iterator[Scenario]:
    """``scenarios`` unchanged, or a DataError naming PATH when it holds none."""
    first = next(scenarios, None)
    if first is None:
        raise DataError(f"{args.path}: holds no {'readable ' if args.report.skipped else ''}scenario")
    yield first
    yield from scenarios


def _select(args) -> Scenario:
    seen = []
    count = 0
    for index, scenario in enumerate(_scenarios(args)):
        count += 1
        if args.scenario_id is not None and scenario.scenario_id == args.scenario_id:
            return scenario
        if args.scenario_id is None and index == (args.index or 0):
            return scenario
        if len(seen) < 5:
            seen.append(scenario.scenario_id)
    if count == 0:
        raise DataError(f"{args.path}: holds no {'readable ' if args.report.skipped else ''}scenario")
    if args.scenario_id is not None:
        raise DataError(f"{args.path}: no scenario {args.scenario_id!r}; scenarios include {seen}")
    raise DataError(f"{args.path}: --index {args.index} is past the last scenario (it holds {count})")


def _load_predictions(path: str | None) -> list | None:
    if path is None:
        return None
    try:
        from drive.evaluation.predictions import load_predictions
    except ImportError as err:
        raise ConfigError("--predictions: the predictions reader is not available in this install") from err
    return list(load_predictions(Path(path)))


def _baseline(name: str | None):
    """A function scenario -> prediction over every step after the current one, or None."""
    if name is None:
        return None
    from drive.evaluation.baselines import constant_velocity

    return lambda scenario: constant_velocity(scenario, scenario.num_steps - 1 - scenario.current_step)


def _render_one(args, out: Path, predictions) -> str:
    from drive import viz

    scenario = _select(args)
    if callable(predictions):
        forecast = viz.match_prediction(scenario, predictions(scenario))
    else:
        forecast = viz.find_prediction(scenario, predictions) if predictions is not None else None
    if predictions is not None and forecast is None:
        raise DataError(f"{args.predictions}: no predictions for scenario {scenario.scenario_id!r}")
    focus = viz.focus_indices(scenario, args.agent)
    window = viz.ViewWindow.parse(args.window) if args.window else None
    if window is None and args.half_width is not None:
        auto = viz.default_window(scenario, focus, forecast)
        window = viz.ViewWindow(auto.center_x_m, auto.center_y_m, args.half_width)
    attention = None
    if args.attention:
        try:
            weights = np.load(args.attention, allow_pickle=False)
        except (OSError, ValueError, EOFError) as err:
            raise DataError(f"{args.attention}: cannot read attention weights as .npy ({err})") from err
        if (
            weights.dtype.kind not in "iuf"
            or weights.ndim not in (1, 2)
            or weights.shape[-1] != scenario.agents.num_agents
        ):
            raise DataError(
                f"{args.attention}: expected attention weights [A] or [H, A] with A = "
                f"{scenario.agents.num_agents}, got shape {weights.shape} of {weights.dtype}"
            )
        attention = viz.AgentAttention(int(focus[0]), weights)
    suffix = out.suffix.lower()
    if suffix in (".png", ".svg"):
        summary = viz.save_figure(
            out, scenario, forecast, step=args.step, focus_idx=focus, window=window,
            attention=attention, size_px=800 if args.size is None else args.size,
        )  # fmt: skip
        return f"{summary.num_agents_drawn} agents, {summary.num_modes_drawn} predicted mode(s)"
    if suffix in (".gif", ".mp4"):
        summary = viz.save_animation(
            out, scenario, forecast, fps=args.fps, focus_idx=focus, window=window,
            max_frames=args.max_frames, size_px=480 if args.size is None else args.size,
        )  # fmt: skip
        return f"{summary.num_frames} frames"
    payload = viz.scene_payload(scenario, forecast, focus_idx=focus, window=window, attention=attention)
    viz.write_viewer(out, [payload])
    return "1 scene"


def main(argv: list[str], prog: str = "drive viz", command: str = "viz") -> int:
    args = _parser(prog).parse_args(argv)
    from drive.datasets import LoadReport

    args.report = LoadReport()
    out = Path(args.out)
    if out.suffix.lower() not in SUFFIXES:
        raise ConfigError(f"--out: suffix must be one of {', '.join(SUFFIXES)}, got {out.suffix!r}")
    if not out.parent.exists():
        raise ConfigError(f"--out: directory {out.parent} does not exist")
    if args.index is not None and args.index < 0:
        raise ConfigError(f"--index: must be >= 0, got {args.index}")
    if args.max_scenes < 1:
        raise ConfigError(f"--max-scenes: must be >= 1, got {args.max_scenes}")
    if args.predictions and args.baseline:
        raise ConfigError("--predictions and --baseline: give one of them, not both")
    predictions = _load_predictions(args.predictions) or _baseline(args.baseline)
    try:
        what = _render(args, out, predictions)
    finally:
        # Skipped records are listed whether or not a scene could be drawn from the rest.
        if args.report.skipped:
            print(args.report.summary(), file=sys.stderr)
    print(f"wrote {out} ({what})")
    return 0


def _render(args, out: Path, predictions) -> str:
    run = out.suffix.lower() == ".html" and args.scenario_id is None and args.index is None
    if not run:
        return _render_one(args, out, predictions)
    from drive.viz.run import read_scene_errors, write_run_viewer

    errors = read_scene_errors(args.evaluation) if args.evaluation else None
    count = write_run_viewer(out, _nonempty(args, _scenarios(args)), predictions, scene_errors=errors,
                             max_scenes=args.max_scenes)  # fmt: skip
    return f"{count} scene(s)"
