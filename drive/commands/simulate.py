"""`drive simulate`: generate simulated traffic scenes with Eclipse SUMO as WOMD Scenario TFRecords.

Writes ``OUT/{train,val,test}/*.tfrecord`` and ``OUT/manifest.json``; the same --num-scenes and --seed
always write byte-identical files. An existing complete output with the same settings is kept
unless --force is given.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from drive.datasets.sumo import SimulationConfig, is_complete, progress_bar, simulate
from drive.errors import ConfigError, DataError


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--num-scenes", type=int, default=2000, help="scenes to generate (default 2000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--scenes-per-run", type=int, default=100, help="scenes cut from one simulation run")
    parser.add_argument("--workers", type=int, default=None, help="parallel processes (default: CPU count)")
    parser.add_argument("--force", action="store_true", help="simulate again even if OUT is complete")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str], prog: str = "drive simulate", command: str = "simulate") -> int:
    args = build_parser(prog).parse_args(argv)
    config = SimulationConfig(num_scenes=args.num_scenes, seed=args.seed, scenes_per_run=args.scenes_per_run)
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers: must be >= 1, got {args.workers}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out: {out} is a file; give a directory (created if missing)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        # An unwritable or impossible path is a user error: one line, not a traceback.
        raise DataError(f"--out: cannot create {out}: {err.strerror or err}") from err
    if not args.force and is_complete(args.out, config):
        print(f"{args.out}: already holds {args.num_scenes} simulated scenes for seed {args.seed}; kept")
        return 0
    start = time.perf_counter()
    with progress_bar(config.num_scenes, enabled=not args.quiet) as bar:
        manifest = simulate(args.out, config, workers=args.workers, on_run_done=bar.update)
    elapsed_s = time.perf_counter() - start
    counts = ", ".join(f"{split} {info['num_scenes']}" for split, info in manifest["splits"].items())
    print(
        f"wrote {manifest['num_scenes_written']} scenes ({counts}) from {len(manifest['runs'])} runs "
        f"to {args.out} in {elapsed_s:.1f} s"
    )
    return 0
