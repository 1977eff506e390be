"""`drive evaluate`: score a predictions file, a baseline, or both, with the official metric definitions.

Examples::

    drive evaluate --data scenes.tfrecord --predictions preds.npz --json metrics.json
    drive evaluate --data av2/val --predictions submission.parquet --baseline constant_velocity
    drive evaluate --data scenes.tfrecord --baseline constant_velocity --table cv.txt

Prints a readable table per run; ``--json`` writes the metrics (docs/evaluation.md gives the schema).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from drive.errors import ConfigError, DataError
from drive.evaluation.baselines import constant_velocity, velocity_fan
from drive.evaluation.evaluator import FAMILY_SOURCES, MISSING_MODES, evaluate
from drive.evaluation.ground_truth import prediction_stride
from drive.evaluation.predictions import _atomic_write, load_predictions
from drive.evaluation.result import SCHEMA_VERSION, comparison_table

BASELINES = ("constant_velocity", "velocity_fan")


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", required=True, type=Path, help="dataset file or directory (any known source)"
    )
    parser.add_argument(
        "--predictions",
        type=Path,
        help="predictions: .npz (ours), WOMD submission (.tar.gz/.binproto) or AV2 submission (.parquet)",
    )
    parser.add_argument("--baseline", choices=BASELINES, help="also (or only) score this baseline")
    parser.add_argument(
        "--num-future-steps",
        type=int,
        help="baseline horizon in dataset steps (default: that of the scored predictions, else every step "
        "after the current one)",
    )
    parser.add_argument(
        "--num-modes",
        type=int,
        default=1,
        help="baseline modes (constant_velocity: repeats; velocity_fan: turned and scaled lines; equal "
        "probability)",
    )
    parser.add_argument(
        "--source",
        choices=FAMILY_SOURCES,
        help="metric families to use instead of each scenario's own source",
    )
    parser.add_argument(
        "--missing",
        choices=MISSING_MODES,
        default="error",
        help="a target without prediction: error or count",
    )
    parser.add_argument("--skip-errors", action="store_true", help="skip unreadable scenarios (reported)")
    parser.add_argument("--json", type=Path, help="write the metrics as JSON here")
    parser.add_argument("--table", type=Path, help="write the readable table(s) here too")
    return parser


def _baseline(args, predictions: list | None):
    """The baseline's predictions per scenario. Its horizon is ``--num-future-steps``, else the horizon of
    the scored predictions for that scenario (so both are compared over the same time), else every step
    after the current one."""
    by_id = {p.scenario_id: p for p in predictions or []}

    def predict(scenario):
        steps = args.num_future_steps
        if steps is None and scenario.scenario_id in by_id:
            tf = by_id[scenario.scenario_id].num_future_steps
            steps = tf * prediction_stride(scenario, tf)
        available = scenario.num_steps - 1 - scenario.current_step
        if steps is None:
            steps = available
        elif args.num_future_steps is not None and steps > available:
            raise ConfigError(
                f"--num-future-steps {steps}: scenario {scenario.scenario_id!r} has only {available} "
                "step(s) after the current one"
            )
        if args.baseline == "velocity_fan":
            return velocity_fan(scenario, steps, num_modes=args.num_modes)
        return constant_velocity(scenario, steps, num_modes=args.num_modes)

    return predict


def main(argv: list[str], prog: str = "drive evaluate", command: str = "evaluate") -> int:
    args = _parser(prog).parse_args(argv)
    if args.predictions is None and args.baseline is None:
        raise ConfigError("give --predictions FILE, --baseline constant_velocity, or both")
    if args.num_future_steps is not None and args.num_future_steps < 1:
        raise ConfigError(f"--num-future-steps must be >= 1, got {args.num_future_steps}")
    from drive.datasets import LoadReport, iter_scenarios

    runs = {}
    loaded = load_predictions(args.predictions) if args.predictions is not None else None
    if loaded is not None:
        runs[str(args.predictions)] = loaded
    if args.baseline is not None:
        runs[args.baseline] = _baseline(args, loaded)
    results, reports = {}, []
    for name, predictions in runs.items():
        report = LoadReport()
        scenarios = iter_scenarios(args.data, source=None, skip_errors=args.skip_errors, report=report)
        results[name] = evaluate(scenarios, predictions, source=args.source, missing=args.missing)
        reports.append(report)
        if report.loaded == 0:
            # Scores over no scenario would read as a result; an empty or unreadable input is an error.
            if report.skipped:
                print(report.summary(), file=sys.stderr)
            readable = "readable " if report.skipped else ""
            raise DataError(f"{args.data}: holds no {readable}scenario")
    tables = "\n\n".join(result.table(title=f"== {name} ==") for name, result in results.items())
    if len(results) > 1:
        tables += "\n\n== comparison ==\n" + comparison_table(results)
    if args.skip_errors and reports[0].skipped:
        tables += "\n\n" + reports[0].summary()
    print(tables)
    if args.table is not None:
        _atomic_write(args.table, lambda handle: handle.write((tables + "\n").encode()))
    if args.json is not None:
        if len(results) == 1:
            payload = next(iter(results.values())).to_json()
        else:
            payload = {
                "schema_version": SCHEMA_VERSION,
                "runs": {name: result.to_json() for name, result in results.items()},
            }
        text = json.dumps(payload, indent=2)
        _atomic_write(args.json, lambda handle: handle.write((text + "\n").encode()))
    return 0
