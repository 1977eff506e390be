"""Simulated traffic, the embedded default dataset: WOMD-like scenes from Eclipse SUMO.

``simulate(out_dir, SimulationConfig(num_scenes, seed))`` splits the scenes over independent
simulation runs (each its own procedurally generated network and random demand, see
:mod:`drive.datasets.sumo_runs`), runs them in parallel processes, and writes one WOMD Scenario
TFRecord per run under ``out_dir/{train,val,test}/`` plus ``out_dir/manifest.json``. Splits never
share a run, so they never share a network or a time window. The same (num_scenes, seed) writes
byte-identical files.

The output is ordinary WOMD data: read it with ``drive.datasets.iter_scenarios(out_dir / "train")``.
``ensure_simulated`` is the entry point for jobs that only need the data to be there.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from drive.datasets.sumo_runs import RunPlan, plan_run, simulate_run
from drive.datasets.sumo_scenes import SceneConfig
from drive.errors import ConfigError, DataError

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = "drive-sumo-scenes"
# Bump when a change alters what a (num_scenes, seed) pair generates, so old outputs are regenerated.
GENERATOR_VERSION = 3
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate. ``split_fractions`` share runs (not scenes) between train, val and test; every
    split gets at least one run, so there are at least three runs."""

    num_scenes: int = 2000
    seed: int = 0
    scenes_per_run: int = 100
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    scene: SceneConfig = field(default_factory=SceneConfig)

    def __post_init__(self) -> None:
        if self.num_scenes < len(SPLITS):
            raise ConfigError(f"num_scenes must be >= {len(SPLITS)} (one per split), got {self.num_scenes}")
        if self.scenes_per_run < 1:
            raise ConfigError(f"scenes_per_run must be >= 1, got {self.scenes_per_run}")
        if not 0 <= self.seed < 2**31:
            raise ConfigError(f"seed must be in 0..2**31-1, got {self.seed}")
        fractions = self.split_fractions
        if len(fractions) != 3 or min(fractions) <= 0 or not math.isclose(sum(fractions), 1.0):
            raise ConfigError(f"split_fractions must be 3 positive numbers summing to 1, got {fractions}")


def plan_runs(config: SimulationConfig) -> list[RunPlan]:
    """Runs with their split and scene quota; quotas add up to ``num_scenes``."""
    num_runs = max(len(SPLITS), math.ceil(config.num_scenes / config.scenes_per_run))
    val_runs = max(1, round(num_runs * config.split_fractions[1]))
    test_runs = max(1, min(round(num_runs * config.split_fractions[2]), num_runs - val_runs - 1))
    val_runs = min(val_runs, num_runs - test_runs - 1)
    train_runs = num_runs - val_runs - test_runs
    splits = ["train"] * train_runs + ["val"] * val_runs + ["test"] * test_runs
    base, extra = divmod(config.num_scenes, num_runs)
    return [
        plan_run(config.seed, run, split, base + (run < extra), config.scene)
        for run, split in enumerate(splits)
    ]


def run_file(plan: RunPlan) -> str:
    """Path of a run's TFRecord relative to the output directory."""
    return f"{plan.split}/sumo-s{plan.seed}-r{plan.run_index:04d}.tfrecord"


def _simulate_and_write(job: tuple[RunPlan, SceneConfig, str]) -> tuple[int, int]:
    from drive.datasets.womd import write_scenarios

    plan, scene_config, out_dir = job
    scenes = simulate_run(plan, scene_config)
    if not scenes:
        raise DataError(f"simulation run {plan.run_index} (seed {plan.seed}) produced no scene")
    return plan.run_index, write_scenarios(Path(out_dir) / run_file(plan), scenes)


def _expected_manifest(config: SimulationConfig) -> dict:
    return {
        "format": MANIFEST_FORMAT,
        "generator_version": GENERATOR_VERSION,
        "sumo_version": sumo_version(),
        "config": {**asdict(config), "split_fractions": list(config.split_fractions)},
    }


def sumo_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("eclipse-sumo")
    except PackageNotFoundError:
        return "unknown"


def simulate(
    out_dir: str | Path,
    config: SimulationConfig,
    *,
    workers: int | None = None,
    on_run_done: Callable[[int], None] | None = None,
) -> dict:
    """Simulate ``config`` into ``out_dir`` (see the module docstring); returns the manifest written.

    ``workers`` processes run independent runs (default: the CPU count); ``on_run_done(num_scenes)``
    is called as each run finishes, e.g. to advance a progress bar.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MANIFEST_NAME).unlink(missing_ok=True)  # the manifest marks a complete output
    plans = plan_runs(config)
    for split in SPLITS:
        (out_dir / split).mkdir(exist_ok=True)
        for stale in (out_dir / split).glob("sumo-s*-r*.tfrecord"):
            stale.unlink()
    jobs = [(plan, config.scene, str(out_dir)) for plan in plans]
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    counts: dict[int, int] = {}
    if workers == 1:
        results = map(_simulate_and_write, jobs)
        for run_index, count in results:
            counts[run_index] = count
            if on_run_done:
                on_run_done(count)
    else:
        # spawn: the caller may hold threads (torch) that a fork would copy in a locked state.
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            for run_index, count in pool.imap_unordered(_simulate_and_write, jobs):
                counts[run_index] = count
                if on_run_done:
                    on_run_done(count)
    manifest = _expected_manifest(config)
    manifest["splits"] = {
        split: {
            "files": [run_file(p) for p in plans if p.split == split],
            "num_scenes": sum(counts[p.run_index] for p in plans if p.split == split),
        }
        for split in SPLITS
    }
    manifest["num_scenes_written"] = sum(counts.values())
    manifest["runs"] = [
        {"run": p.run_index, "split": p.split, "network": p.network, "scenes": counts[p.run_index]}
        for p in plans
    ]
    _write_json(out_dir / MANIFEST_NAME, manifest)
    return manifest


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def read_manifest(out_dir: str | Path) -> dict | None:
    """The manifest of a complete output in ``out_dir``, or None when there is none."""
    path = Path(out_dir) / MANIFEST_NAME
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: unreadable manifest ({err}); delete the directory to regenerate") from err


def is_complete(out_dir: str | Path, config: SimulationConfig) -> bool:
    """Whether ``out_dir`` holds a finished simulation of exactly ``config`` with every file present."""
    manifest = read_manifest(out_dir)
    if manifest is None:
        return False
    expected = _expected_manifest(config)
    if any(manifest.get(key) != value for key, value in expected.items()):
        return False
    files = [f for split in manifest.get("splits", {}).values() for f in split.get("files", [])]
    return bool(files) and all((Path(out_dir) / f).is_file() for f in files)


def ensure_simulated(
    out_dir: str | Path,
    num_scenes: int = 2000,
    seed: int = 0,
    *,
    scenes_per_run: int = 100,
    workers: int | None = None,
    progress: bool = True,
) -> Path:
    """``out_dir`` holding ``num_scenes`` simulated scenes for ``seed``: reused when a complete output
    with the same settings is there, simulated otherwise. Returns ``out_dir``."""
    config = SimulationConfig(num_scenes=num_scenes, seed=seed, scenes_per_run=scenes_per_run)
    out_dir = Path(out_dir)
    if not is_complete(out_dir, config):
        with progress_bar(config.num_scenes, enabled=progress) as bar:
            simulate(out_dir, config, workers=workers, on_run_done=bar.update)
    return out_dir


def progress_bar(total: int, enabled: bool = True):
    from tqdm import tqdm

    return tqdm(total=total, unit="scene", desc="simulating traffic (SUMO)", disable=not enabled)
