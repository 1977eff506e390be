"""RoAd fine-tuning demonstration: a trajectory model trained briefly on simulated traffic (vehicles,
10 Hz) is adapted to ETH/UCY pedestrians (2.5 Hz) by training only RoAd adapters.

    python scripts/finetune_road.py --eth-ucy DIR [--workdir outputs/road] [--scene eth]
        [--pretrain-minutes 2] [--adapt-minutes 1] [--adapt-steps 300] [--variant road_1] [--threads N]
        [--json PATH]

``DIR`` is an ETH/UCY root in the leave-one-out layout ``<DIR>/<scene>/{train,val,test}/*.txt``. The
adapters train on ``<scene>/train`` (the other scenes) and both models are scored on ``<scene>/test``
(the held-out scene). The pretrained model is cached in the work directory and reused by
``scripts/probe_rope.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from drive.analysis.road_finetune import (  # noqa: E402
    RoAdSettings,
    eth_ucy_scenes,
    finetune_road,
    result_table,
)
from drive.analysis.training import QuickTrainSettings, pretrained_on_simulation  # noqa: E402
from drive.rope.variants.road import ROAD_VARIANTS  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--eth-ucy", type=Path, required=True, help="ETH/UCY root (leave-one-out layout)")
    parser.add_argument("--workdir", type=Path, default=Path("outputs/road"))
    parser.add_argument("--scene", default="eth", help="held-out ETH/UCY scene (default: eth)")
    parser.add_argument("--pretrain-minutes", type=float, default=2.0)
    parser.add_argument("--adapt-minutes", type=float, default=1.0)
    parser.add_argument("--adapt-steps", type=int, default=300, help="at most this many adapter steps")
    parser.add_argument("--variant", choices=ROAD_VARIANTS, default="road_1")
    parser.add_argument("--max-train-scenes", type=int, default=400)
    parser.add_argument("--max-eval-scenes", type=int, default=200)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--json", type=Path, default=None, help="also write the result here")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    start = time.monotonic()
    quick = QuickTrainSettings(max_minutes=args.pretrain_minutes)
    model = pretrained_on_simulation(args.workdir, quick)
    train_scenes = eth_ucy_scenes(args.eth_ucy, args.scene, "train", quick, args.max_train_scenes)
    eval_scenes = eth_ucy_scenes(args.eth_ucy, args.scene, "test", quick, args.max_eval_scenes)
    print(f"ETH/UCY: {len(train_scenes)} adaptation scenes, {len(eval_scenes)} held-out ({args.scene}/test)")
    torch.manual_seed(0)
    settings = RoAdSettings(variant=args.variant, max_minutes=args.adapt_minutes, max_steps=args.adapt_steps)
    result = finetune_road(model, train_scenes, eval_scenes, settings)
    print(result_table(result))
    print(f"total {time.monotonic() - start:.0f} s")
    if args.json is not None:
        summary = {
            "frozen": result.frozen,
            "adapted": result.adapted,
            "trainable_parameters": result.trainable_parameters,
            "total_parameters": result.total_parameters,
            "adapt_steps": len(result.losses),
            "variant": args.variant,
        }
        args.json.write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
