"""ETH/UCY leave-one-out benchmark: 8 observed / 12 predicted steps (0.4 s), best-of-20 ADE/FDE with the
per-pedestrian minimum, per held-out scene and averaged, with the constant-velocity baseline under the
same protocol and the published averages for context.

    python scripts/bench_eth_ucy.py --json bench/eth_ucy.json      # the CPU configuration in the docs
    python scripts/bench_eth_ucy.py --quick                          # smoke run
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
from drive.benchmarks.eth_ucy import NUM_SAMPLES, PUBLISHED, SELECTIONS, run_scene  # noqa: E402
from drive.benchmarks.facts import finish_report  # noqa: E402
from drive.benchmarks.plots import plot_eth_ucy  # noqa: E402
from drive.benchmarks.training import TrainSettings  # noqa: E402
from drive.datasets.eth_ucy import SCENES  # noqa: E402
from drive.errors import ConfigError  # noqa: E402
from drive.models import ENCODINGS, PredictorConfig  # noqa: E402
from drive.models.config import ANCHORS  # noqa: E402


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", default="../shared/data/eth_ucy", help="root/<scene>/{train,val,test}/*.txt")
    p.add_argument("--scenes", nargs="+", default=list(SCENES), choices=SCENES)
    p.add_argument("--encoding", default="drope_rope", choices=ENCODINGS)
    p.add_argument("--steps", type=int, default=200, help="optimiser steps per held-out scene")
    p.add_argument("--batch-size", type=int, default=16, help="windows per step")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--hidden-dim", type=int, default=32)
    p.add_argument("--num-heads", type=int, default=2)
    p.add_argument("--layers", type=int, default=1, help="temporal and interaction layers each")
    p.add_argument("--refine", action="store_true", help="add the decoder's refinement stage")
    p.add_argument(
        "--num-modes",
        type=int,
        default=NUM_SAMPLES,
        help=f"modes the model predicts (at least {NUM_SAMPLES}; --selection draws the scored 20 from them)",
    )
    p.add_argument(
        "--selection",
        default="top",
        choices=list(SELECTIONS),
        help="how the 20 scored samples are drawn: the most probable modes, or endpoint clusters of the "
        "modes of one or more views of the scene (identity, reflected, scaled)",
    )
    p.add_argument(
        "--compare-selections",
        action="store_true",
        help="also score every selection on the same models (rows' 'selections')",
    )
    p.add_argument("--xy-slots", type=int, default=2, help="rotary pairs per head on x/y (half each)")
    p.add_argument("--heading-slots", type=int, default=2, help="rotary pairs per head on the heading")
    p.add_argument(
        "--min-wavelength-m",
        type=float,
        default=PredictorConfig.min_wavelength_m,
        help="shortest x/y rotary wavelength (metres)",
    )
    p.add_argument(
        "--max-wavelength-m",
        type=float,
        default=PredictorConfig.max_wavelength_m,
        help="longest x/y rotary wavelength (metres)",
    )
    p.add_argument(
        "--anchor", default="velocity_fan", choices=ANCHORS, help="what trajectories are offsets from"
    )
    p.add_argument("--rotate-augmentation", action="store_true")
    p.add_argument(
        "--mirror-augmentation", action="store_true", help="reflect half of the training windows (y -> -y)"
    )
    p.add_argument(
        "--scale-augmentation",
        type=float,
        default=0.0,
        help="scale training windows (distances and speeds) by a factor in [1 - S, 1 + S]",
    )
    p.add_argument(
        "--bucket", action="store_true", help="batch windows of similar pedestrian counts (less padding)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-train", type=int, default=None, help="training windows per split (default all)")
    p.add_argument(
        "--max-test", type=int, default=None, help="test (and val) windows per split (default all)"
    )
    p.add_argument(
        "--validate",
        action="store_true",
        help="also score each model on the split's val files (model_val): choose configurations by these",
    )
    p.add_argument(
        "--save-models",
        type=Path,
        default=None,
        help="keep each trained model as DIR/<scene>_seed<seed>.pt (config, weights, training facts)",
    )
    p.add_argument(
        "--load-models",
        type=Path,
        default=None,
        help="score the models --save-models kept in DIR instead of training (model options are ignored)",
    )
    p.add_argument(
        "--ensemble-seeds",
        type=int,
        nargs="+",
        default=None,
        help="with --load-models: score the ensemble of these seeds' models, their views pooled",
    )
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument("--plot", type=Path, default=None, help="write a PNG figure of the results here")
    p.add_argument("--from-json", type=Path, default=None, help="redraw table and plot from a saved --json")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--quick", action="store_true", help="2 scenes, 5 steps, 64 windows each")
    args = p.parse_args(argv)
    if args.quick:
        args.scenes, args.steps, args.max_train, args.max_test = ["eth", "hotel"], 5, 64, 64
    return args


def model_config(args: argparse.Namespace) -> PredictorConfig:
    return PredictorConfig(
        num_future_steps=12,
        num_modes=args.num_modes,
        encoding=args.encoding,
        hidden_dim=args.hidden_dim,
        num_heads=args.num_heads,
        num_temporal_layers=args.layers,
        num_interaction_layers=args.layers,
        refine=args.refine,
        anchor=args.anchor,
        xy_slots=args.xy_slots,
        heading_slots=args.heading_slots,
        min_wavelength_m=args.min_wavelength_m,
        max_wavelength_m=args.max_wavelength_m,
        se2_pose_blocks=1,
        se2_rotation_pairs=1,
        dropout=0.0,
    )


def model_path(folder: Path, scene: str, seed: int) -> Path:
    return folder / f"{scene}_seed{seed}.pt"


def loaded_models(args: argparse.Namespace, scene: str) -> Path | list[Path] | None:
    if args.load_models is None:
        return None
    if args.ensemble_seeds:
        return [model_path(args.load_models, scene, seed) for seed in args.ensemble_seeds]
    return model_path(args.load_models, scene, args.seed)


def average(rows: list[dict], key: str) -> dict | None:
    """Mean ADE_20 / FDE_20 of ``rows[i][key]`` over the scenes; None when a row lacks ``key`` (runs saved
    before that column existed)."""
    if any(key not in r for r in rows):
        return None
    return {k: sum(r[key][k] for r in rows) / len(rows) for k in ("ADE_20", "FDE_20")}


def table(rows: list[dict]) -> str:
    lines = [
        "| held-out scene | train windows | test windows | ours ADE_20 / FDE_20 | const. vel. | velocity fan"
        " (untrained) | train s |",
        "|---|---|---|---|---|---|---|",
    ]

    def pair(scores: dict | None) -> str:
        return "–" if scores is None else f"{scores['ADE_20']:.2f} / {scores['FDE_20']:.2f}"

    for r in rows:
        lines.append(
            f"| {r['scene']} | {r['num_train_windows']} | {r['num_test_windows']} | {pair(r['model'])} | "
            f"{pair(r['constant_velocity'])} | {pair(r.get('velocity_fan'))} | {r['train_s']:.0f} |"
        )

    lines.append(
        f"| **average** | | | **{pair(average(rows, 'model'))}** | "
        f"{pair(average(rows, 'constant_velocity'))} | "
        f"{pair(average(rows, 'velocity_fan'))} | {sum(r['train_s'] for r in rows):.0f} |"
    )
    for name, ade, fde in PUBLISHED:
        lines.append(f"| {name} (published average) | | | {ade:.2f} / {fde:.2f} | | | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    args = parse(argv)
    if args.from_json:
        result = json.loads(args.from_json.read_text())
        print(table(result["rows"]))
        if args.plot:
            plot_eth_ucy(result, args.plot)
        return result
    if args.threads:
        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    try:  # a bad option ends the run with the field's message, before any data is read
        config = model_config(args)
        if args.ensemble_seeds and args.load_models is None:
            raise ConfigError("--ensemble-seeds scores kept models: give --load-models DIR")
        if args.num_modes < NUM_SAMPLES:
            raise ConfigError(
                f"--num-modes {args.num_modes}: best-of-{NUM_SAMPLES} needs at least {NUM_SAMPLES}"
            )
        settings = TrainSettings(
            steps=args.steps,
            batch_size=args.batch_size,
            lr=args.lr,
            rotate_augmentation=args.rotate_augmentation,
            mirror_augmentation=args.mirror_augmentation,
            scale_augmentation=args.scale_augmentation,
            bucket_by_agents=args.bucket,
            seed=args.seed,
        )
    except ConfigError as err:
        raise SystemExit(f"bench_eth_ucy.py: {err}") from err
    if args.save_models is not None:
        args.save_models.mkdir(parents=True, exist_ok=True)
    rows = []
    for scene in args.scenes:
        try:  # a missing or foreign kept model ends the run naming the file
            row = run_scene(
                args.root,
                scene,
                config,
                settings,
                args.max_train,
                args.max_test,
                args.device,
                args.validate,
                args.selection,
                args.compare_selections,
                save_model_to=None
                if args.save_models is None
                else model_path(args.save_models, scene, args.seed),
                load_model_from=loaded_models(args, scene),
            )
        except ConfigError as err:
            raise SystemExit(f"bench_eth_ucy.py: {err}") from err
        rows.append(row)
        m, cv = row["model"], row["constant_velocity"]
        val = row.get("model_val")
        print(
            f"{scene:<6} ADE_20/FDE_20 {m['ADE_20']:.3f}/{m['FDE_20']:.3f} m "
            f"(const. vel. {cv['ADE_20']:.3f}/{cv['FDE_20']:.3f})"
            + (f"; val {val['ADE_20']:.3f}/{val['FDE_20']:.3f}" if val else "")
            + f"; train {row['train_s']:.0f} s",
            flush=True,
        )
        for name, scores in row.get("selections", {}).items():
            val = scores.get("val")
            print(
                f"       {name:<22} test {scores['test']['ADE_20']:.3f}/{scores['test']['FDE_20']:.3f}"
                + (f"; val {val['ADE_20']:.3f}/{val['FDE_20']:.3f}" if val else ""),
                flush=True,
            )
    result = {
        "command": "python scripts/bench_eth_ucy.py " + " ".join(argv or []),
        "facts": machine_facts(args.device),
        "setup": {k: v for k, v in vars(args).items() if k not in ("json",)},
        "rows": rows,
        "average": average(rows, "model"),
        "constant_velocity_average": average(rows, "constant_velocity"),
        "velocity_fan_average": average(rows, "velocity_fan"),
        "published": [{"method": n, "ADE_20": a, "FDE_20": f} for n, a, f in PUBLISHED],
        "total_s": time.perf_counter() - start,
    }
    return finish_report(result, table(rows), plot_eth_ucy, args.plot, args.json)


if __name__ == "__main__":
    main(sys.argv[1:])
