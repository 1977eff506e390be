"""`drive cache INPUT... --out DIR [--workers N] [--shard I/N] [--skip-errors]`: preprocess raw
scenarios (WOMD, Argoverse 2, ETH/UCY, simulated) into the fast training cache.

With ``--shard I/N`` this run builds only part I of N; N machines given the same inputs build the
whole cache with no coordination, and the parts in DIR read as one dataset.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from drive.data.cache import build_cache
from drive.errors import ConfigError, DataError


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` -> ``(I, N)`` with ``0 <= I < N``."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ConfigError(f"--shard: expected I/N such as 0/4, got {text!r}") from None
    if not (count >= 1 and 0 <= index < count):
        raise ConfigError(f"--shard: need 0 <= I < N, got {text!r}")
    return index, count


def _shard_argument(text: str) -> tuple[int, int]:
    try:
        return parse_shard(text)
    except ConfigError as err:  # argparse shows ArgumentTypeError messages as they are
        raise argparse.ArgumentTypeError(str(err).removeprefix("--shard: ")) from None


def main(argv: list[str], prog: str = "drive cache", command: str = "cache") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="raw file or directory")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="cache folder")
    parser.add_argument(
        "--workers",
        type=int,
        default=min(os.cpu_count() or 1, 8),
        help="worker processes (default: cores, <= 8)",
    )
    parser.add_argument(
        "--shard", type=_shard_argument, default=(0, 1), metavar="I/N", help="build part I of N"
    )
    parser.add_argument("--skip-errors", action="store_true", help="skip bad records and list them")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.workers < 1:
        raise ConfigError(f"--workers: must be >= 1, got {args.workers}")
    if args.out.exists() and not args.out.is_dir():
        raise ConfigError(f"--out: {args.out} is a file; give a directory (created if missing)")
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataError(f"--out: cannot create {args.out}: {err.strerror or err}") from err
    report = build_cache(
        args.inputs,
        args.out,
        shard=args.shard,
        workers=args.workers,
        skip_errors=args.skip_errors,
        progress=not args.quiet,
    )
    print(f"{args.out}: part {args.shard[0]}/{args.shard[1]}: {report.summary()}", file=sys.stderr)
    return 0
