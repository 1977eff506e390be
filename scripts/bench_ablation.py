"""Encoding ablation on simulated traffic: each encoding trained with the same model size, steps and
seeds; minADE_6, minFDE_6, MR_6, brier-minFDE_6 on the held-out test split (mean ± std over seeds), the
constant-velocity baseline, and the same test scenes under a random rigid motion.

    python scripts/bench_ablation.py --json bench/ablation.json          # the configuration in the docs
    python scripts/bench_ablation.py --quick                               # smoke run, ~2 minutes
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drive.benchmarks import machine_facts  # noqa: E402
from drive.benchmarks.ablation import (  # noqa: E402
    METRIC_KEYS,
    baseline_row,
    fan_row,
    moved_scenes,
    run_encoding,
)
from drive.benchmarks.facts import finish_report  # noqa: E402
from drive.benchmarks.plots import plot_ablation  # noqa: E402
from drive.benchmarks.stats import format_mean_std  # noqa: E402
from drive.benchmarks.training import TrainSettings, prepare_scenes  # noqa: E402
from drive.models import ENCODINGS, PredictorConfig  # noqa: E402
from drive.models.config import ANCHORS  # noqa: E402

try:  # the per-source DataModules live in drive.training.sources; older trees keep them in datamodule
    from drive.training.sources import SimDataModule
except ImportError:
    from drive.training.datamodule import SimDataModule

HISTORY, FUTURE = 11, 80


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sim-root", default="outputs/bench_sim", help="simulated scenes (made on first use)")
    p.add_argument("--num-scenes", type=int, default=600, help="scenes to simulate (80/10/10 split)")
    p.add_argument("--sim-seed", type=int, default=0)
    p.add_argument("--encodings", nargs="+", default=list(ENCODINGS), choices=ENCODINGS)
    p.add_argument("--seeds", type=int, default=3, help="training seeds 0..N-1 per encoding")
    p.add_argument("--steps", type=int, default=200, help="optimiser steps per run")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--hidden-dim", type=int, default=64)
    p.add_argument("--num-heads", type=int, default=4)
    p.add_argument("--layers", type=int, default=1, help="temporal and interaction layers each")
    p.add_argument(
        "--anchor",
        default=PredictorConfig.anchor,
        choices=ANCHORS,
        help="what trajectories are offsets from (default: the model's default)",
    )
    p.add_argument("--map-keep-every", type=int, default=10, help="map thinning (10: 1 m -> 10 m spacing)")
    p.add_argument("--max-test-scenes", type=int, default=None)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--plot", type=Path, default=None, help="write a PNG figure of the results here")
    p.add_argument("--from-json", type=Path, default=None, help="redraw table and plot from a saved --json")
    p.add_argument("--json", type=Path, default=None, help="write all rows and the setup here")
    p.add_argument("--quick", action="store_true", help="tiny run: 30 scenes, 1 seed, 5 steps, width 32")
    args = p.parse_args(argv)
    if args.quick:
        args.num_scenes, args.seeds, args.steps, args.hidden_dim, args.num_heads = 30, 1, 5, 32, 2
        args.max_test_scenes = 6
    return args


def model_config(args: argparse.Namespace) -> PredictorConfig:
    return PredictorConfig(
        num_future_steps=FUTURE,
        hidden_dim=args.hidden_dim,
        num_heads=args.num_heads,
        num_temporal_layers=args.layers,
        num_interaction_layers=args.layers,
        xy_slots=2,
        heading_slots=2,
        se2_pose_blocks=2 if args.hidden_dim // args.num_heads >= 16 else 1,
        se2_rotation_pairs=3 if args.hidden_dim // args.num_heads >= 16 else 1,
        dropout=0.0,
        anchor=args.anchor,
    )


def table(result: dict) -> str:
    head = "| encoding | " + " | ".join(METRIC_KEYS) + " | moved minADE_6 | moved minFDE_6 | train s/run |"
    lines = [head, "|" + "---|" * (len(METRIC_KEYS) + 4)]
    for row in result["rows"]:
        test = [format_mean_std(*row["test"][k]) for k in METRIC_KEYS]
        moved = [format_mean_std(*row["moved"][k]) for k in ("minADE_6", "minFDE_6")]
        lines.append(f"| {row['encoding']} | " + " | ".join(test + moved) + f" | {row['train_s'][0]:.0f} |")
    baselines = [("constant velocity", result["baseline"])]
    if "fan_baseline" in result:  # runs saved before this row existed have none
        baselines.append(("velocity fan (untrained)", result["fan_baseline"]))
    for name, row in baselines:
        lines.append(
            f"| {name} | "
            + " | ".join(f"{row['test'][k]:.3f}" for k in METRIC_KEYS)
            + f" | {row['moved']['minADE_6']:.3f} | {row['moved']['minFDE_6']:.3f} | – |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    args = parse(argv)
    if args.from_json:
        result = json.loads(args.from_json.read_text())
        print(table(result))
        if args.plot:
            plot_ablation(result, args.plot)
        return result
    if args.threads:
        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    data = SimDataModule(
        root=args.sim_root,
        num_scenes=args.num_scenes,
        sim_seed=args.sim_seed,
        num_history_steps=HISTORY,
        num_future_steps=FUTURE,
    )
    data.prepare_data()
    train = prepare_scenes(data.load_split("train"), HISTORY, FUTURE, args.map_keep_every)
    test = prepare_scenes(data.load_split("test"), HISTORY, FUTURE, args.map_keep_every)
    test = test[: args.max_test_scenes]
    moved = moved_scenes(test)
    print(
        f"{len(train)} training scenes, {len(test)} test scenes ({time.perf_counter() - start:.0f} s to load)"
    )
    settings = TrainSettings(steps=args.steps, batch_size=args.batch_size, lr=args.lr)
    config = model_config(args)
    seeds = list(range(args.seeds))
    rows = [
        run_encoding(e, config, train, test, moved, settings, seeds, device=args.device)
        for e in args.encodings
    ]
    result = {
        "command": "python scripts/bench_ablation.py " + " ".join(argv or []),
        "facts": machine_facts(args.device),
        "setup": {
            "num_scenes": args.num_scenes,
            "num_train_scenes": len(train),
            "num_test_scenes": len(test),
            "steps": args.steps,
            "batch_size": args.batch_size,
            "lr": args.lr,
            "seeds": seeds,
            "map_keep_every": args.map_keep_every,
            "model": {
                k: getattr(config, k) for k in ("hidden_dim", "num_heads", "num_temporal_layers", "anchor")
            },
        },
        "rows": rows,
        "baseline": baseline_row(test, moved, FUTURE),
        "fan_baseline": fan_row(test, moved, FUTURE, config),
        "total_s": time.perf_counter() - start,
    }
    return finish_report(result, table(result), plot_ablation, args.plot, args.json)


if __name__ == "__main__":
    main(sys.argv[1:])
