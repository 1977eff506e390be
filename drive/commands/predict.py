"""`drive predict --data PATH --ckpt CKPT --out FILE`: predictions of a trained checkpoint.

The output format follows the suffix: ``.npz`` (this package's predictions file, read by
``drive evaluate``), ``.tar.gz`` (WOMD ``MotionChallengeSubmission``) or ``.parquet`` (Argoverse 2
submission). Trajectories are in the dataset's own frame.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from drive.errors import ConfigError

FORMATS = {".npz": "drive predictions", ".tar.gz": "WOMD submission", ".parquet": "AV2 submission"}


def output_format(path: Path) -> str:
    name = path.name.lower()
    for suffix in FORMATS:
        if name.endswith(suffix):
            return suffix
    raise ConfigError(f"--out {path}: unknown format; use one of {', '.join(FORMATS)}")


def write(path: Path, predictions: list) -> None:
    from drive.evaluation import save_predictions
    from drive.evaluation.submission import save_av2_submission, save_womd_submission

    writers = {".npz": save_predictions, ".tar.gz": save_womd_submission, ".parquet": save_av2_submission}
    writers[output_format(path)](path, predictions)


def main(argv: list[str], prog: str = "drive predict", command: str = "predict") -> int:
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", required=True, type=Path, help="dataset file or directory (any source)")
    parser.add_argument("--ckpt", required=True, type=Path, help="checkpoint written by `drive fit`")
    parser.add_argument("--out", required=True, type=Path, help="output file: .npz, .tar.gz or .parquet")
    parser.add_argument("--batch-size", type=int, default=16, help="scenes per forward pass (default 16)")
    parser.add_argument("--skip-errors", action="store_true", help="skip malformed records and report them")
    args = parser.parse_args(argv)
    output_format(args.out)
    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {args.batch_size}")

    from drive.datasets import LoadReport, iter_scenarios
    from drive.training.inference import predict_scenarios
    from drive.training.module import load_module

    module, window = load_module(args.ckpt)
    if "num_history_steps" not in window:
        raise ConfigError(f"{args.ckpt}: checkpoint does not record its data window (num_history_steps)")
    report = LoadReport()
    scenarios = iter_scenarios(args.data, skip_errors=args.skip_errors, report=report)
    predictions = [
        p
        for _, p in predict_scenarios(
            module,
            scenarios,
            num_history_steps=window["num_history_steps"],
            num_future_steps=window["num_future_steps"],
            points_per_chunk=window.get("points_per_chunk", 20),
            map_keep_every=window.get("map_keep_every", 1),
            batch_size=args.batch_size,
        )
    ]
    write(args.out, predictions)
    agents = sum(len(p.agent_ids) for p in predictions)
    print(
        f"wrote {FORMATS[output_format(args.out)]} for {len(predictions)} scenario(s), {agents} agent(s) "
        f"to {args.out}"
    )
    if report.skipped:
        print(report.summary())
    return 0
