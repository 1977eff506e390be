"""The encoding ablation: train each encoding with the same model size, steps and seeds on the same
scenes, score it on the test scenes as they are and under a random rigid motion of each scene."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from drive.benchmarks.rigid import random_rigid_motion
from drive.benchmarks.stats import aggregate
from drive.benchmarks.training import TrainSettings, predict, train_predictor
from drive.data.schema import Scenario
from drive.evaluation import constant_velocity, evaluate, velocity_fan
from drive.models import PredictorConfig

METRIC_KEYS = ("minADE_6", "minFDE_6", "MR_6", "brier_minFDE_6")
MOTION_SEED = 12345  # one fixed motion per test scene, the same for every model


def moved_scenes(scenes: Sequence[Scenario], seed: int = MOTION_SEED) -> list[Scenario]:
    """Each scene under its own random rigid motion (angle and pivot drawn from ``seed`` and its index)."""
    return [random_rigid_motion(s, np.random.default_rng([seed, i]))[0] for i, s in enumerate(scenes)]


def _scores(scenes: Sequence[Scenario], predictions) -> dict[str, float]:
    metrics = evaluate(scenes, predictions).metrics
    return {key: metrics[key] for key in METRIC_KEYS}


def baseline_row(test: Sequence[Scenario], moved: Sequence[Scenario], num_future_steps: int) -> dict:
    """Constant velocity on the test scenes and on their moved copies (the same numbers up to rounding)."""

    def cv(scene: Scenario):
        return constant_velocity(scene, num_future_steps, 1)

    return {"encoding": "constant_velocity", "test": _scores(test, cv), "moved": _scores(moved, cv)}


def fan_row(
    test: Sequence[Scenario], moved: Sequence[Scenario], num_future_steps: int, config: PredictorConfig
) -> dict:
    """The untrained velocity fan (``config.num_modes`` lines with the config's fan angles and speeds):
    what the ``velocity_fan`` anchor gives before any training."""

    def fan(scene: Scenario):
        return velocity_fan(
            scene, num_future_steps, config.num_modes, config.fan_max_angle_deg, config.fan_speed_spread
        )

    return {"encoding": "velocity_fan", "test": _scores(test, fan), "moved": _scores(moved, fan)}


def run_encoding(
    encoding: str,
    config: PredictorConfig,
    train: Sequence[Scenario],
    test: Sequence[Scenario],
    moved: Sequence[Scenario],
    settings: TrainSettings,
    seeds: Sequence[int],
    log=print,
    device: str = "cpu",
) -> dict:
    """Train ``encoding`` once per seed; per-seed scores and their mean ± std on ``test`` and ``moved``."""
    runs = []
    for seed in seeds:
        model, info = train_predictor(
            replace(config, encoding=encoding), train, replace(settings, seed=seed), device=device
        )
        start = time.perf_counter()
        run = {
            "seed": seed,
            **info,
            "test": _scores(test, predict(model, test, device=device)),
            "moved": _scores(moved, predict(model, moved, device=device)),
        }
        run["eval_s"] = time.perf_counter() - start
        runs.append(run)
        log(
            f"{encoding:<11} seed {seed}: train {info['train_s']:.0f} s, loss {info['final_loss']:.2f}, "
            f"minFDE_6 {run['test']['minFDE_6']:.2f} m, moved {run['moved']['minFDE_6']:.2f} m"
        )
    return {
        "encoding": encoding,
        "runs": runs,
        "test": aggregate([r["test"] for r in runs], METRIC_KEYS),
        "moved": aggregate([r["moved"] for r in runs], METRIC_KEYS),
        "train_s": aggregate(runs, ("train_s",))["train_s"],
    }
