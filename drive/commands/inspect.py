"""`drive inspect PATH... [--json] [--skip-errors]`: summarise every scenario in WOMD TFRecords,
Argoverse 2 scenario directories, ETH/UCY files or simulated output.

Bad input stops with the one-line ``DataError`` (exit 1); with ``--skip-errors`` bad records are
skipped and listed on stderr, and the command fails only when nothing could be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from drive.data.schema import MAP_TYPE_NAMES, MapType, Scenario
from drive.datasets import LoadReport, detect_source, iter_scenarios, source_module
from drive.errors import DataError


def map_features_by_type(scenario: Scenario, module=None) -> dict[str, int]:
    """Map feature counts keyed by the source's own lower-case type names.

    A source module may define ``map_features_by_type(scenario) -> dict[str, int]`` (its own names,
    every name present, zeros included); otherwise the counts are keyed by :class:`MapType` names.
    """
    hook = getattr(module, "map_features_by_type", None)
    if hook is not None:
        return dict(hook(scenario))
    counts = np.bincount(scenario.map.types.astype(np.int64), minlength=len(MapType))
    return {name: int(c) for name, c in zip(MAP_TYPE_NAMES, counts)}


def summarise(scenario: Scenario, path: Path, module=None) -> dict:
    """One JSON-ready summary of ``scenario`` read from ``path``."""
    lights = scenario.traffic_lights
    return {
        "scenario_id": scenario.scenario_id,
        "source": scenario.source,
        "path": str(path),
        "num_steps": scenario.num_steps,
        "current_step": scenario.current_step,
        "dt_s": scenario.dt_s,
        "num_agents": scenario.agents.num_agents,
        "agents_by_type": scenario.agents_by_type(),
        "num_map_features": scenario.map.num_polylines,
        "map_features_by_type": map_features_by_type(scenario, module),
        "num_map_points": int(scenario.map.points.shape[0]),
        "num_targets": int(scenario.target_idx.size),
        "sdc_idx": scenario.sdc_idx,
        "num_traffic_light_lanes": None if lights is None else int(lights.lane_ids.size),
    }


def format_summary(summary: dict) -> str:
    """The human-readable block for one summary."""

    def counts(values: dict[str, int]) -> str:
        return ", ".join(f"{name} {count}" for name, count in values.items())

    lights = summary["num_traffic_light_lanes"]
    sdc = summary["sdc_idx"]
    return "\n".join(
        [
            f"scenario {summary['scenario_id']} ({summary['source']}, {summary['path']})",
            f"  steps    {summary['num_steps']} (current {summary['current_step']}, "
            f"dt {summary['dt_s']:g} s)",
            f"  agents   {summary['num_agents']}: {counts(summary['agents_by_type'])}",
            f"  targets  {summary['num_targets']}; self-driving car "
            f"{'none' if sdc is None else f'index {sdc}'}",
            f"  map      {summary['num_map_features']} features, {summary['num_map_points']} points: "
            f"{counts(summary['map_features_by_type'])}",
            f"  lights   {'none' if lights is None else f'{lights} lane(s)'}",
        ]
    )


def iter_summaries(paths: list[Path], *, skip_errors: bool, report: LoadReport) -> Iterator[dict]:
    for path in paths:
        try:
            source = detect_source(path)
        except DataError as err:
            if not skip_errors:
                raise
            # A missing or unrecognised path loses only itself: the other paths are still read.
            report.skip(str(path), "file", DataError(str(err).removeprefix(f"{path}: ")))
            continue
        module = source_module(source)
        num_skipped = len(report.skipped)
        count = 0
        for scenario in iter_scenarios(path, source=source, skip_errors=skip_errors, report=report):
            count += 1
            yield summarise(scenario, path, module)
        if count == 0 and len(report.skipped) == num_skipped:
            # An empty file is almost always a failed download or copy: say so instead of printing nothing.
            reason = "holds no scenario (empty, or too short for one scenario window)"
            if not skip_errors:
                raise DataError(f"{path}: {reason}")
            report.skip(str(path), "file", DataError(reason))


def main(argv: list[str], prog: str = "drive inspect", command: str = "inspect") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="file or directory")
    parser.add_argument("--json", action="store_true", help="print a JSON list, one object per scenario")
    parser.add_argument(
        "--skip-errors", action="store_true", help="skip bad records, list them on stderr, read the rest"
    )
    args = parser.parse_args(argv)
    report = LoadReport()
    summaries = []
    count = 0
    for summary in iter_summaries(args.paths, skip_errors=args.skip_errors, report=report):
        count += 1
        if args.json:
            summaries.append(summary)
        else:
            print(format_summary(summary), flush=True)
    if args.json:
        print(json.dumps(summaries, indent=2))
    if report.skipped:
        print(report.summary(), file=sys.stderr)
        return 0 if count else 1
    return 0
