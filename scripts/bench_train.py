"""Training throughput (scenes per second) and inference latency (one scene of 64 / 128 / 256 agents)
of the default-size model on CPU, with the machine facts and a breakdown of where the time goes.

    python scripts/bench_train.py --json bench/train.json      # the numbers in docs/benchmarks.md
    python scripts/bench_train.py --quick                       # smoke run, well under two minutes

Scenes are synthetic (``drive.benchmarks.synthetic_scene``): all agents observed over 11 history and
80 future steps at 10 Hz, a map of ``--map-chunks`` lane chunks of 20 points. Latency is the model's
forward pass under ``torch.inference_mode`` (median of ``--repeats``); collation is timed separately.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drive.benchmarks import machine_facts, synthetic_scene  # noqa: E402
from drive.benchmarks.training import TrainSettings, train_predictor  # noqa: E402
from drive.data.batch import collate_scenarios  # noqa: E402
from drive.models import ENCODINGS, PredictorConfig, TrajectoryPredictor  # noqa: E402
from drive.training.scenes import crop_scenario  # noqa: E402

GOAL_MS, GOAL_AGENTS = 50.0, 128


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--agents", type=int, nargs="+", default=[64, 128, 256], help="agents per scene")
    p.add_argument("--map-chunks", type=int, default=400, help="map chunks (M) per scene")
    p.add_argument("--encoding", default="drope_rope", choices=ENCODINGS)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5, help="timed forward passes per size")
    p.add_argument("--train-steps", type=int, default=10)
    p.add_argument("--train-agents", type=int, default=16)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--quick", action="store_true", help="sizes 64 and 128, 3 repeats, 2 training steps")
    args = p.parse_args(argv)
    if args.quick:
        args.agents, args.repeats, args.train_steps = [64, 128], 3, 2
    return args


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_call(fn, repeats: int, device: str) -> list[float]:
    """Seconds per call of ``fn`` after one warm-up call."""
    fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return times


def flop_breakdown(model: TrajectoryPredictor, batch) -> dict[str, float]:
    """GFLOP of one forward pass (the matrix products; torch's counter skips the CPU attention kernel), in
    total and per submodule two levels down (``encoder.temporal``, ``decoder.refine_layers``, ...), plus
    ``other``: products outside those submodules."""
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model(batch)
    out = {"total": counter.get_total_flops() / 1e9}
    for name, counts in counter.get_flop_counts().items():
        parts = name.split(".")
        # Layers in a ModuleList ("encoder.map_self.0") are summed under the list's name.
        whole = len(parts) == 3 or (len(parts) == 4 and parts[3].isdigit())
        if parts[0] == "TrajectoryPredictor" and whole:
            key = ".".join(parts[1:3])
            out[key] = out.get(key, 0.0) + sum(counts.values()) / 1e9
    # Products run by a part's parent itself (the rotary angle tables, computed once per forward).
    out["other"] = max(out["total"] - sum(v for k, v in out.items() if k != "total"), 0.0)
    return out


def matmul_gflops(device: str, repeats: int = 20) -> float:
    """Achieved GFLOP/s of a ``[4096, 128] x [128, 128]`` product, the model's typical matrix shape:
    the rate this machine gives the model right now (it drops when other work shares the cores)."""
    a, w = torch.randn(4096, 128, device=device), torch.randn(128, 128, device=device)
    seconds = statistics.median(time_call(lambda: a @ w, repeats, device))
    return 2 * 4096 * 128 * 128 / seconds / 1e9


@torch.inference_mode()
def latency_row(model: TrajectoryPredictor, num_agents: int, args: argparse.Namespace) -> dict:
    scene = crop_scenario(synthetic_scene(num_agents, args.map_chunks), 11, 80)
    collate_s = time_call(lambda: collate_scenarios([scene]), args.repeats, "cpu")
    batch = collate_scenarios([scene]).to(args.device)
    total = time_call(lambda: model(batch), args.repeats, args.device)
    encoder = time_call(lambda: model.encoder(batch), args.repeats, args.device)
    rate = matmul_gflops(args.device)
    flops = flop_breakdown(model, batch)
    return {
        "gflop": flops,
        "matmul_gflop_per_s": rate,
        "flop_bound_ms": 1e3 * flops["total"] / rate,
        "num_agents": num_agents,
        "num_map_chunks": args.map_chunks,
        "median_ms": 1e3 * statistics.median(total),
        "min_ms": 1e3 * min(total),
        "encoder_median_ms": 1e3 * statistics.median(encoder),
        "collate_median_ms": 1e3 * statistics.median(collate_s),
    }


@torch.inference_mode()
def profile_table(model: TrajectoryPredictor, num_agents: int, args: argparse.Namespace) -> str:
    batch = collate_scenarios([crop_scenario(synthetic_scene(num_agents, args.map_chunks), 11, 80)])
    model(batch)
    with torch.profiler.profile() as prof:
        model(batch)
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12)


def train_row(config: PredictorConfig, args: argparse.Namespace) -> dict:
    scenes = [
        crop_scenario(synthetic_scene(args.train_agents, args.map_chunks, seed=s), 11, 80) for s in range(16)
    ]
    warm = TrainSettings(steps=1, batch_size=args.batch_size)
    train_predictor(config, scenes, warm, device=args.device)
    _, info = train_predictor(
        config, scenes, TrainSettings(steps=args.train_steps, batch_size=args.batch_size), device=args.device
    )
    return {
        "num_agents": args.train_agents,
        "num_map_chunks": args.map_chunks,
        "batch_size": args.batch_size,
        "steps": args.train_steps,
        "scenes_per_s": args.train_steps * args.batch_size / info["train_s"],
        "step_s": info["train_s"] / args.train_steps,
    }


def main(argv: list[str] | None = None) -> dict:
    args = parse(argv)
    torch.set_num_threads(args.threads)
    config = replace(PredictorConfig(), encoding=args.encoding)
    model = TrajectoryPredictor(config).to(args.device).eval()
    params = sum(p.numel() for p in model.parameters())
    facts = machine_facts(args.device)
    print(
        f"{args.encoding}, default size ({params / 1e6:.2f} M parameters) on {facts['cpu']}, "
        f"{args.threads} threads"
    )
    latency = [latency_row(model, n, args) for n in args.agents]
    for row in latency:
        print(
            f"  {row['num_agents']:>4} agents, {row['num_map_chunks']} map chunks: "
            f"forward {row['median_ms']:.1f} ms "
            f"(encoder {row['encoder_median_ms']:.1f} ms), collate {row['collate_median_ms']:.1f} ms; "
            f"{row['gflop']['total']:.2f} GFLOP, at the measured {row['matmul_gflop_per_s']:.0f} GFLOP/s "
            f"matmul rate >= {row['flop_bound_ms']:.0f} ms"
        )
        parts = {k: round(v, 2) for k, v in row["gflop"].items() if k != "total"}
        print(f"        GFLOP by part: {parts}")
    goal = next((r for r in latency if r["num_agents"] == GOAL_AGENTS), None)
    if goal is not None:
        verdict = "meets" if goal["median_ms"] < GOAL_MS else "MISSES"
        print(
            f"  goal: {GOAL_AGENTS} agents under {GOAL_MS:.0f} ms -> {verdict} ({goal['median_ms']:.1f} ms)"
        )
    profile = profile_table(model, GOAL_AGENTS, args) if args.device == "cpu" else ""
    print(profile)
    training = train_row(config, args)
    print(
        f"training: {training['scenes_per_s']:.2f} scenes/s ({training['step_s']:.2f} s per step of "
        f"{training['batch_size']} scenes, {training['num_agents']} agents each)"
    )
    result = {
        "command": "python scripts/bench_train.py " + " ".join(argv or []),
        "facts": {**facts, "torch_threads": torch.get_num_threads()},
        "encoding": args.encoding,
        "parameters": params,
        "config": {
            k: getattr(config, k)
            for k in (
                "hidden_dim",
                "num_heads",
                "num_temporal_layers",
                "num_interaction_layers",
                "num_decoder_layers",
                "refine",
            )
        },
        "latency": latency,
        "training": training,
        "profile": profile,
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
