"""`drive demo`: the main job on the embedded default. Simulates traffic with SUMO (cached after the
first run), trains the default DRoPE-RoPE model, evaluates it on the test split next to a
constant-velocity baseline with the same evaluator, renders a few predicted scenes, and says where
the figures, metrics and checkpoint are. About 3 minutes on 2 CPU cores (12 at most); ``--quick`` runs the
same pipeline on a handful of scenes in well under a minute."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path


def main(argv: list[str], prog: str = "drive demo", command: str = "demo") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path("outputs"),
        help="where simulated scenes, runs and figures go (default: ./outputs)",
    )
    parser.add_argument("--quick", action="store_true", help="a tiny end-to-end run (smoke test)")
    parser.add_argument("--num-scenes", type=int, help="simulated scenes (train/val/test by simulation run)")
    parser.add_argument("--epochs", type=int, help="training epochs")
    parser.add_argument("--max-train-minutes", type=float, help="stop training after this long")
    parser.add_argument("--seed", type=int, help="training seed (data order, initial weights)")
    args = parser.parse_args(argv)

    from drive.training.demo import QUICK, DemoSettings, run_demo

    settings = QUICK if args.quick else DemoSettings()
    overrides = {
        "num_scenes": args.num_scenes,
        "max_epochs": args.epochs,
        "max_train_minutes": args.max_train_minutes,
        "seed": args.seed,
    }
    settings = dataclasses.replace(settings, **{k: v for k, v in overrides.items() if v is not None})
    run_demo(args.workdir, settings, quiet=args.quick)
    return 0
