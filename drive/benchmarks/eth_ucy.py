"""ETH/UCY leave-one-out benchmark: train on the other four scenes, score best-of-20 ADE/FDE (the
minimum over the 20 samples per pedestrian, then averaged over pedestrians) on the held-out one.

Inputs never see a future position: the reader's velocities and headings are finite differences of
observed steps, and the model measures positions from the current step (its scene origin is the mean
*current* position of the targets, each agent's frame is its current pose).
"""

from __future__ import annotations

import time
from dataclasses import replace

from drive.benchmarks.training import TrainSettings, predict, prepare_scenes, train_predictor
from drive.evaluation import constant_velocity, evaluate, velocity_fan
from drive.models import PredictorConfig

try:  # the per-source DataModules live in drive.training.sources; older trees keep them in datamodule
    from drive.training.sources import EthUcyDataModule
except ImportError:
    from drive.training.datamodule import EthUcyDataModule

HISTORY, FUTURE, NUM_SAMPLES = 8, 12, 20
METRIC_KEYS = ("ADE_20", "FDE_20")

# Published leave-one-out averages (minADE_20 / minFDE_20, metres) to place results against.
PUBLISHED = (
    ("Social-GAN", 0.58, 1.18),
    ("Social-STGCNN", 0.44, 0.75),
    ("Trajectron++ (leak-free, corrected)", 0.32, 0.55),
    ("AgentFormer (corrected)", 0.23, 0.39),
    ("EqMotion", 0.21, 0.35),
    ("LED", 0.21, 0.33),
)


def load_windows(root: str, scene: str, split: str, limit: int | None = None):
    """Prepared windows of one part of the leave-one-out split that holds out ``scene``: ``train``, ``val``
    (the training scenes' validation files: for choosing a configuration without looking at the test
    scene) or ``test`` (the held-out scene)."""
    data = EthUcyDataModule(root=root, scene=scene, num_history_steps=HISTORY, num_future_steps=FUTURE)
    return prepare_scenes(data.load_split(split)[:limit], HISTORY, FUTURE)


def load_scene(root: str, scene: str, max_train: int | None = None, max_test: int | None = None):
    """``(train, test)`` prepared windows of the leave-one-out split that holds out ``scene``."""
    return load_windows(root, scene, "train", max_train), load_windows(root, scene, "test", max_test)


def score(test, predictions) -> dict[str, float]:
    metrics = evaluate(test, predictions).metrics
    return {key: metrics[key] for key in METRIC_KEYS}


def run_scene(
    root: str,
    scene: str,
    config: PredictorConfig,
    settings: TrainSettings,
    max_train: int | None = None,
    max_test: int | None = None,
    device: str = "cpu",
    validate: bool = False,
) -> dict:
    """Train on ``scene``'s leave-one-out training split and score the model and two baselines on the
    held-out scene: constant velocity (20 identical samples, so its best-of-20 equals its single-sample
    error) and the untrained velocity fan (20 lines: the model's initial ``velocity_fan`` anchor with the
    config's angles and speeds, so the table shows what training adds to it). ``validate`` also scores
    the model on the split's ``val`` files (``model_val``)."""
    train, test = load_scene(root, scene, max_train, max_test)
    config = replace(config, num_future_steps=FUTURE, num_modes=NUM_SAMPLES)
    model, info = train_predictor(config, train, settings, device=device)
    start = time.perf_counter()
    model_scores = score(test, predict(model, test, batch_size=64, device=device))
    eval_s = time.perf_counter() - start
    if validate:
        val = load_windows(root, scene, "val", max_test)
        info = {**info, "num_val_windows": len(val)}
        info["model_val"] = score(val, predict(model, val, batch_size=64, device=device))
    baseline = score(test, lambda s: constant_velocity(s, FUTURE, NUM_SAMPLES))
    fan = score(
        test,
        lambda s: velocity_fan(s, FUTURE, NUM_SAMPLES, config.fan_max_angle_deg, config.fan_speed_spread),
    )
    return {
        "scene": scene,
        "num_train_windows": len(train),
        "num_test_windows": len(test),
        **info,
        "eval_s": eval_s,
        "model": model_scores,
        "constant_velocity": baseline,
        "velocity_fan": fan,
    }
