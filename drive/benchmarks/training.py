"""A lean, fixed-step training loop for benchmarks: same optimiser, schedule and loss as
:class:`drive.training.module.TrajectoryModule`, without Lightning's per-step bookkeeping, so runs
with different encodings see exactly the same batches for the same seed."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.optim.lr_scheduler import LambdaLR

from drive.data.batch import DEFAULT_POINTS_PER_CHUNK, collate_scenarios
from drive.data.schema import Scenario
from drive.errors import ConfigError, DataError
from drive.evaluation.predictions import ScenarioPrediction
from drive.losses import prediction_loss
from drive.models import PredictorConfig, TrajectoryPredictor
from drive.training.inference import batch_predictions
from drive.training.module import warmup_cosine
from drive.training.scenes import crop_scenario, mirror_scenario, rotate_scenario, scale_scenario, thin_map


@dataclass(frozen=True)
class TrainSettings:
    """steps: optimiser steps; batch_size: scenes per step; lr: peak AdamW rate (warm-up, cosine decay to
    ``min_lr_ratio``); rotate_augmentation: rotate each training scene by a random angle;
    mirror_augmentation: reflect each training scene across its x axis with probability 1/2;
    scale_augmentation ``r``: scale each training scene (distances and speeds) by a factor drawn uniformly
    from ``[1 - r, 1 + r]`` (0 turns it off); bucket_by_agents: batch scenes of similar agent counts
    together (see :func:`batch_stream`)."""

    steps: int = 300
    batch_size: int = 8
    lr: float = 2e-3
    weight_decay: float = 0.01
    warmup_fraction: float = 0.05
    min_lr_ratio: float = 0.01
    grad_clip_norm: float = 1.0
    rotate_augmentation: bool = False
    mirror_augmentation: bool = False
    scale_augmentation: float = 0.0
    bucket_by_agents: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"TrainSettings.{name} = {getattr(self, name)!r}: must be >= 1")
        if not self.lr > 0:
            raise ConfigError(f"TrainSettings.lr = {self.lr!r}: must be > 0")
        if not 0.0 <= self.scale_augmentation < 1.0:
            raise ConfigError(
                f"TrainSettings.scale_augmentation = {self.scale_augmentation!r}: must be in [0, 1)"
            )


def prepare_scenes(
    scenes: Sequence[Scenario], num_history_steps: int, num_future_steps: int, map_keep_every: int = 1
) -> list[Scenario]:
    """Each scene cut to the window and its map thinned; scenes with no usable target are left out."""
    out = []
    for scene in scenes:
        try:
            cropped = crop_scenario(scene, num_history_steps, num_future_steps)
        except DataError:
            continue
        out.append(thin_map(cropped, map_keep_every))
    return out


BUCKET_BATCHES = 50  # batches per bucketing window: scenes are sorted by size within each window


def batch_stream(
    sizes: Sequence[int], batch_size: int, rng: np.random.Generator, bucket: bool = False
) -> Iterator[list[int]]:
    """Endless batches of scene indices. Plain: consecutive slices of back-to-back random permutations.
    ``bucket``: per epoch, a random permutation is cut into windows of ``BUCKET_BATCHES`` batches, sorted
    by ``sizes`` within each window, cut into batches (the window's last may be short) and the batches
    shuffled: every batch then holds scenes of similar agent counts, so padding to the largest wastes
    little, while the windows keep batches random across the whole set. Every scene appears once per
    epoch either way."""
    if not bucket:
        order: list[int] = []
        while True:
            if len(order) < batch_size:
                order.extend(rng.permutation(len(sizes)).tolist())
            yield order[:batch_size]
            del order[:batch_size]
    window = batch_size * BUCKET_BATCHES
    while True:
        order_array = rng.permutation(len(sizes))
        batches = []
        for start in range(0, len(order_array), window):
            chunk = sorted(order_array[start : start + window].tolist(), key=lambda i: sizes[i])
            batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
        yield from (batches[i] for i in rng.permutation(len(batches)))


def augment(scenes: list[Scenario], settings: TrainSettings, rng: np.random.Generator) -> list[Scenario]:
    """The training augmentations ``settings`` turns on, applied to each scene in turn: rotation, then
    reflection, then scaling, each drawing from ``rng`` only when on (so turning one on leaves the draws
    of the others, and the runs without it, unchanged)."""
    if settings.rotate_augmentation:
        scenes = [rotate_scenario(s, float(rng.uniform(-np.pi, np.pi))) for s in scenes]
    if settings.mirror_augmentation:
        scenes = [mirror_scenario(s) if rng.random() < 0.5 else s for s in scenes]
    if settings.scale_augmentation:
        spread = settings.scale_augmentation
        scenes = [scale_scenario(s, float(rng.uniform(1 - spread, 1 + spread))) for s in scenes]
    return scenes


def _optimiser(model: torch.nn.Module, settings: TrainSettings) -> tuple[torch.optim.Optimizer, LambdaLR]:
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        (no_decay if param.ndim < 2 or "norm" in name else decay).append(param)
    optimiser = torch.optim.AdamW(
        [{"params": decay, "weight_decay": settings.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=settings.lr,
    )
    warmup = int(settings.warmup_fraction * settings.steps)
    schedule = LambdaLR(
        optimiser, lambda step: warmup_cosine(step, warmup, settings.steps, settings.min_lr_ratio)
    )
    return optimiser, schedule


def train_predictor(
    config: PredictorConfig,
    scenes: Sequence[Scenario],
    settings: TrainSettings,
    points_per_chunk: int = DEFAULT_POINTS_PER_CHUNK,
    device: str = "cpu",
) -> tuple[TrajectoryPredictor, dict[str, float]]:
    """Train a fresh model on prepared ``scenes`` (see :func:`prepare_scenes`) for ``settings.steps``
    steps. Batches come from :func:`batch_stream` seeded by ``settings.seed``; the model's initial
    weights come from the same seed. Returns the model (eval mode) and ``{train_s, final_loss}``."""
    if not scenes:
        raise DataError("train_predictor: no training scenes")
    torch.manual_seed(settings.seed)
    model = TrajectoryPredictor(config).to(device)
    optimiser, schedule = _optimiser(model, settings)
    rng = np.random.default_rng(settings.seed)
    sizes = [scene.agents.num_agents for scene in scenes]
    batches = batch_stream(sizes, settings.batch_size, rng, settings.bucket_by_agents)
    losses: list[float] = []
    start = time.perf_counter()
    model.train()
    for _ in range(settings.steps):
        picked = [scenes[i] for i in next(batches)]
        picked = augment(picked, settings, rng)
        batch = collate_scenarios(picked, points_per_chunk).to(device)
        loss = prediction_loss(model(batch), batch, likelihood=config.likelihood)["loss"]
        if not torch.isfinite(loss):
            raise FloatingPointError(f"non-finite loss {loss.item()} at step {len(losses)}")
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip_norm)
        optimiser.step()
        schedule.step()
        losses.append(float(loss.detach()))
    train_s = time.perf_counter() - start
    tail = losses[-max(1, len(losses) // 10) :]
    return model.eval(), {"train_s": train_s, "final_loss": float(np.mean(tail))}


@torch.no_grad()
def predict(
    model: TrajectoryPredictor,
    scenes: Sequence[Scenario],
    batch_size: int = 16,
    points_per_chunk: int = DEFAULT_POINTS_PER_CHUNK,
    device: str = "cpu",
) -> list[ScenarioPrediction]:
    """World-frame predictions for prepared ``scenes``, one per scene, in order."""
    model.eval()
    out: list[ScenarioPrediction] = []
    for first in range(0, len(scenes), batch_size):
        batch = collate_scenarios(list(scenes[first : first + batch_size]), points_per_chunk).to(device)
        out.extend(batch_predictions(model, batch))
    return out
