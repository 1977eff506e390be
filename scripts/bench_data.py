"""Data-path throughput: raw WOMD scenarios parsed per second per core, cached scenes loaded per second.

    python scripts/bench_data.py [--quick] [--json PATH] [--womd FILE]

Raw: a temporary TFRecord holding the real WOMD sample record N times is read end to end (framing,
CRC-32C checks, protobuf parse, conversion to a validated Scenario) in this one process; the rate is
scenarios per CPU-second of this process, i.e. per core. The stages are timed separately too.
Cached: that file is cached with ``build_cache`` and scenes are read back in random order through
``CachedScenes`` (wall clock; also with ``validate=True``, which re-validates every scene).
Goals: >= 50 raw scenarios/s/core, >= 2,000 cached scenes/s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from drive.data.cache import CachedScenes, build_cache  # noqa: E402
from drive.datasets import womd  # noqa: E402
from drive.datasets.tfrecord import iter_records, write_records  # noqa: E402

DEFAULT_SAMPLE = Path(os.environ.get("DRIVE_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
DEFAULT_SAMPLE = DEFAULT_SAMPLE / "womd" / "motion_data_one_scenario.tfrecord"


def _timed(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of ``fn()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def bench_raw(path: Path, count: int) -> dict:
    from waymo_open_dataset.protos import scenario_pb2

    records = list(iter_records(path))
    _, framing = _timed(lambda: list(iter_records(path)))
    _, parse = _timed(lambda: [scenario_pb2.Scenario.FromString(r) for r in records])
    next(womd.iter_scenarios(path))  # warm up imports

    def read_all() -> None:
        for _ in womd.iter_scenarios(path):  # each scene is dropped, as a caching worker would
            pass

    wall, cpu = _timed(read_all)
    return {
        "womd_raw_scenarios_per_s_per_core": count / cpu,
        "womd_raw_scenarios_per_s_wall": count / wall,
        "womd_ms_per_scenario_framing_crc": 1e3 * framing / count,
        "womd_ms_per_scenario_protobuf_parse": 1e3 * parse / count,
        "womd_ms_per_scenario_total": 1e3 * cpu / count,
    }


def bench_cached(path: Path, cache_dir: Path, loads: int) -> dict:
    build_wall, _ = _timed(lambda: build_cache([path], cache_dir, progress=False))
    scenes = CachedScenes(cache_dir)
    rng = random.Random(0)
    order = [rng.randrange(len(scenes)) for _ in range(loads)]
    scenes[0]

    def load_all(dataset: CachedScenes) -> None:
        for i in order:  # each scene is dropped after loading, as a training loop would
            dataset[i]

    wall, cpu = _timed(lambda: load_all(scenes))
    checked_wall, _ = _timed(lambda: load_all(CachedScenes(cache_dir, validate=True)))
    unit_bytes = sum((cache_dir / u["file"]).stat().st_size for u in scenes.units)
    return {
        "cached_scenes_per_s": loads / wall,
        "cached_scenes_per_cpu_s": loads / cpu,
        "cached_scenes_per_s_validated": loads / checked_wall,
        "cache_build_scenes_per_s_one_worker": len(scenes) / build_wall,
        "cache_bytes_per_scene": unit_bytes / len(scenes),
        "raw_bytes_per_scene": path.stat().st_size / len(scenes),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the numbers as JSON")
    parser.add_argument("--womd", type=Path, default=DEFAULT_SAMPLE, help="a WOMD Scenario TFRecord")
    args = parser.parse_args()
    if not args.womd.is_file():
        print(f"bench_data: WOMD sample not found at {args.womd}; pass --womd FILE", file=sys.stderr)
        return 2
    count, loads = (20, 500) if args.quick else (200, 5000)
    record = next(iter_records(args.womd))
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "repeated.tfrecord"
        write_records(raw, [record] * count)
        results = {"num_raw_scenarios": count, "num_cached_loads": loads}
        results |= bench_raw(raw, count)
        results |= bench_cached(raw, Path(tmp) / "cache", loads)
    for key, value in results.items():
        print(f"{key:42s} {value:12.2f}" if isinstance(value, float) else f"{key:42s} {value:12d}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
