"""Per-layer RoPE probe of a trained trajectory model: for each rotary layer alone, shift all positions by
a constant, offset the queries, remove the rotation, or permute the keys' content, and report how much
the layer's output and the predicted trajectories move.

    python scripts/probe_rope.py [--checkpoint CKPT] [--workdir outputs/road] [--pretrain-minutes 2]
        [--num-scenes 16] [--figure docs/figures/probe_rope.png] [--threads N] [--json PATH]

Without ``--checkpoint`` (a ``drive fit`` checkpoint) the model trained briefly on simulated traffic by
``scripts/finetune_road.py`` is used (trained and cached in the work directory when missing; pass the
same ``--pretrain-minutes`` to reuse it). The probe
runs on that many validation scenes of the simulated traffic, cut to the model's window.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from drive.analysis.rope_probe import ProbeSettings, plot_probe, probe_model, probe_table  # noqa: E402
from drive.analysis.training import (  # noqa: E402
    QuickTrainSettings,
    pretrained_on_simulation,
    simulated_scenes,
)
from drive.data.batch import collate_scenarios  # noqa: E402


def _model(args, quick: QuickTrainSettings):
    if args.checkpoint is None:
        return pretrained_on_simulation(args.workdir, quick), quick
    from drive.training.module import load_module

    module, window = load_module(str(args.checkpoint))
    steps = {k: window[k] for k in ("num_history_steps", "num_future_steps") if k in window}
    return module.model, dataclasses.replace(quick, **steps)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--workdir", type=Path, default=Path("outputs/road"))
    parser.add_argument("--pretrain-minutes", type=float, default=2.0)
    parser.add_argument("--num-scenes", type=int, default=16)
    parser.add_argument("--figure", type=Path, default=None, help="write the bar chart (PNG) here")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    model, quick = _model(args, QuickTrainSettings(max_minutes=args.pretrain_minutes))
    scenes = simulated_scenes(args.workdir, quick, "val")[: args.num_scenes]
    batch = collate_scenarios(scenes)
    settings = ProbeSettings()
    print(f"probing {len(scenes)} simulated validation scenes; {settings}")
    results = probe_model(model, batch, settings)
    print(probe_table(results))
    if args.figure is not None:
        args.figure.parent.mkdir(parents=True, exist_ok=True)
        plot_probe(results, args.figure)
        print(f"figure: {args.figure}")
    if args.json is not None:
        args.json.write_text(json.dumps([dataclasses.asdict(r) for r in results], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
